"""Test settings: the base settings, fast password hashing, a purgeable log, and plain HTTP.

The append-only triggers refuse DELETE/TRUNCATE; the test runner must empty its own
database between transactional tests, so only here the escape hatch is turned on
(`eventstore.allow_purge` on PostgreSQL connections, the SQLite function). Tests that
prove the refusals use a raw connection without it.
"""

from .base import *  # noqa: F403
from .base import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The suite (test client, the gunicorn and Celery processes it starts, the soak's stack, the
# browser tests) speaks plain HTTP to 127.0.0.1: no redirect to HTTPS and no Secure-only cookies.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
EVENTSTORE_ALLOW_PURGE = True
for _db in DATABASES.values():
    if _db["ENGINE"] == "django.db.backends.postgresql":
        _db["OPTIONS"]["options"] += " -c eventstore.allow_purge=on"
