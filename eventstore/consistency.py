"""Read-your-writes: wait, briefly and politely, until projections have passed a token.

The wait polls the projections' checkpoint rows (one indexed primary-key read) with an
exponential back-off from 2 ms to 50 ms, so a fresh answer usually costs one or two
reads and a stale one a few dozen over the whole timeout: never a busy loop.
"""

import time
from collections.abc import Sequence
from typing import Final

from eventstore.positions import Checkpoint
from eventstore.runner import passed

DEFAULT_TIMEOUT: Final = 2.0
MAX_TIMEOUT: Final = 10.0
_FIRST_SLEEP, _MAX_SLEEP = 0.002, 0.05


def wait_until_passed(checkpoint: Checkpoint, names: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> bool:
    """True once every named projection is at or past `checkpoint`; False after `timeout` seconds."""
    if not names:
        return True  # nothing projected behind the answer: the log itself is always fresh
    deadline = time.monotonic() + timeout
    sleep = _FIRST_SLEEP
    while True:
        if passed(checkpoint, names):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(sleep, remaining))
        sleep = min(sleep * 2, _MAX_SLEEP)
