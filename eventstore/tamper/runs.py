"""Verification runs: a whole-log `verify_log` whose result is recorded, and whose progress the admin shows.

The admin starts a run on a Celery worker and an operator watches it from a browser
served by another process, so progress goes to the shared cache (Redis in production),
as a rebuild's does (eventstore.rebuild.progress). The result goes to the
`Verification` table, which the admin and `/metrics` read.
"""

import logging
import time
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from eventstore.log.positions import Checkpoint
from eventstore.log.read import head
from eventstore.models import Verification
from eventstore.tamper.verify import Report, verify_log

logger = logging.getLogger(__name__)

PROGRESS_KEY = "eventstore:verification-progress"
PROGRESS_TTL_SECONDS = 3600
STORE_EVERY_SECONDS = 0.25
"""The cache entry is refreshed at most this often while a run goes (the operations page polls it)."""
STALE_SECONDS = 600
"""A queued or running entry not refreshed for this long belongs to a worker that died: a new run may start."""
ACTIVE_PHASES = frozenset({"queued", "running"})


def verification_progress() -> dict[str, Any] | None:
    """The latest progress of a verification started from the admin, or None."""
    try:
        return cache.get(PROGRESS_KEY)
    except Exception:  # a cache outage hides the progress; it must not break the page showing it
        logger.warning("could not read verification progress", exc_info=True)
        return None


def verification_running() -> bool:
    """A run is queued or going, and its worker has reported recently."""
    progress = verification_progress()
    if not progress or progress.get("phase") not in ACTIVE_PHASES:
        return False
    updated = datetime.fromisoformat(progress["updated_at"])
    return (timezone.now() - updated).total_seconds() < STALE_SECONDS


def store_progress(phase: str, *, done: int = 0, total: int = 0, started_at: str = "", **extra: Any) -> None:
    now = timezone.now().isoformat()
    entry = {
        "phase": phase,
        "events_done": done,
        "events_total": total,
        "started_at": started_at or now,
        "updated_at": now,
        **extra,
    }
    try:
        cache.set(PROGRESS_KEY, entry, timeout=PROGRESS_TTL_SECONDS)
    except Exception:  # progress is a nicety; a cache outage must not fail the verification
        logger.warning("could not store verification progress", exc_info=True)


class _Reporter:
    """verify_log's progress callback: counts events and refreshes the cache entry a few times a second."""

    def __init__(self, total: int, started_at: str) -> None:
        self.total, self.started_at, self.done = total, started_at, 0
        self.stored_at = time.monotonic()
        store_progress("running", total=total, started_at=started_at)

    def __call__(self, events: int) -> None:
        self.done += events
        self.total = max(self.total, self.done)
        if time.monotonic() - self.stored_at >= STORE_EVERY_SECONDS:
            self.stored_at = time.monotonic()
            store_progress("running", done=self.done, total=self.total, started_at=self.started_at)


def run_verification(*, started_by: str = "", using: str = DEFAULT_DB_ALIAS) -> Verification:
    """Verify the whole log, record the result, and leave a finished progress entry naming it."""
    started = timezone.now()
    position = head(using=using)
    reporter = _Reporter(_count_events(using), started.isoformat())
    try:
        report = verify_log(using=using, progress=reporter)
    except Exception:
        store_progress("failed", done=reporter.done, total=reporter.total, started_at=reporter.started_at)
        raise
    verification = record(report, started_at=started, checkpoint=position, started_by=started_by, using=using)
    store_progress(
        "done",
        done=report.events_checked,
        total=max(reporter.total, report.events_checked),
        started_at=reporter.started_at,
        verification_id=verification.id,
        ok=verification.ok,
    )
    return verification


def record(
    report: Report, *, started_at: datetime, checkpoint: Checkpoint, started_by: str, using: str = DEFAULT_DB_ALIAS
) -> Verification:
    """Store a finished whole-log report as a Verification row."""
    failure = report.first_failure
    verification = Verification(
        started_at=started_at,
        finished_at=timezone.now(),
        ok=report.ok,
        checkpoint_txid=checkpoint.txid,
        checkpoint_position=checkpoint.position,
        events_checked=report.events_checked,
        streams_checked=report.streams_checked,
        seals_checked=report.seals_checked,
        failure_stream_id=(failure.stream_id or "") if failure else "",
        failure_version=failure.version if failure else None,
        failure_reason=failure.reason if failure else "",
        failure_detail=failure.detail if failure else "",
        started_by=started_by,
    )
    verification.save(using=using)
    return verification


def last_verification(*, using: str = DEFAULT_DB_ALIAS) -> Verification | None:
    return Verification.objects.using(using).order_by("-id").first()


def _count_events(using: str) -> int:
    """The progress bar's total: one count before a pass that reads every event anyway."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM eventstore_event")
        return int(cursor.fetchone()[0])
