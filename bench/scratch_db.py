"""The scratch database every benchmark creates beside DATABASE_URL's and drops at the end."""

from urllib.parse import urlsplit, urlunsplit

import psycopg


def scratch_urls(url: str, name: str) -> tuple[str, str]:
    """(URL of the scratch database, URL of the `postgres` maintenance database) on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}")), urlunsplit(parts._replace(path="/postgres"))


def recreate(admin_url: str, name: str, *, drop_only: bool = False) -> None:
    """Drop the scratch database (even with sessions left on it) and, unless told not to, create it empty."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {name}")
