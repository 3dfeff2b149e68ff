"""Benchmark: time travel, a product or an order as of a random version of a long stream.

Why: `?as_of_version=` / `?as_of=` fold one stream from the log on every request
(orders_read/as_of.py), so their cost grows with the stream; a popular product's stream
is the long one. Measured on PostgreSQL, in a scratch database (`bench_temporal`, or
--scratch-db) that it creates, migrates and drops:
- a product stream of 1,000 and one of 10,000 events (registered, restocked, repriced,
  reserved, released, shipped) among other streams, and an order of 1,000 and 10,000
  events (lines), written with COPY as valid payloads (not through commands);
- the query bus asked directly (`ask(GetProductAsOf(...))`, no HTTP, as bench/projections.py
  times its GETs in process) at uniformly random versions, and at random times, p50/p99:
  cold (the stream cache of orders_read/stream_cache.py emptied before each request, so
  the whole stream is read from the log) and warm (the stream read before: only its tail);
- the current view (`GetProduct`) beside it for scale.
The headline numbers (`as_of_p99_ms_1k`, `as_of_p99_ms_10k`) are the product streams'.
Usage: DATABASE_URL=postgres://... python bench/temporal.py [--quick]
The last line printed is one JSON object.
"""

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from scratch_db import recreate, scratch_urls

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "bench_temporal"
START = datetime(2026, 1, 1, tzinfo=UTC)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (
        round(statistics.median(ordered) * 1000, 2),
        round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
    )


def _row(stream: str, version: int, event_type: str, data: dict, at: datetime) -> tuple:
    return (
        str(uuid.uuid4()),
        stream,
        stream.split("-", 1)[0],
        version,
        event_type,
        2 if event_type == "OrderCancelled" else 1,
        orjson.dumps(data).decode(),
        orjson.dumps({"user": "bench", "correlation_id": uuid.uuid4().hex}).decode(),
        at,
    )


def product_rows(sku: str, events: int, rng: random.Random) -> list[tuple]:
    """A valid product history: stock never negative, releases and shipments only of open reservations."""
    stream, price = f"Product-{sku}", 1000
    at = START + timedelta(seconds=rng.randrange(10**6))
    rows = [
        _row(
            stream,
            1,
            "ProductRegistered",
            {"product_id": sku, "name": f"Bench {sku}", "description": "a long stream", "price": "10.00"},
            at,
        ),
        _row(stream, 2, "StockReceived", {"product_id": sku, "quantity": 1_000}, at),
    ]
    on_hand, reserved, open_orders = 1_000, 0, []
    for version in range(3, events + 1):
        at += timedelta(seconds=1)
        roll = rng.random()
        if roll < 0.4 and on_hand - reserved > 0:
            quantity = rng.randint(1, min(3, on_hand - reserved))
            order_id = str(uuid.uuid4())
            open_orders.append((order_id, quantity))
            reserved += quantity
            rows.append(
                _row(
                    stream,
                    version,
                    "StockReserved",
                    {"product_id": sku, "order_id": order_id, "quantity": quantity},
                    at,
                )
            )
        elif roll < 0.7 and open_orders:
            order_id, quantity = open_orders.pop(rng.randrange(len(open_orders)))
            reserved -= quantity
            kind = "StockShipped" if rng.random() < 0.7 else "StockReleased"
            on_hand -= quantity if kind == "StockShipped" else 0
            rows.append(
                _row(stream, version, kind, {"product_id": sku, "order_id": order_id, "quantity": quantity}, at)
            )
        elif roll < 0.85:
            old, price = price, rng.randint(100, 99999)
            rows.append(
                _row(
                    stream,
                    version,
                    "PriceChanged",
                    {"product_id": sku, "old_price": f"{old / 100:.2f}", "new_price": f"{price / 100:.2f}"},
                    at,
                )
            )
        else:
            quantity = rng.randint(1, 50)
            on_hand += quantity
            rows.append(_row(stream, version, "StockReceived", {"product_id": sku, "quantity": quantity}, at))
    return rows


def order_rows(order_id: str, events: int, rng: random.Random) -> list[tuple]:
    """An order with events - 1 lines (absurd for a shop, but the longest an order stream gets here)."""
    stream = f"Order-{order_id}"
    at = START + timedelta(seconds=rng.randrange(10**6))
    rows = [
        _row(
            stream,
            1,
            "OrderCreated",
            {"order_id": order_id, "customer_id": "bench", "shipping_address": {"city": "Lyon"}},
            at,
        )
    ]
    for version in range(2, events + 1):
        at += timedelta(seconds=1)
        rows.append(
            _row(
                stream,
                version,
                "OrderItemAdded",
                {
                    "order_id": order_id,
                    "product_id": f"SKU-{rng.randrange(100)}",
                    "name": "thing",
                    "quantity": rng.randint(1, 3),
                    "unit_price": f"{rng.randint(100, 9999) / 100:.2f}",
                },
                at,
            )
        )
    return rows


def interleaved(streams: list[list[tuple]], rng: random.Random) -> list[tuple]:
    """The streams mixed in the log as real ones are, each still in version order (the hash chain needs it)."""
    keyed = [(key, row) for rows in streams for key, row in zip(sorted(rng.random() for _ in rows), rows, strict=True)]
    keyed.sort(key=lambda pair: pair[0])
    return [row for _, row in keyed]


def copy_rows(rows: list[tuple], chunk: int = 100_000) -> None:
    from django.db import connection, transaction

    columns = "event_id, stream_id, stream_type, version, event_type, schema_version, data, metadata, recorded_at"
    for start in range(0, len(rows), chunk):
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY eventstore_event ({columns}) FROM STDIN") as copy,
        ):
            for row in rows[start : start + chunk]:
                copy.write_row(row)


def timed(probe: Callable[[], Any], samples: int) -> tuple[float, float]:
    for _ in range(min(20, samples)):  # warm up the connection, the plan and the page cache
        probe()
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        probe()
        timings.append(time.perf_counter() - started)
    return percentiles(timings)


def probes(kind: str, key: str, events: int, first_at: datetime, rng: random.Random) -> dict[str, Callable[[], None]]:
    """The timed calls for one stream: as of a random version (cold and warm), of a random time, and now."""
    from orders_read.bus import Viewer, ask
    from orders_read.queries import GetOrderAsOf, GetProduct, GetProductAsOf
    from orders_read.stream_cache import STREAMS

    staff = Viewer("bench-staff", is_staff=True)

    def as_of(**point: Any) -> Any:
        query: Any = (
            GetProductAsOf(sku=key, **point) if kind == "product" else GetOrderAsOf(order_id=uuid.UUID(key), **point)
        )
        return ask(query, viewer=staff).result

    def by_version() -> None:
        version = rng.randint(1, events)
        assert as_of(version=version).version == version, (key, version)

    def cold() -> None:
        STREAMS.clear()
        by_version()

    def by_time() -> None:
        as_of(at=first_at + timedelta(seconds=rng.uniform(0, events)))

    calls = {"as_of_cold": cold, "as_of": by_version, "as_of_time": by_time}
    if kind == "product":
        calls["current"] = lambda: ask(GetProduct(sku=key), viewer=staff)
    return calls


def measure(samples: int, streams: dict[str, tuple[str, str, int, datetime]]) -> dict[str, float]:
    rng = random.Random(7)
    results: dict[str, float] = {}
    for label, (kind, key, events, first_at) in streams.items():
        for name, call in probes(kind, key, events, first_at, rng).items():
            count = max(10, samples // 5) if name == "as_of_cold" else samples
            results[f"{label}_{name}_p50_ms"], results[f"{label}_{name}_p99_ms"] = timed(call, count)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and less background log")
    parser.add_argument(
        "--scratch-db",
        default=os.environ.get("BENCH_SCRATCH_DB", SCRATCH_DB),
        help="the database to create, fill and drop (so two people can run the bench at once)",
    )
    args = parser.parse_args()
    if not args.scratch_db.isidentifier():
        sys.exit("--scratch-db must be a plain identifier")
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("bench/temporal.py needs DATABASE_URL=postgres://...")
    scratch, admin = scratch_urls(url, args.scratch_db)
    recreate(admin, args.scratch_db)
    # The settings a deployment runs (debug off); a throwaway key, since they need one.
    os.environ.update(DATABASE_URL=scratch, DJANGO_SETTINGS_MODULE="config.settings.production")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.pop("READ_DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    samples, background = (100, 200) if args.quick else (500, 2_000)
    try:
        call_command("migrate", verbosity=0)
        rng = random.Random(42)
        streams = {
            "product_1k": ("product", "LONG-1K", 1_000),
            "product_10k": ("product", "LONG-10K", 10_000),
            "order_1k": ("order", str(uuid.UUID(int=1, version=4)), 1_000),
            "order_10k": ("order", str(uuid.UUID(int=2, version=4)), 10_000),
        }
        per_stream = [product_rows(f"SKU-{i}", rng.randint(2, 60), rng) for i in range(background)]
        first: dict[str, datetime] = {}
        for label, (kind, key, events) in streams.items():
            per_stream.append(product_rows(key, events, rng) if kind == "product" else order_rows(key, events, rng))
            first[label] = per_stream[-1][0][-1]
        rows = interleaved(per_stream, rng)
        copy_rows(rows)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        from eventstore.projections.runner import catch_up

        catch_up("catalogue", batch_size=20_000)  # for the current view, beside
        print(f"log: {len(rows)} events; streams {[(label, s[2]) for label, s in streams.items()]}")
        results = measure(samples, {label: (*s, first[label]) for label, s in streams.items()})
        for name, value in results.items():
            print(f"  {name}: {value}")
    finally:
        from django.db import connections

        connections.close_all()
        recreate(admin, args.scratch_db, drop_only=True)
    print(
        json.dumps(
            {
                "bench": "temporal",
                "quick": args.quick,
                "samples": samples,
                "as_of_p99_ms_1k": results["product_1k_as_of_p99_ms"],
                "as_of_p99_ms_10k": results["product_10k_as_of_p99_ms"],
                "as_of_p50_ms_1k": results["product_1k_as_of_p50_ms"],
                "as_of_p50_ms_10k": results["product_10k_as_of_p50_ms"],
                "as_of_time_p99_ms_10k": results["product_10k_as_of_time_p99_ms"],
                "as_of_cold_p99_ms_1k": results["product_1k_as_of_cold_p99_ms"],
                "as_of_cold_p99_ms_10k": results["product_10k_as_of_cold_p99_ms"],
                "order_as_of_p99_ms_1k": results["order_1k_as_of_p99_ms"],
                "order_as_of_p99_ms_10k": results["order_10k_as_of_p99_ms"],
                "current_p99_ms_10k": results["product_10k_current_p99_ms"],
            }
        )
    )


if __name__ == "__main__":
    main()
