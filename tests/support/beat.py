"""A real `celery -A config beat` process on the tests' queue, ticking every second.

Beat is production's safety net for a lost trigger or a crashed worker: the fault
tests prove the views recover through it alone, with nothing else nudging them.
"""

import subprocess
import sys
import time
from pathlib import Path

from tests.support.processes import ROOT, subprocess_env


class BeatProcess:
    """`celery beat` with its schedule file in the test's tmp dir; `stop()` ends it."""

    def __init__(self, tmp_dir: Path, *, queue: str, every_seconds: float = 1.0) -> None:
        self.log_path = tmp_dir / "beat.log"
        self.schedule_path = tmp_dir / "beat-schedule"
        self.queue = queue
        self.every_seconds = every_seconds
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel=INFO",
                "--schedule",
                str(self.schedule_path),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=subprocess_env(CELERY_TASK_DEFAULT_QUEUE=self.queue, PROJECTION_BEAT_SECONDS=str(self.every_seconds)),
        )
        deadline = time.monotonic() + timeout
        while b"Sending due task" not in self.log_path.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery beat sent nothing:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
