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
import secrets
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from scratch_db import recreate, scratch_urls

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "bench_append"


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.pop("READ_DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)  # eager, in-process: no broker traffic in the figures
    # The settings a deployment runs (debug off); a throwaway key, since they need one.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from eventstore.signals import events_committed

    # The store alone is measured: no eager projection catch-up after each commit.
    events_committed.disconnect(dispatch_uid="eventstore.request_catch_up")


Work = Callable[[float], int]
"""A writer: appends until the deadline (a perf_counter value), returns how many events it wrote."""


def store_writer(writer: int) -> Work:
    """Single-event transactions through the store, each at the stream's expected version."""
    from eventstore.log.append import NewEvent, StreamWrite, append

    run = uuid.uuid4().hex[:8]

    def work(deadline: float) -> int:
        from django.db import connection

        i = 0
        try:
            while time.perf_counter() < deadline:
                stream, version = f"Bench-{run}-{writer}-{i // 100}", i % 100
                append(StreamWrite(stream, version, [NewEvent("Benched", {"n": i, "writer": writer})]))
                i += 1
        finally:
            connection.close()
        return i

    return work


INSERT = (
    "INSERT INTO eventstore_event (event_id, stream_id, stream_type, version, event_type, schema_version,"
    " data, metadata, recorded_at) VALUES (%s, %s, %s, %s, %s, 1, %s::jsonb, %s::jsonb, now())"
)


def psycopg_writer(url: str) -> Callable[[int], Work]:
    """The same rows as `store_writer` with bare psycopg: BEGIN; INSERT; COMMIT per event."""

    def make(writer: int) -> Work:
        run = uuid.uuid4().hex[:8]

        def work(deadline: float) -> int:
            i = 0
            with psycopg.connect(url) as conn:
                while time.perf_counter() < deadline:
                    with conn.transaction():
                        conn.execute(
                            INSERT,
                            (
                                uuid.uuid4(),
                                f"Raw-{run}-{writer}-{i // 100}",
                                "Raw",
                                i % 100 + 1,
                                "Benched",
                                json.dumps({"n": i, "writer": writer}),
                                "{}",
                            ),
                        )
                    i += 1
            return i

        return work

    return make


def measure(make_work: Callable[[int], Work], writers: int, seconds: float) -> float:
    """Events per second of `writers` threads appending for `seconds`."""
    works = [make_work(w) for w in range(writers)]
    counts = [0] * writers

    def run(w: int, deadline: float) -> None:
        counts[w] = works[w](deadline)

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(w, started + seconds)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def medians(configs: dict[str, tuple[Callable[[int], Work], int]], runs: int, seconds: float) -> dict[str, float]:
    """Median events/s of each (writer factory, writers) config, runs interleaved round by round.

    Interleaving spreads the noise of a shared machine (other processes on the same
    two cores) over every config alike, instead of penalising whichever ran last.
    """
    rates: dict[str, list[float]] = {label: [] for label in configs}
    for _ in range(runs):
        for label, (make_work, writers) in configs.items():
            rates[label].append(measure(make_work, writers, seconds))
    for label, values in rates.items():
        spread = (max(values) - min(values)) / statistics.median(values) * 100
        print(
            f"{label:<18} median {statistics.median(values):7.0f} events/s  runs {[round(r) for r in values]}"
            f"  spread {spread:.0f}%",
            flush=True,
        )
    return {label: statistics.median(values) for label, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs (< 1 minute)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/append.py needs DATABASE_URL pointing at PostgreSQL")
    runs, seconds = (3, 2.0) if args.quick else (5, 6.0)
    scratch, admin = scratch_urls(url, SCRATCH_DB)
    recreate(admin, SCRATCH_DB)
    try:
        setup_django(scratch)
        raw = psycopg_writer(scratch)
        measure(store_writer, 1, 1.0)  # warm-up: connections, prepared statements, caches
        result = medians(
            {
                "store 1 writer": (store_writer, 1),
                "psycopg 1 writer": (raw, 1),
                "store 4 writers": (store_writer, 4),
                "psycopg 4 writers": (raw, 4),
            },
            runs,
            seconds,
        )
        store1, raw1 = result["store 1 writer"], result["psycopg 1 writer"]
        store4, raw4 = result["store 4 writers"], result["psycopg 4 writers"]
    finally:
        from django.db import connections

        connections.close_all()
        recreate(admin, SCRATCH_DB, drop_only=True)
    print(
        json.dumps(
            {
                "bench": "append",
                "quick": args.quick,
                "runs": runs,
                "seconds_per_run": seconds,
                "events_per_s": round(store1),
                "psycopg_events_per_s": round(raw1),
                "ratio_vs_psycopg": round(store1 / raw1, 2),
                "writers4_events_per_s": round(store4),
                "writers4_speedup": round(store4 / store1, 2),
                "psycopg_writers4_events_per_s": round(raw4),
            }
        )
    )


if __name__ == "__main__":
    main()
