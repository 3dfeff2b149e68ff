"""`manage.py seed_demo` fills the shop through the bus, and `--if-empty` leaves a filled shop alone.

Its logins are well known, so it runs only with DEBUG on or `--demo-logins`.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from eventstore.aggregates.loading import load
from eventstore.models import Event
from orders_write.aggregates import Product

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]


def test_seed_demo_builds_users_products_and_orders_as_events() -> None:
    call_command("seed_demo", products=4, orders=6, demo_logins=True)
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser and admin.check_password("admin")
    assert get_user_model().objects.filter(username="demo", is_staff=False).exists()
    registered = list(Event.objects.filter(event_type="ProductRegistered"))
    assert len(registered) == 4
    assert Event.objects.filter(event_type="OrderCreated").count() == 6
    assert all(e.metadata["correlation_id"] == "seed_demo" for e in Event.objects.all())
    for event in registered:
        product = load(Product, event.data["product_id"])
        assert product.on_hand >= product.reserved >= 0

    before = Event.objects.count()
    call_command("seed_demo", if_empty=True, demo_logins=True)
    assert Event.objects.count() == before


def test_seed_demo_refuses_with_debug_off_and_no_demo_logins_flag() -> None:
    with pytest.raises(CommandError, match="--demo-logins"):
        call_command("seed_demo", products=1, orders=1)
    assert not get_user_model().objects.filter(username__in=["admin", "demo"]).exists()
    assert not Event.objects.exists()


def test_seed_demo_runs_with_debug_on() -> None:
    with override_settings(DEBUG=True):
        call_command("seed_demo", products=1, orders=1)
    assert get_user_model().objects.get(username="admin").check_password("admin")
    assert {f"customer{i}" for i in range(1, 6)} <= set(get_user_model().objects.values_list("username", flat=True))


def test_manage_py_seed_demo_exits_non_zero_without_debug() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_DEBUG"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    done = subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "--products", "0", "--orders", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "DJANGO_DEBUG" in done.stderr and "--demo-logins" in done.stderr
