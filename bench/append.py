"""Benchmark: single-event appends through the store against raw psycopg 3, 1 and 4 writers.

Why: every command ends in one append, so the store's per-append overhead over the
bare INSERT + COMMIT is the ceiling on command throughput. The raw psycopg figure is
the same rows in the same pattern (one event per transaction, `BEGIN; INSERT; COMMIT`)
with nothing else, so `ratio_vs_psycopg` is the store's efficiency, and the 4-writer
run shows that writers of different streams do not wait for each other.

Runs on PostgreSQL from DATABASE_URL in a scratch database (`bench_append`) that it
creates, migrates and drops. Prints one line per measurement, and last one JSON object.
Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python bench/append.py [--quick]
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "bench_append"


def scratch_urls(url: str) -> tuple[str, str]:
    """(URL of the scratch database, URL of the `postgres` maintenance database) on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{SCRATCH_DB}")), urlunsplit(parts._replace(path="/postgres"))


def recreate(admin_url: str, *, drop_only: bool = False) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {SCRATCH_DB}")


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.pop("READ_DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)  # eager, in-process: no broker traffic in the figures
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from eventstore.signals import events_committed

    # The store alone is measured: no eager projection catch-up after each commit.
    events_committed.disconnect(dispatch_uid="eventstore.request_catch_up")


def store_writer(writer: int, count: int) -> Callable[[], None]:
    """Append `count` single-event transactions, each at the stream's expected version."""
    from eventstore.store import NewEvent, StreamWrite, append

    run = uuid.uuid4().hex[:8]

    def work() -> None:
        from django.db import connection

        try:
            for i in range(count):
                stream, version = f"Bench-{run}-{writer}-{i // 100}", i % 100
                append(StreamWrite(stream, version, [NewEvent("Benched", {"n": i, "writer": writer})]))
        finally:
            connection.close()

    return work


INSERT = (
    "INSERT INTO eventstore_event (event_id, stream_id, stream_type, version, event_type, schema_version,"
    " data, metadata, recorded_at) VALUES (%s, %s, %s, %s, %s, 1, %s::jsonb, %s::jsonb, now())"
)


def psycopg_writer(url: str, writer: int, count: int) -> Callable[[], None]:
    """The same rows as `store_writer` with bare psycopg: BEGIN; INSERT; COMMIT per event."""
    run = uuid.uuid4().hex[:8]

    def work() -> None:
        with psycopg.connect(url) as conn:
            for i in range(count):
                with conn.transaction():
                    conn.execute(INSERT, (
                        uuid.uuid4(), f"Raw-{run}-{writer}-{i // 100}", "Raw", i % 100 + 1, "Benched",
                        json.dumps({"n": i, "writer": writer}), "{}",
                    ))

    return work


def measure(make_work: Callable[[int, int], Callable[[], None]], writers: int, per_writer: int) -> float:
    """Events per second of `writers` threads each appending `per_writer` events."""
    works = [make_work(w, per_writer) for w in range(writers)]
    threads = [threading.Thread(target=work) for work in works]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return writers * per_writer / (time.perf_counter() - started)


def median_of(label: str, runs: int, make_work: Callable[[int, int], Callable[[], None]], writers: int,
              per_writer: int) -> float:
    rates = [measure(make_work, writers, per_writer) for _ in range(runs)]
    spread = (max(rates) - min(rates)) / statistics.median(rates) * 100
    print(f"{label:<22} median {statistics.median(rates):8.0f} events/s  runs {[round(r) for r in rates]}"
          f"  spread {spread:.0f}%", flush=True)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs (< 1 minute)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/append.py needs DATABASE_URL pointing at PostgreSQL")
    runs, events = (3, 1500) if args.quick else (5, 5000)
    scratch, admin = scratch_urls(url)
    recreate(admin)
    try:
        setup_django(scratch)
        median_of("warm-up", 1, store_writer, 1, events // 5)
        store1 = median_of("store 1 writer", runs, store_writer, 1, events)
        raw1 = median_of("psycopg 1 writer", runs, lambda w, n: psycopg_writer(scratch, w, n), 1, events)
        store4 = median_of("store 4 writers", runs, store_writer, 4, events // 2)
        raw4 = median_of("psycopg 4 writers", runs, lambda w, n: psycopg_writer(scratch, w, n), 4, events // 2)
    finally:
        from django.db import connections

        connections.close_all()
        recreate(admin, drop_only=True)
    print(json.dumps({
        "bench": "append",
        "quick": args.quick,
        "runs": runs,
        "events_per_s": round(store1),
        "psycopg_events_per_s": round(raw1),
        "ratio_vs_psycopg": round(store1 / raw1, 2),
        "writers4_events_per_s": round(store4),
        "writers4_speedup": round(store4 / store1, 2),
        "psycopg_writers4_events_per_s": round(raw4),
    }))


if __name__ == "__main__":
    main()
