"""factory-boy factories for the few rows tests create directly: users and their tokens.

Everything else (products, orders) is built through the command bus, never by rows.
"""

import factory
from django.contrib.auth import get_user_model


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"customer{n}")
    password = factory.django.Password("secret-pass-123")
    is_staff = False


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
