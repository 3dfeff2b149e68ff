"""The canonical form (docs/tamper-evidence.md): jsonb's text (key order, spacing), exact numbers, one pinned hash.

PostgreSQL itself is the oracle in tests/integration/eventstore/test_tamper_postgres.py; here the
rules are checked as written, with json.dumps as an independent writer of the spacing and escapes.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventstore.tamper.canonical import canonical_json, canonical_json_text, event_hash, utc_timestamp

# What the database can store: no NUL, no lone surrogates (PostgreSQL refuses both).
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | text
payloads = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=20
)
floats = st.floats(allow_nan=False, allow_infinity=False)


def python_canonical(value: Any) -> str:
    """The documented rules with json.dumps: keys by UTF-8 length then bytes, ", " and ": "."""

    def ordered(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: ordered(v[k]) for k in sorted(v, key=lambda k: (len(k.encode()), k.encode()))}
        return [ordered(i) for i in v] if isinstance(v, list) else v

    return json.dumps(ordered(value), separators=(", ", ": "), ensure_ascii=False)


@given(payloads)
def test_the_reference_writes_what_json_dumps_writes(value: Any) -> None:
    assert canonical_json(value) == python_canonical(value)


def test_keys_are_ordered_by_utf8_length_before_their_bytes() -> None:
    assert canonical_json({"bb": 1, "a": 2, "é": 3, "ab": 4}) == '{"a": 2, "ab": 4, "bb": 1, "é": 3}'


@given(payloads)
def test_stored_text_canonicalizes_the_same_whichever_way_it_was_written(value: Any) -> None:
    """orjson (the store), json.dumps with spaces (the ORM on SQLite), or already canonical."""
    expected = python_canonical(value)
    assert canonical_json_text(orjson.dumps(value)) == expected
    assert canonical_json_text(json.dumps(value)) == expected
    assert canonical_json_text(json.dumps(value, ensure_ascii=False, indent=2)) == expected


@given(
    st.recursive(floats | scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3))
)
def test_numbers_are_written_as_postgresql_prints_them_from_any_stored_spelling(value: Any) -> None:
    """The orjson fast path must never run on a number it would read inexactly."""
    reference = canonical_json(value)
    assert canonical_json_text(orjson.dumps(value)) == reference
    assert canonical_json_text(json.dumps(value)) == reference


@pytest.mark.parametrize(
    ("stored", "canonical"),
    [
        ('{"a":1.50}', '{"a": 1.50}'),
        ("[1e3, 1E+2, 1.5e-7, -0, -0.0, 0.000]", "[1000, 100, 0.00000015, 0, 0.0, 0.000]"),
        ("[123456789012345678901234567890]", "[123456789012345678901234567890]"),
        ('{"b": "1.5", "a": "x: 1.5"}', '{"a": "x: 1.5", "b": "1.5"}'),
        ('{"é": 1, "z": 2, "\U0001f600": 3, "Z": 4}', '{"Z": 4, "z": 2, "é": 1, "\U0001f600": 3}'),
        ('"\\u0001\\n\\"\\\\/\\u007f\\u00e9"', '"\\u0001\\n\\"\\\\/\x7fé"'),
    ],
)
def test_examples_of_the_documented_form(stored: str, canonical: str) -> None:
    assert canonical_json_text(stored) == canonical


def test_recorded_at_is_utc_with_six_fraction_digits_from_any_spelling() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert utc_timestamp(at) == "2026-01-02T03:04:05.000000Z"
    assert utc_timestamp(at.astimezone(timezone(timedelta(hours=5)))) == "2026-01-02T03:04:05.000000Z"
    assert utc_timestamp("2026-01-02 03:04:05") == "2026-01-02T03:04:05.000000Z"  # Django on SQLite, naive UTC
    assert utc_timestamp("2026-01-02 03:04:05.000012") == "2026-01-02T03:04:05.000012Z"


def test_the_hash_is_sha256_of_the_documented_preimage() -> None:
    """A worked example, as docs/tamper-evidence.md gives it: a verifier's own script must match it."""
    preimage = (
        '\n"Order-7"\n1\n"OrderCreated"\n1\n{"total": "19.99", "customer_id": "alice"}\n{"user": "ann"}\n'
        "2026-01-02T03:04:05.000012Z"
    )
    first = event_hash(
        "",
        "Order-7",
        1,
        "OrderCreated",
        1,
        '{"total": "19.99", "customer_id": "alice"}',
        '{"user": "ann"}',
        "2026-01-02 03:04:05.000012",
    )
    assert first == hashlib.sha256(preimage.encode()).hexdigest()
    assert first == "5df12417a8eda315403a1b2b6016b284586232eb453d0ee413d4b1c60835780a"
    second = event_hash(first, "Order-7", 2, "OrderShipped", 1, "{}", "{}", datetime(2026, 1, 2, 4, tzinfo=UTC))
    assert (
        second
        == hashlib.sha256(
            f'{first}\n"Order-7"\n2\n"OrderShipped"\n1\n{{}}\n{{}}\n2026-01-02T04:00:00.000000Z'.encode()
        ).hexdigest()
    )


def test_a_decimal_value_is_exact_and_minus_zero_is_zero() -> None:
    value = {"a": Decimal("1.10"), "b": Decimal("-0.00"), "c": 1e-7}
    assert canonical_json(value) == '{"a": 1.10, "b": 0.00, "c": 0.0000001}'
