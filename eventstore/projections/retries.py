"""Retrying transient database errors within one time budget, for the projection runner.

A database error that says nothing about the event (`eventstore.transient`: a lost
connection, a statement or lock timeout, a deadlock, a serialization failure) never
fails a projection and never counts as one of its retries: the runner drops the
broken connections, backs off and tries again, and if the database stays unavailable
past TRANSIENT_RETRY_SECONDS it stops this round with the projection still active,
for beat or `run_projector` to come back to.
"""

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connections

from eventstore.errors import ProjectionBusy
from eventstore.routers import read_db_alias
from eventstore.transient import is_transient

logger = logging.getLogger(__name__)

TRANSIENT_RETRY_SECONDS = 5.0
"""How long one catch-up keeps retrying transient database errors before it leaves the rest for later."""
FIRST_DELAY = 0.05
MAX_DELAY = 1.0

T = TypeVar("T")


class DatabaseUnavailable(Exception):
    """Transient database errors outlasted this round's retries; the projection is left active."""


class TransientRetry:
    """Backoff between tries after transient database errors, within one time budget.

    Each wait first drops the connections a lost connection broke (Django would keep
    handing out the dead one: nothing closes it outside a request), then sleeps an
    exponentially growing, jittered pause, so workers that lost the database together
    do not all come back in the same millisecond. A success resets it.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.reset()

    def reset(self) -> None:
        self.deadline: float | None = None
        self.delay = FIRST_DELAY

    def call(self, fn: Callable[[], T]) -> T:
        """`fn()`, tried again after each transient error; other errors propagate at once."""
        while True:
            try:
                result = fn()
            except ProjectionBusy:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.wait(exc)
                continue
            self.reset()
            return result

    def wait(self, exc: Exception) -> None:
        """Called with a transient error: get ready to try again, or raise DatabaseUnavailable."""
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + TRANSIENT_RETRY_SECONDS
        discard_broken_connections(exc)
        left = self.deadline - now
        if left <= 0:
            raise DatabaseUnavailable(
                f"database unavailable for {TRANSIENT_RETRY_SECONDS:g}s ({one_line(exc)})"
            ) from exc
        pause = min(self.delay * random.uniform(0.5, 1.0), left)
        logger.warning(
            "projection %s: transient database error, trying again in %.2fs: %s", self.name, pause, one_line(exc)
        )
        time.sleep(pause)
        self.delay = min(self.delay * 2, MAX_DELAY)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def discard_broken_connections(exc: Exception) -> None:
    """Close this thread's read and default connections that no longer work.

    Django reopens a closed connection on its next query, but keeps using one the
    server has dropped. A connection inside a caller's transaction cannot be replaced
    without losing that transaction: then the error is the caller's to handle.
    """
    for alias in dict.fromkeys((read_db_alias(), DEFAULT_DB_ALIAS)):
        connection = connections[alias]
        if connection.connection is None:
            continue
        if connection.is_usable():
            continue
        if connection.in_atomic_block:
            raise exc
        logger.info("projection runner: dropping the broken %r database connection", alias)
        connection.close()
