"""`manage.py projection_status [--json]`: every projection's health; exit code 1 when one has failed."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventstore.projections.status import ProjectionStatus, projection_statuses

COLUMNS = ("name", "status", "version", "checkpoint", "lag events", "lag s", "last error")


class Command(BaseCommand):
    help = "Show each projection's status, version (code/stored), checkpoint, lag and last error."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON document, for scripts")

    def handle(self, *args: Any, **options: Any) -> None:
        statuses = projection_statuses()
        if options["json"]:
            self.stdout.write(json.dumps([s.as_dict() for s in statuses], indent=2))
        else:
            self.stdout.write(_table(statuses))
        failed = [s.name for s in statuses if s.status == "failed"]
        if failed:
            # CommandError's returncode becomes the process exit code under manage.py.
            raise CommandError(f"failed projections: {', '.join(failed)}", returncode=1)


def _table(statuses: list[ProjectionStatus]) -> str:
    rows = [COLUMNS] + [_row(s) for s in statuses]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _row(s: ProjectionStatus) -> tuple[str, ...]:
    stored = "-" if s.stored_version is None else str(s.stored_version)
    version = f"{s.code_version}/{stored}" + (" (needs rebuild)" if s.needs_rebuild else "")
    error = (s.last_error.strip().splitlines() or [""])[-1][:80]
    return (s.name, s.status, version, s.checkpoint, str(s.lag_events), f"{s.lag_seconds:.1f}", error)
