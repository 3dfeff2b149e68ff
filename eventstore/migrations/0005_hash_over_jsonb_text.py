"""Hash events over PostgreSQL's own jsonb text: a cheaper chain trigger, and every hash recomputed.

The canonical JSON of `data` and `metadata` is now the text PostgreSQL prints for a
jsonb value (`eventstore.tamper.canonical`, docs/tamper-evidence.md), so the chain
trigger hashes `data::text` instead of re-serializing the document in PL/pgSQL. The
trigger function keeps its name and arguments; only `eventstore_event_hash` changes.

Every stored hash is recomputed in the new form, stream by stream in version order, a
batch at a time with a progress line, and the seals (digests over those hashes) are
cleared: the next `seal_log` or beat seal covers the whole log again. This migration,
run by the database's owner, lifts the append-only triggers for its own transaction
only, by disabling them (PostgreSQL) or dropping and re-creating them (SQLite).

Reversing it restores 0003's hash function and recomputes every hash in 0003's form
(`sorted_compact_json`: keys by code point, no whitespace), so code at 0004 verifies
the log it finds.
"""

import importlib
import json
import sys
from collections.abc import Callable
from decimal import Decimal

from django.db import migrations

PG_HASH_FUNCTION = r"""
CREATE OR REPLACE FUNCTION eventstore_event_hash(
    previous text, stream_id text, version bigint, event_type text, schema_version integer,
    data jsonb, metadata jsonb, recorded_at timestamptz
) RETURNS text LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(
        previous || E'\n' || to_jsonb(stream_id)::text || E'\n' || version::text || E'\n'
        || to_jsonb(event_type)::text || E'\n' || schema_version::text || E'\n'
        || data::text || E'\n' || metadata::text || E'\n'
        || to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'UTF8')), 'hex')
$$;
DROP FUNCTION IF EXISTS eventstore_canonical_json(jsonb);
"""

BATCH = 5000
_PG_COLUMNS = """data::text, metadata::text, to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
_PG_LIFTED = [("eventstore_event", "eventstore_event_append_only"), ("eventstore_seal", "eventstore_seal_append_only")]
_SQLITE_LIFTED = ["eventstore_event_no_update", "eventstore_seal_no_delete"]


def sorted_compact_json(text: str) -> str:
    """0003's canonical JSON: keys by code point, no whitespace, numbers as jsonb prints them."""

    def write(value) -> str:
        if isinstance(value, dict):
            return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{write(value[k])}" for k in sorted(value)) + "}"
        if isinstance(value, list):
            return "[" + ",".join(write(v) for v in value) + "]"
        if isinstance(value, Decimal):
            return format(abs(value) if value.is_zero() else value, "f")
        return json.dumps(value, ensure_ascii=False)

    return write(json.loads(text, parse_float=Decimal))


def rehash_log(connection, out=sys.stdout, canonical: Callable[[str], str] | None = None) -> int:
    """Recompute every event's hash and clear the seals; returns the events hashed.

    `canonical` turns stored JSON text into the form hashed; by default the current one
    (on PostgreSQL `data::text` already is it).
    """
    from eventstore.tamper.canonical import canonical_json_text, chained_hash, utc_timestamp

    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM eventstore_event")
        total = cursor.fetchone()[0]
        restore = _lift_append_only(cursor, postgres)
        cursor.execute("DELETE FROM eventstore_seal")
        columns = _PG_COLUMNS if postgres else "data, metadata, recorded_at"
        stream, version, parent, done = "", 0, "", 0
        while True:
            cursor.execute(
                f"SELECT position, stream_id, version, event_type, schema_version, {columns} FROM eventstore_event"
                " WHERE (stream_id, version) > (%s, %s) ORDER BY stream_id, version LIMIT %s",
                [stream, version, BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            updates = []
            for position, stream_id, number, event_type, schema_version, data, metadata, recorded_at in rows:
                previous = parent if (stream_id == stream and number == version + 1) else ""
                if canonical is not None:
                    data, metadata = canonical(data), canonical(metadata)
                elif not postgres:
                    data, metadata = canonical_json_text(data), canonical_json_text(metadata)
                if not postgres:
                    recorded_at = utc_timestamp(recorded_at)
                parent = chained_hash(
                    previous, stream_id, number, event_type, schema_version, data, metadata, recorded_at
                )
                stream, version = stream_id, number
                updates.append((parent, position))
            cursor.executemany("UPDATE eventstore_event SET hash = %s WHERE position = %s", updates)
            done += len(rows)
            print(f"  eventstore: hashed {done}/{total} events", file=out, flush=True)
        for statement in restore:
            cursor.execute(statement)
    return done


def _lift_append_only(cursor, postgres: bool) -> list[str]:
    """Switch the append-only triggers off for this transaction; returns the statements that switch them on."""
    if postgres:
        for table, trigger in _PG_LIFTED:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        return [f"ALTER TABLE {table} ENABLE TRIGGER {trigger}" for table, trigger in _PG_LIFTED]
    placeholders = ", ".join(["%s"] * len(_SQLITE_LIFTED))
    cursor.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({placeholders})", _SQLITE_LIFTED
    )
    triggers = cursor.fetchall()
    for name, _ in triggers:
        cursor.execute(f"DROP TRIGGER {name}")
    return [sql for _, sql in triggers]


def forward(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(PG_HASH_FUNCTION, params=None)
    if connection.vendor in ("postgresql", "sqlite"):
        rehash_log(connection)


def backward(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        previous = importlib.import_module("eventstore.migrations.0003_event_hash")
        schema_editor.execute(previous.PG_FUNCTIONS, params=None)
    if connection.vendor in ("postgresql", "sqlite"):
        rehash_log(connection, canonical=sorted_compact_json)


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0004_seal")]

    operations = [migrations.RunPython(forward, backward, hints={"target_db": "default"})]
