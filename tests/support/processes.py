"""Processes the tests start (Celery workers, gunicorn, beat, manage.py) on the tests' own databases.

`subprocess_env` hands a child the *test* databases' URLs and settings, so what it
writes is what the test reads; `WorkerProcess` is a real worker a test can kill -9.
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connections

from tests.support.services import on_postgres

ROOT = Path(__file__).resolve().parent.parent.parent


def database_url(alias: str, *, user: str | None = None, password: str | None = None) -> str:
    """A URL for the *test* database behind `alias`, for processes the tests start (as another role if given)."""
    cfg = connections[alias].settings_dict
    if cfg["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{cfg['NAME']}"
    if user is None:
        user, password = cfg.get("USER") or "", cfg.get("PASSWORD") or ""
    password = f":{password}" if password else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{cfg['NAME']}"


def runtime_role() -> str | None:
    """RUNTIME_DATABASE_USER on PostgreSQL: the role the processes the tests start connect as.

    The test runner itself stays the owner: pytest-django creates and migrates the test
    databases with it and empties them between tests (tests.purge). After migrating,
    `grant_runtime_role` gives the runtime role its privileges, and gunicorn, the Celery
    workers, beat and run_projector connect as that role, as in production; a grant the
    code needs and lacks fails their tests (CI runs the end-to-end tests this way).
    """
    name = os.environ.get("RUNTIME_DATABASE_USER", "")
    return name if name and on_postgres() else None


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a process that must use the tests' databases and broker (as the runtime role, if set)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONUNBUFFERED": "1"}
    role = runtime_role()
    password = os.environ.get("RUNTIME_DATABASE_PASSWORD", "")
    env["DATABASE_URL"] = database_url("default", user=role, password=password)
    if "read" in settings.DATABASES:
        env["READ_DATABASE_URL"] = database_url("read", user=role, password=password)
    env.update(extra)
    return env


class WorkerProcess:
    """A real `celery -A config worker` subprocess; `kill()` is a kill -9, `start()` starts it again."""

    def __init__(self, queue: str, log_path: Path) -> None:
        self.queue = queue
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0  # a restart appends
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                self.queue,
                "--pool=threads",
                "--concurrency=4",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{self.queue}-{uuid.uuid4().hex[:4]}@%h",
            ],
            cwd=ROOT,
            env=subprocess_env(CELERY_TASK_DEFAULT_QUEUE=self.queue),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_ready()

    def _wait_until_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.log_path.read_text()[-3000:]}")
            if b"ready." in self.log_path.read_bytes()[self._log_offset :]:
                return
            time.sleep(0.2)
        raise RuntimeError(f"celery worker not ready after {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
