"""`manage.py seed_demo` fills the shop through the bus, and `--if-empty` leaves a filled shop alone."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from eventstore.models import Event
from eventstore.snapshots import load
from orders_write.aggregates import Product

pytestmark = pytest.mark.django_db(transaction=True)


def test_seed_demo_builds_users_products_and_orders_as_events() -> None:
    call_command("seed_demo", products=4, orders=6)
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
    call_command("seed_demo", if_empty=True)
    assert Event.objects.count() == before
