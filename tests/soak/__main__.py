"""`python -m tests.soak` (`make soak`): run the soak and print its verdict as one JSON line.

Environment: DATABASE_URL (required, PostgreSQL: only its server is used, the soak
creates and drops databases of its own), SOAK_SECONDS (300), SOAK_CLIENTS (4),
SOAK_SEED (random, printed), SOAK_THINK_MS (10, the most a client waits between
commands), SOAK_KEEP_LOGS=1 (keep the work directory even when all went well).

Progress goes to stdout every ~10 s, problems to stderr as they are found; the last
line on stdout is the JSON verdict. The exit code is 0 only when lost, doubled,
view_mismatches, server_errors and unexpected_answers are all 0, every fault ran, and
the soak itself did not break; 2 when the stack could not even be set up.
"""

import atexit
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.soak.clients import BIG_STOCK, COMMAND_BOUND_SECONDS, SCARCE_STOCK, ClientThread, Stats
from tests.soak.faults import KINDS, FaultInjector
from tests.soak.model import ACCEPTED, NOT_COMMITTED, REFUSED, Model
from tests.soak.oracle import Oracle, read_log
from tests.soak.stack import Stack, log

PROGRESS_EVERY = 10.0
STAFF = "soak-staff"
FAILING = ("lost", "doubled", "view_mismatches", "server_errors", "unexpected_answers")


class Interrupted(BaseException):
    """SIGINT/SIGTERM/SIGHUP: stop, tear down, exit."""


class Soak:
    def __init__(self, stack: Stack, *, seconds: float, clients: int, seed: int, think_ms: float) -> None:
        self.stack = stack
        self.seconds = seconds
        self.clients = clients
        self.seed = seed
        self.think_ms = think_ms
        self.model = Model()
        self.stats = Stats()
        self.stop = threading.Event()
        self.threads: list[ClientThread] = []
        self.injector = FaultInjector(stack, seconds)
        self.load_seconds = 0.0
        self.torn_down = False
        self.tokens: dict[str, str] = {}
        self.keep_logs = os.environ.get("SOAK_KEEP_LOGS") == "1"

    # Setup ------------------------------------------------------------------------------

    def setup(self) -> None:
        started = time.monotonic()
        self.stack.create_databases()
        log(f"databases {self.stack.write_db} and {self.stack.read_db} created; work dir {self.stack.work_dir}")
        self.stack.start_redis()
        self.stack.migrate()
        customers = [f"soak-c{i}" for i in range(self.clients)]
        self.model.customers = customers
        self.tokens = self.stack.create_users(STAFF, customers)
        self.stack.start_all()
        log(
            f"stack up in {time.monotonic() - started:.0f}s: gunicorn {self.stack.base_url} "
            f"({self.stack.web_workers} workers), 2 Celery workers, beat, run_projector, "
            f"Redis on port {self.stack.redis_port}"
        )
        self.register_catalogue()
        self.check_correlation()

    def client(self, name: str, index: int, *, catalogue: bool = False) -> ClientThread:
        return ClientThread(
            name,
            model=self.model,
            stats=self.stats,
            base_url=self.stack.base_url,
            tokens=self.tokens,
            customer=self.model.customers[index % self.clients],
            staff=STAFF,
            seed=self.seed * 1000 + index,
            stop=self.stop,
            think_ms=self.think_ms,
            catalogue=catalogue,
        )

    def register_catalogue(self) -> None:
        """Eight big-stock products (four of them get price changes), a scarce one and one without stock."""
        rng = random.Random(self.seed)
        setup = self.client("setup", 999)
        specs = [
            setup.register_spec(
                f"soak-p{i:02d}", Decimal(rng.randint(100, 9999)) / 100, BIG_STOCK, pool=True, priced=i < 4
            )
            for i in range(8)
        ]
        specs.append(setup.register_spec("soak-scarce", Decimal("42.50"), SCARCE_STOCK, pool=False, scarce=True))
        specs.append(setup.register_spec("soak-idle", Decimal("7.00"), 0, pool=False))
        for spec in specs:
            record = setup.execute(spec)
            if record.outcome != ACCEPTED:
                raise RuntimeError(f"registering {spec.body['sku']} failed: {record.status} {record.answer}")

    def check_correlation(self) -> None:
        """The oracle finds commands in the log by X-Request-ID; make sure the server keeps it as correlation id."""
        unknown = {e.rid for e in read_log(self.stack)} - set(self.model.by_rid)
        if unknown:
            raise RuntimeError(
                f"events carry correlation ids no client sent ({sorted(unknown)[:3]}): X-Request-ID "
                f"is no longer the commands' correlation id, so the soak cannot count the log"
            )

    # Load and faults ----------------------------------------------------------------------

    def run_load(self) -> None:
        self.threads = [self.client(str(i), i, catalogue=i == 0) for i in range(self.clients)]
        started = time.monotonic()
        for thread in self.threads:
            thread.start()
        log(f"{self.clients} clients started (seed {self.seed}); a fault every {self.injector.interval:.1f}s")
        next_progress = PROGRESS_EVERY
        while (elapsed := time.monotonic() - started) < self.seconds:
            if self.injector.due(elapsed):
                self.injector.run_next(elapsed)
            self.stack.supervise()
            self.stack.reap_rebuild()
            if elapsed >= next_progress:
                self.progress(elapsed)
                while next_progress <= elapsed:
                    next_progress += PROGRESS_EVERY
            time.sleep(0.2)
        self.load_seconds = time.monotonic() - started
        self.stop.set()
        log("load over: waiting for the clients' last commands")
        deadline = time.monotonic() + COMMAND_BOUND_SECONDS * 2 + 60
        for thread in self.threads:
            thread.join(max(1.0, deadline - time.monotonic()))
            if thread.is_alive():
                self.stats.problem("soak_errors", f"client {thread.label} did not stop")
        self.progress(time.monotonic() - started)

    def progress(self, elapsed: float) -> None:
        c = self.stats.counts
        faults = ",".join(f"{k}:{self.injector.counts[k]}" for k in KINDS)
        print(
            f"soak {elapsed:5.0f}s commands={c['commands']} accepted={c['accepted']} refused={c['refused']} "
            f"unresolved={c['unresolved']} retries={c['retries']} faults={faults} "
            f"server_errors={c['server_errors']} unexpected={c['unexpected_answers']}",
            flush=True,
        )

    # Verdict ----------------------------------------------------------------------------

    def verify(self) -> dict[str, Any]:
        self.stack.ensure_up()
        self.stack.reap_rebuild(wait=180)
        oracle = Oracle(self.stack, self.model, self.stats, self.tokens[STAFF])
        log("checking the log against the model")
        by_rid = oracle.check_log()
        log(f"checking every view ({len(self.model.orders)} orders, {len(self.model.products)} products, daily sales)")
        view_mismatches = oracle.check_views(by_rid) + self.stats.counts["fresh_read_mismatches"]
        self.server_error_context()
        records = self.model.records
        c = self.stats.counts
        faults_missing = [k for k in KINDS if self.injector.counts[k] == 0]
        summary: dict[str, Any] = {
            "soak": True,
            "seconds": round(self.load_seconds, 1),
            "commands": len(records),
            "accepted": sum(r.outcome == ACCEPTED for r in records),
            "refused": sum(r.outcome == REFUSED for r in records),
            "faults": dict(self.injector.counts),
            "lost": oracle.found["lost"],
            "doubled": oracle.found["doubled"],
            "view_mismatches": view_mismatches,
            "server_errors": c["server_errors"],
            "unexpected_answers": c["unexpected_answers"],
            "details": {
                "clients": self.clients,
                "seed": self.seed,
                "orders": len(self.model.orders),
                "products": len(self.model.products),
                "log_events": oracle.found["log_events"],
                "refused_but_committed": oracle.found["refused_but_committed"],
                "fresh_read_mismatches": c["fresh_read_mismatches"],
                "unresolved": c["unresolved"],
                "unresolved_committed": oracle.found["unresolved_committed"],
                "unresolved_not_committed": sum(r.outcome == NOT_COMMITTED for r in records),
                "ambiguous": c["ambiguous"],
                "abandoned": c["abandoned"],
                "sent_twice": c["sent_twice"],
                "sent_twice_at_once": c["sent_twice_at_once"],
                "unkeyed": c["unkeyed"],
                "races": c["races"],
                "retries": c["retries"],
                "reads": c["reads"],
                "fresh_reads": c["fresh_reads"],
                "stale_reads": c["stale_reads"],
                "backends_terminated": self.injector.backends_terminated,
                "rebuild_exit_codes": self.stack.rebuild_results,
                "unexpected_exits": dict(self.stack.unexpected_exits),
                "fault_errors": len(self.injector.errors) + len(self.stack.start_failures),
                "faults_missing": faults_missing,
                "soak_errors": c["soak_errors"],
                "projections": oracle.projections,
            },
        }
        broken = [k for k in FAILING if summary[k]]
        if (
            c["soak_errors"]
            or self.injector.errors
            or self.stack.start_failures
            or (faults_missing and self.seconds >= 60)
        ):
            broken.append("soak")
        summary["ok"] = not broken
        if broken:
            log(f"FAILED: {', '.join(broken)} (details above; logs in {self.stack.work_dir})")
            self.keep_logs = True
        return summary

    def server_error_context(self) -> None:
        """For every 500, the server's own log line (gunicorn's JSON logs carry our X-Request-ID)."""
        if not self.stats.counts["server_errors"]:
            return
        rids = {text.split("rid=", 1)[1].split()[0] for text in self.stats.details["server_errors"] if "rid=" in text}
        shown = 0
        for line in self.stack.work_dir.joinpath("web.log").read_text(errors="replace").splitlines():
            if '"level": "ERROR"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if rids and entry.get("request_id") not in rids:
                continue
            trace = str(entry.get("exc_info", "")).strip().splitlines()
            log(
                f"[server log] request {entry.get('request_id')}: {entry.get('message')} :: "
                f"{' | '.join(trace[-3:]) if trace else ''}"
            )
            shown += 1
            if shown >= 15:
                break

    def teardown(self) -> None:
        if self.torn_down:
            return
        self.torn_down = True
        self.stop.set()
        for thread in self.threads:
            thread.join(5)
        self.stack.teardown()
        if self.keep_logs:
            log(f"logs kept in {self.stack.work_dir}")
        else:
            shutil.rmtree(self.stack.work_dir, ignore_errors=True)


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        print(
            "soak: set DATABASE_URL to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres "
            "(the soak creates and drops databases of its own there)",
            file=sys.stderr,
        )
        return 2
    seconds = float(os.environ.get("SOAK_SECONDS") or 300)
    clients = max(1, int(os.environ.get("SOAK_CLIENTS") or 4))
    seed = int(os.environ.get("SOAK_SEED") or random.randrange(1, 2**31))
    think_ms = float(os.environ.get("SOAK_THINK_MS") or 10)
    run_id = uuid.uuid4().hex[:8]
    work_dir = Path(tempfile.mkdtemp(prefix=f"soak-{run_id}-"))
    soak = Soak(
        Stack(database_url, work_dir, run_id=run_id), seconds=seconds, clients=clients, seed=seed, think_ms=think_ms
    )

    def interrupt(signum: int, _frame: Any) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # one teardown, not interrupted by a second signal
        raise Interrupted(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
    atexit.register(soak.teardown)
    log(f"run {run_id}: {seconds:.0f}s, {clients} clients, seed {seed}")
    try:
        soak.setup()
        soak.run_load()
        summary = soak.verify()
    except Interrupted as exc:
        soak.keep_logs = True
        log(f"interrupted by {exc}: tearing down")
        return 130
    except Exception:
        soak.keep_logs = True
        log(f"the soak could not run:\n{traceback.format_exc()}")
        print(
            json.dumps({"soak": True, "ok": False, "error": traceback.format_exc().strip().splitlines()[-1]}),
            flush=True,
        )
        return 2
    finally:
        soak.teardown()
    print(json.dumps(summary), flush=True)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
