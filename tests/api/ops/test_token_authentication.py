"""Token authentication: the token's user with every field as the ORM reads it, in one statement; bad keys are 401."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from config.authentication import TokenAuthentication
from tests.support.api import client_for

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_token_authenticates_as_its_user_with_every_field_as_the_orm_reads_it(customer_user) -> None:
    token = Token.objects.create(user=customer_user)
    expected_user = get_user_model().objects.get(pk=customer_user.pk)
    expected_token = Token.objects.get(key=token.key)
    with CaptureQueriesContext(connection) as queries:
        user, got = TokenAuthentication().authenticate_credentials(token.key)
    assert len(queries) == 1
    for field in get_user_model()._meta.concrete_fields:
        assert getattr(user, field.attname) == getattr(expected_user, field.attname), field.name
    assert (got.key, got.user_id, got.created) == (expected_token.key, expected_token.user_id, expected_token.created)
    assert got.created.tzinfo is not None
    assert got.user is user
    assert not user._state.adding and user._state.db == expected_user._state.db


def test_the_api_answers_as_the_tokens_user(customer_user, staff_user) -> None:
    assert client_for(customer_user).get("/api/orders/").status_code == 200
    assert client_for(staff_user).get("/api/projections/").status_code == 200
    assert client_for(customer_user).get("/api/projections/").status_code == 403


@pytest.mark.parametrize("key", ["0" * 40, "nope", "x" * 41, "ab\x00cd"])
def test_an_unknown_or_impossible_key_is_401(anon_client, key) -> None:
    with pytest.raises(AuthenticationFailed, match="Invalid token"):
        TokenAuthentication().authenticate_credentials(key)
    anon_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = anon_client.get("/api/orders/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_an_inactive_users_token_is_401(customer_user) -> None:
    client = client_for(customer_user)
    customer_user.is_active = False
    customer_user.save(update_fields=["is_active"])
    response = client.get("/api/orders/")
    assert response.status_code == 401
    assert "inactive" in response.json()["detail"]
