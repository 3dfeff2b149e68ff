"""Rebuild progress: a callback for the command line, and a cache entry the admin reads.

A rebuild may run in a Celery worker while an operator watches the admin in a browser
served by another process, so progress goes to the shared cache (Redis in production),
not to process memory.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called after every batch with (events read so far, events to read)."""

PROGRESS_TTL_SECONDS = 3600
STORE_EVERY_SECONDS = 0.25
"""The cache entry is refreshed at most this often while a rebuild runs (a watcher polls it)."""


def progress_key(name: str) -> str:
    return f"eventstore:rebuild-progress:{name}"


def rebuild_progress(name: str) -> dict[str, Any] | None:
    """The latest progress of a rebuild of `name` (the admin shows it), or None."""
    return cache.get(progress_key(name))


class Reporter:
    """Feeds the caller's progress callback and the cache entry the admin reads."""

    def __init__(self, name: str, total: int, callback: Progress | None) -> None:
        self.name, self.total, self.callback, self.done = name, total, callback, 0
        self.started_at = timezone.now().isoformat()
        self.current = "running"
        self._store(self.current)

    def advance(self, events: int) -> None:
        self.done += events
        self.total = max(self.total, self.done)
        if self.callback is not None:
            self.callback(self.done, self.total)
        if time.monotonic() - self._stored_at >= STORE_EVERY_SECONDS:  # a cache round trip per batch shows
            self._store(self.current)

    def phase(self, phase: str) -> None:
        """running -> swapping (the short locked catch-up and swap) -> done or failed."""
        self.current = phase
        self._store(phase)

    finish = phase

    def _store(self, phase: str) -> None:
        self._stored_at = time.monotonic()
        try:
            cache.set(
                progress_key(self.name),
                {
                    "phase": phase,
                    "events_done": self.done,
                    "events_total": self.total,
                    "started_at": self.started_at,
                    "updated_at": timezone.now().isoformat(),
                },
                timeout=PROGRESS_TTL_SECONDS,
            )
        except Exception:  # progress is a nicety; a cache outage must not fail the rebuild
            logger.warning("could not store rebuild progress", exc_info=True)
