"""Benchmark: projection rebuild speed, projection lag with a real worker, query latency at two sizes.

Why: the read side must stay fast at a million orders and catch up quickly. Measured in one run on
PostgreSQL, in a scratch database (`bench_projections`, or --scratch-db) that it creates, migrates and drops:
- rebuild: the log's events per second turned into all three views by `rebuild_projections`
  (blue/green into fresh shadow tables, side by side in worker processes), against the set-based
  limit: the same views built by `INSERT ... SELECT ... GROUP BY`
  straight from the log into fresh tables, timed in the same run (medians of three
  interleaved rounds of each),
  built the way the rebuild builds (`set_sql_deferred`: unindexed tables filled, then the same
  indexes created, with the rebuild's own shadow-table functions) and, for reference, into
  tables that keep their indexes during the insert (`set_sql`);
- lag: commit -> visible in the view (the projection's checkpoint, which moves in the same
  transaction as the rows), p50/p99, at a steady 200 appends/s, for both ways projections are
  woken: a real `celery worker` (the cache-coalesced Celery trigger, `lag_*`) and
  `manage.py run_projector` alone (LISTEN/NOTIFY, `lag_projector_*`);
- GET /api/orders/{id}/ and GET /api/products/?search= p50/p99 (Django test client, in process)
  at a small size (10k orders) and a large one (1M orders, 100k products; --quick: 200k, 20k),
  with EXPLAIN ANALYZE of the queries behind them printed as proof that the indexes are used.
The log is generated with COPY of valid event payloads (not HTTP). Needs CELERY_BROKER_URL (Redis).
Usage: DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... python bench/projections.py [--quick]
The last line printed is one JSON object.
"""

import argparse
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from scratch_db import recreate, scratch_urls

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "bench_projections"
QUEUE = "bench-projections"
WORDS = [
    f"{a}{b}"
    for a in (
        "mug",
        "tea",
        "pot",
        "cup",
        "jar",
        "pan",
        "bowl",
        "lamp",
        "desk",
        "sock",
        "hat",
        "bag",
        "pen",
        "box",
        "rug",
        "fan",
        "kit",
        "net",
        "oil",
        "map",
    )
    for b in (
        "",
        "ster",
        "let",
        "ium",
        "ora",
        "ex",
        "ix",
        "on",
        "an",
        "el",
        "ite",
        "ero",
        "aro",
        "ium2",
        "ola",
        "ino",
        "eta",
        "iko",
        "umo",
        "ado",
        "ist",
        "ity",
        "ish",
        "ure",
        "ful",
    )
]  # 500 words


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (
        round(statistics.median(ordered) * 1000, 2),
        round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
    )


class LogGenerator:
    """Valid event sequences for products and orders, written with COPY in chunked transactions."""

    def __init__(self, seed: int = 42) -> None:
        self.rng = random.Random(seed)
        self.products: list[tuple[str, str]] = []  # (sku, price)
        self.product_versions: dict[str, int] = {}
        self.order_ids: list[str] = []
        self.start = datetime(2026, 1, 1, tzinfo=UTC)
        self.clock = 0

    def _at(self) -> datetime:
        self.clock += 1
        return self.start + timedelta(seconds=self.clock * 2)

    def products_rows(self, count: int) -> list[tuple]:
        rows = []
        for _ in range(count):
            sku = f"SKU-{len(self.products):07d}"
            price = f"{self.rng.randint(100, 99999) / 100:.2f}"
            name = " ".join(self.rng.sample(WORDS, 3))
            at = self._at()
            rows.append(
                _row(
                    f"Product-{sku}",
                    1,
                    "ProductRegistered",
                    {"product_id": sku, "name": name, "description": f"{name} for every home", "price": price},
                    at,
                )
            )
            rows.append(_row(f"Product-{sku}", 2, "StockReceived", {"product_id": sku, "quantity": 10_000_000}, at))
            self.products.append((sku, price))
            self.product_versions[sku] = 2
        return rows

    def order_rows(self, count: int) -> list[tuple]:
        rows = []
        customers = max(10, (len(self.order_ids) + count) // 10)
        for _ in range(count):
            order_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            stream = f"Order-{order_id}"
            at = self._at()
            rows.append(
                _row(
                    stream,
                    1,
                    "OrderCreated",
                    {
                        "order_id": order_id,
                        "customer_id": f"cust{self.rng.randrange(customers)}",
                        "shipping_address": {"city": "Lyon"},
                    },
                    at,
                )
            )
            lines = []
            for version in range(2, 2 + self.rng.randint(1, 3)):
                sku, price = self.products[self.rng.randrange(len(self.products))]
                quantity = self.rng.randint(1, 3)
                lines.append((sku, quantity))
                rows.append(
                    _row(
                        stream,
                        version,
                        "OrderItemAdded",
                        {
                            "order_id": order_id,
                            "product_id": sku,
                            "name": sku,
                            "quantity": quantity,
                            "unit_price": price,
                        },
                        at,
                    )
                )
                rows.append(self._product(sku, "StockReserved", order_id, quantity, at))
            fate = self.rng.random()
            if fate < 0.1:
                rows.append(
                    _row(
                        stream,
                        2 + len(lines),
                        "OrderCancelled",
                        {"order_id": order_id, "reason": "bench", "cancelled_by": "customer"},
                        at,
                    )
                )
                rows.extend(self._product(sku, "StockReleased", order_id, q, at) for sku, q in lines)
            elif fate < 0.3:
                rows.append(_row(stream, 2 + len(lines), "OrderShipped", {"order_id": order_id, "shipped_by": "s"}, at))
                rows.extend(self._product(sku, "StockShipped", order_id, q, at) for sku, q in lines)
            self.order_ids.append(order_id)
        return rows

    def _product(self, sku: str, event_type: str, order_id: str, quantity: int, at: datetime) -> tuple:
        self.product_versions[sku] += 1
        return _row(
            f"Product-{sku}",
            self.product_versions[sku],
            event_type,
            {"product_id": sku, "order_id": order_id, "quantity": quantity},
            at,
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
        "{}",
        at,
    )


def copy_rows(rows: list[tuple], chunk: int = 200_000) -> None:
    """COPY into the log, one transaction per chunk (so transaction ids increase as in real life)."""
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


def log_size() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM eventstore_event")
        return cursor.fetchone()[0]


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# Set-based limit ---------------------------------------------------------------------

SET_SQL = {
    "orders_read_order_summary": """
        INSERT INTO {t} (order_id, order_key, customer_id, status, items, item_count, total_amount,
                         shipping_address, created_at, shipped_at, cancelled_at, cancel_reason, cancelled_by,
                         version, search_text)
        SELECT (max(data->>'order_id'))::uuid, max(data->>'order_id'),
               max(data->>'customer_id') FILTER (WHERE event_type = 'OrderCreated'),
               CASE WHEN bool_or(event_type = 'OrderCancelled') THEN 'cancelled'
                    WHEN bool_or(event_type = 'OrderShipped') THEN 'shipped' ELSE 'pending' END,
               coalesce(jsonb_agg(jsonb_build_object('product_id', data->>'product_id', 'name', data->>'name',
                   'quantity', (data->>'quantity')::int, 'unit_price', data->>'unit_price',
                   'line_total', ((data->>'quantity')::int * (data->>'unit_price')::numeric)::text) ORDER BY version)
                   FILTER (WHERE event_type = 'OrderItemAdded'), '[]'),
               coalesce(sum((data->>'quantity')::int) FILTER (WHERE event_type = 'OrderItemAdded'), 0),
               coalesce(sum((data->>'quantity')::int * (data->>'unit_price')::numeric)
                   FILTER (WHERE event_type = 'OrderItemAdded'), 0),
               coalesce((array_agg(data->'shipping_address') FILTER (WHERE event_type = 'OrderCreated'))[1], '{{}}'),
               min(recorded_at) FILTER (WHERE event_type = 'OrderCreated'),
               max(recorded_at) FILTER (WHERE event_type = 'OrderShipped'),
               max(recorded_at) FILTER (WHERE event_type = 'OrderCancelled'),
               coalesce(max(data->>'reason') FILTER (WHERE event_type = 'OrderCancelled'), ''),
               coalesce(max(data->>'cancelled_by') FILTER (WHERE event_type = 'OrderCancelled'), ''),
               max(version),
               lower(concat_ws(E'\\n', max(data->>'customer_id') FILTER (WHERE event_type = 'OrderCreated'),
                     string_agg((data->>'product_id') || E'\\n' || (data->>'name'), E'\\n' ORDER BY version)
                     FILTER (WHERE event_type = 'OrderItemAdded')))
        FROM eventstore_event WHERE stream_type = 'Order' GROUP BY stream_id""",
    "orders_read_product": """
        INSERT INTO {t} (product_id, sku, name, description, price, on_hand, reserved, available, version)
        SELECT p.sku, p.sku, p.name, p.description, p.price, p.on_hand, p.reserved, p.on_hand - p.reserved, p.version
        FROM (SELECT max(data->>'product_id') AS sku,
                     max(data->>'name') FILTER (WHERE event_type = 'ProductRegistered') AS name,
                     coalesce(max(data->>'description') FILTER (WHERE event_type = 'ProductRegistered'), '')
                         AS description,
                     ((array_agg(coalesce(data->>'new_price', data->>'price') ORDER BY version DESC)
                         FILTER (WHERE event_type IN ('ProductRegistered', 'PriceChanged')))[1])::numeric AS price,
                     coalesce(sum(CASE event_type WHEN 'StockReceived' THEN (data->>'quantity')::int
                         WHEN 'StockShipped' THEN -(data->>'quantity')::int END), 0) AS on_hand,
                     coalesce(sum(CASE event_type WHEN 'StockReserved' THEN (data->>'quantity')::int
                         WHEN 'StockReleased' THEN -(data->>'quantity')::int
                         WHEN 'StockShipped' THEN -(data->>'quantity')::int END), 0) AS reserved,
                     max(version) AS version
              FROM eventstore_event WHERE stream_type = 'Product' GROUP BY stream_id) AS p""",
    "orders_read_daily_sales": """
        INSERT INTO {t} (date, orders, units, revenue, cancelled)
        SELECT (recorded_at AT TIME ZONE 'UTC')::date,
               count(*) FILTER (WHERE event_type = 'OrderCreated'),
               coalesce(sum((data->>'quantity')::int) FILTER (WHERE event_type = 'OrderItemAdded'), 0),
               coalesce(sum((data->>'quantity')::int * (data->>'unit_price')::numeric)
                   FILTER (WHERE event_type = 'OrderItemAdded'), 0),
               count(*) FILTER (WHERE event_type = 'OrderCancelled')
        FROM eventstore_event WHERE stream_type = 'Order' GROUP BY 1""",
}


def set_sql_seconds(*, deferred: bool) -> float:
    """Build all three views into fresh tables straight from the log.

    `deferred`: the way the rebuild builds its shadows (`eventstore.rebuild.shadow_tables`):
    the copy's secondary indexes dropped before the fill and created once after it, timed
    together; otherwise the copy keeps its indexes during the insert.
    """
    from django.db import connection, transaction

    from eventstore.rebuild import shadow_tables

    total = 0.0
    for table, sql in SET_SQL.items():
        fresh = f"{table}__setsql"
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {fresh}")
            cursor.execute(f"CREATE TABLE {fresh} (LIKE {table} INCLUDING ALL)")
        started = time.perf_counter()
        indexes = shadow_tables.defer_indexes(connection, fresh) if deferred else []
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 0")
            cursor.execute(sql.format(t=fresh))
        shadow_tables.build_indexes(connection, indexes)
        total += time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {fresh}")
    return total


REBUILD_ROUNDS = 3
"""Rounds of (rebuild, set-based limit), interleaved: either one alone varies by a fifth from run to run."""


def rebuild_against_limit(rounds: int) -> tuple[float, dict[str, float], float]:
    """Median seconds of the rebuild (with its per-projection seconds) and of the deferred set-based limit.

    The two alternate round by round, so the server's caches and whatever else the
    machine does weigh on both alike instead of on whichever ran first.
    """
    rebuilds: list[tuple[float, dict[str, float]]] = []
    limits: list[float] = []
    for round_ in range(rounds):
        rebuilds.append(rebuild_seconds())
        limits.append(set_sql_seconds(deferred=True))
        print(
            f"round {round_ + 1}: rebuild {rebuilds[-1][0]:.2f}s {rebuilds[-1][1]}, limit {limits[-1]:.2f}s", flush=True
        )
    rebuild_s, per = sorted(rebuilds, key=lambda r: r[0])[len(rebuilds) // 2]
    return rebuild_s, per, statistics.median(limits)


def rebuild_seconds() -> tuple[float, dict[str, float]]:
    """All three views rebuilt as `manage.py rebuild_projections --all` does (side by side where it can)."""
    from eventstore.rebuild.orchestration import rebuild_projections

    started = time.perf_counter()
    reports = rebuild_projections(["catalogue", "daily_sales", "order_summary"], batch_size=20_000)
    return time.perf_counter() - started, {r.name: r.seconds for r in reports}


# Queries -------------------------------------------------------------------------------


def latencies(gen: LogGenerator, samples: int) -> dict[str, float]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    token, _ = Token.objects.get_or_create(user=user)
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    rng = random.Random(7)
    results: dict[str, float] = {}
    probes = {
        "order_get": lambda: f"/api/orders/{rng.choice(gen.order_ids)}/",
        "search": lambda: f"/api/products/?search={rng.choice(WORDS)}",
        "order_search": lambda: f"/api/orders/search/?q={rng.choice(gen.order_ids)[:6]}",
        "customer_orders": lambda: f"/api/customers/cust{rng.randrange(max(10, len(gen.order_ids) // 10))}/orders/",
    }
    for name, path in probes.items():
        for _ in range(20):  # warm up caches and connections
            client.get(path())
        timings = []
        for _ in range(samples):
            url = path()
            started = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200, (url, response.status_code, response.content[:300])
        results[f"{name}_p50_ms"], results[f"{name}_p99_ms"] = percentiles(timings)
    return results


def explain(gen: LogGenerator) -> None:
    from django.db import connection

    order_id = gen.order_ids[len(gen.order_ids) // 2]
    statements = {
        "GET order": ("SELECT * FROM orders_read_order_summary WHERE order_id = %s", [order_id]),
        "product search (count)": (
            "SELECT count(*) FROM orders_read_product WHERE search_vector @@ plainto_tsquery('simple', %s)",
            [WORDS[3]],
        ),
        "product search (page)": (
            "SELECT *, ts_rank(search_vector, plainto_tsquery('simple', %s)) AS rank"
            " FROM orders_read_product WHERE search_vector @@ plainto_tsquery('simple', %s)"
            " ORDER BY rank DESC, product_id LIMIT 20",
            [WORDS[3], WORDS[3]],
        ),
        "order search (id prefix / substring)": (
            "SELECT * FROM orders_read_order_summary WHERE order_key LIKE %s OR search_text LIKE %s"
            " ORDER BY created_at DESC, order_id LIMIT 20",
            [order_id[:6] + "%", "%" + order_id[:6] + "%"],
        ),
        "customer orders": (
            "SELECT * FROM orders_read_order_summary WHERE customer_id = %s"
            " ORDER BY created_at DESC, order_id LIMIT 20",
            ["cust7"],
        ),
    }
    with connection.cursor() as cursor:
        for title, (sql, params) in statements.items():
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) " + sql, params)
            print(f"-- EXPLAIN ANALYZE {title}:")
            for (line,) in cursor.fetchall():
                print("   ", line)


# Lag with a real worker ----------------------------------------------------------------


def _write_orders(
    index: int,
    rate: float,
    seconds: float,
    start_at: float,
    products: list[tuple[str, str]],
    out: Any,
    trigger_celery: bool = True,
) -> None:
    """A writer process: appends an order (and its reservation) at `rate`/s, reports each commit's token and time.

    Writers are processes, not threads, so the poller that timestamps visibility is not
    starved of the GIL by them (that inflated the measured lag several times over).
    """
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from decimal import Decimal

    if not trigger_celery:  # only NOTIFY wakes the projector: no Celery trigger, no catch-up in this process
        from eventstore.signals import events_committed

        events_committed.disconnect(dispatch_uid="eventstore.request_catch_up")

    from eventstore.errors import ConcurrencyError
    from eventstore.log.append import ANY, StreamWrite, append
    from orders_write.events import OrderCreated, OrderItemAdded, StockReserved

    rng, sent = random.Random(index), 0
    while (now := time.time()) < start_at + seconds:
        if (delay := start_at + sent / rate - now) > 0:
            time.sleep(delay)
        sku, price = products[rng.randrange(len(products))]
        order_id = str(uuid.uuid4())
        try:
            result = append(
                StreamWrite(
                    f"Order-{order_id}",
                    0,
                    [
                        OrderCreated(order_id=order_id, customer_id="lagger", shipping_address={}),
                        OrderItemAdded(
                            order_id=order_id, product_id=sku, name=sku, quantity=1, unit_price=Decimal(price)
                        ),
                    ],
                ),
                StreamWrite(f"Product-{sku}", ANY, [StockReserved(product_id=sku, order_id=order_id, quantity=1)]),
            )
        except ConcurrencyError:
            continue  # another writer took that product's next version: a new order, as the bus would retry
        out.put((tuple(result.checkpoint), time.time()))
        sent += 1
    out.put(None)


# The projections' worker as README and compose run it (compose/projections/start): catch-ups on
# their own queue (PROJECTION_QUEUE, set below to the bench's), a pool of four threads.
WORKER = [
    sys.executable,
    "-m",
    "celery",
    "-A",
    "config",
    "worker",
    "-Q",
    QUEUE,
    "--pool=threads",
    "--concurrency=4",
    "--loglevel=WARNING",
    "--without-gossip",
    "--without-mingle",
    "--without-heartbeat",
    "-n",
    f"{QUEUE}@%h",
]
PROJECTOR = [sys.executable, "manage.py", "run_projector"]


def lag(
    gen: LogGenerator, seconds: float, *, runner: str = "worker", rate: float = 200.0, writers: int = 4
) -> tuple[float, float, int, float]:
    """Append at a steady rate from writer processes; poll order_summary's checkpoint, which moves
    in the same transaction as the view rows, and time commit -> visible for every append.

    `runner`: "worker" (a Celery worker woken by the commits' coalesced triggers; nothing else
    runs the projections) or "projector" (`run_projector` woken by NOTIFY; the writers queue no
    Celery task, as in a deployment without workers).
    """
    import multiprocessing
    import queue as queues

    from eventstore.models import ProjectionState

    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-projections-{runner}.log"
    env = {**os.environ}
    if runner == "projector":
        # The projector's own process needs no broker, but shares the cache: appenders
        # NOTIFY only while a listener has announced itself there.
        broker = env.pop("CELERY_BROKER_URL", "")
        if broker.startswith("redis"):
            env.setdefault("REDIS_URL", broker)
    worker = subprocess.Popen(
        WORKER if runner == "worker" else PROJECTOR,
        cwd=ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    pending: dict[tuple[int, int], float] = {}
    lags: list[float] = []
    try:
        time.sleep(4)  # worker start-up
        start_at = time.time() + 3  # writers' own start-up (django.setup)
        processes = [
            context.Process(
                target=_write_orders,
                args=(i, rate / writers, seconds, start_at + i / rate, gen.products, out, runner == "worker"),
            )
            for i in range(writers)
        ]
        for process in processes:
            process.start()
        running, sent = writers, 0
        deadline = start_at + seconds + 15
        while (running or pending) and time.time() < deadline:
            try:
                while True:
                    item = out.get_nowait()
                    if item is None:
                        running -= 1
                    else:
                        pending[item[0]] = item[1]
                        sent += 1
            except queues.Empty:
                pass
            checkpoint = tuple(ProjectionState.objects.get(name="order_summary").checkpoint)
            now = time.time()
            for key in [k for k in pending if k <= checkpoint]:
                lags.append(now - pending.pop(key))
            time.sleep(0.002)
        for process in processes:
            process.join(10)
        achieved = sent / seconds
        print(
            f"lag ({runner}): {sent} appends at {achieved:.0f}/s by {writers} writer processes, {len(lags)} seen, "
            f"{len(pending)} never seen"
        )
    finally:
        worker.terminate()
        worker.wait(15)
    p50, p99 = percentiles(lags)
    return p50, p99, len(pending), round(achieved, 1)


def rebuild_result(
    quick: bool, events: int, rebuild_rate: float, deferred_rate: float, set_rate: float, per: dict | None = None
) -> dict[str, Any]:
    """The rebuild's part of the JSON line (all of it under --rebuild-only, with the seconds per projection)."""
    return {
        "bench": "projections",
        "quick": quick,
        "events": events,
        "rebuild_events_per_s": round(rebuild_rate),
        "set_sql_deferred_events_per_s": round(deferred_rate),
        "ratio_vs_set_sql_deferred": round(rebuild_rate / deferred_rate, 3),
        "set_sql_events_per_s": round(set_rate),
        "ratio_vs_set_sql": round(rebuild_rate / set_rate, 3),
        **({"rebuild_seconds": per} if per else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200k orders / 20k products at the large size")
    parser.add_argument(
        "--lag-only", choices=("worker", "projector"), help="only the lag with this runner, on the small log (tuning)"
    )
    parser.add_argument(
        "--rebuild-only",
        action="store_true",
        help="only the rebuild against the set-based limit, at the large size: no lag, no latencies (tuning)",
    )
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
        sys.exit("bench/projections.py needs DATABASE_URL=postgres://...")
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
        sys.exit("bench/projections.py needs CELERY_BROKER_URL=redis://... (the lag is measured with a real worker)")
    scratch, admin = scratch_urls(url, args.scratch_db)
    recreate(admin, args.scratch_db)
    os.environ.update(
        DATABASE_URL=scratch,
        CELERY_TASK_DEFAULT_QUEUE=QUEUE,
        PROJECTION_QUEUE=QUEUE,
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECURE_SSL_REDIRECT="0",
    )  # a deployment's settings (debug off), but its test client speaks plain HTTP
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.pop("READ_DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from eventstore.projections.runner import catch_up

    try:
        call_command("migrate", verbosity=0)
        large_orders, large_products = (200_000, 20_000) if args.quick else (1_000_000, 100_000)
        gen = LogGenerator()
        copy_rows(gen.products_rows(1_000) + gen.order_rows(10_000))
        for name in ("catalogue", "daily_sales", "order_summary"):
            catch_up(name, batch_size=20_000)
        analyze()
        if args.lag_only:
            print(
                json.dumps(
                    dict(
                        zip(
                            ("lag_p50_ms", "lag_p99_ms", "lag_unseen", "lag_appends_per_s"),
                            lag(gen, seconds=10, runner=args.lag_only),
                            strict=True,
                        )
                    )
                )
            )
            return
        small = {} if args.rebuild_only else latencies(gen, samples=200)
        print(f"small (10k orders, 1k products, {log_size()} events): {small}")

        started = time.perf_counter()
        rows = gen.products_rows(large_products - 1_000)
        step = 50_000
        for _ in range(0, large_orders - 10_000, step):
            rows.extend(gen.order_rows(step))
            if len(rows) > 400_000:
                copy_rows(rows)
                rows = []
        copy_rows(rows)
        events = log_size()
        analyze()
        print(f"generated {events} events in {time.perf_counter() - started:.1f}s")

        rebuild_s, per, deferred_s = rebuild_against_limit(REBUILD_ROUNDS)
        set_s = set_sql_seconds(deferred=False)
        analyze()
        rebuild_rate, set_rate, deferred_rate = events / rebuild_s, events / set_s, events / deferred_s
        print(
            f"rebuild all views: {rebuild_s:.2f}s {per} = {rebuild_rate:,.0f} events/s; "
            f"set-based SQL: {set_s:.2f}s = {set_rate:,.0f} events/s, "
            f"indexes deferred as the rebuild does: {deferred_s:.2f}s = {deferred_rate:,.0f} events/s"
        )
        if args.rebuild_only:
            print(json.dumps(rebuild_result(args.quick, events, rebuild_rate, deferred_rate, set_rate, per)))
            return
        large = latencies(gen, samples=200)
        print(f"large ({large_orders} orders, {large_products} products): {large}")
        explain(gen)
        lag_seconds = 10 if args.quick else 30
        lag_p50, lag_p99, unseen, lag_rate = lag(gen, seconds=lag_seconds, runner="worker")
        projector_p50, projector_p99, projector_unseen, projector_rate = lag(
            gen, seconds=lag_seconds, runner="projector"
        )
    finally:
        from django.db import connections

        connections.close_all()
        recreate(admin, args.scratch_db, drop_only=True)
    print(
        json.dumps(
            {
                **rebuild_result(args.quick, events, rebuild_rate, deferred_rate, set_rate),
                "lag_p50_ms": lag_p50,
                "lag_p99_ms": lag_p99,
                "lag_unseen": unseen,
                "lag_appends_per_s": lag_rate,
                "lag_projector_p50_ms": projector_p50,
                "lag_projector_p99_ms": projector_p99,
                "lag_projector_unseen": projector_unseen,
                "lag_projector_appends_per_s": projector_rate,
                "order_get_p50_ms": large["order_get_p50_ms"],
                "order_get_p99_ms": large["order_get_p99_ms"],
                "search_p50_ms": large["search_p50_ms"],
                "search_p99_ms": large["search_p99_ms"],
                "order_get_p99_ms_small": small["order_get_p99_ms"],
                "search_p99_ms_small": small["search_p99_ms"],
                "order_search_p99_ms": large["order_search_p99_ms"],
                "order_search_p99_ms_small": small["order_search_p99_ms"],
                "customer_orders_p99_ms": large["customer_orders_p99_ms"],
                "customer_orders_p99_ms_small": small["customer_orders_p99_ms"],
            }
        )
    )


if __name__ == "__main__":
    main()
