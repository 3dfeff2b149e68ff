"""Shadow tables for blue/green rebuilds: an empty copy of a view table, swapped in by renames.

A rebuild fills `<table>__shadow` while the live table keeps serving, then renames
live -> old, shadow -> live and drops old in one short transaction. How a copy is
made and how its indexes keep the live names is the backend's
(`eventstore.backends.recorder.RebuildTables`); what is named how is decided here.
"""

from typing import Any

from eventstore.backends import recorder_for

SHADOW_SUFFIX = "__shadow"
OLD_SUFFIX = "__old"


def shadow_name(table: str) -> str:
    return f"{table}{SHADOW_SUFFIX}"


def drop_table(connection: Any, table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)}")


def create_shadow(connection: Any, table: str) -> str:
    """A fresh, empty copy of `table` (a stale one from an interrupted rebuild is dropped)."""
    shadow = shadow_name(table)
    drop_table(connection, shadow)
    drop_table(connection, table + OLD_SUFFIX)
    recorder_for(connection.alias).create_shadow(table, shadow, using=connection.alias)
    return shadow


def defer_indexes(connection: Any, shadow: str) -> list[str]:
    """Drop the shadow's plain secondary indexes and return their definitions, to build after the fill.

    Building an index once over the filled table costs far less than keeping it up
    batch by batch (a GIN index above all). Where the backend defers none, nothing changes.
    """
    return recorder_for(connection.alias).defer_indexes(shadow, using=connection.alias)


def build_indexes(connection: Any, definitions: list[str]) -> None:
    """Create the deferred indexes, without holding back the log's readers where the backend can."""
    recorder_for(connection.alias).build_indexes(definitions, using=connection.alias)


def swap(connection: Any, table: str, shadow: str) -> None:
    """Put `shadow` in the place of `table` and drop the old one; run inside the swap transaction."""
    recorder_for(connection.alias).swap(table, shadow, table + OLD_SUFFIX, using=connection.alias)
