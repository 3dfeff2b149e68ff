"""The schema is written for clients: a summary and description per operation, examples, every error.

The error examples are checked against the answers the API really gives for the same
requests, so a client coding against the documented bodies gets exactly those.
"""

import json
import re
from typing import Any

import pytest
from django.test import Client
from rest_framework.exceptions import Throttled
from rest_framework.test import APIClient

from config.exception_handler import UNAVAILABLE_BODY
from tests.support.api import ADDRESS, register

pytestmark = pytest.mark.django_db(databases="__all__")

METHODS = ("get", "post", "put", "patch", "delete")
ERRORS = {  # (method, path) -> the error statuses each can give
    ("post", "/api/auth/token/"): {400, 413, 429, 503},
    ("post", "/api/products/"): {400, 401, 403, 409, 413, 422, 429, 503},
    ("post", "/api/products/{sku}/stock/"): {400, 401, 403, 404, 409, 412, 413, 422, 429, 503},
    ("post", "/api/products/{sku}/price/"): {400, 401, 403, 404, 409, 412, 413, 422, 429, 503},
    ("post", "/api/orders/"): {400, 401, 409, 413, 422, 429, 503},
    ("post", "/api/orders/{order_id}/items/"): {400, 401, 404, 409, 412, 413, 422, 429, 503},
    ("post", "/api/orders/{order_id}/cancel/"): {400, 401, 404, 409, 412, 413, 422, 429, 503},
    ("delete", "/api/orders/{order_id}/"): {400, 401, 404, 409, 412, 413, 422, 429, 503},
    ("post", "/api/orders/{order_id}/ship/"): {400, 401, 403, 404, 409, 412, 413, 422, 429, 503},
    ("get", "/api/products/"): {400, 404, 429, 503},
    ("get", "/api/products/{sku}/"): {400, 404, 429, 503},
    ("get", "/api/orders/"): {400, 401, 404, 429, 503},
    ("get", "/api/orders/search/"): {400, 401, 404, 429, 503},
    ("get", "/api/orders/{order_id}/"): {400, 401, 404, 429, 503},
    ("get", "/api/orders/{order_id}/history/"): {400, 401, 404, 429, 503},
    ("get", "/api/customers/{customer_id}/orders/"): {400, 401, 404, 429, 503},
    ("get", "/api/analytics/sales/"): {400, 401, 403, 404, 429, 503},
    ("get", "/api/projections/"): {400, 401, 403, 404, 429, 503},
}
INTERNAL = re.compile(
    r"\.py\b|\bissue\b|API\.md|DESIGN|\bbus\b|orders_(read|write)|eventstore|docstring|TODO|config/|"
    r"Shared plumbing|InputSerializer|\bdispatch\b",
    re.IGNORECASE,
)
SKU, ORDER_ID = "MUG-001", "3f2c8a8e-5b1d-4c7a-9e0f-2a6b7c8d9e10"  # the ids the examples use


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [(m, p, op) for p, ops in schema["paths"].items() for m, op in ops.items() if m in METHODS]


def examples(response: dict) -> list[Any]:
    return [e["value"] for e in response.get("content", {}).get("application/json", {}).get("examples", {}).values()]


def documented(schema: dict, method: str, path: str, status: int, code: str | None = None) -> list[Any]:
    """The example bodies of one error response, those with `code` (field errors when None)."""
    found = examples(schema["paths"][path][method]["responses"][str(status)])
    return [e for e in found if isinstance(e, dict) and e.get("code") == code]


def test_every_operation_has_its_own_summary_and_a_description(schema) -> None:
    summaries = [op.get("summary") for _, _, op in operations(schema)]
    assert all(summaries) and len(set(summaries)) == len(summaries), summaries
    for method, path, op in operations(schema):
        assert len(op.get("description", "")) > 40, (method, path)


def test_every_operation_documents_exactly_the_errors_it_can_give_each_with_examples(schema) -> None:
    assert {(m, p) for m, p, _ in operations(schema)} == set(ERRORS)
    for method, path, op in operations(schema):
        statuses = {int(s) for s in op["responses"] if not s.startswith("2")}
        assert statuses == ERRORS[(method, path)], (method, path)
        for status in statuses:
            assert examples(op["responses"][str(status)]), (method, path, status)
        for status in statuses & {429, 503}:
            assert "Retry-After" in op["responses"][str(status)]["headers"], (method, path, status)


def test_every_command_has_a_request_and_an_answer_example(schema) -> None:
    for method, path, op in operations(schema):
        if method == "get":
            continue
        if method == "delete":  # a DELETE body is optional for clients: the reason has its own parameter
            reason = next(p for p in op["parameters"] if p["name"] == "reason")
            assert reason["in"] == "query" and reason.get("examples"), (method, path)
        else:
            assert op["requestBody"]["content"]["application/json"].get("examples"), (method, path)
        success = next(r for s, r in op["responses"].items() if s.startswith("2"))
        assert examples(success), (method, path)


def test_error_examples_have_the_documented_shape(schema) -> None:
    for method, path, op in operations(schema):
        for status, response in op["responses"].items():
            for body in examples(response) if not status.startswith("2") else []:
                if "code" not in body:  # field errors: a 400 only, each field with its messages
                    assert status == "400", (method, path, body)
                    assert all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in body.values())
                    continue
                assert isinstance(body["detail"], str) and isinstance(body["code"], str), (method, path, body)
                if status == "412":
                    assert body["code"] == "version_mismatch"
                    assert isinstance(body["expected"], int) and isinstance(body["actual"], int)


def test_no_description_speaks_of_the_implementation(schema) -> None:
    texts: list[tuple[str, str]] = []

    def collect(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("description", "summary", "title") and isinstance(value, str):
                    texts.append((where, value))
                elif key not in ("examples", "example", "value"):
                    collect(value, f"{where}/{key}")
        elif isinstance(node, list):
            for item in node:
                collect(item, where)

    collect(schema, "")
    assert len(texts) > 100
    assert "api.example.org" not in json.dumps(schema)  # drf-spectacular's placeholder links
    leaks = [(where, text) for where, text in texts if INTERNAL.search(text)]
    assert not leaks, leaks


def test_the_answers_nobody_can_trigger_here_are_built_the_way_the_api_builds_them(schema) -> None:
    assert documented(schema, "post", "/api/orders/", 503, "service_unavailable") == [UNAVAILABLE_BODY]
    throttled = Throttled(wait=30)
    assert documented(schema, "get", "/api/orders/", 429, "throttled") == [
        {"detail": str(throttled.detail), "code": throttled.default_code}
    ]


def test_the_documented_command_errors_are_the_answers(staff_client, customer_client, anon_client) -> None:
    def same(response: Any, method: str, path: str, code: str | None = None) -> None:
        body = response.json()
        assert body in (documented(schema_, method, path, response.status_code, code) or [None]), body

    schema_ = Client().get("/api/schema/", {"format": "json"}).json()
    products, stock = "/api/products/", "/api/products/{sku}/stock/"
    same(anon_client.post(products, {}, format="json"), "post", products, "not_authenticated")
    same(customer_client.post(products, {}, format="json"), "post", products, "permission_denied")
    same(staff_client.post(f"/api/products/{SKU}/stock/", {"quantity": 1}, format="json"), "post", stock, "not_found")
    register(staff_client, SKU, stock=1)  # version 2
    same(staff_client.post(products, {"sku": SKU, "name": "Mug", "price": "1.00"}, format="json"), "post", products,
         "already_exists")  # fmt: skip
    for _ in range(2):
        staff_client.post(f"/api/products/{SKU}/stock/", {"quantity": 1}, format="json")  # version 4, 3 on hand
    late = staff_client.post(f"/api/products/{SKU}/stock/", {"quantity": 1}, format="json", HTTP_IF_MATCH='"3"')
    same(late, "post", stock, "version_mismatch")
    bad_tag = staff_client.post(f"/api/products/{SKU}/stock/", {"quantity": 1}, format="json", HTTP_IF_MATCH="x")
    same(bad_tag, "post", stock, "invalid_if_match")

    orders, items = "/api/orders/", "/api/orders/{order_id}/items/"

    def place(body: dict, **headers: str) -> Any:
        return customer_client.post(orders, {"shipping_address": ADDRESS, **body}, format="json", **headers)

    same(place({"items": [{"product_id": SKU, "quantity": 5}]}), "post", orders, "insufficient_stock")
    same(place({"items": [{"product_id": "MUG-404", "quantity": 1}]}), "post", orders, "unknown_product")
    same(place({"customer_id": "bob", "items": [{"product_id": SKU, "quantity": 1}]}), "post", orders,
         "customer_mismatch")  # fmt: skip
    same(place({"items": []}), "post", orders)
    same(place({"items": [{"product_id": SKU, "quantity": 1}]}, HTTP_IDEMPOTENCY_KEY=""), "post", orders,
         "invalid_idempotency_key")  # fmt: skip
    assert place({"items": [{"product_id": SKU, "quantity": 1}]}, HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    same(place({"items": [{"product_id": SKU, "quantity": 2}]}, HTTP_IDEMPOTENCY_KEY="k"), "post", orders,
         "idempotency_key_reused")  # fmt: skip
    same(customer_client.generic("POST", orders, b"{bad", content_type="application/json"), "post", orders,
         "parse_error")  # fmt: skip
    too_large = customer_client.generic("POST", orders, b"[" + b" " * (1024 * 1024) + b"]", "application/json")
    same(too_large, "post", orders, "request_too_large")
    chunked = customer_client.generic("POST", orders, b"", "application/json", HTTP_TRANSFER_ENCODING="chunked")
    same(chunked, "post", orders, "length_required")
    same(customer_client.post(f"/api/orders/{ORDER_ID}/items/", {"product_id": SKU, "quantity": 1}, format="json"),
         "post", items, "not_found")  # fmt: skip
    mine = place({"items": [{"product_id": SKU, "quantity": 1}]}).json()["id"]
    same(customer_client.post(f"/api/orders/{mine}/ship/", {}, format="json"), "post",
         "/api/orders/{order_id}/ship/", "permission_denied")  # fmt: skip


def test_the_documented_query_errors_are_the_answers(staff_client, customer_client, anon_client) -> None:
    schema_ = Client().get("/api/schema/", {"format": "json"}).json()

    def same(client: APIClient, url: str, path: str, code: str | None = None, **headers: str) -> None:
        response = client.get(url, **headers)
        body = response.json()
        assert body in (documented(schema_, "get", path, response.status_code, code) or [None]), body

    detail = "/api/orders/{order_id}/"
    same(customer_client, f"/api/orders/{ORDER_ID}/", detail, "not_found")
    same(anon_client, f"/api/orders/{ORDER_ID}/", detail, "not_authenticated")
    same(customer_client, f"/api/orders/{ORDER_ID}/?as_of_version=x", detail, "invalid_as_of")
    same(customer_client, "/api/orders/", "/api/orders/", "invalid_consistency_token", HTTP_X_CONSISTENCY_TOKEN="abc")
    same(
        customer_client, "/api/orders/", "/api/orders/", "invalid_consistency_timeout", HTTP_X_CONSISTENCY_TIMEOUT="99"
    )
    same(customer_client, "/api/orders/?ordering=foo", "/api/orders/")
    same(customer_client, "/api/orders/search/?sort_by=foo", "/api/orders/search/")
    same(customer_client, "/api/customers/bob/orders/", "/api/customers/{customer_id}/orders/", "not_found")
    same(anon_client, "/api/products/?in_stock=maybe", "/api/products/")
    same(anon_client, "/api/products/nope/", "/api/products/{sku}/", "not_found")
    same(customer_client, "/api/analytics/sales/", "/api/analytics/sales/", "permission_denied")
    same(staff_client, "/api/analytics/sales/?date_from=x", "/api/analytics/sales/")
    login = anon_client.post("/api/auth/token/", {"username": "nobody", "password": "wrong"}, format="json")
    assert login.json() in documented(schema_, "post", "/api/auth/token/", 400)


def test_the_history_is_documented_as_the_plain_list_it_is(schema, staff_client) -> None:
    ok = schema["paths"]["/api/orders/{order_id}/history/"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"type": "array", "items": {"$ref": "#/components/schemas/HistoryEvent"}}
    assert all(isinstance(example["value"], list) for example in ok["examples"].values())
    assert "PaginatedHistoryEventList" not in schema["components"]["schemas"]
    register(staff_client, SKU)
    body = {"items": [{"product_id": SKU, "quantity": 1}], "shipping_address": ADDRESS}
    order = staff_client.post("/api/orders/", body, format="json").json()["id"]
    history = staff_client.get(f"/api/orders/{order}/history/").json()
    assert isinstance(history, list) and set(history[0]) == set(ok["examples"]["TheFirstEvent"]["value"][0])


QUERY_PARAMETERS = {  # API.md's query parameters of each list
    "/api/orders/": {"customer_id", "status", "ordering", "page", "page_size"},
    "/api/orders/search/": {"q", "status", "customer_id", "created_from", "created_to", "sort_by", "sort_order"},
    "/api/customers/{customer_id}/orders/": {"status", "page", "page_size"},
    "/api/products/": {"search", "in_stock", "ordering", "page", "page_size"},
    "/api/analytics/sales/": {"date_from", "date_to"},
}


def test_every_query_parameter_is_documented_with_a_description_or_its_choices(schema) -> None:
    for path, names in QUERY_PARAMETERS.items():
        parameters = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"] if p["in"] == "query"}
        assert names | {"page", "page_size"} <= set(parameters), path
        for name in names:
            assert parameters[name].get("description") or parameters[name]["schema"].get("enum"), (path, name)
