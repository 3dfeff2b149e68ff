"""Paths the API does not have: a JSON 404 with DEBUG on or off, and no redirect that turns a command into a read."""

import pytest
from rest_framework.test import APIClient

from eventstore.log.positions import ORIGIN
from eventstore.log.read import count_after

pytestmark = pytest.mark.django_db(databases="__all__")

NOT_FOUND = {"detail": "Not found.", "code": "not_found"}


@pytest.fixture(params=[False, True], ids=["debug off", "debug on"])
def debug(request: pytest.FixtureRequest, settings) -> bool:
    settings.DEBUG = request.param
    return request.param


@pytest.mark.parametrize("path", ["/api/nope/", "/api/orders/not-a-uuid/", "/nowhere"])
def test_a_path_no_url_matches_is_the_json_404(debug: bool, anon_client: APIClient, path: str) -> None:
    response = anon_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/orders"), ("post", "/api/products/MUG-1/stock"), ("delete", "/api/orders"), ("put", "/api/orders")],
)
def test_a_command_without_its_trailing_slash_is_a_404_and_appends_nothing(
    debug: bool, customer_client: APIClient, method: str, path: str
) -> None:
    """A 301 would be followed as a GET: the client would get a list back as if its command had been taken."""
    before = count_after(ORIGIN)
    response = getattr(customer_client, method)(
        path, {"items": [{"product_id": "MUG-1", "quantity": 1}]}, format="json"
    )
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert count_after(ORIGIN) == before


def test_a_read_without_its_trailing_slash_is_still_redirected(debug: bool, anon_client: APIClient) -> None:
    response = anon_client.get("/api/products")
    assert response.status_code == 301
    assert response["Location"] == "/api/products/"


def test_a_views_own_404_is_its_own(debug: bool, anon_client: APIClient) -> None:
    response = anon_client.get("/api/products/NOPE/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such product.", "code": "not_found"}
