"""Benchmark: single-event appends through the store against raw psycopg 3, 1 and 4 writers.

Why: every command ends in one append, so the store's per-append overhead over the
bare INSERT + COMMIT is the ceiling on command throughput. The raw psycopg figure is
the same rows in the same pattern (one event per transaction, `BEGIN; INSERT; COMMIT`)
with nothing else, so `ratio_vs_psycopg` is the store's efficiency; the store sends a lone
append as one statement in autocommit, so `ratio_vs_psycopg_autocommit` compares it with
the best raw psycopg can do with the same row (one prepared INSERT, one round trip), and
`hash_costs_pct` is how much faster that INSERT is into a copy of the table without the
hash-chain trigger (what tamper evidence costs a writer). The 4-writer
run shows that writers of different streams do not wait for each other. Writers are
processes, as gunicorn's and Celery's are (threads in one process would measure the
GIL).

Runs on PostgreSQL from DATABASE_URL in a scratch database (`bench_append`) that it
creates, migrates and drops. Prints one line per measurement, and last one JSON object.
Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python bench/append.py [--quick]
"""

import argparse
import json
import multiprocessing
import os
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from scratch_db import recreate, scratch_urls

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "bench_append"


SPAWN_SECONDS = 4.0
"""Time the writer processes get to start (django.setup, connecting) before the common start."""


def setup_django(url: str, *, migrate: bool = True) -> None:
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
    if migrate:
        call_command("migrate", verbosity=0)
    from eventstore.signals import events_committed

    # The store alone is measured: no eager projection catch-up after each commit.
    events_committed.disconnect(dispatch_uid="eventstore.request_catch_up")


Work = Callable[[float], int]
"""A writer: appends until the deadline (a time.time() value), returns how many events it wrote."""


def store_writer(writer: int) -> Work:
    """Single-event transactions through the store, each at the stream's expected version."""
    from eventstore.log.append import NewEvent, StreamWrite, append

    run = uuid.uuid4().hex[:8]

    def work(deadline: float) -> int:
        from django.db import connection

        i = 0
        try:
            while time.time() < deadline:
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


def psycopg_writer(url: str, writer: int) -> Work:
    """The same rows as `store_writer` with bare psycopg: BEGIN; INSERT; COMMIT per event."""
    run = uuid.uuid4().hex[:8]

    def work(deadline: float) -> int:
        i = 0
        with psycopg.connect(url) as conn:
            while time.time() < deadline:
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


UNHASHED_TABLE = "bench_unhashed_event"
"""The event table's shape, columns, defaults and indexes, without its triggers: what the hash chain costs."""


def create_unhashed_table(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {UNHASHED_TABLE} (LIKE eventstore_event INCLUDING DEFAULTS INCLUDING INDEXES"
            " INCLUDING IDENTITY)"
        )


def psycopg_autocommit_writer(url: str, writer: int, table: str = "eventstore_event") -> Work:
    """The best raw psycopg can do with the same rows: one prepared INSERT per event in autocommit, one round trip."""
    run = uuid.uuid4().hex[:8]
    insert = INSERT.replace("eventstore_event", table, 1)

    def work(deadline: float) -> int:
        i = 0
        with psycopg.connect(url, autocommit=True) as conn:
            while time.time() < deadline:
                conn.execute(
                    insert,
                    (
                        uuid.uuid4(),
                        f"Auto-{run}-{writer}-{i // 100}",
                        "Auto",
                        i % 100 + 1,
                        "Benched",
                        json.dumps({"n": i, "writer": writer}),
                        "{}",
                    ),
                    prepare=True,
                )
                i += 1
        return i

    return work


def _writer_process(kind: str, url: str, writer: int, start_at: float, seconds: float, out: Any) -> None:
    """One writer in its own process, as gunicorn and Celery run: set up, wait for the start, append, report."""
    if kind == "psycopg":
        work = psycopg_writer(url, writer)
    elif kind == "psycopg_autocommit":
        work = psycopg_autocommit_writer(url, writer)
    elif kind == "psycopg_autocommit_unhashed":
        work = psycopg_autocommit_writer(url, writer, UNHASHED_TABLE)
    else:
        setup_django(url, migrate=False)
        work = store_writer(writer)
    time.sleep(max(0.0, start_at - time.time()))
    out.put(work(start_at + seconds))


def measure(kind: str, url: str, writers: int, seconds: float) -> float:
    """Events per second of `writers` processes of `kind` appending for `seconds` from one common start."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    start_at = time.time() + SPAWN_SECONDS
    processes = [
        context.Process(target=_writer_process, args=(kind, url, w, start_at, seconds, out)) for w in range(writers)
    ]
    for process in processes:
        process.start()
    counts = [out.get(timeout=SPAWN_SECONDS + seconds + 60) for _ in processes]
    for process in processes:
        process.join(30)
    return sum(counts) / seconds


def medians(configs: dict[str, tuple[str, int]], url: str, runs: int, seconds: float) -> dict[str, float]:
    """Median events/s of each (writer kind, writers) config, runs interleaved round by round.

    Interleaving spreads the noise of a shared machine (other processes on the same
    two cores) over every config alike, instead of penalising whichever ran last.
    """
    rates: dict[str, list[float]] = {label: [] for label in configs}
    for _ in range(runs):
        for label, (kind, writers) in configs.items():
            rates[label].append(measure(kind, url, writers, seconds))
    for label, values in rates.items():
        spread = (max(values) - min(values)) / statistics.median(values) * 100
        print(
            f"{label:<34} median {statistics.median(values):7.0f} events/s  runs {[round(r) for r in values]}"
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
        create_unhashed_table(scratch)
        measure("store", scratch, 1, 1.0)  # warm-up: the server's caches
        result = medians(
            {
                "store 1 writer": ("store", 1),
                "psycopg 1 writer": ("psycopg", 1),
                "psycopg autocommit 1 writer": ("psycopg_autocommit", 1),
                "psycopg autocommit unhashed 1": ("psycopg_autocommit_unhashed", 1),
                "store 4 writers": ("store", 4),
                "psycopg 4 writers": ("psycopg", 4),
            },
            scratch,
            runs,
            seconds,
        )
        store1, raw1 = result["store 1 writer"], result["psycopg 1 writer"]
        auto1, unhashed1 = result["psycopg autocommit 1 writer"], result["psycopg autocommit unhashed 1"]
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
                "psycopg_autocommit_events_per_s": round(auto1),
                "ratio_vs_psycopg_autocommit": round(store1 / auto1, 2),
                "psycopg_autocommit_unhashed_events_per_s": round(unhashed1),
                "hash_costs_pct": round((unhashed1 / auto1 - 1) * 100, 1),
                "writers4_events_per_s": round(store4),
                "writers4_speedup": round(store4 / store1, 2),
                "psycopg_writers4_events_per_s": round(raw4),
                "writers": "processes",
            }
        )
    )


if __name__ == "__main__":
    main()
