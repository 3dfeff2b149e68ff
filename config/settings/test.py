"""Test settings: the base settings, fast password hashing, plain HTTP, and the test runner's flush.

The log refuses DELETE and TRUNCATE from every session; the test runner empties its
own database between transactional tests as the tables' owner, through the flush of
the test-only app `tests.purge` (it lifts the triggers inside its own transaction).
"""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The suite (test client, the gunicorn and Celery processes it starts, the soak's stack, the
# browser tests) speaks plain HTTP to 127.0.0.1: no redirect to HTTPS and no Secure-only cookies.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
INSTALLED_APPS = [*INSTALLED_APPS, "tests.purge.apps.PurgeConfig"]
