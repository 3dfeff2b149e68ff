"""The soak's own stack: two PostgreSQL databases, a Redis server and every process, all owned here.

Every process is started from the main thread through `setpriv --pdeathsig KILL`, so
even a soak that is itself killed -9 takes its children with it; `teardown()` stops
them in order and drops the databases (WITH (FORCE)). Nothing here imports the
project: processes are started as a deployment would start them.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "config.settings.test"


def log(message: str) -> None:
    print(f"soak: {message}", file=sys.stderr, flush=True)


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_port_free(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and port_open(port):
        time.sleep(0.1)


_PDEATHSIG = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []

_JANITOR = """
import os, sys, time
import psycopg
soak, conninfo, names = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while True:
    try:
        os.kill(soak, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
    for name in names:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
"""
"""Drops the soak's databases if the soak dies without its teardown (kill -9); the teardown stops it."""


class Proc:
    """One child process with its log file; `ready` says when a (re)start has come up."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        *,
        group: bool = False,
        ready: Callable[["Proc"], bool] | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.group = group  # its own process group: kill() takes its children (gunicorn's workers) too
        self.ready = ready
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen | None = None
        self.log_offset = 0
        self.started_at = 0.0

    def start(self, *, wait: bool = True) -> None:
        """Start it and (unless `wait` is False) wait until `ready` says it is up."""
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.started_at = time.monotonic()
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [*_PDEATHSIG, *self.argv],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=self.group,
            )
        if self.ready is None or not wait:
            return
        deadline = time.monotonic() + self.ready_timeout
        while not self.ready(self):
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start (code {self.process.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {self.ready_timeout:.0f}s:\n{self.tail()}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def signal(self, sig: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)

    def kill(self) -> None:
        """kill -9 (of the whole group when it has one), and reap it."""
        if self.process is None:
            return
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(15)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it lingers; the group is killed in any case (orphaned workers)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(10)
        if self.group:
            self.signal(signal.SIGKILL)

    def new_output(self) -> bytes:
        try:
            with self.log_path.open("rb") as f:
                f.seek(self.log_offset)
                return f.read()
        except OSError:
            return b""

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class Stack:
    """Databases, Redis, gunicorn, two Celery workers, beat and run_projector of one soak run."""

    def __init__(
        self, database_url: str, work_dir: Path, *, run_id: str, web_workers: int = 2, web_threads: int = 4
    ) -> None:
        self.run_id = run_id
        self.work_dir = work_dir
        parts = urlsplit(database_url)
        if parts.scheme not in {"postgres", "postgresql", "pgsql", "postgis"}:
            raise SystemExit(f"the soak needs DATABASE_URL on PostgreSQL, not {parts.scheme or database_url!r}")
        self._url_parts = parts
        self.write_db = f"soak_{run_id}_w"
        self.read_db = f"soak_{run_id}_r"
        self.maintenance_db = parts.path.lstrip("/") or "postgres"
        self.created_dbs: list[str] = []
        self.redis_port = free_port()
        self.web_port = free_port()
        while self.web_port == self.redis_port:
            self.web_port = free_port()
        self.web_workers = web_workers
        self.web_threads = web_threads
        self.redis: Proc | None = None
        self.web: Proc | None = None
        self.workers: list[Proc] = []
        self.beat: Proc | None = None
        self.projector: Proc | None = None
        self.rebuild: Proc | None = None
        self.rebuild_results: list[int] = []
        self.unexpected_exits: Counter = Counter()
        self.tokens: dict[str, str] = {}
        self._worker_serial = 0
        self.janitor: subprocess.Popen | None = None
        self.starting: list[Proc] = []  # workers started by a fault, not ready yet
        self.start_failures: list[str] = []

    # Addresses ------------------------------------------------------------------------

    def db_url(self, name: str) -> str:
        p = self._url_parts
        return urlunsplit(("postgres", p.netloc, f"/{name}", p.query, ""))

    def conninfo(self, name: str) -> str:
        p = self._url_parts
        return psycopg.conninfo.make_conninfo(
            host=p.hostname or "127.0.0.1",
            port=p.port or 5432,
            user=p.username or "postgres",
            password=p.password or None,
            dbname=name,
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": self.db_url(self.write_db),
            "READ_DATABASE_URL": self.db_url(self.read_db),
            "CELERY_BROKER_URL": self.broker_url,
            "REDIS_URL": self.broker_url,
            "PROJECTION_BEAT_SECONDS": "1",
            "DJANGO_DEBUG": "0",
            "DJANGO_LOG_LEVEL": "INFO",  # workers and beat say "ready." and "Sending due task" at INFO
        }
        env.pop("CELERY_TASK_DEFAULT_QUEUE", None)  # the soak's Redis is its own: the default queue is fine
        env.update(extra)
        return env

    # Databases ------------------------------------------------------------------------

    def admin_connection(self) -> psycopg.Connection:
        """Autocommit connection to the server's maintenance database (never one of the soak's own)."""
        last: Exception | None = None
        for name in dict.fromkeys([self.maintenance_db, "postgres", "template1"]):
            try:
                return psycopg.connect(self.conninfo(name), autocommit=True, connect_timeout=10)
            except psycopg.OperationalError as exc:
                last = exc
        raise RuntimeError(f"cannot connect to the PostgreSQL server of DATABASE_URL: {last}")

    def create_databases(self) -> None:
        with self.admin_connection() as conn:
            admin_info = self.conninfo(conn.info.dbname)  # info.dsn would drop a password
            for name in (self.write_db, self.read_db):
                conn.execute(f'CREATE DATABASE "{name}"')
                self.created_dbs.append(name)
        self.janitor = subprocess.Popen(
            [sys.executable, "-c", _JANITOR, str(os.getpid()), admin_info, *self.created_dbs],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def drop_databases(self) -> None:
        if self.janitor is not None:
            self.janitor.kill()
            self.janitor.wait(10)
            self.janitor = None
        if not self.created_dbs:
            return
        try:
            with self.admin_connection() as conn:
                for name in list(self.created_dbs):
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    self.created_dbs.remove(name)
        except Exception as exc:
            log(f"could not drop databases {self.created_dbs}: {exc}")

    def terminate_backends(self) -> int:
        """pg_terminate_backend on every backend of the app's two databases; how many it ended."""
        with self.admin_connection() as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
                [[self.write_db, self.read_db]],
            ).fetchall()
        return sum(1 for (ended,) in rows if ended)

    def manage(self, *args: str, timeout: float = 300.0, env: dict[str, str] | None = None) -> str:
        """Run `manage.py ARGS` to completion; its output, or an error with it."""
        result = subprocess.run(
            [*_PDEATHSIG, sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def migrate(self) -> None:
        """Both databases at once (two cores): the write side and the read side."""
        procs = []
        for extra in ([], ["--database", "read"]):
            out = (self.work_dir / f"migrate{'-' + extra[1] if extra else ''}.log").open("wb")
            procs.append(
                (
                    extra,
                    out,
                    subprocess.Popen(
                        [*_PDEATHSIG, sys.executable, "manage.py", "migrate", "--noinput", *extra],
                        cwd=ROOT,
                        env=self.env(),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    ),
                )
            )
        for extra, out, proc in procs:
            try:
                code = proc.wait(600)
            finally:
                out.close()
            if code != 0:
                raise RuntimeError(f"migrate {' '.join(extra)} failed:\n{Path(out.name).read_text()[-3000:]}")

    def create_users(self, staff: str, customers: list[str]) -> dict[str, str]:
        """A staff user and the customers, each with a DRF token (username -> token)."""
        snippet = (
            "import json, os\n"
            "from django.contrib.auth import get_user_model\n"
            "from rest_framework.authtoken.models import Token\n"
            "User = get_user_model()\n"
            "tokens = {}\n"
            "staff = os.environ['SOAK_STAFF']\n"
            "names = [staff, *json.loads(os.environ['SOAK_CUSTOMERS'])]\n"
            "for name in names:\n"
            "    user = User.objects.create_user(name, password='soak-' + name, is_staff=(name == staff))\n"
            "    tokens[name] = Token.objects.create(user=user).key\n"
            "print('SOAK_TOKENS ' + json.dumps(tokens))\n"
        )
        out = self.manage("shell", "-c", snippet, env=self.env(SOAK_STAFF=staff, SOAK_CUSTOMERS=json.dumps(customers)))
        line = next(line for line in out.splitlines() if line.startswith("SOAK_TOKENS "))
        self.tokens = json.loads(line.removeprefix("SOAK_TOKENS "))
        return self.tokens

    # Processes ------------------------------------------------------------------------

    def start_redis(self) -> None:
        if self.redis is None:
            self.redis = Proc(
                "redis",
                [
                    "redis-server",
                    "--port",
                    str(self.redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    str(self.work_dir),
                ],
                dict(os.environ),
                self.work_dir / "redis.log",
                ready=lambda p: _redis_ping(self.redis_port),
                ready_timeout=30,
            )
        wait_port_free(self.redis_port)
        self.redis.start()

    def start_web(self) -> None:
        if self.web is None:
            self.web = Proc(
                "gunicorn",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.web_port}",
                    "--workers",
                    str(self.web_workers),
                    "--worker-class",
                    "gthread",
                    "--threads",
                    str(self.web_threads),
                    "--timeout",
                    "30",
                    "--graceful-timeout",
                    "3",
                    "--log-level",
                    "warning",
                ],
                self.env(DJANGO_LOG_LEVEL="WARNING"),
                self.work_dir / "web.log",
                group=True,
                ready=self._web_healthy,
                ready_timeout=120,
            )
        wait_port_free(self.web_port)
        self.web.start()

    def _web_healthy(self, proc: Proc) -> bool:
        session = requests.Session()
        session.trust_env = False  # 127.0.0.1 directly, whatever proxy the environment names
        try:
            return session.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False
        finally:
            session.close()

    def start_worker(self, *, wait: bool = True) -> Proc:
        self._worker_serial += 1
        worker = Proc(
            f"worker-{self._worker_serial}",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=threads",
                "--concurrency=2",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"soak{self._worker_serial}-{uuid.uuid4().hex[:4]}@%h",
            ],
            self.env(),
            self.work_dir / f"worker-{self._worker_serial}.log",
            ready=lambda p: b"ready." in p.new_output(),
            ready_timeout=120,
        )
        worker.start(wait=wait)
        self.workers.append(worker)
        if not wait:
            self.starting.append(worker)
        return worker

    def start_beat(self) -> None:
        self.beat = Proc(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel=INFO",
                "--schedule",
                str(self.work_dir / "beat-schedule"),
            ],
            self.env(),
            self.work_dir / "beat.log",
            ready=lambda p: b"Sending due task" in p.new_output(),
            ready_timeout=120,
        )
        self.beat.start()

    def start_projector(self) -> None:
        self.projector = Proc(
            "run_projector",
            [sys.executable, "manage.py", "run_projector", "--poll-seconds", "2"],
            self.env(),
            self.work_dir / "projector.log",
        )
        self.projector.start()

    def start_all(self) -> None:
        self.start_web()
        for _ in range(2):
            self.start_worker()
        self.start_beat()
        self.start_projector()

    def live_workers(self) -> list[Proc]:
        return [w for w in self.workers if w.alive()]

    # Faults ---------------------------------------------------------------------------

    def kill_worker(self, index: int) -> None:
        """kill -9 one Celery worker, then start a new one in its place (`supervise` sees it come up)."""
        live = self.live_workers()
        if live:
            live[index % len(live)].kill()
        self.workers = self.live_workers()
        self.start_worker(wait=False)

    def kill_web(self) -> None:
        """kill -9 gunicorn's process group (master and workers), then start it on the same port."""
        assert self.web is not None
        self.web.kill()
        wait_port_free(self.web_port)
        self.start_web()

    def pause_redis(self, seconds: float) -> None:
        assert self.redis is not None
        self.redis.signal(signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            self.redis.signal(signal.SIGCONT)

    def kill_redis(self, down_seconds: float) -> None:
        assert self.redis is not None
        self.redis.kill()
        time.sleep(down_seconds)
        self.start_redis()

    def start_rebuild(self) -> bool:
        """`manage.py rebuild_projections --all` in the background (not while the last one still runs)."""
        self.reap_rebuild()
        if self.rebuild is not None and self.rebuild.alive():
            return False
        self.rebuild = Proc(
            "rebuild",
            [sys.executable, "manage.py", "rebuild_projections", "--all"],
            self.env(),
            self.work_dir / "rebuild.log",
        )
        self.rebuild.start()
        return True

    def reap_rebuild(self, wait: float = 0.0) -> None:
        if self.rebuild is None or self.rebuild.process is None:
            return
        if wait:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.rebuild.process.wait(wait)
        code = self.rebuild.process.poll()
        if code is not None:
            self.rebuild_results.append(code)
            if code != 0:
                output = self.rebuild.new_output().decode(errors="replace")[-1500:]
                log(f"rebuild_projections --all exited {code}:\n{output}")
            self.rebuild = None

    # Supervision ----------------------------------------------------------------------

    def check_starting(self) -> None:
        for worker in list(self.starting):
            if not worker.alive() or worker.ready is None or worker.ready(worker):
                self.starting.remove(worker)  # up, or dead (then restarted below like any other)
            elif time.monotonic() - worker.started_at > worker.ready_timeout:
                self.starting.remove(worker)
                self.start_failures.append(f"{worker.name} not ready after {worker.ready_timeout:.0f}s")
                log(f"{worker.name} not ready after {worker.ready_timeout:.0f}s; killing it:\n{worker.tail(1500)}")
                worker.kill()

    def wait_started(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while self.starting and time.monotonic() < deadline:
            self.check_starting()
            time.sleep(0.2)

    def supervise(self) -> None:
        """Restart what died without a fault asking for it (counted: it is worth a look in the logs)."""
        self.check_starting()
        for proc, restart in (
            (self.redis, self.start_redis),
            (self.web, self.start_web),
            (self.beat, self.beat.start if self.beat else None),
            (self.projector, self.projector.start if self.projector else None),
        ):
            if proc is not None and restart is not None and not proc.alive():
                self.unexpected_exits[proc.name] += 1
                log(
                    f"{proc.name} exited on its own (code {proc.process.poll() if proc.process else None}); "
                    f"restarting. Log tail:\n{proc.tail(1500)}"
                )
                restart()
        dead = [w for w in self.workers if not w.alive()]
        for worker in dead:
            self.unexpected_exits["worker"] += 1
            log(f"{worker.name} exited on its own; starting another. Log tail:\n{worker.tail(1500)}")
        self.workers = self.live_workers()
        while len(self.workers) < 2:
            self.start_worker()

    def ensure_up(self) -> None:
        """Before the final check: Redis running (never left paused), and every process alive."""
        if self.redis is not None:
            self.redis.signal(signal.SIGCONT)
        self.supervise()
        self.wait_started()
        self.supervise()

    # Teardown -------------------------------------------------------------------------

    def teardown(self) -> None:
        procs = [self.rebuild, self.web, self.beat, self.projector, *self.workers, self.redis]
        for proc in procs:
            if proc is not None:
                try:
                    proc.stop(timeout=8)
                except Exception as exc:
                    log(f"stopping {proc.name}: {exc}")
        self.rebuild = None
        self.drop_databases()
