"""The API root at /api/, and session login for the browsable API (API.md: "session auth works too")."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db(databases="__all__")  # the read model may live in its own database


def test_the_api_root_lists_the_entry_points_to_anyone(anon_client) -> None:
    response = anon_client.get("/api/")
    assert response.status_code == 200
    links = response.json()
    assert links["products"] == "http://testserver/api/products/"
    assert links["login"] == "http://testserver/api/auth/login/"
    for url in links.values():
        assert anon_client.get(url).status_code in (200, 401, 405)  # every link leads somewhere real


def test_a_customer_logs_in_with_a_session_and_uses_the_browsable_api(customer_user) -> None:
    customer_user.set_password("s3cret-pass")
    customer_user.save()
    browser = Client(enforce_csrf_checks=True)
    form = browser.get("/api/auth/login/")
    assert form.status_code == 200
    token = form.cookies["csrftoken"].value
    assert browser.get("/api/orders/", HTTP_ACCEPT="application/json").status_code == 401

    login = browser.post(
        "/api/auth/login/", {"username": "alice", "password": "s3cret-pass", "csrfmiddlewaretoken": token}
    )
    assert login.status_code == 302 and login["Location"] == "/api/"
    page = browser.get("/api/orders/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and b"alice" in page.content  # the browsable API, signed in
    assert browser.get("/api/orders/", HTTP_ACCEPT="application/json").json()["count"] == 0


def test_a_wrong_password_does_not_log_in() -> None:
    browser = Client()
    response = browser.post("/api/auth/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200  # the form again, with its error
    assert browser.get("/api/orders/", HTTP_ACCEPT="application/json").status_code == 401
