"""Benchmark: `verify_log` over a whole log against a plain read of it with the same reader.

Why: verification reads every event and recomputes its hash (canonical JSON of data
and metadata, SHA-256) and every seal; the plain read is the floor it cannot beat, so
`ratio_vs_read` is the share of time left to reading: 1.0 would mean hashing is free.
The log is written with COPY through the real chaining trigger (so the hashes are the
database's), in order-shaped streams, and sealed twice (mid-way and at the end).

Runs on PostgreSQL from DATABASE_URL in a scratch database (`bench_verify`) that it
creates, migrates and drops. Prints one line per measurement, and last one JSON object.
Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python bench/verify.py [--quick]
"""

import argparse
import json
import os
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scratch_db import recreate, scratch_urls

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "bench_verify"
COLUMNS = "event_id, stream_id, stream_type, version, event_type, schema_version, data, metadata, recorded_at"


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.pop("READ_DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    # The settings a deployment runs (debug off); a throwaway key, since they need one.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def order_stream(n: int, start: datetime) -> list[tuple]:
    """One order's events: created, two to four items, then shipped or cancelled (5-7 events)."""
    order_id = str(uuid.UUID(int=n * 7919 + 1, version=4))
    stream, at = f"Order-{order_id}", start + timedelta(seconds=n)
    meta = json.dumps(
        {
            "user": f"customer{n % 997}",
            "command_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
            "causation_id": None,
        }
    )
    events = [
        (
            "OrderCreated",
            {
                "order_id": order_id,
                "customer_id": f"customer{n % 997}",
                "shipping_address": {"street": f"{n} rue de la Paix", "city": "Lyon", "zip": "69001", "country": "FR"},
            },
        )
    ]
    for line in range(2 + n % 3):
        events.append(
            (
                "OrderItemAdded",
                {
                    "order_id": order_id,
                    "product_id": f"SKU-{(n * 31 + line) % 5000:05d}",
                    "name": "Blue mug — édition ☕",
                    "quantity": 1 + line,
                    "unit_price": f"{(n % 90) + 9}.99",
                },
            )
        )
    events.append(
        ("OrderShipped", {"order_id": order_id})
        if n % 4
        else ("OrderCancelled", {"order_id": order_id, "reason": "changed my mind", "cancelled_by": "customer"})
    )
    return [
        (str(uuid.uuid4()), stream, "Order", version, event_type, 1, json.dumps(data), meta, at)
        for version, (event_type, data) in enumerate(events, start=1)
    ]


def write_log(events: int) -> int:
    """COPY order streams until `events` are written, a transaction per ~50,000, sealing after the first half."""
    from django.db import connection

    from eventstore.tamper.seals import seal_log

    connection.ensure_connection()
    raw = connection.connection
    start, written, n, chunk, sealed = datetime(2026, 1, 1, tzinfo=UTC), 0, 0, [], False
    while written < events:
        rows = order_stream(n, start)
        n += 1
        chunk.extend(rows)
        written += len(rows)
        if len(chunk) >= 50_000 or written >= events:
            with raw.transaction(), raw.cursor().copy(f"COPY eventstore_event ({COLUMNS}) FROM STDIN") as copy:
                for row in chunk:
                    copy.write_row(row)
            chunk = []
            if not sealed and written >= events // 2:
                seal_log()
                sealed = True
    seal_log()
    return written


def read_all() -> int:
    """The plain read: every event through the verifier's reader, touched and dropped."""
    from eventstore.log.positions import ORIGIN
    from eventstore.log.read import head
    from eventstore.tamper.reader import log_events

    count = 0
    for batch in log_events(ORIGIN, head()):
        for event in batch:
            count += event[3] > 0
    return count


def verify() -> int:
    from eventstore.tamper.verify import verify_log

    report = verify_log()
    if not report.ok:
        sys.exit(f"verify_log failed on the bench log: {report.as_dict()}")
    return report.events_checked


def rate(work: Callable[[], int]) -> float:
    started = time.perf_counter()
    count = work()
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller log and fewer runs (< 1 minute)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/verify.py needs DATABASE_URL pointing at PostgreSQL")
    size, runs = (100_000, 3) if args.quick else (1_000_000, 5)
    scratch, admin = scratch_urls(url, SCRATCH_DB)
    recreate(admin, SCRATCH_DB)
    try:
        setup_django(scratch)
        started = time.perf_counter()
        events = write_log(size)
        print(f"log: {events} events written and sealed in {time.perf_counter() - started:.1f}s", flush=True)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE eventstore_event")
        read_all()  # warm-up: the table into shared buffers, the plans cached
        reads, verifies = [], []
        for _ in range(runs):  # interleaved, so a noisy neighbour hurts both alike
            reads.append(rate(read_all))
            verifies.append(rate(verify))
        for label, values in (("read", reads), ("verify", verifies)):
            print(
                f"{label:<7} median {statistics.median(values):9.0f} events/s  runs {[round(v) for v in values]}",
                flush=True,
            )
        read, verified = statistics.median(reads), statistics.median(verifies)
    finally:
        from django.db import connections

        connections.close_all()
        recreate(admin, SCRATCH_DB, drop_only=True)
    print(
        json.dumps(
            {
                "bench": "verify",
                "quick": args.quick,
                "runs": runs,
                "events": events,
                "verify_events_per_s": round(verified),
                "read_events_per_s": round(read),
                "ratio_vs_read": round(verified / read, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
