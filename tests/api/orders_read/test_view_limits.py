"""At the write side's limits (orders_write/limits.py) the views keep up; one step past, the command is refused.

A maximal order (MAX_LINES lines of MAX_QUANTITY units at MAX_PRICE), a product
filled to MAX_STOCK, and a day whose sales exceed anything one order can reach:
every projection stays active and answers the exact figures, on SQLite and on
PostgreSQL (whose numeric and integer columns refuse what they cannot hold).
"""

from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from eventstore.log.append import ANY, StreamWrite, append
from orders_write.events import StockReceived
from orders_write.limits import (
    MAX_LINE_TOTAL,
    MAX_LINES,
    MAX_ORDER_TOTAL,
    MAX_ORDER_UNITS,
    MAX_PRICE,
    MAX_QUANTITY,
    MAX_RECEIVE,
    MAX_STOCK,
)
from tests.integration.orders_read.support import LogWriter
from tests.support.api import assert_refused, event_count, place, register

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("eager_tasks"),
]

PRICE = f"{MAX_PRICE:.2f}"


def money(value: Any) -> str:
    return f"{value:.2f}"


def assert_projections_active(staff: APIClient) -> None:
    rows = staff.get("/api/projections/").json()["results"]
    assert {(r["name"], r["status"], r["last_error"]) for r in rows} == {
        (name, "active", "") for name in ("catalogue", "daily_sales", "order_summary")
    }


def test_a_maximal_order_is_projected_exactly_and_its_order_takes_no_more_lines(
    staff_client: APIClient, customer_client: APIClient
) -> None:
    register(staff_client, "max", price=PRICE, stock=MAX_RECEIVE)
    order = place(customer_client, *[("max", MAX_QUANTITY)] * MAX_LINES).json()

    view = customer_client.get(f"/api/orders/{order['id']}/").json()
    assert (view["total_amount"], view["item_count"]) == (money(MAX_ORDER_TOTAL), MAX_ORDER_UNITS)
    assert {(line["unit_price"], line["line_total"]) for line in view["items"]} == {(PRICE, money(MAX_LINE_TOTAL))}
    day = staff_client.get("/api/analytics/sales/").json()["results"][0]
    assert (day["orders"], day["units"], day["revenue"]) == (1, MAX_ORDER_UNITS, money(MAX_ORDER_TOTAL))
    assert_projections_active(staff_client)

    assert staff_client.post("/api/products/max/stock/", {"quantity": 1}, format="json").status_code == 200
    before = event_count()
    refused = customer_client.post(
        f"/api/orders/{order['id']}/items/", {"product_id": "max", "quantity": 1}, format="json"
    )
    assert_refused(refused, 422, "too_many_lines", before)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/orders/", {"items": [{"product_id": "max", "quantity": 1}] * (MAX_LINES + 1)}),
        ("/api/orders/", {"items": [{"product_id": "max", "quantity": MAX_QUANTITY + 1}]}),
        ("/api/products/", {"sku": "dear", "name": "Dear", "price": f"{MAX_PRICE + 1:.2f}"}),
        ("/api/products/", {"sku": "many", "name": "Many", "price": "1.00", "initial_stock": MAX_RECEIVE + 1}),
        ("/api/products/max/stock/", {"quantity": MAX_RECEIVE + 1}),
        ("/api/products/max/price/", {"price": f"{MAX_PRICE + 1:.2f}"}),
    ],
)
def test_one_command_past_a_bound_is_a_400(staff_client: APIClient, path: str, body: dict[str, Any]) -> None:
    register(staff_client, "max", price=PRICE, stock=MAX_RECEIVE)
    if path == "/api/orders/":
        body = {**body, "shipping_address": {"city": "Lyon"}}
    before = event_count()
    assert_refused(staff_client.post(path, body, format="json"), 400, None, before)


def test_stock_received_up_to_the_limit_is_projected_and_one_more_unit_is_refused(staff_client: APIClient) -> None:
    register(staff_client, "bulk", stock=MAX_RECEIVE)
    # Receipts a staff member could have sent, one per event, appended at once to keep the test quick.
    receipts = MAX_STOCK // MAX_RECEIVE - 2
    append(StreamWrite("Product-bulk", ANY, [StockReceived(product_id="bulk", quantity=MAX_RECEIVE)] * receipts))
    last = staff_client.post("/api/products/bulk/stock/", {"quantity": MAX_RECEIVE}, format="json")
    assert last.status_code == 200, last.content

    view = staff_client.get("/api/products/bulk/").json()
    assert (view["on_hand"], view["available"], view["reserved"]) == (MAX_STOCK, MAX_STOCK, 0)
    assert_projections_active(staff_client)
    before = event_count()
    refused = staff_client.post("/api/products/bulk/stock/", {"quantity": 1}, format="json")
    assert_refused(refused, 422, "stock_limit_exceeded", before)


@pytest.mark.slow
def test_a_days_sales_beyond_any_one_order_are_summed_exactly(staff_client: APIClient) -> None:
    """MAX_LINES + 1 maximal orders: more revenue in a day than fourteen integer digits hold."""
    log = LogWriter()
    log.product("max", price=PRICE, stock=MAX_RECEIVE)
    append(StreamWrite("Product-max", ANY, [StockReceived(product_id="max", quantity=MAX_RECEIVE)] * MAX_LINES))
    orders = MAX_LINES + 1
    for _ in range(orders):
        log.order("alice", [("max", MAX_QUANTITY)] * MAX_LINES)

    days = staff_client.get("/api/analytics/sales/").json()["results"]  # summed: the run may cross midnight UTC
    assert sum(d["orders"] for d in days) == orders
    assert sum(d["units"] for d in days) == orders * MAX_ORDER_UNITS
    assert sum(Decimal(d["revenue"]) for d in days) == orders * MAX_ORDER_TOTAL
    assert_projections_active(staff_client)
