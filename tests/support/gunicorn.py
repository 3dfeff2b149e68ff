"""A real gunicorn node on a free 127.0.0.1 port, against the test databases and broker.

A crash is simulated as the kernel would see one: SIGKILL to the whole process group
(master and workers), so in-flight requests die with their database connections and
PostgreSQL rolls their transactions back. A restart binds the same port again, so a
client can retry against the same address.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.ports import free_port
from tests.support.processes import ROOT, subprocess_env

__all__ = ["GunicornProcess", "free_port"]


class GunicornProcess:
    """`gunicorn config.wsgi` with gthread workers; `kill()` is kill -9 of the node, `start()` brings it back."""

    def __init__(
        self,
        log_path: Path,
        *,
        queue: str,
        workers: int = 2,
        threads: int = 4,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.log_path = log_path
        self.env = env or {}
        self.queue = queue
        self.workers = workers
        self.threads = threads
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--worker-class",
                "gthread",
                "--threads",
                str(self.threads),
                "--timeout",
                "30",
                "--graceful-timeout",
                "3",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=subprocess_env(CELERY_TASK_DEFAULT_QUEUE=self.queue, **self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() takes the workers too
        )
        self._wait_until_healthy(timeout)

    def _wait_until_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not healthy after {timeout}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the master and every worker at once, like a node that lost power."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._wait_port_free()

    def stop(self) -> None:
        """Quick shutdown (SIGINT: no waiting for idle keep-alive connections), then kill if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(ProcessLookupError):  # workers that outlived their master
            os.killpg(self.process.pid, signal.SIGKILL)

    def _wait_port_free(self, timeout: float = 10.0) -> None:
        """Orphaned workers may hold the listening socket for a moment after the master dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.1)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""
