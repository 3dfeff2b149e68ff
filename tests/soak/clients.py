"""Client threads: a random mix of every command, each sent until the server gives a definite answer.

Every command carries an Idempotency-Key and an X-Request-ID (the events' correlation
id, how the oracle finds it in the log); every try and duplicate of one command
shares both. A try that ends without an answer (timeout, dropped connection, a 500)
is retried with the same key and body; 503, 409 request_in_progress/concurrency_conflict
and 429 are "try again". Some commands are abandoned after a few milliseconds and then
retried, some are sent twice (one after the other, or both at once), some are invalid
on purpose and must be refused with the contract's status and code.

Each thread drives its own customer's orders alone, so the model's view of an order is
that thread's sequence of accepted commands (see model.py).
"""

import json
import random
import sys
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests

from orders_write.limits import MAX_LINES
from tests.soak.model import (
    ACCEPT,
    ACCEPTED,
    EITHER,
    REFUSE,
    REFUSED,
    UNRESOLVED,
    Events,
    Line,
    Model,
    Order,
    Product,
    Record,
)

NORMAL_TIMEOUT = 30.0
COMMAND_BOUND_SECONDS = 120.0
"""How long one command is retried before its outcome is left to the log (bounded, always)."""
MAX_TRIES = 400
P_ABANDON = 0.12
P_TWICE = 0.10
P_HOT_ABANDON = 0.25  # cancel, ship, If-Match, register: a retry in the first try's window must replay it
P_HOT_TWICE = 0.30
P_UNKEYED = 0.15
RETRY_CODES = frozenset({"request_in_progress", "concurrency_conflict"})
DETAILS_CAP = 25
SCARCE_STOCK = 40
BIG_STOCK = 1_000_000
OVERORDER = 10_000  # API's largest quantity, far beyond all the scarce product will ever have


class Stats:
    """Counters and the first few details of every kind of problem, shared by all threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter = Counter()
        self.details: dict[str, list[str]] = defaultdict(list)

    def bump(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] += n

    def problem(self, kind: str, message: str) -> None:
        with self.lock:
            self.counts[kind] += 1
            shown = len(self.details[kind]) < DETAILS_CAP
            if shown:
                self.details[kind].append(message)
        if shown:
            print(f"soak: [{kind}] {message}", flush=True, file=sys.stderr)


@dataclass
class Answer:
    status: int
    body: Any
    etag: str | None
    token: str | None
    consistency: str | None = None

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    def summary(self) -> str:
        text = self.body if isinstance(self.body, str) else json.dumps(self.body)
        return f"{self.status} {text[:400]}"


def local_session() -> requests.Session:
    """A session that talks to 127.0.0.1 directly, whatever proxy the environment names."""
    session = requests.Session()
    session.trust_env = False
    return session


def to_answer(response: requests.Response) -> Answer:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:2000]
    return Answer(
        response.status_code,
        body,
        response.headers.get("ETag"),
        response.headers.get("X-Consistency-Token"),
        response.headers.get("X-Consistency"),
    )


def same_answer(a: Answer, b: Answer) -> bool:
    """A replay repeats the first answer: status, body and headers (a refusal: status and code)."""
    if a.accepted or b.accepted:
        return (a.status, a.body, a.etag, a.token) == (b.status, b.body, b.etag, b.token)
    return (a.status, a.code) == (b.status, b.code)


def _retry_after(value: str | None) -> float:
    try:
        return min(max(float(value or 1.0), 0.05), 2.0)
    except ValueError:
        return 1.0


def send_until_answered(
    session: requests.Session,
    stats: Stats,
    url: str,
    method: str,
    *,
    body: Any,
    headers: dict[str, str],
    first_timeout: float | None,
    label: str,
    retry_unknown: bool = True,
    delay: float = 0.0,
) -> tuple[Answer | None, bool, int]:
    """(definite answer or None, whether some try ended without one, tries) for one command.

    `retry_unknown` is for keyed commands: a try without an answer is sent again with the
    same key. A command without a key is never sent again after such a try (it could run
    twice); only after the answers that say nothing was committed (503, 409, 429).
    """
    if delay:
        time.sleep(delay)
    deadline = time.monotonic() + COMMAND_BOUND_SECONDS
    ambiguous = False
    tries = 0
    backoff = 0.05
    while True:
        tries += 1
        timeout = first_timeout if tries == 1 and first_timeout else NORMAL_TIMEOUT
        wait = backoff
        try:
            response = session.request(method, url, json=body, headers=headers, timeout=timeout)
        except requests.RequestException:
            ambiguous = True
            if not retry_unknown:
                return None, ambiguous, tries
            if tries == 1 and first_timeout:
                wait = 0.0  # abandoned on purpose: the retry races the first try, still running
        else:
            answer = to_answer(response)
            if answer.status == 503:
                if "Retry-After" not in response.headers:
                    stats.problem("unexpected_answers", f"{label}: 503 without Retry-After: {answer.summary()}")
                wait = _retry_after(response.headers.get("Retry-After"))
            elif answer.status >= 500:
                stats.problem("server_errors", f"{label}: {method} {url} try {tries}: {answer.summary()}")
                ambiguous = True
                if not retry_unknown:
                    return None, ambiguous, tries
            elif answer.status == 429 or (answer.status == 409 and answer.code in RETRY_CODES):
                pass
            else:
                return answer, ambiguous, tries
        if tries >= MAX_TRIES or time.monotonic() + wait > deadline:
            return None, ambiguous, tries
        stats.bump("retries")
        if wait:
            time.sleep(wait)
        backoff = min(backoff * 1.5, 1.0)


@dataclass
class Spec:
    """One command as the model sees it before sending: what it is and what must come back."""

    kind: str
    method: str
    path: str
    body: Any
    user: str
    expect: str
    status: int | None = None  # accepted: 200/201; refused: the contract's status
    code: str | None = None  # refused: the contract's code (None: any, e.g. a 400's field errors)
    effect: Callable[[Record, str | None], Events] | None = None
    order: Order | None = None
    product: str | None = None  # a price change: frozen when its outcome stays unknown
    version: int | None = None  # the version the answer must carry, when the model knows it
    target_id: str | None = None
    if_match: int | None = None
    tricks: bool = True  # may be abandoned and retried, or sent twice
    key: str | None = None  # reuse this Idempotency-Key (the key-reuse refusal)
    creates_order: bool = False
    keyed: bool = True  # sent with an Idempotency-Key (without one: never resent after an unknown outcome)
    hot: bool = False  # run again after its commit it would be refused: duplicates and retries race it more


BASE_WEIGHTS = {
    "create": 20,
    "add": 14,
    "cancel": 7,
    "ship": 7,
    "receive": 4,
    "racy": 5,
    "if_match": 3,
    "race": 4,
    "invalid": 16,
    "read": 9,
}
CATALOGUE_WEIGHTS = {"price": 8, "register": 2}


class ClientThread(threading.Thread):
    """One customer's client (with the staff token for staff commands)."""

    def __init__(
        self,
        name: str,
        *,
        model: Model,
        stats: Stats,
        base_url: str,
        tokens: dict[str, str],
        customer: str,
        staff: str,
        seed: int,
        stop: threading.Event,
        think_ms: float,
        catalogue: bool = False,
    ) -> None:
        super().__init__(name=f"soak-{name}", daemon=True)
        self.label = name
        self.model = model
        self.stats = stats
        self.base_url = base_url
        self.tokens = tokens
        self.me = customer
        self.staff = staff
        self.rng = random.Random(seed)
        self.stop = stop
        self.think = think_ms / 1000
        self.catalogue = catalogue
        self.session = local_session()
        self.session2 = local_session()
        self.my_orders: list[Order] = []
        self.recent: deque[tuple[Record, Spec]] = deque(maxlen=20)
        self.seq = 0
        weights = {**BASE_WEIGHTS, **(CATALOGUE_WEIGHTS if catalogue else {})}
        self.actions = list(weights)
        self.weights = list(weights.values())

    # Loop -----------------------------------------------------------------------------

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.step()
            except Exception:
                self.stats.problem("soak_errors", f"client {self.label}: {traceback.format_exc()}")
                time.sleep(0.5)
            if self.think:
                time.sleep(self.rng.uniform(0, self.think))
        self.session.close()
        self.session2.close()

    def step(self) -> None:
        action = self.rng.choices(self.actions, self.weights)[0]
        if action == "read":
            self.read()
            return
        if action == "race" and self.race():
            return
        spec = getattr(self, f"spec_{action}", self.spec_create)()
        if spec is None:
            spec = self.spec_create()
        if spec.expect != REFUSE and self.rng.random() < P_UNKEYED:
            spec.keyed, spec.tricks = False, False
        self.execute(spec)

    # Choosing ---------------------------------------------------------------------------

    def pending(self) -> list[Order]:
        return [o for o in self.my_orders if o.status == "pending" and not o.frozen]

    def open_for_items(self, lines: int = 1) -> list[Order]:
        """Pending orders that may take `lines` more lines (a full one refuses them: 422 too_many_lines)."""
        return [o for o in self.pending() if len(o.lines) + lines <= MAX_LINES]

    def finished(self) -> list[Order]:
        return [o for o in self.my_orders if o.status != "pending" and not o.frozen]

    def pick(self, orders: list[Order]) -> Order | None:
        return self.rng.choice(orders) if orders else None

    def sku(self) -> str:
        return self.rng.choice(self.model.pool)

    def address(self) -> dict[str, str]:
        return {"street": f"{self.rng.randint(1, 999)} Soak Street", "city": "Soakville", "client": self.label}

    def customer_or_staff(self, staff_share: float = 0.3) -> str:
        return self.staff if self.rng.random() < staff_share else self.me

    # Effects (run under the model's lock when the command is accepted) ----------------------

    def create_effect(self, lines: list[tuple[str, int]], address: dict[str, str]) -> Callable:
        def effect(record: Record, order_id: str | None) -> Events:
            assert order_id is not None
            order = Order(
                order_id,
                self.me,
                self.label,
                address,
                record.rid,
                version=1 + len(lines),
                lines=[Line(s, self.model.name_of(s), q, record.rid) for s, q in lines],
            )
            self.model.add_order(order)
            self.my_orders.append(order)
            record.order_id = order_id
            stream = f"Order-{order_id}"
            return [
                (stream, "OrderCreated"),
                *[(stream, "OrderItemAdded")] * len(lines),
                *[(f"Product-{s}", "StockReserved") for s in dict.fromkeys(s for s, _ in lines)],
            ]

        return effect

    def add_effect(self, order: Order, sku: str, quantity: int) -> Callable:
        def effect(record: Record, _: str | None) -> Events:
            order.lines.append(Line(sku, self.model.name_of(sku), quantity, record.rid))
            order.version += 1
            record.order_id = order.order_id
            return [(f"Order-{order.order_id}", "OrderItemAdded"), (f"Product-{sku}", "StockReserved")]

        return effect

    def end_effect(self, order: Order, status: str, reason: str = "") -> Callable:
        def effect(record: Record, _: str | None) -> Events:
            order.status = status
            order.version += 1
            record.order_id = order.order_id
            if status == "cancelled":
                order.cancel_reason, order.cancel_rid = reason, record.rid
            event, stock = (
                ("OrderCancelled", "StockReleased") if status == "cancelled" else ("OrderShipped", "StockShipped")
            )
            return [(f"Order-{order.order_id}", event), *[(f"Product-{s}", stock) for s in order.skus()]]

        return effect

    # Valid commands ---------------------------------------------------------------------

    def spec_create(self, *, skus: list[str] | None = None, expect: str = ACCEPT) -> Spec:
        if skus is None:
            skus = [self.sku() for _ in range(self.rng.choice([1, 1, 2, 2, 3]))]
        lines = [(s, self.rng.randint(1, 3)) for s in skus]
        address = self.address()
        items: list[dict[str, Any]] = [{"product_id": s, "quantity": q} for s, q in lines]
        if self.rng.random() < 0.1:
            items[0]["unit_price"] = "0.01"  # API.md: a price in the request is ignored
        body: dict[str, Any] = {"items": items, "shipping_address": address}
        user = self.customer_or_staff()
        if user == self.staff or self.rng.random() < 0.5:
            body["customer_id"] = self.me
        return Spec(
            "create",
            "POST",
            "/api/orders/",
            body,
            user,
            expect,
            status=201,
            version=1 + len(lines),
            effect=self.create_effect(lines, address),
            creates_order=True,
            tricks=expect == ACCEPT,
        )

    def spec_add(self, *, sku: str | None = None, expect: str = ACCEPT, if_match: bool = False) -> Spec | None:
        order = self.pick(self.open_for_items())
        if order is None:
            return None
        sku = sku or self.sku()
        quantity = self.rng.randint(1, 3)
        body = {"product_id": sku, "quantity": quantity}
        return Spec(
            "add_item",
            "POST",
            f"/api/orders/{order.order_id}/items/",
            body,
            self.customer_or_staff(),
            expect,
            status=200,
            effect=self.add_effect(order, sku, quantity),
            order=order,
            version=order.version + 1,
            target_id=order.order_id,
            if_match=order.version if if_match else None,
            tricks=expect == ACCEPT,
            hot=if_match,
        )

    def spec_if_match(self) -> Spec | None:
        return self.spec_add(if_match=True)

    def spec_cancel(self) -> Spec | None:
        order = self.pick(self.pending())
        if order is None:
            return None
        reason = f"soak-cancel-{uuid.uuid4().hex[:8]}"
        how = self.rng.random()
        if how < 0.6:
            method, path, body = "POST", f"/api/orders/{order.order_id}/cancel/", {"reason": reason}
        elif how < 0.8:
            method, path, body = "DELETE", f"/api/orders/{order.order_id}/", {"reason": reason}
        else:
            method, path, body = "DELETE", f"/api/orders/{order.order_id}/?reason={reason}", None
        return Spec(
            "cancel",
            method,
            path,
            body,
            self.customer_or_staff(0.4),
            ACCEPT,
            status=200,
            effect=self.end_effect(order, "cancelled", reason),
            order=order,
            version=order.version + 1,
            target_id=order.order_id,
            hot=True,
        )

    def spec_ship(self) -> Spec | None:
        order = self.pick(self.pending())
        if order is None:
            return None
        return Spec(
            "ship",
            "POST",
            f"/api/orders/{order.order_id}/ship/",
            {},
            self.staff,
            ACCEPT,
            status=200,
            effect=self.end_effect(order, "shipped"),
            order=order,
            version=order.version + 1,
            target_id=order.order_id,
            hot=True,
        )

    def spec_receive(self) -> Spec:
        sku = self.sku()
        quantity = self.rng.randint(1, 50)

        def effect(record: Record, _: str | None) -> Events:
            product = self.model.products[sku]
            product.received += quantity
            product.receives += 1
            return [(f"Product-{sku}", "StockReceived")]

        return Spec(
            "receive_stock",
            "POST",
            f"/api/products/{sku}/stock/",
            {"quantity": quantity},
            self.staff,
            ACCEPT,
            status=200,
            effect=effect,
            target_id=sku,
        )

    def spec_racy(self) -> Spec | None:
        """Orders that race for the scarce product: accepted or 422 insufficient_stock, both are right."""
        scarce = self.model.scarce
        if self.rng.random() < 0.6 or not self.pending():
            skus = [scarce] + ([self.sku()] if self.rng.random() < 0.3 else [])
            return self.spec_create(skus=skus, expect=EITHER)
        return self.spec_add(sku=scarce, expect=EITHER)

    def spec_price(self) -> Spec | None:
        choices = [s for s in self.model.priced if not self.model.products[s].price_frozen]
        if not choices:
            return None
        sku = self.rng.choice(choices)
        product = self.model.products[sku]
        price = product.price
        while price == product.price:
            price = Decimal(self.rng.randint(100, 9999)) / 100

        def effect(record: Record, _: str | None) -> Events:
            product.price_changes[record.rid] = price
            product.price = price
            return [(f"Product-{sku}", "PriceChanged")]

        return Spec(
            "change_price",
            "POST",
            f"/api/products/{sku}/price/",
            {"price": str(price)},
            self.staff,
            ACCEPT,
            status=200,
            effect=effect,
            product=sku,
            target_id=sku,
        )

    def spec_register(self) -> Spec:
        self.seq += 1
        sku = f"soak-n{self.seq}-{uuid.uuid4().hex[:6]}"
        stock = BIG_STOCK if self.rng.random() < 0.8 else 0
        return self.register_spec(sku, Decimal(self.rng.randint(100, 9999)) / 100, stock, pool=stock > 0)

    def register_spec(
        self, sku: str, price: Decimal, stock: int, *, pool: bool, scarce: bool = False, priced: bool = False
    ) -> Spec:
        name, description = f"Soak product {sku}", f"Registered by the soak: {sku}"

        def effect(record: Record, _: str | None) -> Events:
            self.model.products[sku] = Product(sku, name, description, price, price, stock, record.rid)
            if pool:
                self.model.pool.append(sku)
            if priced:
                self.model.priced.append(sku)
            if scarce:
                self.model.scarce = sku
            return [(f"Product-{sku}", "ProductRegistered"), *([(f"Product-{sku}", "StockReceived")] * (stock > 0))]

        body = {"sku": sku, "name": name, "description": description, "price": str(price), "initial_stock": stock}
        return Spec(
            "register_product",
            "POST",
            "/api/products/",
            body,
            self.staff,
            ACCEPT,
            status=201,
            effect=effect,
            target_id=sku,
            version=1 + (stock > 0),
            hot=True,
        )

    # Invalid commands (each with the contract's refusal) ------------------------------------

    def spec_invalid(self) -> Spec | None:
        makers = [
            self.inv_unknown_product,
            self.inv_quantity_zero,
            self.inv_empty_items,
            self.inv_no_address,
            self.inv_not_pending,
            self.inv_customer_ships,
            self.inv_foreign_order,
            self.inv_unknown_sku_stock,
            self.inv_bad_price,
            self.inv_register_existing,
            self.inv_customer_mismatch,
            self.inv_overorder,
            self.inv_stale_if_match,
            self.inv_key_reused,
            self.inv_no_reason,
            self.inv_customer_stock,
        ]
        for _ in range(5):
            spec = self.rng.choice(makers)()
            if spec is not None:
                return spec
        return None

    def _refuse(
        self,
        kind: str,
        method: str,
        path: str,
        body: Any,
        user: str,
        status: int,
        code: str | None,
        order: Order | None = None,
    ) -> Spec:
        return Spec(f"invalid:{kind}", method, path, body, user, REFUSE, status=status, code=code, order=order)

    def _order_body(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"items": items, "shipping_address": self.address()}

    def inv_unknown_product(self) -> Spec:
        missing = f"soak-missing-{uuid.uuid4().hex[:6]}"
        order = self.pick(self.open_for_items())
        if order is not None and self.rng.random() < 0.5:
            return self._refuse(
                "add_unknown_product",
                "POST",
                f"/api/orders/{order.order_id}/items/",
                {"product_id": missing, "quantity": 1},
                self.me,
                422,
                "unknown_product",
                order,
            )
        body = self._order_body([{"product_id": self.sku(), "quantity": 1}, {"product_id": missing, "quantity": 1}])
        return self._refuse("unknown_product", "POST", "/api/orders/", body, self.me, 422, "unknown_product")

    def inv_quantity_zero(self) -> Spec:
        body = self._order_body([{"product_id": self.sku(), "quantity": 0}])
        return self._refuse("quantity_zero", "POST", "/api/orders/", body, self.me, 400, None)

    def inv_empty_items(self) -> Spec:
        return self._refuse("empty_items", "POST", "/api/orders/", self._order_body([]), self.me, 400, None)

    def inv_no_address(self) -> Spec:
        body = {"items": [{"product_id": self.sku(), "quantity": 1}]}
        return self._refuse("no_address", "POST", "/api/orders/", body, self.me, 400, None)

    def inv_not_pending(self) -> Spec | None:
        order = self.pick(self.finished())
        if order is None:
            return None
        which = self.rng.choice(["items", "cancel", "ship"])
        body: dict[str, Any] = (
            {"product_id": self.sku(), "quantity": 1}
            if which == "items"
            else ({"reason": "too late"} if which == "cancel" else {})
        )
        user = self.staff if which == "ship" else self.customer_or_staff()
        return self._refuse(
            f"{which}_not_pending",
            "POST",
            f"/api/orders/{order.order_id}/{which}/",
            body,
            user,
            422,
            "order_not_pending",
            order,
        )

    def inv_customer_ships(self) -> Spec | None:
        order = self.pick(self.pending())
        if order is None:
            return None
        return self._refuse(
            "customer_ships",
            "POST",
            f"/api/orders/{order.order_id}/ship/",
            {},
            self.me,
            403,
            "permission_denied",
            order,
        )

    def inv_foreign_order(self) -> Spec | None:
        ids = self.model.order_ids
        for _ in range(5):
            if not ids:
                return None
            foreign = self.model.orders.get(ids[self.rng.randrange(len(ids))])
            if foreign is not None and foreign.customer != self.me:
                return self._refuse(
                    "foreign_order",
                    "POST",
                    f"/api/orders/{foreign.order_id}/cancel/",
                    {"reason": "not mine"},
                    self.me,
                    404,
                    None,
                )
        return None

    def inv_unknown_sku_stock(self) -> Spec:
        missing = f"soak-missing-{uuid.uuid4().hex[:6]}"
        return self._refuse(
            "stock_unknown_sku", "POST", f"/api/products/{missing}/stock/", {"quantity": 5}, self.staff, 404, None
        )

    def inv_bad_price(self) -> Spec:
        price = self.rng.choice(["0.00", "-5.00", "1.234", "NaN"])
        return self._refuse(
            "bad_price", "POST", f"/api/products/{self.sku()}/price/", {"price": price}, self.staff, 400, None
        )

    def inv_register_existing(self) -> Spec:
        sku = self.sku()
        body = {"sku": sku, "name": "again", "description": "", "price": "1.00", "initial_stock": 1}
        return self._refuse("register_existing", "POST", "/api/products/", body, self.staff, 409, "already_exists")

    def inv_customer_mismatch(self) -> Spec:
        others = [c for c in self.model.customers if c != self.me] or ["soak-someone-else"]
        body = {**self._order_body([{"product_id": self.sku(), "quantity": 1}]), "customer_id": self.rng.choice(others)}
        return self._refuse("customer_mismatch", "POST", "/api/orders/", body, self.me, 422, "customer_mismatch")

    def inv_overorder(self) -> Spec:
        body = self._order_body([{"product_id": self.model.scarce, "quantity": OVERORDER}])
        return self._refuse(
            "overorder", "POST", "/api/orders/", body, self.customer_or_staff(), 422, "insufficient_stock"
        )

    def inv_stale_if_match(self) -> Spec | None:
        order = self.pick([o for o in self.pending() if o.version >= 2])
        if order is None:
            return None
        spec = self._refuse(
            "stale_if_match",
            "POST",
            f"/api/orders/{order.order_id}/items/",
            {"product_id": self.sku(), "quantity": 1},
            self.me,
            412,
            "version_mismatch",
            order,
        )
        spec.if_match = order.version - 1
        return spec

    def inv_key_reused(self) -> Spec | None:
        """The key of an accepted command with another body: 422 idempotency_key_reused, nothing appended."""
        candidates = [
            (r, s)
            for r, s in self.recent
            if r.key and r.method == "POST" and s.kind in {"create", "add_item", "cancel", "receive_stock"}
        ]
        if not candidates:
            return None
        record, _ = self.rng.choice(candidates)
        body = json.loads(json.dumps(record.body))
        if "items" in body:
            body["items"][0]["quantity"] = body["items"][0]["quantity"] % 3 + 1 + 3
        elif "quantity" in body:
            body["quantity"] += 1
        else:
            body["reason"] = body.get("reason", "") + "-changed"
        refused = self._refuse("key_reused", "POST", record.path, body, record.user, 422, "idempotency_key_reused")
        refused.key = record.key
        return refused

    def inv_no_reason(self) -> Spec | None:
        order = self.pick(self.pending())
        if order is None:
            return None
        return self._refuse(
            "cancel_without_reason", "POST", f"/api/orders/{order.order_id}/cancel/", {}, self.me, 400, None, order
        )

    def inv_customer_stock(self) -> Spec:
        return self._refuse(
            "customer_receives_stock",
            "POST",
            f"/api/products/{self.sku()}/stock/",
            {"quantity": 1},
            self.me,
            403,
            "permission_denied",
        )

    # Sending ----------------------------------------------------------------------------

    def prepare(self, spec: Spec) -> tuple[Record, dict[str, str], str]:
        self.seq += 1
        rid = f"soak-{self.label}-{self.seq}-{uuid.uuid4().hex[:6]}"
        key = (spec.key or f"soak-{uuid.uuid4()}") if spec.keyed else ""
        record = Record(
            rid,
            spec.kind,
            self.label,
            spec.method,
            spec.path,
            spec.body,
            key,
            spec.user,
            spec.expect,
            effect=spec.effect,
        )
        self.model.add_record(record)
        self.stats.bump("commands")
        if not spec.keyed:
            self.stats.bump("unkeyed")
        headers = {"Authorization": f"Token {self.tokens[spec.user]}", "X-Request-ID": rid}
        if spec.keyed:
            headers["Idempotency-Key"] = key
        if spec.if_match is not None:
            headers["If-Match"] = f'"{spec.if_match}"'
        return record, headers, f"{spec.kind} rid={rid} ({spec.method} {spec.path}{'' if spec.keyed else ', no key'})"

    def transmit(
        self,
        session: requests.Session,
        spec: Spec,
        headers: dict[str, str],
        label: str,
        *,
        first_timeout: float | None = None,
        delay: float = 0.0,
    ) -> tuple[Answer | None, bool, int]:
        return send_until_answered(
            session,
            self.stats,
            self.base_url + spec.path,
            spec.method,
            body=spec.body,
            headers=headers,
            first_timeout=first_timeout,
            label=label,
            retry_unknown=spec.keyed,
            delay=delay,
        )

    def execute(self, spec: Spec) -> Record:
        record, headers, label = self.prepare(spec)
        abandon = spec.tricks and self.rng.random() < (P_HOT_ABANDON if spec.hot else P_ABANDON)
        twice = spec.tricks and self.rng.random() < (P_HOT_TWICE if spec.hot else P_TWICE)
        together = twice and self.rng.random() < 0.6
        results: list[tuple[Answer | None, bool, int]] = []
        helper = None
        if together:
            # The copy leaves a moment later, so it lands anywhere in the first one's run, its commit included.
            self.stats.bump("sent_twice_at_once")
            stagger = self.rng.uniform(0, 0.03)
            helper = threading.Thread(
                target=lambda: results.append(
                    self.transmit(self.session2, spec, headers, label + " [duplicate]", delay=stagger)
                ),
                daemon=True,
            )
            helper.start()
        if abandon:
            self.stats.bump("abandoned")
        first = self.transmit(
            self.session, spec, headers, label, first_timeout=self.rng.uniform(0.005, 0.02) if abandon else None
        )
        if helper is not None:
            helper.join(COMMAND_BOUND_SECONDS + 60)
        results.insert(0, first)
        answers = [a for a, _, _ in results if a is not None]
        record.ambiguous = any(amb for _, amb, _ in results)
        record.tries = sum(t for _, _, t in results)
        if record.ambiguous:
            self.stats.bump("ambiguous")
        if len(answers) == 2 and not same_answer(*answers):
            self.unexpected(
                spec,
                label,
                f"two copies with one key answered differently: {answers[0].summary()} vs {answers[1].summary()}",
            )
        answer = next((a for a in answers if a.accepted), answers[0] if answers else None)
        if answer is None:
            self.leave_unresolved(record, spec, label)
            return record
        if twice and not together:
            self.stats.bump("sent_twice")
            again, _, tries = self.transmit(self.session, spec, headers, label + " [again]")
            record.tries += tries
            if again is not None and not same_answer(answer, again):
                self.unexpected(
                    spec, label, f"sent again with its key: {again.summary()}, first answer {answer.summary()}"
                )
        self.settle(record, spec, answer, label)
        return record

    def race(self) -> bool:
        """Two different commands on one of our pending orders at once: one sequence of them must explain both answers.

        cancel/cancel and cancel/ship: exactly one wins, the other is 422 order_not_pending
        (never a 500); ship/add, cancel/add and add/add: both may win (the add first), or the
        add is refused because the order ended first. The accepted ones are applied to the
        model in the order of the versions they answered.
        """
        order = self.pick(self.open_for_items(lines=2))
        if order is None:
            return False
        pair = self.rng.choice(
            [("cancel", "cancel"), ("cancel", "ship"), ("ship", "add"), ("add", "add"), ("cancel", "add")]
        )
        specs = []
        for kind in pair:
            if kind == "add":
                sku, quantity = self.sku(), self.rng.randint(1, 3)
                spec = Spec(
                    "race:add_item",
                    "POST",
                    f"/api/orders/{order.order_id}/items/",
                    {"product_id": sku, "quantity": quantity},
                    self.customer_or_staff(),
                    EITHER,
                    status=200,
                    effect=self.add_effect(order, sku, quantity),
                    order=order,
                    target_id=order.order_id,
                )
            elif kind == "cancel":
                reason = f"soak-race-{uuid.uuid4().hex[:8]}"
                spec = Spec(
                    "race:cancel",
                    "POST",
                    f"/api/orders/{order.order_id}/cancel/",
                    {"reason": reason},
                    self.customer_or_staff(0.4),
                    EITHER,
                    status=200,
                    effect=self.end_effect(order, "cancelled", reason),
                    order=order,
                    target_id=order.order_id,
                )
            else:
                spec = Spec(
                    "race:ship",
                    "POST",
                    f"/api/orders/{order.order_id}/ship/",
                    {},
                    self.staff,
                    EITHER,
                    status=200,
                    effect=self.end_effect(order, "shipped"),
                    order=order,
                    target_id=order.order_id,
                )
            spec.tricks = False
            specs.append(spec)
        self.stats.bump("races")
        prepared = [self.prepare(spec) for spec in specs]
        box: list[tuple[Answer | None, bool, int]] = []
        helper = threading.Thread(
            target=lambda: box.append(
                self.transmit(self.session2, specs[1], prepared[1][1], prepared[1][2], delay=self.rng.uniform(0, 0.01))
            ),
            daemon=True,
        )
        helper.start()
        first = self.transmit(self.session, specs[0], prepared[0][1], prepared[0][2])
        helper.join(COMMAND_BOUND_SECONDS + 60)
        results = [first, box[0] if box else (None, True, 0)]
        for (record, _, _), (answer, ambiguous, tries) in zip(prepared, results, strict=True):
            record.ambiguous, record.tries = ambiguous, tries
            if answer is not None:
                record.status, record.answer = answer.status, answer.body
        outcome = " vs ".join(
            f"{spec.kind}: {a.summary() if a else 'no answer'}" for spec, (a, _, _) in zip(specs, results, strict=True)
        )
        label = f"race on order {order.order_id} ({', '.join(r.rid for r, _, _ in prepared)})"
        if any(answer is None for answer, _, _ in results):
            for (record, _, record_label), spec, (answer, _, _) in zip(prepared, specs, results, strict=True):
                if answer is None:
                    self.leave_unresolved(record, spec, record_label)
                else:
                    with self.model.lock:
                        record.outcome = UNRESOLVED  # settled with its partner from the log, in log order
            return True
        accepted = sorted(
            (
                (spec, record, answer)
                for spec, (record, _, _), (answer, _, _) in zip(specs, prepared, results, strict=True)
                if answer is not None and answer.accepted
            ),
            key=lambda item: item[2].body.get("version", 0) if isinstance(item[2].body, dict) else 0,
        )
        problems = []
        status, version = "pending", order.version
        for spec, _, answer in accepted:
            version += 1
            body = answer.body if isinstance(answer.body, dict) else {}
            if status != "pending":
                problems.append(f"{spec.kind} accepted after the order was {status}")
            if body.get("version") != version or answer.etag != f'"{version}"' or not answer.token:
                problems.append(
                    f"{spec.kind} answered version {body.get('version')!r}, ETag {answer.etag!r}, "
                    f"the model expects {version}"
                )
            if spec.kind != "race:add_item":
                status = "ended"
        for spec, answer in ((s, a) for s, (a, _, _) in zip(specs, results, strict=True)):
            if (
                answer is not None
                and not answer.accepted
                and ((answer.status, answer.code) != (422, "order_not_pending") or status == "pending")
            ):
                problems.append(f"{spec.kind} refused {answer.status} {answer.code}, not explained by the other")
        if problems:
            self.stats.problem("unexpected_answers", f"{label}: {'; '.join(problems)}: {outcome}")
        with self.model.lock:
            for spec, record, answer in accepted:
                record.events = spec.effect(record, None) if spec.effect else None
                record.outcome = ACCEPTED
                order.last_token = answer.body.get("consistency_token") or ""
            for (record, _, _), (answer, _, _) in zip(prepared, results, strict=True):
                if answer is not None and not answer.accepted:
                    record.outcome = REFUSED
            if problems:
                order.frozen = True
        self.stats.bump("accepted", len(accepted))
        self.stats.bump("refused", len(specs) - len(accepted))
        return True

    def unexpected(self, spec: Spec, label: str, message: str) -> None:
        self.stats.problem("unexpected_answers", f"{label}: {message}")
        if spec.order is not None:
            with self.model.lock:
                spec.order.frozen = True  # its state is no longer known for sure: leave it to the final check

    def leave_unresolved(self, record: Record, spec: Spec, label: str) -> None:
        """No definite answer within the bound: the log will tell at the end; the thread leaves its target alone."""
        with self.model.lock:
            record.outcome = UNRESOLVED
            if spec.order is not None:
                spec.order.frozen = True
            if spec.product is not None:
                self.model.products[spec.product].price_frozen = True
        self.stats.bump("unresolved")
        self.stats.problem("unresolved_detail", f"{label}: no definite answer after {record.tries} tries")

    def settle(self, record: Record, spec: Spec, answer: Answer, label: str) -> None:
        record.status, record.answer = answer.status, answer.body
        if not answer.accepted:
            with self.model.lock:
                record.outcome = REFUSED
            self.stats.bump("refused")
            if spec.expect == ACCEPT:
                self.unexpected(spec, label, f"refused {answer.summary()}, the model expects {spec.status}")
            elif spec.expect == EITHER and (answer.status, answer.code) != (422, "insufficient_stock"):
                self.unexpected(
                    spec, label, f"{answer.summary()}, the model expects {spec.status} or 422 insufficient_stock"
                )
            elif spec.expect == REFUSE and (answer.status != spec.status or (spec.code and answer.code != spec.code)):
                self.unexpected(spec, label, f"{answer.summary()}, the model expects {spec.status} {spec.code or ''}")
            return
        self.stats.bump("accepted")
        body = answer.body if isinstance(answer.body, dict) else {}
        problems = []
        if spec.expect == REFUSE:
            problems.append(f"accepted, the model expects {spec.status} {spec.code or ''}")
        else:
            if answer.status != spec.status:
                problems.append(f"status {answer.status}, the model expects {spec.status}")
            if spec.target_id is not None and body.get("id") != spec.target_id:
                problems.append(f"id {body.get('id')!r}, the model expects {spec.target_id!r}")
            if spec.version is not None and body.get("version") != spec.version:
                problems.append(f"version {body.get('version')!r}, the model expects {spec.version}")
            if answer.etag != f'"{body.get("version")}"':
                problems.append(f"ETag {answer.etag!r} for version {body.get('version')!r}")
            if not answer.token or answer.token != body.get("consistency_token"):
                problems.append(f"X-Consistency-Token {answer.token!r} != body {body.get('consistency_token')!r}")
        if problems:
            self.unexpected(spec, label, f"{answer.summary()}: " + "; ".join(problems))
        created = body.get("id") if spec.creates_order else None
        with self.model.lock:
            if spec.effect is None:
                record.outcome = ACCEPTED  # accepted against the contract: nothing to model, the views will differ
                return
            if spec.creates_order and (not isinstance(created, str) or created in self.model.orders):
                record.outcome = UNRESOLVED  # no usable order id: the log says what was created
                return
            record.events = spec.effect(record, created)
            record.outcome = ACCEPTED
            order = spec.order or (self.model.orders.get(created) if created else None)
            if order is not None:
                order.last_token = body.get("consistency_token") or ""
        self.recent.append((record, spec))

    # Reads ------------------------------------------------------------------------------

    def query(self, path: str, headers: dict[str, str], label: str) -> Answer | None:
        deadline = time.monotonic() + 30
        for attempt in range(1, 6):
            try:
                response = self.session.get(self.base_url + path, headers=headers, timeout=NORMAL_TIMEOUT)
            except requests.RequestException:
                response = None
            if response is not None:
                answer = to_answer(response)
                if answer.status >= 500 and answer.status != 503:
                    self.stats.problem("server_errors", f"{label}: GET {path} try {attempt}: {answer.summary()}")
                elif answer.status != 503:
                    return answer
            if time.monotonic() > deadline:
                return None
            time.sleep(0.2 * attempt)
        return None

    def read(self) -> None:
        self.stats.bump("reads")
        roll = self.rng.random()
        me = {"Authorization": f"Token {self.tokens[self.me]}"}
        if roll < 0.6:
            self.fresh_read(me)
        elif roll < 0.8:
            answer = self.query("/api/products/?page_size=20", {}, "catalogue read")
            if answer is not None and answer.status != 200:
                self.stats.problem("unexpected_answers", f"GET /api/products/: {answer.summary()}")
        else:
            answer = self.query(f"/api/customers/{self.me}/orders/", me, "customer orders read")
            if answer is not None and answer.status != 200:
                self.stats.problem("unexpected_answers", f"GET /api/customers/{self.me}/orders/: {answer.summary()}")

    def fresh_read(self, me: dict[str, str]) -> None:
        """Read your writes: with X-Consistency: fresh the order view must be exactly the model's order."""
        order = self.pick([o for o in self.my_orders if not o.frozen and o.last_token])
        if order is None:
            return
        expected = {
            "status": order.status,
            "version": order.version,
            "item_count": sum(line.quantity for line in order.lines),
        }
        headers = {**me, "X-Consistency-Token": order.last_token, "X-Consistency-Timeout": "5"}
        answer = self.query(f"/api/orders/{order.order_id}/", headers, "fresh read")
        if answer is None:
            return
        if answer.consistency != "fresh":
            self.stats.bump("stale_reads")
            return
        self.stats.bump("fresh_reads")
        actual = {name: answer.body.get(name) for name in expected} if isinstance(answer.body, dict) else None
        if answer.status != 200 or actual != expected:
            self.stats.problem(
                "fresh_read_mismatches",
                f"order {order.order_id} read with token {order.last_token} answered fresh "
                f"{answer.status} {actual}, the model has {expected}",
            )
