"""Effects that run after a command has committed: best-effort, bounded, counted, never fatal.

Once the log holds a command's events the command has happened, and its answer must
say so: a client told "500" retries and places the order twice. So everything after
the commit (NOTIFY, the cache flags that wake projections, the Celery publish, the
snapshot) runs through `best_effort`: a failure is logged and counted on /metrics as
`eventstore_post_commit_failures_total{effect}`, and the views catch up without it
(beat's catch-up and `run_projector`'s poll find what a lost wake-up missed). Each
effect is bounded in time by its client's timeouts (settings: REDIS_SOCKET_TIMEOUT,
the Celery publish retry policy), so a hung broker delays a command, never fails it.
"""

import logging
from collections.abc import Callable
from typing import ParamSpec

from prometheus_client import Counter

logger = logging.getLogger(__name__)

P = ParamSpec("P")

FAILURES = Counter(
    "eventstore_post_commit_failures", "Effects after a command's commit that failed (the command stood)", ["effect"]
)


def record_failure(effect: str) -> None:
    """Log the exception being handled and count it under `effect`."""
    FAILURES.labels(effect).inc()
    logger.warning("post-commit effect %r failed; the command stands, views catch up later", effect, exc_info=True)


def best_effort(effect: str, function: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> bool:
    """Run one post-commit effect; True when it went through, False (logged, counted) when it failed."""
    try:
        function(*args, **kwargs)
    except Exception:
        record_failure(effect)
        return False
    return True
