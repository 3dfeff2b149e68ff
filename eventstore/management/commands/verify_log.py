"""`manage.py verify_log [--stream STREAM_ID] [--json]`: recompute the hash chains and seals; exit 1 on tampering."""

import json
import logging
import sys
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from eventstore.log.positions import Checkpoint
from eventstore.log.read import head
from eventstore.tamper.runs import record
from eventstore.tamper.verify import Report, verify_log

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Recompute every stream's hash chain and check it against the seals (docs/tamper-evidence.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stream", metavar="STREAM_ID", help="verify this stream only")
        parser.add_argument("--json", action="store_true", help="one JSON object, for scripts")

    def handle(self, *args: Any, **options: Any) -> None:
        started_at, checkpoint = timezone.now(), head()
        with _progress_bar(options["stream"]) as bar:
            report = verify_log(stream_id=options["stream"], progress=bar.update if bar else None)
        if options["stream"] is None:
            _record(report, started_at, checkpoint)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
        else:
            self.stdout.write(_summary(report))
        if not report.ok:
            # CommandError's returncode becomes the process exit code under manage.py.
            raise CommandError(_failure(report), returncode=1)


def _record(report: Report, started_at: datetime, checkpoint: Checkpoint) -> None:
    """Keep a whole-log result for the admin and /metrics; failing to store it must not change the verdict."""
    try:
        with transaction.atomic():  # a savepoint: a refused insert must not spoil a caller's transaction
            record(report, started_at=started_at, checkpoint=checkpoint, started_by="")
    except DatabaseError:
        logger.warning("could not record the verification's result", exc_info=True)


def _progress_bar(stream_id: str | None) -> Any:
    """A tqdm bar on stderr when it is a terminal; nothing in a pipe, a log file or cron mail."""
    if not sys.stderr.isatty():
        return nullcontext(None)
    from tqdm import tqdm

    with connection.cursor() as cursor:
        if stream_id is None:
            cursor.execute("SELECT count(*) FROM eventstore_event")
        else:
            cursor.execute("SELECT count(*) FROM eventstore_event WHERE stream_id = %s", [stream_id])
        total = cursor.fetchone()[0]
    return tqdm(total=total, unit="ev", unit_scale=True, desc="verifying", file=sys.stderr, leave=False)


def _summary(report: Report) -> str:
    checked = (
        f"{report.events_checked} events in {report.streams_checked} streams,"
        f" {report.seals_checked} seal{'s' if report.seals_checked != 1 else ''}"
    )
    return f"OK: {checked}" if report.ok else f"FAILED after checking {checked}: {_failure(report)}"


def _failure(report: Report) -> str:
    failure = report.first_failure
    if failure is None:
        return ""
    where = f"stream {failure.stream_id}" if failure.stream_id is not None else "the seals"
    if failure.version is not None:
        where += f" version {failure.version}"
    return f"{where}: {failure.reason}: {failure.detail}"
