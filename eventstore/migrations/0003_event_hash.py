"""Chain every event to its stream's previous one: the `hash` column, its trigger, and a backfill.

The hash is computed in the database, inside the INSERT itself, so every append path
(the store's one-statement append, SQLite's checked append, the ORM, a raw INSERT)
chains the same way, and two writers can never both chain to one parent: the unique
(stream_id, version) index lets only one of them commit. The canonical form is
`eventstore.tamper.canonical` (docs/tamper-evidence.md); these SQL functions follow it.

- PostgreSQL: a BEFORE INSERT row trigger looks the parent up by (stream_id,
  version - 1) and sets NEW.hash. A row-level BEFORE trigger sees the rows inserted
  earlier by the same statement, so a multi-event append chains in order.
- SQLite: an AFTER INSERT trigger sets the hash with a Python function registered on
  each connection (eventstore/backends/sqlite/functions.py). The append-only UPDATE trigger now
  lets only a row whose hash is still empty change: that is the row being inserted.
  Adding a NOT NULL column rebuilds the SQLite table, which drops its triggers, so
  they are created again here (and the first operation restores 0002's when reversed).

The backfill of existing events is the one place the append-only rule is lifted: on
PostgreSQL the migration (run by the tables' owner) disables the refusing trigger inside
its own transaction and enables it again before COMMIT, so no other session ever sees it
off; a failed backfill rolls the disabling back with everything else.
"""

import sys

from django.db import migrations, models

PG_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION eventstore_canonical_json(doc jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    CASE jsonb_typeof(doc)
    WHEN 'object' THEN
        RETURN '{' || coalesce((
            SELECT string_agg(
                to_jsonb(m.k)::text || ':' || CASE WHEN jsonb_typeof(m.v) IN ('object', 'array')
                    THEN eventstore_canonical_json(m.v) ELSE m.v::text END,
                ',' ORDER BY m.k COLLATE "C")
            FROM jsonb_each(doc) AS m(k, v)), '') || '}';
    WHEN 'array' THEN
        RETURN '[' || coalesce((
            SELECT string_agg(
                CASE WHEN jsonb_typeof(a.v) IN ('object', 'array')
                    THEN eventstore_canonical_json(a.v) ELSE a.v::text END,
                ',' ORDER BY a.i)
            FROM jsonb_array_elements(doc) WITH ORDINALITY AS a(v, i)), '') || ']';
    ELSE
        RETURN doc::text;
    END CASE;
END $$;

CREATE OR REPLACE FUNCTION eventstore_event_hash(
    previous text, stream_id text, version bigint, event_type text, schema_version integer,
    data jsonb, metadata jsonb, recorded_at timestamptz
) RETURNS text LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(
        previous || E'\n' || to_jsonb(stream_id)::text || E'\n' || version::text || E'\n'
        || to_jsonb(event_type)::text || E'\n' || schema_version::text || E'\n'
        || eventstore_canonical_json(data) || E'\n' || eventstore_canonical_json(metadata) || E'\n'
        || to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'UTF8')), 'hex')
$$;

CREATE OR REPLACE FUNCTION eventstore_chain_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent text := '';
BEGIN
    IF NEW.version > 1 THEN
        SELECT e.hash INTO parent FROM eventstore_event e
        WHERE e.stream_id = NEW.stream_id AND e.version = NEW.version - 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'eventstore_event: % version % has no version % to chain to',
                NEW.stream_id, NEW.version, NEW.version - 1 USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    NEW.hash := eventstore_event_hash(parent, NEW.stream_id, NEW.version, NEW.event_type, NEW.schema_version,
                                      NEW.data, NEW.metadata, NEW.recorded_at);
    RETURN NEW;
END $$;
"""
PG_TRIGGER = """
CREATE TRIGGER eventstore_event_chain BEFORE INSERT ON eventstore_event
    FOR EACH ROW EXECUTE FUNCTION eventstore_chain_event();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS eventstore_event_chain ON eventstore_event;
DROP FUNCTION IF EXISTS eventstore_chain_event();
DROP FUNCTION IF EXISTS eventstore_event_hash(text, text, bigint, text, integer, jsonb, jsonb, timestamptz);
DROP FUNCTION IF EXISTS eventstore_canonical_json(jsonb);
"""

_REFUSE = "BEGIN SELECT RAISE(ABORT, 'eventstore_event is append-only: {op} refused'); END"
SQLITE_APPEND_ONLY_0002 = [
    "DROP TRIGGER IF EXISTS eventstore_event_no_update",
    "DROP TRIGGER IF EXISTS eventstore_event_no_delete",
    "CREATE TRIGGER eventstore_event_no_update BEFORE UPDATE ON eventstore_event"
    " WHEN coalesce(eventstore_allow_purge(), 0) <> 1 " + _REFUSE.format(op="UPDATE"),
    "CREATE TRIGGER eventstore_event_no_delete BEFORE DELETE ON eventstore_event"
    " WHEN coalesce(eventstore_allow_purge(), 0) <> 1 " + _REFUSE.format(op="DELETE"),
]
SQLITE_FORWARD = [
    "DROP TRIGGER IF EXISTS eventstore_event_no_update",
    "DROP TRIGGER IF EXISTS eventstore_event_no_delete",
    # Only a row whose hash is still empty may change: the one the chain trigger below is
    # completing, inside its own INSERT statement. Every stored row has a hash.
    "CREATE TRIGGER eventstore_event_no_update BEFORE UPDATE ON eventstore_event"
    " WHEN coalesce(eventstore_allow_purge(), 0) <> 1 AND OLD.hash <> '' " + _REFUSE.format(op="UPDATE"),
    "CREATE TRIGGER eventstore_event_no_delete BEFORE DELETE ON eventstore_event"
    " WHEN coalesce(eventstore_allow_purge(), 0) <> 1 " + _REFUSE.format(op="DELETE"),
    "CREATE TRIGGER eventstore_event_hash_computed BEFORE INSERT ON eventstore_event WHEN NEW.hash <> ''"
    " BEGIN SELECT RAISE(ABORT, 'eventstore_event: the hash is computed by the database, not given'); END",
    """CREATE TRIGGER eventstore_event_chain AFTER INSERT ON eventstore_event
    BEGIN
        SELECT RAISE(ABORT, 'eventstore_event: no previous version to chain to')
        WHERE NEW.version > 1 AND NOT EXISTS (
            SELECT 1 FROM eventstore_event p WHERE p.stream_id = NEW.stream_id AND p.version = NEW.version - 1);
        UPDATE eventstore_event SET hash = eventstore_event_hash(
            coalesce((SELECT p.hash FROM eventstore_event p
                      WHERE p.stream_id = NEW.stream_id AND p.version = NEW.version - 1), ''),
            NEW.stream_id, NEW.version, NEW.event_type, NEW.schema_version, NEW.data, NEW.metadata, NEW.recorded_at)
        WHERE position = NEW.position;
    END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS eventstore_event_chain",
    "DROP TRIGGER IF EXISTS eventstore_event_hash_computed",
    *SQLITE_APPEND_ONLY_0002,
]

BATCH = 5000
_UTC_TEXT = """to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def backfill(connection) -> None:
    """Hash the events already recorded, stream by stream in version order, BATCH at a time."""
    from eventstore.tamper.canonical import event_hash

    postgres = connection.vendor == "postgresql"
    columns = "data::text, metadata::text, " + _UTC_TEXT if postgres else "data, metadata, recorded_at"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM eventstore_event WHERE hash = ''")
        total = cursor.fetchone()[0]
        if not total:
            return
        if postgres:  # lifted inside this migration's transaction only; enabled again below
            cursor.execute("ALTER TABLE eventstore_event DISABLE TRIGGER eventstore_event_append_only")
        stream, version, parent, done = "", 0, "", 0
        while True:
            cursor.execute(
                "SELECT position, stream_id, version, event_type, schema_version, "
                + columns
                + " FROM eventstore_event WHERE (stream_id, version) > (%s, %s) ORDER BY stream_id, version LIMIT %s",
                [stream, version, BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            updates = []
            for position, stream_id, number, event_type, schema_version, data, metadata, recorded_at in rows:
                previous = parent if (stream_id == stream and number == version + 1) else ""
                parent = event_hash(
                    previous, stream_id, number, event_type, schema_version, data, metadata, recorded_at
                )
                stream, version = stream_id, number
                updates.append((position, parent))
            if postgres:
                values = ", ".join(["(%s::bigint, %s)"] * len(updates))
                cursor.execute(
                    f"UPDATE eventstore_event AS e SET hash = v.hash FROM (VALUES {values}) AS v(position, hash)"
                    " WHERE e.position = v.position",
                    [value for row in updates for value in row],
                )
            else:
                cursor.executemany(
                    "UPDATE eventstore_event SET hash = %s WHERE position = %s",
                    [(digest, position) for position, digest in updates],
                )
            done += len(rows)
            print(f"  eventstore: hashed {done}/{total} events", file=sys.stdout, flush=True)
        if postgres:
            cursor.execute("ALTER TABLE eventstore_event ENABLE TRIGGER eventstore_event_append_only")


def forward(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(PG_FUNCTIONS, params=None)
        backfill(connection)
        schema_editor.execute(PG_TRIGGER, params=None)
    elif connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:  # first: the new UPDATE trigger lets the backfill fill empty hashes
            schema_editor.execute(statement)
        backfill(connection)


def backward(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)
    elif connection.vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


def restore_append_only(apps, schema_editor) -> None:
    """Reversed last: removing the column rebuilds the SQLite table, dropping 0002's triggers."""
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_APPEND_ONLY_0002:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0002_append_only_triggers")]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore_append_only, hints={"target_db": "default"}),
        migrations.AddField(
            model_name="event",
            name="hash",
            field=models.CharField(db_default="", editable=False, max_length=64),
        ),
        migrations.RunPython(forward, backward, hints={"target_db": "default"}),
    ]
