"""Time travel folds what the projection applied: as of every version, every column equals the live row.

Random histories go through the command bus with no projection running; then the order
summary and the catalogue are advanced one event at a time and, after each event, the
live row of that event's stream is recorded. So every version is checked, also those in
the middle of one command (an order's creation and its lines, a product's registration
and its first stock), and every column of the table, not only those the API shows
(`cancelled_by`, `search_text`, `order_key`).
"""

import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstore.log.append import read_all
from eventstore.projections import runner
from eventstore.projections.base import get_projection
from orders_read.bus import Viewer, ask
from orders_read.models import OrderSummary, ProductView
from orders_read.queries import GetOrderAsOf, GetProductAsOf
from orders_write.bus import dispatch
from orders_write.commands import (
    AddOrderItem,
    CancelOrder,
    ChangePrice,
    CreateOrder,
    Metadata,
    OrderLine,
    ReceiveStock,
    RegisterProduct,
    ShipOrder,
)
from orders_write.errors import DomainError
from tests.integration.orders_read.support import catch_up_all, wait_readable

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("manual_projections"),
]

STAFF = Metadata(user="staff", is_staff=True)
STEPPED = ("order_summary", "catalogue")

quantities = st.integers(min_value=1, max_value=4)
products = st.integers(min_value=0, max_value=2)
orders = st.integers(min_value=0, max_value=4)
commands = st.lists(
    st.one_of(
        st.tuples(st.just("receive"), products, quantities),
        st.tuples(st.just("price"), products, st.integers(min_value=1, max_value=99999)),
        st.tuples(st.just("create"), st.lists(st.tuples(products, quantities), min_size=1, max_size=4)),
        st.tuples(st.just("add"), orders, products, quantities),
        st.tuples(st.just("cancel"), orders, st.sampled_from(["", "late", "tab\there, comma"])),
        st.tuples(st.just("ship"), orders),
    ),
    min_size=1,
    max_size=20,
)


def run(program: list[tuple], stock: list[int]) -> None:
    skus = [f"F{uuid.uuid4().hex[:10]}" for _ in stock]
    for sku, initial in zip(skus, stock, strict=True):
        dispatch(
            RegisterProduct(metadata=STAFF, sku=sku, name=f"Name {sku}", price=Decimal("1.25"), initial_stock=initial)
        )
    placed: list[str] = []
    for step in program:
        try:
            match step:
                case ("receive", p, quantity):
                    dispatch(ReceiveStock(metadata=STAFF, sku=skus[p], quantity=quantity))
                case ("price", p, cents):
                    dispatch(ChangePrice(metadata=STAFF, sku=skus[p], price=Decimal(cents) / 100))
                case ("create", lines):
                    command = CreateOrder(
                        metadata=STAFF,
                        customer_id="Cust",
                        items=tuple(OrderLine(product_id=skus[p], quantity=q) for p, q in lines),
                        shipping_address={"z": "1"},
                    )
                    dispatch(command)
                    placed.append(command.order_id)
                case ("add", o, p, quantity) if o < len(placed):
                    dispatch(AddOrderItem(metadata=STAFF, order_id=placed[o], product_id=skus[p], quantity=quantity))
                case ("cancel", o, reason) if o < len(placed):
                    dispatch(CancelOrder(metadata=STAFF, order_id=placed[o], reason=reason))
                case ("ship", o) if o < len(placed):
                    dispatch(ShipOrder(metadata=STAFF, order_id=placed[o]))
        except DomainError:
            pass


def columns(instance: Any) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def live_row(event: Any) -> dict[str, Any] | None:
    if event.stream_type == "Order":
        return columns(OrderSummary.objects.get(order_id=event.data["order_id"]))
    if event.stream_type == "Product":
        return columns(ProductView.objects.get(product_id=event.data["product_id"]))
    return None


def as_of(event: Any) -> dict[str, Any]:
    staff = Viewer("staff", is_staff=True)
    if event.stream_type == "Order":
        return columns(
            ask(GetOrderAsOf(order_id=uuid.UUID(event.data["order_id"]), version=event.version), viewer=staff).result
        )
    return columns(ask(GetProductAsOf(sku=event.data["product_id"], version=event.version), viewer=staff).result)


def step_and_record() -> dict[tuple[str, int], tuple[Any, dict[str, Any]]]:
    """Advance the stepped projections one event at a time; the live row of each event's stream after it."""
    wait_readable()
    start = get_projection("order_summary")
    after = runner.ensure_state(start).checkpoint
    assert runner.ensure_state(get_projection("catalogue")).checkpoint == after
    recorded: dict[tuple[str, int], tuple[Any, dict[str, Any]]] = {}
    for event in read_all(after, 100_000):
        for name in STEPPED:
            assert runner.advance(get_projection(name), 1) == 1
        row = live_row(event)
        if row is not None:
            recorded[(event.stream_id, event.version)] = (event, row)
    catch_up_all()  # daily_sales, which is not stepped
    return recorded


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=commands, stock=st.lists(st.integers(0, 8), min_size=3, max_size=3))
def test_every_version_as_of_equals_the_live_row_right_after_that_event(program: list[tuple], stock: list[int]) -> None:
    catch_up_all()
    run(program, stock)
    recorded = step_and_record()
    assert recorded
    for event, row in recorded.values():
        assert as_of(event) == row, (event.stream_id, event.version)
