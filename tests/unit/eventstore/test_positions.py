"""Checkpoints: the token clients carry, and the order readers and read-your-writes rely on."""

import pytest

from eventstore.errors import InvalidCheckpoint
from eventstore.log.positions import ORIGIN, Checkpoint


def test_a_token_round_trips_and_is_compact() -> None:
    checkpoint = Checkpoint(18_446_744_073_709_551_615, 9_223_372_036_854_775_807)  # xid8 and bigint maxima
    assert Checkpoint.parse(checkpoint.token()) == checkpoint
    assert Checkpoint(771, 42).token() == "771-42"
    assert Checkpoint.parse(" 771-42 ") == Checkpoint(771, 42)


@pytest.mark.parametrize("token", ["", "42", "771-", "-42", "a-1", "1-b", "1-2-3", "1.5-2", "0x1-2", "1" * 21 + "-1"])
def test_malformed_tokens_are_refused_with_a_value_error(token: str) -> None:
    with pytest.raises(InvalidCheckpoint):
        Checkpoint.parse(token)
    with pytest.raises(ValueError):  # callers that only know ValueError still catch it
        Checkpoint.parse(token)


def test_checkpoints_order_by_transaction_then_position_as_numbers() -> None:
    """A later transaction wins even with a smaller position: that is the commit-safe order."""
    assert Checkpoint(10, 1) > Checkpoint(9, 500)
    assert Checkpoint(100, 7) > Checkpoint(99, 8) > Checkpoint(99, 7)
    assert sorted([Checkpoint(1000, 1), Checkpoint(11, 2), Checkpoint(9, 3)]) == [
        Checkpoint(9, 3),
        Checkpoint(11, 2),
        Checkpoint(1000, 1),
    ]
    assert Checkpoint(0, 1) > ORIGIN
