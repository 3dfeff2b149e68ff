"""A connection of its own that LISTENs for the log's commit notifications (`run_projector`).

Separate from Django's connections: it sits in autocommit waiting, and a LISTEN on a
pooled or transactional connection would be lost with its session.
"""

from typing import Any

import psycopg


class PostgresListener:
    def __init__(self, params: dict[str, Any], channel: str) -> None:
        params = dict(params)
        for django_only in ("cursor_factory", "context", "server_side_binding", "prepare_threshold"):
            params.pop(django_only, None)
        self._connection = psycopg.connect(**params, autocommit=True)
        self._connection.execute(f"LISTEN {channel}")

    @property
    def closed(self) -> bool:
        return bool(self._connection.closed)

    @property
    def backend_pid(self) -> int | None:
        return None if self._connection.closed else self._connection.info.backend_pid

    def wait(self, timeout: float) -> bool:
        """True once a notification arrived; a burst of commits is one wake-up, so the queued rest is drained."""
        notified = False
        for _ in self._connection.notifies(timeout=timeout, stop_after=1):
            notified = True
        if notified:
            for _ in self._connection.notifies(timeout=0):
                pass
        return notified

    def close(self) -> None:
        self._connection.close()
