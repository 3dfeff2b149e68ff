"""The fault injector: six kinds of fault, round robin, one every `interval` seconds.

The interval is a seventh of the soak, between 2 and 10 seconds, so a 60 s soak sees
every kind at least once and a 300 s soak every kind at least four times. Faults run
in the main thread (which owns every process, see stack.py), one at a time:

- worker_kill: kill -9 one Celery worker, start another;
- web_kill: kill -9 gunicorn's process group, start it again on the same port;
- db_terminate: pg_terminate_backend on every backend of the app's two databases (three times in 0.5 s);
- broker_pause: SIGSTOP the soak's Redis (broker and cache) for 2 s, then SIGCONT;
- broker_kill: kill -9 that Redis, restart it empty on the same port a second later;
- rebuild: start `manage.py rebuild_projections --all` (blue/green) in the background.
"""

import time
import traceback
from collections import Counter

from tests.soak.stack import Stack, log

KINDS = ("worker_kill", "web_kill", "db_terminate", "broker_pause", "broker_kill", "rebuild")
PAUSE_SECONDS = 2.0
BROKER_DOWN_SECONDS = 1.0
TERMINATE_ROUNDS = 3


class FaultInjector:
    def __init__(self, stack: Stack, seconds: float) -> None:
        self.stack = stack
        self.interval = max(2.0, min(10.0, seconds / 7))
        self.next_at = self.interval / 2
        self.index = 0
        self.counts: Counter = Counter({kind: 0 for kind in KINDS})
        self.errors: list[str] = []
        self.backends_terminated = 0

    def due(self, elapsed: float) -> bool:
        return elapsed >= self.next_at

    def run_next(self, elapsed: float) -> None:
        kind = KINDS[self.index % len(KINDS)]
        self.index += 1
        self.next_at += self.interval
        started = time.monotonic()
        try:
            detail = getattr(self, kind)()
        except Exception:
            self.errors.append(f"{kind}: {traceback.format_exc()}")
            log(f"fault {kind} at {elapsed:.0f}s failed:\n{traceback.format_exc()}")
            return
        if detail is None:
            return
        self.counts[kind] += 1
        log(f"fault {kind} at {elapsed:.0f}s ({time.monotonic() - started:.1f}s){detail}")

    def worker_kill(self) -> str:
        self.stack.kill_worker(self.counts["worker_kill"])
        return ""

    def web_kill(self) -> str:
        self.stack.kill_web()
        return ""

    def db_terminate(self) -> str:
        """Three rounds a quarter of a second apart: idle connections die too, but in-flight queries are the test."""
        ended = 0
        for round_ in range(TERMINATE_ROUNDS):
            if round_:
                time.sleep(0.25)
            ended += self.stack.terminate_backends()
        self.backends_terminated += ended
        return f": {ended} backends terminated in {TERMINATE_ROUNDS} rounds"

    def broker_pause(self) -> str:
        self.stack.pause_redis(PAUSE_SECONDS)
        return ""

    def broker_kill(self) -> str:
        self.stack.kill_redis(BROKER_DOWN_SECONDS)
        return ""

    def rebuild(self) -> str | None:
        self.stack.reap_rebuild(wait=30)
        if not self.stack.start_rebuild():
            log("fault rebuild: the previous rebuild still runs; trying again at the next slot")
            self.index -= 1  # keep the rebuild's place in the round robin
            return None
        return ""
