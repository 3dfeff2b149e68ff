"""`manage.py rebuild_projections [NAME ...] [--all] [--in-place] [--batch-size N]`.

Several projections are rebuilt side by side where the database allows it (one process
each, up to one per core), behind one progress bar for them all.

With no names and no --all it rebuilds the projections whose code version differs
from the stored one (the ones the startup check warns about), so bumping a
projection's `version` and running this command is the whole upgrade procedure.
"""

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventstore.errors import ProjectionNotFound
from eventstore.projections.base import all_projections, get_projection
from eventstore.rebuild.orchestration import RebuildInProgress, RebuildReport, rebuild_projections, stale_projections

PLAIN_EVERY_SECONDS = 5.0


class Command(BaseCommand):
    help = "Rebuild projections from the event log (blue/green by default: no downtime)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", help="projections to rebuild (default: those needing it)")
        parser.add_argument("--all", action="store_true", help="rebuild every projection")
        parser.add_argument("--in-place", action="store_true", help="empty the live tables and replay (development)")
        parser.add_argument("--batch-size", type=int, default=20000, help="events per batch (default 20000)")

    def handle(self, *args: Any, **options: Any) -> None:
        names = self._names(options["names"], options["all"])
        if not names:
            self.stdout.write("Nothing to rebuild: every projection is at its code version.")
            return
        how = "in place" if options["in_place"] else "blue/green"
        self.stdout.write(f"Rebuilding {', '.join(names)} ({how})")
        started = time.perf_counter()
        with ProgressDisplay(self.stdout, ", ".join(names)) as progress:
            try:
                reports = rebuild_projections(
                    names, in_place=options["in_place"], batch_size=options["batch_size"], progress=progress
                )
            except RebuildInProgress as exc:
                raise CommandError(str(exc)) from exc
        for report in reports:
            self.stdout.write(self.style.SUCCESS(_summary(report)))
        if len(reports) > 1:
            events, seconds = sum(r.events for r in reports), time.perf_counter() - started
            self.stdout.write(f"total: {events} events in {seconds:.2f}s")

    def _names(self, names: list[str], everything: bool) -> list[str]:
        if everything:
            return [p.name for p in all_projections()]
        if not names:
            return stale_projections()
        try:
            return [get_projection(name).name for name in names]
        except ProjectionNotFound as exc:
            raise CommandError(str(exc)) from exc


def _summary(report: RebuildReport) -> str:
    return f"{report.name}: {report.events} events in {report.seconds:.2f}s ({report.events_per_s:.0f} events/s)"


class ProgressDisplay:
    """A tqdm bar on a terminal; otherwise a plain line every few seconds (logs, CI, cron)."""

    def __init__(self, stdout: Any, name: str) -> None:
        self.stdout, self.name = stdout, name
        self.bar: Any = None
        self.last_line = 0.0
        self.started = time.monotonic()

    def __enter__(self) -> "ProgressDisplay":
        if _is_tty(self.stdout):
            from tqdm import tqdm

            self.bar = tqdm(total=0, unit="ev", unit_scale=True, desc=self.name, file=sys.stderr)
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)
            return
        now = time.monotonic()
        if now - self.last_line >= PLAIN_EVERY_SECONDS or done >= total:
            self.last_line = now
            elapsed = max(now - self.started, 1e-9)
            rate = done / elapsed
            left = (total - done) / rate if rate else 0.0
            self.stdout.write(f"{self.name}: {done}/{total} events, {rate:.0f} events/s, {left:.0f}s left")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def _is_tty(stdout: Any) -> bool:
    stream = getattr(stdout, "_out", stdout)
    return bool(getattr(stream, "isatty", lambda: False)())
