"""Login throttling (API.md, Auth): N failures for one username from one address, then 429 + Retry-After.

Real cache (local memory embedded, Redis on CI's PostgreSQL run), real password checks;
each test uses its own username so counts never leak between tests.
"""

import uuid

import pytest
from django.contrib.auth.models import User
from django.test import Client

from config import login_throttle

pytestmark = pytest.mark.django_db


@pytest.fixture
def user() -> User:
    return User.objects.create_user(f"u-{uuid.uuid4().hex[:8]}", password="right-password-123")


def token(client: Client, username: str, password: str, address: str = "10.0.0.1") -> object:
    return client.post(
        "/api/auth/token/",
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=address,
    )


def test_the_eleventh_attempt_is_429_whatever_the_password_for_that_username_and_address_only(user) -> None:
    client = Client()
    for _ in range(10):
        assert token(client, user.username, "wrong").status_code == 400
    throttled = token(client, user.username, "right-password-123")
    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= 15 * 60
    assert throttled.json()["code"] == "throttled"
    assert token(client, user.username, "right-password-123", address="10.0.0.2").status_code == 200
    other = User.objects.create_user(f"o-{uuid.uuid4().hex[:8]}", password="right-password-123")
    assert token(client, other.username, "right-password-123").status_code == 200


def test_the_limit_and_the_window_are_settings_and_the_window_passes(user, settings, monkeypatch) -> None:
    settings.LOGIN_THROTTLE_FAILURES, settings.LOGIN_THROTTLE_WINDOW_SECONDS = 3, 60
    client, now = Client(), [1_000_000.0]
    monkeypatch.setattr(login_throttle.time, "time", lambda: now[0])
    for _ in range(3):
        assert token(client, user.username, "wrong").status_code == 400
    throttled = token(client, user.username, "right-password-123")
    assert (throttled.status_code, throttled["Retry-After"]) == (429, "60")
    now[0] += 45
    assert token(client, user.username, "right-password-123")["Retry-After"] == "15"
    now[0] += 16
    assert token(client, user.username, "right-password-123").status_code == 200


def test_the_admin_login_is_throttled_the_same_way(user, settings) -> None:
    settings.LOGIN_THROTTLE_FAILURES = 3
    user.is_staff = True
    user.save()
    client = Client()
    for _ in range(3):
        response = client.post(
            "/admin/login/", {"username": user.username, "password": "wrong"}, REMOTE_ADDR="10.1.1.1"
        )
        assert response.status_code == 200  # the form again, with its error
    response = client.post(
        "/admin/login/", {"username": user.username, "password": "right-password-123"}, REMOTE_ADDR="10.1.1.1"
    )
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
