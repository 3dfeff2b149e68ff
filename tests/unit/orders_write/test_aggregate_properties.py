"""Property test: any sequence of commands keeps the stock and order invariants, and replays.

The decisions are driven as the handlers drive them (every stream a command touches
changes together, or none does when a rule refuses), without I/O.
"""

import contextlib
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from eventstore.domain import DomainEvent
from orders_write.aggregates import Order, Product
from orders_write.aggregates.order import PricedItem
from orders_write.errors import DomainError

SKUS = ("a", "b", "c")

quantities = st.integers(min_value=1, max_value=6)
order_ids = st.integers(min_value=0, max_value=4)
commands = st.one_of(
    st.tuples(st.just("receive"), st.sampled_from(SKUS), quantities),
    st.tuples(st.just("price"), st.sampled_from(SKUS), st.integers(min_value=1, max_value=9999)),
    st.tuples(st.just("create"), st.lists(st.tuples(st.sampled_from(SKUS), quantities), min_size=1, max_size=4)),
    st.tuples(st.just("add"), order_ids, st.sampled_from(SKUS), quantities),
    st.tuples(st.just("cancel"), order_ids),
    st.tuples(st.just("ship"), order_ids),
)


class Shop:
    """Aggregates plus every event each stream received, in order."""

    def __init__(self) -> None:
        self.products = {sku: Product.blank(sku) for sku in SKUS}
        self.orders: list[Order] = []
        self.log: dict[int, list[DomainEvent]] = {}
        for sku in SKUS:
            self.commit(
                [
                    (
                        self.products[sku],
                        self.products[sku].register(
                            name=sku.upper(), description="", price=Decimal("2.50"), initial_stock=8
                        ),
                    )
                ]
            )

    def commit(self, changes: list[tuple[Any, list[DomainEvent]]]) -> None:
        for aggregate, events in changes:
            for event in events:
                aggregate.apply(event)
                aggregate.version += 1
            self.log.setdefault(id(aggregate), []).extend(events)

    def item(self, sku: str, quantity: int) -> PricedItem:
        product = self.products[sku]
        return PricedItem(sku, product.name, quantity, product.price)

    def run(self, command: tuple) -> None:
        match command:
            case ("receive", sku, quantity):
                self.commit([(self.products[sku], self.products[sku].receive(quantity=quantity))])
            case ("price", sku, cents):
                self.commit([(self.products[sku], self.products[sku].change_price(price=Decimal(cents) / 100))])
            case ("create", lines):
                order = Order.blank(f"o{len(self.orders)}")
                wanted: dict[str, int] = {}
                for sku, quantity in lines:
                    wanted[sku] = wanted.get(sku, 0) + quantity
                stock = [
                    (self.products[s], self.products[s].reserve(order_id=order.id, quantity=q))
                    for s, q in wanted.items()
                ]
                created = order.create(
                    customer_id="alice", shipping_address={}, items=[self.item(s, q) for s, q in lines]
                )
                self.commit([(order, created), *stock])
                self.orders.append(order)
            case ("add", index, sku, quantity) if index < len(self.orders):
                order = self.orders[index]
                changes = [(order, order.add_item(self.item(sku, quantity)))]
                changes.append((self.products[sku], self.products[sku].reserve(order_id=order.id, quantity=quantity)))
                self.commit(changes)
            case ("cancel" | "ship" as action, index) if index < len(self.orders):
                order = self.orders[index]
                changes = [(order, order.cancel(reason="", by="alice") if action == "cancel" else order.ship(by="s"))]
                for sku, quantity in order.quantities().items():
                    product = self.products[sku]
                    decide = product.release if action == "cancel" else product.ship
                    changes.append((product, decide(order_id=order.id, quantity=quantity)))
                self.commit(changes)


@settings(max_examples=200, deadline=None)
@given(st.lists(commands, min_size=5, max_size=40))
def test_any_command_sequence_keeps_invariants_and_replays(sequence: list[tuple]) -> None:
    shop = Shop()
    for command in sequence:
        with contextlib.suppress(DomainError):  # refused: nothing was committed for any stream
            shop.run(command)
    for product in shop.products.values():
        assert product.on_hand >= product.reserved >= 0
        pending = sum(o.quantities().get(product.id, 0) for o in shop.orders if o.status == "pending")
        assert product.reserved == pending
    for order in shop.orders:
        assert order.total == sum((line.unit_price * line.quantity for line in order.lines), Decimal("0"))
    for aggregate in [*shop.products.values(), *shop.orders]:
        replayed = type(aggregate).blank(aggregate.id)
        for event in shop.log[id(aggregate)]:
            replayed.apply(event)
        replayed.version = len(shop.log[id(aggregate)])
        assert vars(replayed) == vars(aggregate)
        rebuilt = type(aggregate).from_snapshot(aggregate.id, aggregate.snapshot_state(), aggregate.version)
        if isinstance(aggregate, Order) or aggregate.registered:
            assert vars(rebuilt) == vars(aggregate)
