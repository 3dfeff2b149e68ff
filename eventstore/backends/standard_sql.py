"""SQL both backends send as it is: multi-row INSERTs under every driver's parameter limit, the snapshot upsert."""

from collections.abc import Iterator, Sequence
from typing import Any, Final

MAX_PARAMS: Final = 30000
"""Below SQLite's 32766 and psycopg's 65535 bind parameters."""


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_values(cursor: Any, table: str, names: str, rows: Sequence[Sequence[Any]], tail: str = "") -> None:
    """INSERT the rows (tuples in `names` order) with as few statements as the limit allows; `tail` follows VALUES."""
    if not rows:
        return
    width = len(rows[0])
    marks = "(" + ", ".join(["%s"] * width) + ")"
    for chunk in chunks(rows, max(1, MAX_PARAMS // width)):
        cursor.execute(
            f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * len(chunk))}{tail}",
            [v for row in chunk for v in row],
        )


SNAPSHOT_INSERT: Final = "INSERT INTO eventstore_snapshot (stream_id, version, schema, state, taken_at)"
SNAPSHOT_ON_CONFLICT: Final = (
    " ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, schema = excluded.schema,"
    " state = excluded.state, taken_at = excluded.taken_at"
    " WHERE eventstore_snapshot.version < excluded.version OR eventstore_snapshot.schema <> excluded.schema"
)
SNAPSHOT_SQL: Final = SNAPSHOT_INSERT + " VALUES (%s, %s, %s, {state}, %s)" + SNAPSHOT_ON_CONFLICT
"""Store a snapshot unless a newer one is there (or it is of another schema); `{state}` is the state's placeholder."""
