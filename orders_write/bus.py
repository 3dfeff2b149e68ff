"""The command bus: one handler per command type, retries of lost races, idempotent replays.

`dispatch` is the only entry to the write side. Without If-Match a lost race (another
command moved a stream between our load and our append, or committed between two of
our loads) is retried from a fresh load, a bounded number of times with jittered
backoff, then answered as ConcurrencyConflict; with If-Match it is the client's
precondition that failed (VersionMismatch).

A keyed command (Idempotency-Key) never runs twice and never gets another outcome
than its first try: a duplicate replays the stored result, and a refusal is only
given once the key is settled (`idempotency.settle`), because a retry that looked the
key up before its first try committed, then loaded the streams after, would otherwise
refuse a command that happened.
"""

import random
import time
from collections.abc import Callable
from typing import Any, Final

from django.db import DEFAULT_DB_ALIAS, IntegrityError

from eventstore.errors import ConcurrencyError
from orders_write import handlers, idempotency
from orders_write.commands import (
    AddOrderItem,
    CancelOrder,
    ChangePrice,
    Command,
    CommandResult,
    CreateOrder,
    IdempotencyClaim,
    ReceiveStock,
    RegisterProduct,
    ShipOrder,
)
from orders_write.errors import ConcurrencyConflict, DomainError, InconsistentRead, RequestInProgress, VersionMismatch
from orders_write.repository import Repository

Handler = Callable[[Any, Repository], CommandResult]

HANDLERS: Final[dict[type[Command], Handler]] = {
    RegisterProduct: handlers.register_product,
    ReceiveStock: handlers.receive_stock,
    ChangePrice: handlers.change_price,
    CreateOrder: handlers.create_order,
    AddOrderItem: handlers.add_order_item,
    CancelOrder: handlers.cancel_order,
    ShipOrder: handlers.ship_order,
}

MAX_ATTEMPTS: Final = 12
"""Each lost race means another command on the same stream committed, so the system
as a whole progresses; twelve attempts outlast a burst of 30 writers on one product."""
BACKOFF_SECONDS: Final = 0.002


def dispatch(command: Command, *, using: str = DEFAULT_DB_ALIAS) -> CommandResult:
    """Run the command's handler; returns its result or raises a DomainError."""
    claim = command.metadata.idempotency
    if claim is None:
        return _run(command, None, using)
    if (stored := idempotency.lookup(claim, using=using)) is not None:
        return stored
    try:
        return _run(command, claim, using)
    except DomainError:
        # Refused, but a first try with this key may have committed since our lookup
        # (and caused the refusal): wait for it under the claim's lock and replay it.
        stored = idempotency.settle(claim, using=using)
        if stored is not None:
            return stored
        raise


def _run(command: Command, claim: IdempotencyClaim | None, using: str) -> CommandResult:
    handler = HANDLERS[type(command)]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        repo = Repository(command, using=using)
        try:
            return handler(command, repo)
        except ConcurrencyError as exc:
            if exc.stream_id in repo.pinned:
                raise VersionMismatch(expected=repo.pinned[exc.stream_id], actual=exc.actual) from exc
            if attempt == MAX_ATTEMPTS:
                raise ConcurrencyConflict() from exc
        except InconsistentRead as exc:
            if attempt == MAX_ATTEMPTS:
                raise ConcurrencyConflict() from exc
        except IntegrityError as exc:
            if claim is None or not idempotency.is_duplicate_claim(exc):
                raise
            stored = idempotency.lookup(claim, using=using)
            if stored is None:  # the first run failed after all: it left nothing to replay
                raise RequestInProgress() from exc
            return stored
        time.sleep(random.uniform(0, BACKOFF_SECONDS * min(2**attempt, 32)))
    raise AssertionError("unreachable")
