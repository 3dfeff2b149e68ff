"""Test settings: the base settings, a test-only key, fast password hashing, a purgeable log, and plain HTTP.

The append-only triggers refuse DELETE/TRUNCATE; the test runner must empty its own
database between transactional tests, so only here the escape hatch is turned on
(`eventstore.allow_purge` on PostgreSQL connections, the SQLite function). Tests that
prove the refusals use a raw connection without it.
"""

from .base import *  # noqa: F403
from .base import DATABASES, secret_key

SECRET_KEY = secret_key(dev_key="django-insecure-test-only-never-deploy-this")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EVENTSTORE_ALLOW_PURGE = True
for _db in DATABASES.values():
    if _db["ENGINE"] == "django.db.backends.postgresql":
        _db["OPTIONS"]["options"] += " -c eventstore.allow_purge=on"
