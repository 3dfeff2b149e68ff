"""Django's `flush`, able to empty the append-only log and seals: the test runner's, never production's.

The log and the seals refuse DELETE and TRUNCATE from every session (migration
eventstore 0006), so Django's flush between transactional tests would fail. The test
runner connects as the tables' owner, and an owner may disable a table's triggers:
this flush does so inside the transaction that empties the tables, so the triggers are
in force again at COMMIT (or at ROLLBACK, if the flush fails) and no other session
ever sees them off. On SQLite, which has no roles, the same transaction drops the
triggers and re-creates them from their stored definitions.
"""

from typing import Any

from django.core.management.commands import flush
from django.db import connections, transaction

# Statement-level TRUNCATE triggers (tgtype bit 5), user-defined and enabled, in this schema.
PG_TRUNCATE_TRIGGERS = """
SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND (t.tgtype & 32) <> 0
  AND c.relnamespace = current_schema()::regnamespace
ORDER BY c.relname, t.tgname
"""


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        with transaction.atomic(using=options["database"]), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(PG_TRUNCATE_TRIGGERS)
                triggers = cursor.fetchall()
                quote = connection.ops.quote_name
                for table, trigger in triggers:
                    cursor.execute(f"ALTER TABLE {quote(table)} DISABLE TRIGGER {quote(trigger)}")
                super().handle(**options)
                for table, trigger in triggers:
                    cursor.execute(f"ALTER TABLE {quote(table)} ENABLE TRIGGER {quote(trigger)}")
            elif connection.vendor == "sqlite":
                cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
                triggers = cursor.fetchall()
                for name, _ in triggers:
                    cursor.execute(f"DROP TRIGGER {connection.ops.quote_name(name)}")
                super().handle(**options)
                for _, sql in triggers:
                    cursor.execute(sql)
            else:
                super().handle(**options)
