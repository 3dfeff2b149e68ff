"""Read-your-writes: wait, briefly and politely, until projections have passed a token.

The wait polls the projections' checkpoint rows (one indexed primary-key read) with an
exponential back-off from 2 ms to 50 ms, so a fresh answer usually costs one or two
reads and a stale one a few dozen over the whole timeout: never a busy loop. A wait
that lasts nudges the projections still behind (`eventstore.projections.wakeups`).
"""

import functools
import threading
import time
from collections.abc import Sequence
from typing import Final

from django.conf import settings

from eventstore.log.positions import Checkpoint
from eventstore.projections.runner import passed
from eventstore.projections.wakeups import nudge

DEFAULT_TIMEOUT: Final = 2.0
MAX_TIMEOUT: Final = 10.0
_FIRST_SLEEP, _MAX_SLEEP = 0.002, 0.05
_NUDGE_AFTER, _NUDGE_EVERY = 0.25, 1.0


def wait_until_passed(checkpoint: Checkpoint, names: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> bool:
    """True once every named projection is at or past `checkpoint`; False after `timeout` seconds.

    At most CONSISTENCY_MAX_WAITERS requests of a process wait at once; beyond that a
    request that is not fresh already answers stale at once, so a crowd of readers
    behind a stalled projection cannot hold every thread of the web server.
    """
    if not names:
        return True  # nothing projected behind the answer: the log itself is always fresh
    if passed(checkpoint, names):
        return True
    if not _waiters().acquire(blocking=False):
        return False
    try:
        return _wait(checkpoint, names, timeout)
    finally:
        _waiters().release()


@functools.cache
def _waiters() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(settings.CONSISTENCY_MAX_WAITERS)


def _wait(checkpoint: Checkpoint, names: Sequence[str], timeout: float) -> bool:
    started = time.monotonic()
    deadline, next_nudge = started + timeout, started + _NUDGE_AFTER
    sleep = _FIRST_SLEEP
    while True:
        if passed(checkpoint, names):
            return True
        now = time.monotonic()
        if now >= deadline:
            return False
        if now >= next_nudge:
            nudge(checkpoint, names)
            next_nudge = now + _NUDGE_EVERY
        time.sleep(min(sleep, deadline - now))
        sleep = min(sleep * 2, _MAX_SLEEP)
