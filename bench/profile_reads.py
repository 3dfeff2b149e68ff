"""Profile: each read's Python cost on the server, ours against plain DRF, and where it goes.

Why: bench/reads.py says how fast the reads are over HTTP, against plain DRF viewsets
over the same tables; this says what one read of each kind (order detail, a list page,
a catalogue search) costs the web worker's CPU on each side, how many Python function
calls and SQL statements it makes, and which functions take the CPU, so a change to the
read path can be weighed before the HTTP benchmark is run. Every read goes through the
whole Django stack (middleware, token auth, DRF, the bus) in process, called as WSGI the
way gunicorn calls it, with the benchmark server's settings (bench/settings.py) and the
same generated log as bench/reads.py.

Prints, per side and kind, CPU and wall microseconds per request (medians of rounds),
function calls and SQL statements per request and, with --top, the functions with the
most own CPU time under cProfile; last, one JSON object.
Runs in a scratch database (`bench_profile_reads`, or BENCH_SCRATCH_DB) that it creates,
migrates and drops.
Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python bench/profile_reads.py [--quick] [--top N]
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from commands import server_env
from reads import KINDS, prepare, url_maker
from scratch_db import recreate, scratch_urls

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("http", "plain")


def wsgi_get(application: Any, key: str) -> Any:
    """A function that GETs a path through `application` as gunicorn would, and returns the status code."""
    from django.test.client import FakePayload

    base = {
        "REQUEST_METHOD": "GET",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SCRIPT_NAME": "",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Token {key}",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multiprocess": True,
        "wsgi.multithread": False,
        "wsgi.run_once": False,
    }
    status: list[str] = []

    def start_response(code: str, headers: list, exc_info: Any = None) -> None:
        status.append(code)

    def get(url: str) -> int:
        path, _, query = url.partition("?")
        environ = {**base, "PATH_INFO": path, "QUERY_STRING": query, "wsgi.input": FakePayload(b"")}
        status.clear()
        response = application(environ, start_response)
        try:
            for _ in response:
                pass
        finally:
            response.close()
        return int(status[0].split()[0])

    return get


def timed(get: Any, urls: list[str]) -> tuple[float, float]:
    """CPU and wall seconds per request of one pass over `urls`."""
    c0, w0 = time.process_time(), time.perf_counter()
    for url in urls:
        get(url)
    return (time.process_time() - c0) / len(urls), (time.perf_counter() - w0) / len(urls)


def profiled(get: Any, urls: list[str]) -> dict[str, Any]:
    """Function calls and SQL statements per request, and the cProfile stats of one pass."""
    from django.db import connection

    statements = [0]

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements[0] += 1
        return execute(sql, params, many, context)

    profile = cProfile.Profile()
    with connection.execute_wrapper(count):
        profile.enable()
        for url in urls:
            get(url)
        profile.disable()
    stats = pstats.Stats(profile)
    return {
        "calls": round(stats.total_calls / len(urls)),  # type: ignore[attr-defined]
        "sql": round(statements[0] / len(urls), 2),
        "stats": stats,
    }


def top(stats: pstats.Stats, n: int) -> str:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(n)
    return "\n".join(line for line in out.getvalue().splitlines() if line.strip())[-8000:]


def urls_of(order_ids: list[str], requests: int) -> dict[str, dict[str, list[str]]]:
    """side -> kind -> `requests` URLs: the same reads on both sides."""
    urls: dict[str, dict[str, list[str]]] = {}
    for side in SIDES:
        make, rng = url_maker(side, order_ids), random.Random(1)
        urls[side] = {kind: [] for kind in KINDS}
        while min(len(u) for u in urls[side].values()) < requests:
            kind, path = make(rng)
            urls[side][kind].append(path)
        urls[side] = {kind: paths[:requests] for kind, paths in urls[side].items()}
    return urls


def run(get: Any, urls: dict[str, dict[str, list[str]]], rounds: int, top_n: int) -> dict[str, Any]:
    """Per side and kind: medians of interleaved rounds (drift hits both sides alike), then one profiled pass."""
    for side in SIDES:
        for kind in KINDS:
            for path in urls[side][kind][:20]:  # warm up: imports, connections, caches
                if (code := get(path)) != 200:
                    raise RuntimeError(f"GET {path} answered {code}")
    samples: dict[str, list[tuple[float, float]]] = {f"{side}_{kind}": [] for side in SIDES for kind in KINDS}
    for _ in range(rounds):
        for kind in KINDS:
            for side in SIDES:
                samples[f"{side}_{kind}"].append(timed(get, urls[side][kind]))
    results: dict[str, Any] = {}
    for kind in KINDS:
        for side in SIDES:
            name = f"{side}_{kind}"
            figures: dict[str, Any] = {
                "cpu_us": round(statistics.median(c for c, _ in samples[name]) * 1e6),
                "wall_us": round(statistics.median(w for _, w in samples[name]) * 1e6),
            }
            figures.update(profiled(get, urls[side][kind]))
            stats = figures.pop("stats")
            results[name] = figures
            print(f"{side} {kind}: {figures}", flush=True)
            if top_n:
                print(top(stats, top_n), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick benchmark's log and fewer requests")
    parser.add_argument("--top", type=int, default=0, help="print the N functions with the most own time")
    parser.add_argument("--scratch-db", default=os.environ.get("BENCH_SCRATCH_DB", "bench_profile_reads"))
    parser.add_argument("--keep", action="store_true", help="leave the scratch database for --reuse")
    parser.add_argument("--reuse", action="store_true", help="profile a database a --keep run left")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/profile_reads.py needs DATABASE_URL pointing at PostgreSQL")
    if not args.scratch_db.isidentifier():
        sys.exit("BENCH_SCRATCH_DB must be a plain identifier")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    products, orders = (2_000, 20_000) if args.quick else (20_000, 200_000)
    requests, rounds = (300, 5) if args.quick else (1_000, 7)

    scratch_url, admin_url = scratch_urls(url, args.scratch_db)
    env = {**server_env(scratch_url), "CELERY_BROKER_URL": redis_url}
    try:
        if args.reuse:
            os.environ.update(env)
            sys.path.insert(0, str(ROOT))
            import django

            django.setup()
            from rest_framework.authtoken.models import Token

            from orders_read.models import OrderSummary

            key = Token.objects.get(user__username="bench-staff").key
            order_ids = [str(i) for i in OrderSummary.objects.values_list("order_id", flat=True)]
        else:
            recreate(admin_url, args.scratch_db)
            subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
            key, _token, order_ids = prepare(env, products, orders)
        from django.core.wsgi import get_wsgi_application

        results = run(wsgi_get(get_wsgi_application(), key), urls_of(sorted(order_ids), requests), rounds, args.top)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            recreate(admin_url, args.scratch_db, drop_only=True)
        db = urlsplit(redis_url).path.strip("/") or "0"
        subprocess.run(["redis-cli", "-n", db, "flushdb"], capture_output=True, check=False)
    summary: dict[str, Any] = {"bench": "profile_reads", "quick": args.quick, "orders": orders, "products": products}
    for kind in KINDS:
        ours, plain = results[f"http_{kind}"], results[f"plain_{kind}"]
        summary[f"{kind}_cpu_ratio_vs_plain"] = round(plain["cpu_us"] / ours["cpu_us"], 3)
        for side in SIDES:
            for figure, value in results[f"{side}_{kind}"].items():
                summary[f"{side}_{kind}_{figure}"] = value
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
