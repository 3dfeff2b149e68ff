"""Connect as the tables' owner for the commands that change the schema or the grants.

The app connects as a runtime role that owns nothing on the log; `migrate` and
`grant_runtime_role` need the owner (MIGRATE_DATABASE_URL, MIGRATE_READ_DATABASE_URL).
Only the credentials and the server are taken from the owner's URL: the database name
stays the connection's own, so the test runner's `test_` databases are migrated as
the same owner (settings check that both URLs name one database).
"""

from django.conf import settings
from django.db import connections

OWNER_KEYS = ("USER", "PASSWORD", "HOST", "PORT", "OPTIONS")


def connect_as_owner() -> None:
    """Point every alias with an owner URL at the owner, closing what was open as the runtime role."""
    for alias, owner in getattr(settings, "MIGRATE_DATABASES", {}).items():
        connection = connections[alias]
        if all(connection.settings_dict.get(key) == owner.get(key) for key in OWNER_KEYS):
            continue
        connection.close()
        connection.settings_dict.update({key: owner[key] for key in OWNER_KEYS if key in owner})
