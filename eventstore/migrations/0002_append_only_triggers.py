"""Make the log append-only in the database itself, not just in the model.

Triggers refuse UPDATE, DELETE and (PostgreSQL) TRUNCATE on eventstore_event, so no
code path, raw connection or admin slip can rewrite history. The only way past them
is the `eventstore.allow_purge` session setting (PostgreSQL) or the
`eventstore_allow_purge()` function answering 1 (SQLite), which only the test
settings turn on so the test runner can empty its own database between tests.
"""

from django.db import migrations

POSTGRES_FORWARD = """
CREATE OR REPLACE FUNCTION eventstore_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('eventstore.allow_purge', true), '') = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'eventstore_event is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER eventstore_event_append_only BEFORE UPDATE OR DELETE ON eventstore_event
    FOR EACH ROW EXECUTE FUNCTION eventstore_refuse_change();
CREATE TRIGGER eventstore_event_no_truncate BEFORE TRUNCATE ON eventstore_event
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore_refuse_change();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS eventstore_event_no_truncate ON eventstore_event;
DROP TRIGGER IF EXISTS eventstore_event_append_only ON eventstore_event;
DROP FUNCTION IF EXISTS eventstore_refuse_change();
"""
SQLITE_FORWARD = [
    f"""CREATE TRIGGER eventstore_event_no_{op.lower()} BEFORE {op} ON eventstore_event
    WHEN coalesce(eventstore_allow_purge(), 0) <> 1
    BEGIN SELECT RAISE(ABORT, 'eventstore_event is append-only: {op} refused'); END"""
    for op in ("UPDATE", "DELETE")
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS eventstore_event_no_update",
    "DROP TRIGGER IF EXISTS eventstore_event_no_delete",
]


def forward(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0001_initial")]

    operations = [migrations.RunPython(forward, backward, hints={"target_db": "default"})]
