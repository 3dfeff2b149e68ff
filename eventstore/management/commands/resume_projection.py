"""`manage.py resume_projection NAME [--skip-failed-event]`: restart a failed projection.

Without the flag the failed event is tried again (after a fix was deployed); with it
that one event is passed over, and the skip is recorded in the projection's state so
it is never silent.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventstore.errors import ProjectionNotFound
from eventstore.projections import runner


class Command(BaseCommand):
    help = "Resume a failed projection, optionally skipping (and recording) the event it failed on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--skip-failed-event", action="store_true", help="pass over the failed event (recorded)")
        parser.add_argument("--no-catch-up", action="store_true", help="only clear the failure; let workers catch up")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"]
        try:
            if options["skip_failed_event"]:
                state = runner.skip_failed_event(name)
                skipped = state.skipped_positions[-1]
                self.stdout.write(f"{name}: skipped event at position {skipped} (recorded) and resumed")
            else:
                runner.resume(name)
                self.stdout.write(f"{name}: resumed")
        except ProjectionNotFound as exc:
            raise CommandError(str(exc)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not options["no_catch_up"]:
            events = runner.catch_up(name)
            state = runner.ensure_state(runner.get_projection(name))
            self.stdout.write(f"{name}: caught up {events} events, status {state.status}")
            if state.status == "failed":
                raise CommandError(f"{name} failed again at position {state.failed_position}", returncode=1)
