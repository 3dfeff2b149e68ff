"""The log and the seals refuse UPDATE, DELETE and TRUNCATE from every session, with no switch.

Migrations 0002 and 0004 let a session through that had set `eventstore.allow_purge`
(PostgreSQL) or whose `eventstore_allow_purge()` answered 1 (SQLite): any connection
could turn that on for itself. Now the refusal is unconditional. Only the owner of the
tables can lift it, by disabling a trigger (`ALTER TABLE ... DISABLE TRIGGER`, inside
its own transaction so the rule is back at COMMIT): the runtime role owns neither table
and cannot (`grant_runtime_role`). SQLite has no roles; its triggers are re-created
without the condition, and whoever holds the file can drop them anyway.
"""

from django.db import migrations

_PG_REFUSE = """
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{table} is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
"""
_PG_REFUSE_UNLESS_SWITCHED = """
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('eventstore.allow_purge', true), '') = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION '{table} is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
"""
PG_FUNCTIONS = {"eventstore_event": "eventstore_refuse_change", "eventstore_seal": "eventstore_refuse_seal_change"}

_SQLITE_RAISE = "BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
_SWITCH = "coalesce(eventstore_allow_purge(), 0) <> 1"


def _sqlite_triggers(switch: bool) -> list[str]:
    """The four refusing triggers; with `switch`, as 0003/0004 made them (for reversing)."""
    guard = f"WHEN {_SWITCH} " if switch else ""
    also = f"{_SWITCH} AND " if switch else ""
    statements = []
    for table in ("eventstore_event", "eventstore_seal"):
        for op in ("UPDATE", "DELETE"):
            # The event chain trigger completes a new row's empty hash with an UPDATE: only
            # rows whose hash is set are history (0003).
            condition = f"WHEN {also}OLD.hash <> '' " if (table, op) == ("eventstore_event", "UPDATE") else guard
            name = f"{table}_no_{op.lower()}"
            statements += [
                f"DROP TRIGGER IF EXISTS {name}",
                f"CREATE TRIGGER {name} BEFORE {op} ON {table} {condition}" + _SQLITE_RAISE.format(table=table, op=op),
            ]
    return statements


def _apply(schema_editor, pg_template: str, switch: bool) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table, function in PG_FUNCTIONS.items():
            schema_editor.execute(pg_template.format(function=function, table=table), params=None)
    elif vendor == "sqlite":
        for statement in _sqlite_triggers(switch):
            schema_editor.execute(statement)


def forward(apps, schema_editor) -> None:
    _apply(schema_editor, _PG_REFUSE, switch=False)


def backward(apps, schema_editor) -> None:
    _apply(schema_editor, _PG_REFUSE_UNLESS_SWITCHED, switch=True)


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0005_hash_over_jsonb_text")]

    operations = [migrations.RunPython(forward, backward, hints={"target_db": "default"})]
