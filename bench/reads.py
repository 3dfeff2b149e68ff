"""Benchmark: order detail, order list and product search over HTTP, against plain DRF ModelViewSets.

Why: the read side exists to serve heavy read traffic, so its HTTP path (the query bus,
access rules, django-filter, consistency headers) must cost no more than the plain
DRF a team would otherwise write over the same tables (bench/plainshop/read_views.py:
ReadOnlyModelViewSet, the same serializers, pagination, token auth and middleware).
Both run under one gunicorn (sync worker processes) at 8 clients, with the same
request mix (detail, a list page, a catalogue search) from the same seeds, in
interleaved rounds so drift in the machine's load hits both alike. A third side sends
the same reads to the query API with a fresh X-Consistency-Token (a real command's,
which every view has passed): the price of read-your-writes when nothing is behind.
Before measuring, each kind of read is checked to answer the same on both sides.

Runs on PostgreSQL: DATABASE_URL names the server; the script creates, migrates and
drops its own scratch database (`bench_reads`, or BENCH_SCRATCH_DB). The log is
generated with COPY (bench/projections.py's generator) and projected before the server
starts. The server's broker and cache are Redis at BENCH_REDIS_URL
(redis://127.0.0.1:6379/13), flushed at the end; no worker runs, none is needed.
Prints one line per phase, and last one JSON object.
Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python bench/reads.py [--quick]
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from commands import Client, free_port, server_env, start_server
from projections import WORDS, LogGenerator, analyze, copy_rows
from scratch_db import recreate, scratch_urls

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("detail", "list", "search")
PATHS = {  # side -> kind -> path prefix
    "http": {"detail": "/api/orders/", "list": "/api/orders/", "search": "/api/products/"},
    "plain": {
        "detail": "/bench/plain/read/orders/",
        "list": "/bench/plain/read/orders/",
        "search": "/bench/plain/read/products/",
    },
}
PATHS["fresh_token"] = PATHS["http"]
LIST_PAGES = 50


def prepare(env: dict[str, str], products: int, orders: int) -> tuple[str, str, list[str]]:
    """The log (COPY), every view projected from it, a staff token and a consistency token all views passed."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connections
    from rest_framework.authtoken.models import Token

    from eventstore.log.positions import Checkpoint
    from eventstore.projections.runner import catch_up, passed
    from orders_write.bus import dispatch
    from orders_write.commands import Metadata, RegisterProduct

    gen = LogGenerator()
    copy_rows(gen.products_rows(products) + gen.order_rows(orders))
    staff = Metadata(user="bench", user_id=0, is_staff=True, correlation_id="bench")
    token = dispatch(
        RegisterProduct(metadata=staff, sku="FRESH", name="Fresh", price=Decimal("1.00"))
    ).checkpoint.token()
    names = ("catalogue", "daily_sales", "order_summary")
    for name in names:
        catch_up(name, batch_size=20_000)
    if not passed(Checkpoint.parse(token), names):
        raise RuntimeError("the views did not reach the last command")
    analyze()
    user = get_user_model().objects.create_user("bench-staff", password="bench", is_staff=True)
    key = Token.objects.create(user=user).key
    connections.close_all()
    return key, token, gen.order_ids


def url_maker(side: str, order_ids: list[str]) -> Callable[[random.Random], tuple[str, str]]:
    """(kind, URL) of the next read: the same sequence for every side given the same seed."""
    paths = PATHS[side]

    def make(rng: random.Random) -> tuple[str, str]:
        kind = rng.choice(KINDS)
        if kind == "detail":
            return kind, f"{paths['detail']}{rng.choice(order_ids)}/"
        if kind == "list":
            return kind, f"{paths['list']}?page={rng.randint(1, LIST_PAGES)}"
        return kind, f"{paths['search']}?search={rng.choice(WORDS)}"

    return make


def same_answers(port: int, key: str, order_ids: list[str]) -> None:
    """Each kind of read answers the same body on both sides (so the comparison is like for like)."""
    import http.client

    def body(path: str) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", path, headers={"Authorization": f"Token {key}"})
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}: {data[:200]!r}")
        return json.loads(data)

    for kind, suffix in (
        ("detail", f"{order_ids[7]}/"),
        ("list", "?page=3"),
        ("search", f"?search={WORDS[3]}"),
    ):
        ours, plain = body(PATHS["http"][kind] + suffix), body(PATHS["plain"][kind] + suffix)
        if kind in ("list", "search"):  # the links differ by path
            ours = {k: ours[k] for k in ("count", "results")}
            plain = {k: plain[k] for k in ("count", "results")}
        if ours != plain:
            raise RuntimeError(f"{kind}: the query API and the plain viewset answer differently")


def load_phase(
    port: int, key: str, make: Callable, headers: dict[str, str], clients: int, seconds: float, seed: int
) -> dict[str, Any]:
    """`clients` threads read for `seconds`; latencies per kind, count and errors."""
    latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
    errors: list[int] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run(thread: int) -> None:
        rng, client = random.Random(seed * 1000 + thread), Client(port, key)
        mine: dict[str, list[float]] = {kind: [] for kind in KINDS}
        bad = []
        while time.monotonic() < stop:
            kind, url = make(rng)
            status, took = client.request("GET", url, headers=headers)
            if status == 200:
                mine[kind].append(took)
            else:
                bad.append(status)
        with lock:
            for kind in KINDS:
                latencies[kind].extend(mine[kind])
            errors.extend(bad)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed}


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)


def summary(phases: list[dict[str, Any]]) -> dict[str, Any]:
    every = [x for p in phases for kind in KINDS for x in p["latencies"][kind]]
    elapsed = sum(p["elapsed"] for p in phases)
    result: dict[str, Any] = {
        "requests_per_s": round(len(every) / elapsed, 1),
        "p50_ms": round(statistics.median(every) * 1000, 2),
        "p99_ms": p99(every),
        "errors": sum(len(p["errors"]) for p in phases),
    }
    for kind in KINDS:
        samples = [x for p in phases for x in p["latencies"][kind]]
        result[f"{kind}_mean_ms"] = round(statistics.fmean(samples) * 1000, 2)
        result[f"{kind}_p99_ms"] = p99(samples)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller log and short phases (about two minutes)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync worker processes (one server for all)")
    parser.add_argument("--scratch-db", default=os.environ.get("BENCH_SCRATCH_DB", "bench_reads"))
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/reads.py needs DATABASE_URL pointing at PostgreSQL")
    if not args.scratch_db.isidentifier():
        sys.exit("BENCH_SCRATCH_DB must be a plain identifier")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    products, orders = (2_000, 20_000) if args.quick else (20_000, 200_000)
    seconds, rounds = (12.0, 4) if args.quick else (60.0, 10)

    scratch_url, admin_url = scratch_urls(url, args.scratch_db)
    recreate(admin_url, args.scratch_db)
    env = {**server_env(scratch_url), "CELERY_BROKER_URL": redis_url}
    server = None
    phases: dict[str, list] = {side: [] for side in PATHS}
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        key, token, order_ids = prepare(env, products, orders)
        port = free_port()
        server = start_server(env, port, args.workers)
        same_answers(port, key, order_ids)
        headers = {side: {} for side in PATHS} | {"fresh_token": {"X-Consistency-Token": token}}
        for side in PATHS:  # warm up: imports, connections, caches
            load_phase(port, key, url_maker(side, order_ids), headers[side], args.clients, 1.5, seed=0)
        for round_ in range(rounds):
            for side in PATHS:
                make = url_maker(side, order_ids)
                phase = load_phase(port, key, make, headers[side], args.clients, seconds / rounds, seed=round_ + 1)
                phases[side].append(phase)
                done = sum(len(v) for v in phase["latencies"].values())
                print(f"{side}: {done / phase['elapsed']:.1f} reads/s, {len(phase['errors'])} errors", flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(15)
        recreate(admin_url, args.scratch_db, drop_only=True)
        db = urlsplit(redis_url).path.strip("/") or "0"
        subprocess.run(["redis-cli", "-n", db, "flushdb"], capture_output=True, check=False)
    ours, plain, fresh = (summary(phases[side]) for side in ("http", "plain", "fresh_token"))
    sides = {"http": ours, "plain": plain, "fresh_token": fresh}
    print(f"query API:   {ours}\nplain DRF:   {plain}\nfresh token: {fresh}", flush=True)
    result = {
        "bench": "reads",
        "quick": args.quick,
        "clients": args.clients,
        "gunicorn_workers": args.workers,
        "orders": orders,
        "products": products,
        "ratio_vs_plain_drf": round(ours["requests_per_s"] / plain["requests_per_s"], 3),
        "http_requests_per_s": ours["requests_per_s"],
        "http_p50_ms": ours["p50_ms"],
        "http_p99_ms": ours["p99_ms"],
        "plain_requests_per_s": plain["requests_per_s"],
        "plain_p50_ms": plain["p50_ms"],
        "plain_p99_ms": plain["p99_ms"],
        "fresh_token_requests_per_s": fresh["requests_per_s"],
        "fresh_token_p50_ms": fresh["p50_ms"],
        "fresh_token_p99_ms": fresh["p99_ms"],
        # Per endpoint: the clients wait for each answer, so a kind's mean latency is its cost, and
        # plain's mean over ours is that endpoint's share of the throughput ratio.
        **{f"{kind}_ratio_vs_plain": round(plain[f"{kind}_mean_ms"] / ours[f"{kind}_mean_ms"], 3) for kind in KINDS},
        **{f"{side}_{kind}_mean_ms": r[f"{kind}_mean_ms"] for side, r in sides.items() for kind in KINDS},
        **{f"http_{kind}_p99_ms": ours[f"{kind}_p99_ms"] for kind in KINDS},
        **{f"plain_{kind}_p99_ms": plain[f"{kind}_p99_ms"] for kind in KINDS},
        **{f"fresh_token_{kind}_p99_ms": fresh[f"{kind}_p99_ms"] for kind in KINDS},
        "errors": ours["errors"] + plain["errors"] + fresh["errors"],
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
