"""The admin hides API token keys, and only holders of `operate_projections` may change projections."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.authtoken.models import Token

from eventstore.log.append import NO_STREAM, StreamWrite, append
from eventstore.models import ProjectionState
from eventstore.projections.runner import catch_up
from eventstore.routers import read_db_alias
from orders_write.events import ProductRegistered
from tests.integration.ops.counting import NAME, POISON, add_products, wait_until_readable

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

TOKENS = "/admin/authtoken/tokenproxy/"
PROJECTIONS = "/admin/eventstore/projectionstate/"


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _staff(username: str, *perms: str):
    user = get_user_model().objects.create_user(username, password="x-unused-9f2k", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return get_user_model().objects.get(pk=user.pk)  # fresh: no cached permissions


def _failed_projection() -> None:
    add_products(1)
    append(
        StreamWrite(
            "Product-bad",
            NO_STREAM,
            [
                ProductRegistered(product_id="bad", name=POISON, description="", price=Decimal("1.00")),
            ],
        )
    )
    wait_until_readable()
    catch_up(NAME)
    assert _status() == "failed"


def _status() -> str:
    return ProjectionState.objects.using(read_db_alias()).get(name=NAME).status


def test_token_admin_lists_only_a_prefix_of_each_key_and_has_no_page_showing_one() -> None:
    root = get_user_model().objects.create_superuser("root", "root@example.com", "root-pass-123")
    alice = get_user_model().objects.create_user("alice", password="alice-pass-123")
    token = Token.objects.create(user=alice)
    client = _client_for(root)
    listing = client.get(TOKENS)
    assert listing.status_code == 200
    html = listing.content.decode()
    assert f"{token.key[:4]}…" in html and "alice" in html
    assert token.key not in html
    for page in (
        f"{TOKENS}{alice.pk}/change/",
        f"{TOKENS}{alice.pk}/history/",
        f"{TOKENS}{alice.pk}/delete/",
        f"{TOKENS}add/",
    ):
        response = client.get(page)
        assert response.status_code in (403, 404), page
        assert token.key.encode() not in response.content
    assert client.post(f"{TOKENS}{alice.pk}/delete/", {"post": "yes"}).status_code in (403, 404)
    assert Token.objects.filter(key=token.key).exists()


def test_staff_with_only_view_permission_sees_projections_but_cannot_run_their_actions(counting_projection) -> None:
    _failed_projection()
    viewer = _client_for(_staff("viewer", "eventstore.view_projectionstate"))
    page = viewer.get(PROJECTIONS)
    assert page.status_code == 200 and NAME in page.content.decode()
    html = page.content.decode()
    for action in ("resume", "skip_failed_event", "start_rebuild"):
        assert f'value="{action}"' not in html
    for action in ("resume", "skip_failed_event", "start_rebuild"):
        viewer.post(PROJECTIONS, {"action": action, "_selected_action": [NAME], "index": "0"}, follow=True)
        assert _status() == "failed", action  # the forged POST changed nothing


def test_staff_with_the_operate_permission_can_resume(counting_projection) -> None:
    _failed_projection()
    operator = _client_for(_staff("operator", "eventstore.view_projectionstate", "orders_write.operate_projections"))
    html = operator.get(PROJECTIONS).content.decode()
    assert 'value="resume"' in html and 'value="start_rebuild"' in html
    response = operator.post(PROJECTIONS, {"action": "resume", "_selected_action": [NAME], "index": "0"}, follow=True)
    assert f"Resumed {NAME}" in response.content.decode()
    assert _status() == "active"
