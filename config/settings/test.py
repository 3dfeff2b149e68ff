"""Test settings: the base settings, a test-only key, fast password hashing, plain HTTP, and the test runner's flush.

The log refuses DELETE and TRUNCATE from every session; the test runner empties its
own database between transactional tests as the tables' owner, through the flush of
the test-only app `tests.purge` (it lifts the triggers inside its own transaction).
"""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, secret_key

SECRET_KEY = secret_key(dev_key="django-insecure-test-only-never-deploy-this")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
INSTALLED_APPS = [*INSTALLED_APPS, "tests.purge.apps.PurgeConfig"]
