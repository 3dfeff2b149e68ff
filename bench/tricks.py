"""Switch off, in a benchmark server only, the speed tricks that reach under Django or psycopg.

A trick stays only if it pays on the production-shaped benchmark (bench/commands.py:
gunicorn worker processes over HTTP), so that benchmark runs servers with each one
switched off beside the server with all of them, and reports the difference. Set
`BENCH_WITHOUT` to a comma-separated list of names; bench.plainshop's `ready()` applies
it. What each name puts back is the plain Django way of doing the same thing:

- `prepared`: the store's hot statements (the append, the aggregate load, NOTIFY) run
  on Django's own cursor, bound client-side and planned on every call, instead of a
  bare psycopg cursor kept on the connection with server-side prepared statements.
- `pipeline`: the per-projection "pending" flags are set with one `cache.add` each
  (Django's cache API), instead of in one pipelined round trip on Redis's private client.
"""

from collections.abc import Sequence
from typing import Any

TRICKS = ("prepared", "pipeline")
"""The tricks on a command's path, which bench/commands.py weighs."""
ALL_TRICKS = TRICKS


class _DjangoCursor:
    """What the store asks of its prepared cursor, done through Django's cursor wrapper."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: Sequence[Any], prepare: bool | None = None) -> "_DjangoCursor":
        with self._connection.cursor() as cursor:
            cursor.execute(sql, params)
            self._rows = cursor.fetchall() if cursor.description else []
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None


def disable(names: str) -> list[str]:
    """Switch off the named tricks in this process; returns the names applied."""
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = set(wanted) - set(ALL_TRICKS)
    if unknown:
        raise ValueError(f"unknown tricks {sorted(unknown)}; known: {ALL_TRICKS}")
    if "prepared" in wanted:
        from eventstore.backends.postgres import log

        log.prepared_cursor = _DjangoCursor
    if "pipeline" in wanted:
        from eventstore.projections import wakeups

        wakeups.redis_cache = lambda: None
    return wanted
