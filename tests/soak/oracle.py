"""The final comparison: the event log and every view against the model.

The log is read directly (psycopg, the oracle's own SQL), never through the project's
code. Every event carries its command's correlation id, which is the X-Request-ID the
client chose, so each logical command's events are found by it:

- accepted, but none of its events in the log, or fewer than the model says: lost;
- two command ids under one request id, or more events than the model says: doubled;
- refused with a 4xx, yet its events are in the log: lost too (the client lost the
  accepted answer: a retry answered a refusal although an earlier try committed);
- events under a request id no client ever sent: doubled (nobody asked for them).

Then every order, every product and every day of sales is read over HTTP with the
log's head as consistency token and compared field by field with the model, retried
until equal or until the catch-up deadline (projections are eventually consistent; the
assertion is about the final state).
"""

import json
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import requests

from tests.soak.clients import Stats, local_session, to_answer
from tests.soak.model import ACCEPTED, NOT_COMMITTED, REFUSED, SENT, UNRESOLVED, Model, differences
from tests.soak.stack import Stack, log

CATCH_UP_SECONDS = 90.0


@dataclass
class LogEvent:
    position: int
    stream_id: str
    version: int
    event_type: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime

    @property
    def rid(self) -> str:
        return str(self.metadata.get("correlation_id", ""))


def read_log(stack: Stack) -> list[LogEvent]:
    with psycopg.connect(stack.conninfo(stack.write_db), connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT position, stream_id, version, event_type, data, metadata, recorded_at"
            " FROM eventstore_event ORDER BY position"
        ).fetchall()
    return [LogEvent(*row) for row in rows]


def head_token(stack: Stack) -> str | None:
    """The token of the last committed event: every projection must pass it."""
    with psycopg.connect(stack.conninfo(stack.write_db), connect_timeout=10) as conn:
        row = conn.execute(
            "SELECT transaction_id::text, position FROM eventstore_event"
            " ORDER BY transaction_id DESC, position DESC LIMIT 1"
        ).fetchone()
    return f"{row[0]}-{row[1]}" if row else None


class Oracle:
    def __init__(self, stack: Stack, model: Model, stats: Stats, staff_token: str) -> None:
        self.stack = stack
        self.model = model
        self.stats = stats
        self.staff = {"Authorization": f"Token {staff_token}"}
        self.local = threading.local()
        self.found: Counter = Counter()
        self.problems: dict[str, list[str]] = defaultdict(list)
        self.projections: list[dict[str, Any]] = []

    def note(self, kind: str, message: str) -> None:
        self.found[kind] += 1
        if len(self.problems[kind]) < 25:
            self.problems[kind].append(message)
            log(f"[{kind}] {message}")

    # The log ----------------------------------------------------------------------------

    def check_log(self) -> dict[str, list[LogEvent]]:
        events = read_log(self.stack)
        by_rid: dict[str, list[LogEvent]] = defaultdict(list)
        for event in events:
            by_rid[event.rid].append(event)
        self.resolve(by_rid)
        self.count(by_rid)
        self.price_lines(events)
        self.found["log_events"] = len(events)
        return by_rid

    def resolve(self, by_rid: dict[str, list[LogEvent]]) -> None:
        """Commands without a definite answer: the log says whether they committed; the model follows.

        Committed ones are applied in log order, so two racing commands on one order
        (race:add_item, race:ship) land in the model as they landed in the stream.
        """
        committed = []
        for record in self.model.records:
            if record.outcome not in (UNRESOLVED, SENT):
                continue
            entries = by_rid.get(record.rid, [])
            if not entries:
                record.outcome = NOT_COMMITTED
                self.found["unresolved_not_committed"] += 1
            else:
                committed.append((min(e.position for e in entries), record, entries))
        for _, record, entries in sorted(committed, key=lambda item: item[0]):
            self.found["unresolved_committed"] += 1
            record.outcome = ACCEPTED
            if record.effect is None:
                self.stats.problem(
                    "unexpected_answers",
                    f"{record.kind} rid={record.rid}: the model expects a "
                    f"refusal, yet it committed: {[(e.stream_id, e.event_type) for e in entries]}",
                )
                continue
            created = None
            if record.kind == "create":
                created = next((e.data.get("order_id") for e in entries if e.event_type == "OrderCreated"), None)
                if created is None or created in self.model.orders:
                    self.note(
                        "lost",
                        f"{record.kind} rid={record.rid}: committed without an OrderCreated "
                        f"({[(e.stream_id, e.event_type) for e in entries]})",
                    )
                    continue
            record.events = record.effect(record, created)
            order = self.model.orders.get(record.order_id or "")
            if order is not None:
                order.frozen = True

    def count(self, by_rid: dict[str, list[LogEvent]]) -> None:
        for record in self.model.records:
            entries = by_rid.get(record.rid, [])
            label = (
                f"{record.kind} rid={record.rid} ({record.method} {record.path}, tries {record.tries}"
                f"{', ambiguous' if record.ambiguous else ''})"
            )
            if record.outcome == ACCEPTED:
                if record.events is None:
                    continue  # accepted against the contract (an unexpected answer, already counted)
                if not entries:
                    self.note("lost", f"{label}: answered {record.status}, nothing of it in the log")
                    continue
                command_ids = {e.metadata.get("command_id") for e in entries}
                actual = Counter((e.stream_id, e.event_type) for e in entries)
                expected = Counter(record.events)
                if len(command_ids) > 1:
                    self.note("doubled", f"{label}: ran {len(command_ids)} times: {dict(actual)}")
                    continue
                missing, extra = expected - actual, actual - expected
                if missing:
                    self.note("lost", f"{label}: events missing from the log: {dict(missing)}")
                if extra:
                    self.note("doubled", f"{label}: events the model does not expect: {dict(extra)}")
            elif record.outcome == REFUSED and entries:
                self.found["refused_but_committed"] += 1
                self.note(
                    "lost",
                    f"{label}: answered {record.status} {json.dumps(record.answer)[:300]}, yet "
                    f"committed: {[(e.stream_id, e.event_type) for e in entries]}",
                )
        orphans = {rid: events for rid, events in by_rid.items() if rid not in self.model.by_rid}
        for rid, events in orphans.items():
            self.note(
                "doubled",
                f"events under a request id no client sent ({rid!r}): "
                f"{[(e.stream_id, e.event_type) for e in events][:10]}",
            )

    def price_lines(self, events: list[LogEvent]) -> None:
        """Each line's unit price: the model's price in force where its reservation sits in the product's stream."""
        price_at: dict[tuple[str, str], Decimal | None] = {}
        current: dict[str, Decimal | None] = {}
        for event in sorted(
            (e for e in events if e.stream_id.startswith("Product-")), key=lambda e: (e.stream_id, e.version)
        ):
            sku = event.stream_id.removeprefix("Product-")
            product = self.model.products.get(sku)
            if event.event_type == "ProductRegistered":
                current[sku] = product.initial_price if product else None
            elif event.event_type == "PriceChanged":
                current[sku] = product.price_changes.get(event.rid) if product else None
            elif event.event_type == "StockReserved":
                price_at.setdefault((sku, event.rid), current.get(sku))
        for order in self.model.orders.values():
            for line in order.lines:
                line.unit_price = price_at.get((line.sku, line.rid))

    # The views --------------------------------------------------------------------------

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = local_session()
        return self.local.session

    def get(self, path: str, headers: dict[str, str]) -> Any:
        """(status, body, X-Consistency) of a GET, retried through dropped connections and 503s; None if none came."""
        for attempt in range(1, 11):
            try:
                response = self.session().get(self.stack.base_url + path, headers=headers, timeout=30)
            except requests.RequestException:
                time.sleep(0.3 * attempt)
                continue
            answer = to_answer(response)
            if answer.status == 503:
                time.sleep(0.5)
                continue
            if answer.status >= 500:
                self.stats.problem("server_errors", f"final check: GET {path}: {answer.summary()}")
                time.sleep(0.5)
                continue
            return answer
        return None

    def wait_for_projections(self, deadline: float) -> None:
        while True:
            answer = self.get("/api/projections/?page_size=100", self.staff)
            rows = answer.body.get("results", []) if answer is not None and isinstance(answer.body, dict) else []
            self.projections = [{k: r.get(k) for k in ("name", "status", "lag_events", "last_error")} for r in rows]
            if rows and all(r.get("lag_events") == 0 and r.get("status") == "active" for r in rows):
                return
            if time.monotonic() > deadline:
                log(f"projections not at the head after the catch-up deadline: {self.projections}")
                return
            time.sleep(1)

    def check_views(self, by_rid: dict[str, list[LogEvent]]) -> int:
        deadline = time.monotonic() + CATCH_UP_SECONDS
        self.wait_for_projections(deadline)
        token = head_token(self.stack) or ""
        fresh = {"X-Consistency-Token": token, "X-Consistency-Timeout": "2"}
        day_of = self.days(by_rid)
        expected_products = self.model.expected_products()
        checks: dict[str, Any] = {}
        for order in self.model.orders.values():
            checks[f"order {order.order_id}"] = (self.check_order, order, fresh)
        for sku, expected in expected_products.items():
            checks[f"product {sku}"] = (self.check_product, sku, expected, fresh)
        checks["daily sales"] = (self.check_sales, self.model.expected_sales(day_of), fresh)
        checks["counts"] = (self.check_counts, fresh)
        failing: dict[str, list[str]] = {}
        pending = list(checks)
        with ThreadPoolExecutor(4) as pool:
            while pending:
                results = list(pool.map(lambda name: (name, checks[name][0](*checks[name][1:])), pending))
                failing = {name: problems for name, problems in results if problems}
                pending = list(failing)
                if not pending or time.monotonic() > deadline:
                    break
                time.sleep(2)
                self.wait_for_projections(deadline)
        mismatches = 0
        for name, problems in failing.items():
            mismatches += len(problems) if name in {"daily sales", "counts"} else 1
            for problem in problems:
                self.note("view_mismatches", f"{name}: {problem}")
        return mismatches

    def days(self, by_rid: dict[str, list[LogEvent]]) -> Any:
        def day_of(rid: str) -> date | None:
            events = by_rid.get(rid)
            return min(e.recorded_at for e in events).astimezone(UTC).date() if events else None

        return day_of

    def check_order(self, order: Any, fresh: dict[str, str]) -> list[str]:
        answer = self.get(f"/api/orders/{order.order_id}/", {**self.staff, **fresh})
        if answer is None:
            return ["no answer"]
        if answer.status != 200:
            return [f"answered {answer.summary()}"]
        problems = differences(self.model.expected_order(order), answer.body)
        body = answer.body
        for stamp, wanted in (
            ("created_at", True),
            ("shipped_at", order.status == "shipped"),
            ("cancelled_at", order.status == "cancelled"),
        ):
            if bool(body.get(stamp)) != wanted:
                problems.append(f"{stamp}: view {body.get(stamp)!r}, the model expects {'a time' if wanted else None}")
        if answer.consistency != "fresh":
            problems.append(f"X-Consistency: {answer.consistency}")
        return problems

    def check_product(self, sku: str, expected: dict[str, Any], fresh: dict[str, str]) -> list[str]:
        answer = self.get(f"/api/products/{sku}/", fresh)
        if answer is None:
            return ["no answer"]
        if answer.status != 200:
            return [f"answered {answer.summary()}"]
        problems = differences(expected, answer.body)
        if answer.consistency != "fresh":
            problems.append(f"X-Consistency: {answer.consistency}")
        return problems

    def check_sales(self, expected: dict[str, dict[str, Any]], fresh: dict[str, str]) -> list[str]:
        rows: dict[str, Any] = {}
        page = 1
        while True:
            answer = self.get(f"/api/analytics/sales/?page_size=100&page={page}", {**self.staff, **fresh})
            if answer is None or answer.status != 200 or not isinstance(answer.body, dict):
                return [f"GET /api/analytics/sales/ answered {answer.summary() if answer else 'nothing'}"]
            rows.update({row.get("date"): row for row in answer.body.get("results", [])})
            if not answer.body.get("next"):
                break
            page += 1
        problems = []
        for day in sorted(set(expected) | set(rows)):
            want, got = expected.get(day), rows.get(day)
            if want != got:
                problems.append(f"{day}: view {got}, the model expects {want}")
        return problems

    def check_counts(self, fresh: dict[str, str]) -> list[str]:
        problems = []
        wanted = {
            "/api/orders/?page_size=1": len(self.model.orders),
            "/api/products/?page_size=1": len(self.model.products),
        }
        per_customer = Counter(o.customer for o in self.model.orders.values())
        for customer in self.model.customers:
            wanted[f"/api/customers/{customer}/orders/?page_size=1"] = per_customer[customer]
        for path, count in wanted.items():
            answer = self.get(path, {**self.staff, **fresh})
            got = answer.body.get("count") if answer is not None and isinstance(answer.body, dict) else None
            if got != count:
                problems.append(f"GET {path}: count {got}, the model has {count}")
        return problems
