"""Seals: an append-only table of checkpoints whose digests chain everything appended before them.

Append-only like the log and with the same escape hatch (the test runner empties it
between tests): triggers refuse UPDATE, DELETE and, on PostgreSQL, TRUNCATE.
"""

from django.db import migrations, models

POSTGRES_FORWARD = """
CREATE OR REPLACE FUNCTION eventstore_refuse_seal_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('eventstore.allow_purge', true), '') = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'eventstore_seal is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER eventstore_seal_append_only BEFORE UPDATE OR DELETE ON eventstore_seal
    FOR EACH ROW EXECUTE FUNCTION eventstore_refuse_seal_change();
CREATE TRIGGER eventstore_seal_no_truncate BEFORE TRUNCATE ON eventstore_seal
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore_refuse_seal_change();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS eventstore_seal_no_truncate ON eventstore_seal;
DROP TRIGGER IF EXISTS eventstore_seal_append_only ON eventstore_seal;
DROP FUNCTION IF EXISTS eventstore_refuse_seal_change();
"""
SQLITE_FORWARD = [
    f"""CREATE TRIGGER eventstore_seal_no_{op.lower()} BEFORE {op} ON eventstore_seal
    WHEN coalesce(eventstore_allow_purge(), 0) <> 1
    BEGIN SELECT RAISE(ABORT, 'eventstore_seal is append-only: {op} refused'); END"""
    for op in ("UPDATE", "DELETE")
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS eventstore_seal_no_update",
    "DROP TRIGGER IF EXISTS eventstore_seal_no_delete",
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
    dependencies = [("eventstore", "0003_event_hash")]

    operations = [
        migrations.CreateModel(
            name="Seal",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("checkpoint_txid", models.BigIntegerField()),
                ("checkpoint_position", models.BigIntegerField()),
                ("sealed_at", models.DateTimeField()),
                ("events_count", models.BigIntegerField()),
                ("digest", models.CharField(max_length=64)),
                ("previous_digest", models.CharField(blank=True, max_length=64)),
                ("heads", models.JSONField(default=dict)),
            ],
            options={
                "db_table": "eventstore_seal",
                "ordering": ("id",),
            },
        ),
        migrations.RunPython(forward, backward, hints={"target_db": "default"}),
    ]
