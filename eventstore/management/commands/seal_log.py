"""`manage.py seal_log`: seal every event appended since the last seal, now."""

from typing import Any

from django.core.management.base import BaseCommand

from eventstore.tamper.seals import last_seal, seal_log


class Command(BaseCommand):
    help = "Seal the log now: a checkpoint and a digest chaining everything appended since the last seal."

    def handle(self, *args: Any, **options: Any) -> None:
        seal = seal_log()
        if seal is None:
            previous = last_seal()
            self.stdout.write(
                f"Nothing new to seal (last: {_describe(previous)})."
                if previous
                else "Nothing to seal: the log is empty."
            )
            return
        self.stdout.write(self.style.SUCCESS(f"Sealed: {_describe(seal)}"))


def _describe(seal: Any) -> str:
    return (
        f"seal #{seal.id} at {seal.checkpoint.token()}, {seal.events_count} events,"
        f" {len(seal.heads)} streams, digest {seal.digest}, sealed at {seal.sealed_at.isoformat()}"
    )
