"""The OpenAPI schema documents every endpoint, the error shapes and the protocol headers; docs need no CDN."""

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

ROUTES = {  # API.md and the binding route list: path -> methods
    "/api/auth/token/": {"post"},
    "/api/products/": {"get", "post"},
    "/api/products/{sku}/": {"get"},
    "/api/products/{sku}/stock/": {"post"},
    "/api/products/{sku}/price/": {"post"},
    "/api/orders/": {"get", "post"},
    "/api/orders/search/": {"get"},
    "/api/orders/{order_id}/": {"get", "delete"},
    "/api/orders/{order_id}/items/": {"post"},
    "/api/orders/{order_id}/cancel/": {"post"},
    "/api/orders/{order_id}/ship/": {"post"},
    "/api/orders/{order_id}/history/": {"get"},
    "/api/customers/{customer_id}/orders/": {"get"},
    "/api/analytics/sales/": {"get"},
    "/api/projections/": {"get"},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _header_params(operation: dict) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}


def _success(operation: dict) -> dict:
    return next(r for status, r in operation["responses"].items() if status.startswith("2"))


def test_schema_is_valid_openapi_3_with_every_endpoint(schema) -> None:
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # drf-spectacular's own JSON-schema check of OpenAPI 3
    documented = {path: set(ops) & {"get", "post", "delete", "put", "patch"} for path, ops in schema["paths"].items()}
    for path, methods in ROUTES.items():
        assert methods <= documented.get(path, set()), path


def test_error_shapes_are_components_used_by_the_operations(schema) -> None:
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail", "code"]
    mismatch = schema["components"]["schemas"]["VersionMismatch"]["allOf"][1]["properties"]
    assert {"expected", "actual"} <= set(mismatch)
    create = schema["paths"]["/api/orders/"]["post"]["responses"]
    assert {"400", "401", "409", "422"} <= set(create)
    assert create["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    cancel = schema["paths"]["/api/orders/{order_id}/cancel/"]["post"]["responses"]
    assert cancel["412"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/VersionMismatch"}
    assert "404" in cancel
    assert "404" in schema["paths"]["/api/orders/{order_id}/"]["get"]["responses"]


def test_commands_document_idempotency_if_match_etag_and_the_consistency_token(schema) -> None:
    for path, methods in ROUTES.items():
        for method in methods & {"post", "delete"}:
            if path.startswith("/api/auth/"):
                continue
            operation = schema["paths"][path][method]
            assert "Idempotency-Key" in _header_params(operation), (method, path)
            # If-Match applies to an existing stream, named in the path; a create has none to compare.
            assert ("If-Match" in _header_params(operation)) == ("{" in path), (method, path)
            assert {"ETag", "X-Consistency-Token"} <= set(_success(operation)["headers"]), (method, path)
    assert schema["components"]["headers"]["ETag"]["schema"] == {"type": "string"}


def test_queries_document_the_read_your_writes_headers(schema) -> None:
    for path, methods in ROUTES.items():
        if "get" not in methods:
            continue
        operation = schema["paths"][path]["get"]
        assert {"X-Consistency-Token", "X-Consistency-Timeout"} <= _header_params(operation), path
        assert {"X-Consistency", "Warning"} <= set(_success(operation)["headers"]), path
    assert "ETag" in _success(schema["paths"]["/api/orders/{order_id}/"]["get"])["headers"]
    assert "401" not in schema["paths"]["/api/products/"]["get"]["responses"]  # the catalogue is public
    assert "401" in schema["paths"]["/api/orders/"]["get"]["responses"]


def test_swagger_ui_is_served_from_the_sidecar_without_a_cdn(client) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


def test_whitenoise_serves_the_collected_docs_and_admin_assets_with_debug_off(tmp_path) -> None:
    with override_settings(STATIC_ROOT=tmp_path, DEBUG=False):
        call_command("collectstatic", "--noinput", verbosity=0)
        client = Client()  # a new handler: WhiteNoise indexes STATIC_ROOT when it starts
        for asset in ("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js", "admin/css/base.css"):
            response = client.get(f"/static/{asset}")
            assert response.status_code == 200, asset
            assert b"".join(response.streaming_content)
