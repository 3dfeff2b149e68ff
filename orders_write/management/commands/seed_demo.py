"""`manage.py seed_demo`: a demo shop built through the command bus, never by inserting rows.

Creates the staff user admin/admin (superuser, for the Django admin) and customers
demo/demo and customer1/customer1 … customer5/customer5, registers products and places
orders (some cancelled, some shipped), all as commands, so the log, the snapshots and
every projection look like real use.

Those logins are well known, so the command refuses to run unless DJANGO_DEBUG is on
(`make run` sets it) or `--demo-logins` says so explicitly: a production database must
never get an admin/admin superuser by accident.
"""

import random
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from eventstore.models import Event
from orders_write.bus import dispatch
from orders_write.commands import CancelOrder, CreateOrder, Metadata, OrderLine, RegisterProduct, ShipOrder
from orders_write.errors import DomainError

WORDS = ("Mug", "Teapot", "Kettle", "Spoon", "Bowl", "Plate", "Glass", "Jar", "Tray", "Whisk", "Ladle", "Cup")
COLOURS = ("red", "blue", "green", "black", "white", "oak", "steel", "clay")
CITIES = ("Oslo", "Lyon", "Porto", "Graz", "Turku", "Gent")


class Command(BaseCommand):
    help = (
        "Fill a demo shop through the command bus (logins admin/admin, demo/demo, customer1..5; "
        "only with DJANGO_DEBUG on or --demo-logins)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--products", type=int, default=30)
        parser.add_argument("--orders", type=int, default=200)
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when the catalogue has products.")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--demo-logins",
            action="store_true",
            help="Create the well-known demo logins (admin/admin, demo/demo, customer1..5) even with DEBUG off.",
        )

    def handle(
        self, *args: Any, products: int, orders: int, if_empty: bool, seed: int, demo_logins: bool, **options: Any
    ) -> None:
        if not (settings.DEBUG or demo_logins):
            raise CommandError(
                "seed_demo creates well-known logins (admin/admin, a superuser; demo/demo; customer1..5) and "
                "refuses to with DEBUG off: set DJANGO_DEBUG=1 (as `make run` does) or pass --demo-logins "
                "if this really is a demo database."
            )
        if if_empty and Event.objects.filter(stream_type="Product").exists():
            self.stdout.write("Products exist already; nothing to do.")
            return
        rng = random.Random(seed)
        admin = _user("admin", staff=True)
        customers = [_user("demo"), *(_user(f"customer{i}") for i in range(1, 6))]
        staff = Metadata(user=admin.username, user_id=admin.pk, is_staff=True, correlation_id="seed_demo")
        skus = self._products(products, staff, rng)
        placed = self._orders(orders, skus, customers, staff, rng)
        self.stdout.write(self.style.SUCCESS(f"Seeded {len(skus)} products and {placed} orders."))

    def _products(self, count: int, staff: Metadata, rng: random.Random) -> list[str]:
        skus = []
        for i in tqdm(range(count), desc="products", unit="product", disable=count == 0):
            word, colour = rng.choice(WORDS), rng.choice(COLOURS)
            sku = f"{word.upper()}-{colour.upper()}-{i:04d}"
            try:
                dispatch(
                    RegisterProduct(
                        metadata=staff,
                        sku=sku,
                        name=f"{colour.title()} {word.lower()}",
                        description=f"A {colour} {word.lower()} for everyday use.",
                        price=Decimal(rng.randrange(199, 9999)) / 100,
                        initial_stock=rng.randrange(50, 500),
                    )
                )
            except DomainError:
                continue  # already registered by an earlier run
            skus.append(sku)
        return skus

    def _orders(
        self, count: int, skus: list[str], customers: list[AbstractUser], staff: Metadata, rng: random.Random
    ) -> int:
        placed = 0
        if not skus:
            return 0
        for _ in tqdm(range(count), desc="orders", unit="order", disable=count == 0):
            customer = rng.choice(customers)
            who = Metadata(user=customer.username, user_id=customer.pk, correlation_id="seed_demo")
            lines = tuple(
                OrderLine(product_id=sku, quantity=rng.randint(1, 3))
                for sku in rng.sample(skus, k=min(len(skus), rng.randint(1, 3)))
            )
            try:
                result = dispatch(
                    CreateOrder(
                        metadata=who,
                        customer_id=customer.username,
                        items=lines,
                        shipping_address={"name": customer.username, "city": rng.choice(CITIES)},
                    )
                )
            except DomainError:
                continue  # sold out: a real shop refuses too
            placed += 1
            fate = rng.random()
            if fate < 0.15:
                dispatch(CancelOrder(metadata=who, order_id=result.id, reason="changed my mind"))
            elif fate < 0.45:
                dispatch(ShipOrder(metadata=staff, order_id=result.id))
        return placed


def _user(username: str, *, staff: bool = False) -> AbstractUser:
    """The demo user, created with password = username if missing (admin is a superuser)."""
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"is_staff": staff, "is_superuser": staff}
    )
    if created:
        user.set_password(username)
        user.save(update_fields=["password"])
    return user
