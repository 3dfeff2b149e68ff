"""Every route: its name reverses to it, and `Allow` and OPTIONS name exactly the methods that answer.

The write and read apps share some paths (config/api_router.py merges them), so a
merged route must keep the names of both parts and announce the methods of both.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

pytestmark = pytest.mark.django_db(databases="__all__")  # the read model may live in its own database

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
SAMPLES: dict[str, Any] = {"UUIDConverter": uuid.UUID(int=1), "IntConverter": 1}
"""A value for each path converter; any other converter (str, slug, path) takes "sample"."""
SKIPPED_NAMESPACES = ("admin",)
"""Django's own admin routes, covered by Django's tests and the admin tests, with regex routes of their own."""


def routes(
    resolver: URLResolver | None = None, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str | None, str, URLPattern]]:
    """(full name, route, pattern) for every pattern of the project, walking includes."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from routes(entry, prefix + str(entry.pattern), ns)
        else:
            yield (f"{namespace}{entry.name}" if entry.name else None), prefix + str(entry.pattern), entry


def sample_kwargs(pattern: URLPattern) -> dict[str, Any]:
    converters = getattr(pattern.pattern, "converters", {})
    return {name: SAMPLES.get(type(converter).__name__, "sample") for name, converter in converters.items()}


def named_routes() -> list[tuple[str, str, URLPattern]]:
    return [
        (name, route, pattern)
        for name, route, pattern in routes()
        if name is not None and not name.startswith(tuple(f"{ns}:" for ns in SKIPPED_NAMESPACES))
    ]


def api_urls() -> list[str]:
    """One URL per distinct /api/ route (a merged route appears once per name)."""
    urls = {reverse(name, kwargs=sample_kwargs(pattern)) for name, route, pattern in named_routes()}
    return sorted(url for url in urls if url.startswith("/api/"))


def test_every_named_route_reverses_to_a_url_that_resolves_to_its_view() -> None:
    found = named_routes()
    assert len(found) > 20
    for name, route, pattern in found:
        url = reverse(name, kwargs=sample_kwargs(pattern))
        assert resolve(url).func is pattern.callback, (name, route, url)


def test_the_names_of_both_parts_of_a_merged_route_reverse() -> None:
    assert reverse("order-list") == reverse("order-create") == "/api/orders/"
    assert reverse("product-list") == reverse("product-register") == "/api/products/"
    order = uuid.uuid4()
    assert reverse("order-detail", args=[order]) == reverse("order-delete", args=[order]) == f"/api/orders/{order}/"


def test_a_get_on_a_merged_route_announces_the_command_too(staff_client) -> None:
    response = staff_client.get("/api/orders/")
    assert response.status_code == 200
    assert response["Allow"] == "GET, POST, HEAD, OPTIONS"
    assert staff_client.options("/api/products/")["Allow"] == "GET, POST, HEAD, OPTIONS"
    refused = staff_client.put("/api/orders/", {}, format="json")
    assert refused.status_code == 405 and refused["Allow"] == "GET, POST, HEAD, OPTIONS"
    assert refused.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize("url", api_urls())
def test_allow_and_options_name_exactly_the_methods_that_answer(staff_client, url: str) -> None:
    options = staff_client.options(url)
    assert options.status_code == 200, url
    allow = {m.strip() for m in options["Allow"].split(",")}
    answering = set()
    for method in METHODS:
        response = staff_client.generic(method, url, "{}", content_type="application/json")
        if response.status_code != 405:
            answering.add(method)
        if response.has_header("Allow"):  # DRF sends it on every answer, Django on 405 and OPTIONS
            assert {m.strip() for m in response["Allow"].split(",")} == allow, (method, url)
    assert answering == allow, url
