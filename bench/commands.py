"""Benchmark: CreateOrder over HTTP through the event-sourced write side, against plain Django.

Why: placing an order is the write path that matters. The issue's bar is that an
event-sourced order costs no more than the CRUD endpoint a team would otherwise write
(an order row, line rows, `UPDATE stock ... WHERE stock >= n`), so both run in the
same run, under the same gunicorn (one server, same workers), same token auth, same
middleware and the same request bodies (1-3 lines). Also: the latency of a command on
a product stream of 100,000 events against a fresh stream (snapshots at work); and what
each speed trick that reaches under Django or psycopg pays (bench/tricks.py): servers
with one trick off each run beside the full one, interleaved, and `pays_pct` is how
much faster the full server is than each (a trick that pays < 3 % has no place), with
`saves_web_cpu_pct`, how much less CPU the web workers spend per order with it.

Runs on PostgreSQL: DATABASE_URL names the server; the script creates, migrates and
drops its own scratch database (`bench_commands`). The server runs with a Redis broker
(redis://127.0.0.1:6379/14) and no worker, so each commit pays for its projection
trigger (coalesced in Redis) as in production, but projections do not run inside the
requests and distort the figure; db 14 is flushed at the end.
Prints one line per measurement, and last one JSON object.
Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python bench/commands.py [--quick]
"""

import argparse
import http.client
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from scratch_db import recreate, scratch_urls
from tricks import TRICKS

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "bench_commands"
BROKER = "redis://127.0.0.1:6379/14"
SEED_ORDERS_PER_HOUR = 10_000
ES_PATH, PLAIN_PATH = "/api/orders/", "/bench/plain/orders/"
ADDRESS = {"name": "Bench", "street": "1 Load St", "city": "Oslo"}


def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("READ_DATABASE_URL", "REDIS_URL")}
    env.update(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=BROKER,
        DJANGO_SETTINGS_MODULE="bench.settings",
        DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
        DJANGO_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def prepare(env: dict[str, str], products: int, long_events: int) -> tuple[str, list[str]]:
    """Users, a token, the same catalogue on both sides, and one product stream of `long_events` events."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connections
    from rest_framework.authtoken.models import Token

    from bench.plainshop.models import PlainProduct
    from eventstore.aggregates.loading import load
    from eventstore.aggregates.snapshots import save_snapshot
    from eventstore.log.append import ANY, StreamWrite, append
    from orders_write.aggregates import Product
    from orders_write.bus import dispatch
    from orders_write.commands import Metadata, RegisterProduct
    from orders_write.events import StockReceived

    customer = get_user_model().objects.create_user("bench", password="bench")
    staff = Metadata(user="staff", user_id=0, is_staff=True, correlation_id="bench")
    skus = [f"SKU-{i:04d}" for i in range(products)]
    for sku in [*skus, "LONG", "FRESH"]:
        dispatch(
            RegisterProduct(metadata=staff, sku=sku, name=sku.title(), price=Decimal("9.99"), initial_stock=10_000_000)
        )
    PlainProduct.objects.bulk_create(
        PlainProduct(sku=sku, name=sku.title(), price=Decimal("9.99"), stock=10_000_000) for sku in skus
    )
    chunk = 5000
    for start in range(0, long_events, chunk):
        events = [StockReceived(product_id="LONG", quantity=1) for _ in range(min(chunk, long_events - start))]
        append(StreamWrite("Product-LONG", ANY, events), metadata={"user": "bench"})
    # A stream grown by commands is snapshotted every EVENTSTORE_SNAPSHOT_EVERY events
    # by the repository; one bulk-appended here gets the snapshot it would have had.
    save_snapshot(load(Product, "LONG"))
    token = Token.objects.create(user=customer).key
    connections.close_all()
    return token, skus


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("gunicorn did not come up")


class Client:
    """One HTTP client (its own connection, reopened when the server closes it)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, float]:
        return self.request("POST", path, json.dumps(body))

    def request(
        self, method: str, path: str, payload: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, float]:
        """(status, seconds) of one request, retried once on a connection the server closed."""
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.conn.request(method, path, payload, {**self.headers, **(headers or {})})
                response = self.conn.getresponse()
                response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return response.status, time.perf_counter() - started
            except (http.client.HTTPException, ConnectionError):
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def order_body(rng: random.Random, skus: list[str]) -> dict[str, Any]:
    lines = rng.sample(skus, rng.randint(1, 3))
    return {"items": [{"product_id": sku, "quantity": rng.randint(1, 3)} for sku in lines], "shipping_address": ADDRESS}


def load_phase(port: int, token: str, path: str, skus: list[str], clients: int, seconds: float) -> dict[str, Any]:
    """`clients` threads post orders for `seconds`; returns throughput, latencies and errors."""
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run(seed: int) -> None:
        rng, client, mine, bad = random.Random(seed), Client(port, token), [], []
        while time.monotonic() < stop:
            status, took = client.post(path, order_body(rng, skus))
            (mine if status == 201 else bad).append(took if status == 201 else status)
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {"ok": len(latencies), "errors": len(errors), "elapsed": elapsed, "latencies": latencies}


def tree_cpu_seconds(root: int) -> float:
    """User and system CPU used so far by a process and its children (gunicorn's master and workers).

    Throughput on two shared cores moves with everything else the machine does; the web
    workers' own CPU per order is what a trick on the Python path saves, whatever the load.
    """
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone since the listing
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks_per_second
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


def summary(phases: list[dict[str, Any]]) -> dict[str, float]:
    latencies = sorted(x for p in phases for x in p["latencies"])
    ok = sum(p["ok"] for p in phases)
    elapsed = sum(p["elapsed"] for p in phases)
    return {
        "orders_per_s": round(ok / elapsed, 1),
        "web_cpu_ms_per_order": round(sum(p["cpu"] for p in phases) / ok * 1000, 3),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "errors": sum(p["errors"] for p in phases),
    }


def long_stream(port: int, token: str, requests: int) -> tuple[float, float]:
    """Median latency of a one-line order on the 100k-event product vs a fresh one, interleaved."""
    client = Client(port, token)
    times: dict[str, list[float]] = {"LONG": [], "FRESH": []}
    for i in range(requests * 2 + 10):
        sku = "LONG" if i % 2 else "FRESH"
        status, took = client.post(
            ES_PATH, {"items": [{"product_id": sku, "quantity": 1}], "shipping_address": ADDRESS}
        )
        if status != 201:
            raise RuntimeError(f"order on {sku} answered {status}")
        if i >= 10:  # warm-up done
            times[sku].append(took)
    return statistics.median(times["LONG"]) * 1000, statistics.median(times["FRESH"]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short phases (under two minutes in all)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (same for both endpoints)")
    parser.add_argument("--long-events", type=int, default=100_000)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/commands.py needs DATABASE_URL pointing at PostgreSQL")
    seconds, rounds, long_requests = (10.0, 5, 100) if args.quick else (30.0, 10, 300)

    scratch_url, admin_url = scratch_urls(url, SCRATCH_DB)
    recreate(admin_url, SCRATCH_DB)
    env = server_env(scratch_url)
    server, others = None, []
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        token, skus = prepare(env, products=200, long_events=args.long_events)
        port = free_port()
        server = start_server(env, port, args.workers)
        without = {trick: free_port() for trick in TRICKS}
        others = [start_server({**env, "BENCH_WITHOUT": trick}, p, args.workers) for trick, p in without.items()]
        runs = {
            "es": (port, ES_PATH, server.pid),
            "plain": (port, PLAIN_PATH, server.pid),
            **{f"without_{trick}": (p, ES_PATH, o.pid) for (trick, p), o in zip(without.items(), others, strict=True)},
        }
        for where, path, _ in runs.values():  # warm all up: imports, connections, caches
            load_phase(where, token, path, skus, args.clients, 1.5)
        phases: dict[str, list] = {name: [] for name in runs}
        for _ in range(rounds):  # interleaved, so drift in the machine's load hits all alike
            for name, (where, path, pid) in runs.items():
                cpu = tree_cpu_seconds(pid)
                phase = load_phase(where, token, path, skus, args.clients, seconds / rounds)
                phase["cpu"] = tree_cpu_seconds(pid) - cpu
                phases[name].append(phase)
                print(f"{name}: {phase['ok'] / phase['elapsed']:.1f} orders/s, {phase['errors']} errors", flush=True)
        es, plain = summary(phases["es"]), summary(phases["plain"])
        tricks = {trick: summary(phases[f"without_{trick}"]) for trick in TRICKS}
        print(f"event-sourced: {es}\nplain django:  {plain}", flush=True)
        for trick, figures in tricks.items():
            print(f"without {trick}: {figures}", flush=True)
        long_ms, fresh_ms = long_stream(port, token, long_requests)
        print(
            f"one-line order on a {args.long_events}-event stream: {long_ms:.2f} ms, fresh: {fresh_ms:.2f} ms",
            flush=True,
        )
    finally:
        for process in [server, *others]:
            if process is not None:
                process.terminate()
                process.wait(15)
        recreate(admin_url, SCRATCH_DB, drop_only=True)
        subprocess.run(["redis-cli", "-n", "14", "flushdb"], capture_output=True, check=False)
    result = {
        "bench": "commands",
        "quick": args.quick,
        "clients": args.clients,
        "gunicorn_workers": args.workers,
        "http_orders_per_s": es["orders_per_s"],
        "http_p50_ms": es["p50_ms"],
        "http_p99_ms": es["p99_ms"],
        "http_errors": es["errors"],
        "plain_orders_per_s": plain["orders_per_s"],
        "plain_p50_ms": plain["p50_ms"],
        "plain_p99_ms": plain["p99_ms"],
        "plain_errors": plain["errors"],
        "ratio_vs_plain_django": round(es["orders_per_s"] / plain["orders_per_s"], 3),
        "web_cpu_ms_per_order": es["web_cpu_ms_per_order"],
        "plain_web_cpu_ms_per_order": plain["web_cpu_ms_per_order"],
        "long_stream_events": args.long_events,
        "long_stream_p50_ms": round(long_ms, 2),
        "fresh_stream_p50_ms": round(fresh_ms, 2),
        "long_stream_slowdown": round(long_ms / fresh_ms, 3),
        "orders_per_hour": round(es["orders_per_s"] * 3600),
        "x_seed_workload": round(es["orders_per_s"] * 3600 / SEED_ORDERS_PER_HOUR, 1),
        "projection_trigger": "redis broker db 14, no worker",
        **{f"without_{trick}_orders_per_s": figures["orders_per_s"] for trick, figures in tricks.items()},
        **{
            f"{trick}_pays_pct": round((es["orders_per_s"] / figures["orders_per_s"] - 1) * 100, 1)
            for trick, figures in tricks.items()
        },
        **{
            f"{trick}_saves_web_cpu_pct": round(
                (1 - es["web_cpu_ms_per_order"] / figures["web_cpu_ms_per_order"]) * 100, 1
            )
            for trick, figures in tricks.items()
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
