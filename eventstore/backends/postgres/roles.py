"""PostgreSQL's roles and grants: the runtime role the app connects as, and exactly what it may do.

What the runtime role holds, per database the app uses:
- the log and the seals (`eventstore_event`, `eventstore_seal`): SELECT and INSERT only.
  It owns neither, so it cannot ALTER, DROP, disable their triggers or TRUNCATE them,
  and the triggers refuse UPDATE and DELETE from everyone;
- `django_migrations`: SELECT (the app checks for unapplied migrations, never applies any);
- every other table (checkpoints, snapshots, idempotency records, users, tokens,
  sessions): SELECT, INSERT, UPDATE, DELETE; sequences: USAGE and SELECT;
- on the database holding the views: it owns the projections' view tables and may
  CREATE in the schema, because a blue/green rebuild creates `<view>__shadow`, renames
  it over the live table and drops the old one, which only a table's owner may do. The
  views are derived data: whatever the runtime role does to them, a rebuild from the
  log (which it cannot touch) restores them. The owner is made a member of the runtime
  role so its later migrations may still ALTER those tables.
"""

from collections.abc import Collection
from typing import Any

from django.db import connections, transaction
from psycopg import sql

from eventstore.errors import RoleRefused

APPEND_ONLY = ("eventstore_event", "eventstore_seal")
READ_ONLY = ("django_migrations",)
ROLE_POWERS = ("rolsuper", "rolcreaterole", "rolcreatedb", "rolreplication", "rolbypassrls")


def grant_runtime_role(name: str, password: str, *, view_tables: Collection[str] | None, using: str) -> int:
    """Create or update the role and state its privileges, in one transaction; returns the tables granted on.

    `view_tables`: the tables the role owns and rebuilds, on the database holding the views; None elsewhere.
    """
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        ensure_role(cursor, name, password)
        return grant(cursor, name, view_tables=view_tables)


def run(cursor: Any, statement: sql.Composable) -> None:
    cursor.execute(statement.as_string(cursor.connection))


def ensure_role(cursor: Any, name: str, password: str) -> None:
    """Create the role (login, no powers), or check the existing one has none; set the password if given."""
    role = sql.Identifier(name)
    cursor.execute("SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")
    owner, owner_is_superuser = cursor.fetchone()
    if name == owner:
        raise RoleRefused(f"{name!r} is the role migrating the tables: the runtime role must be another one")
    cursor.execute(f"SELECT {', '.join(ROLE_POWERS)} FROM pg_roles WHERE rolname = %s", [name])
    powers = cursor.fetchone()
    if powers is None:
        run(cursor, sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION").format(role))
    elif any(powers):
        held = [power.removeprefix("rol") for power, held in zip(ROLE_POWERS, powers, strict=True) if held]
        raise RoleRefused(f"role {name!r} has {', '.join(held)}: the runtime role must hold none of these")
    else:
        run(cursor, sql.SQL("ALTER ROLE {} LOGIN").format(role))
    if password:
        run(cursor, sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
    cursor.execute("SELECT pg_has_role(%s, current_user, 'MEMBER')", [name])
    if cursor.fetchone()[0]:
        raise RoleRefused(f"role {name!r} is a member of {owner!r}: it would hold the owner's powers")
    cursor.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", [name])
    if not owner_is_superuser and not cursor.fetchone()[0]:
        run(cursor, sql.SQL("GRANT {} TO CURRENT_USER").format(role))  # to ALTER the views it will own


def grant(cursor: Any, name: str, *, view_tables: Collection[str] | None) -> int:
    """State every privilege of `name` in this database's current schema; returns the tables granted on."""
    views = view_tables is not None
    owned_views = set(view_tables or ())
    role = sql.Identifier(name)
    run(cursor, sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(_current_database(cursor), role))
    cursor.execute("SELECT current_schema()")
    schema = sql.Identifier(cursor.fetchone()[0])
    run(cursor, sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
    schema_create = "GRANT CREATE ON SCHEMA {} TO {}" if views else "REVOKE CREATE ON SCHEMA {} FROM {}"
    run(cursor, sql.SQL(schema_create).format(schema, role))
    if views:  # first, so the second pass sees them (and the sequences that went with them) as its own
        for relname, _, relowner in _relations(cursor):
            if relname in owned_views and relowner != name:
                run(cursor, sql.SQL("ALTER TABLE {} OWNER TO {}").format(sql.Identifier(relname), role))
    tables = 0
    for relname, kind, relowner in _relations(cursor):
        relation = sql.Identifier(relname)
        if relowner == name:
            if not views or (kind != "S" and relname not in owned_views):
                raise RoleRefused(f"{name!r} owns {relname!r}: only the views' tables may be the runtime role's")
            tables += kind != "S"
            continue
        if kind == "S":
            run(cursor, sql.SQL("REVOKE ALL ON SEQUENCE {} FROM {}").format(relation, role))
            run(cursor, sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(relation, role))
            continue
        if relname in APPEND_ONLY:
            privileges = "SELECT, INSERT"
        elif relname in READ_ONLY:
            privileges = "SELECT"
        else:
            privileges = "SELECT, INSERT, UPDATE, DELETE"
        run(cursor, sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(relation, role))
        run(cursor, sql.SQL(f"GRANT {privileges} ON TABLE {{}} TO {{}}").format(relation, role))
        tables += 1
    return tables


def _relations(cursor: Any) -> list[tuple[str, str, str]]:
    """(name, kind, owner) of the tables, views and sequences in the current schema."""
    cursor.execute(
        "SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner) FROM pg_class c"
        " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')"
        " ORDER BY c.relname"
    )
    return cursor.fetchall()


def _current_database(cursor: Any) -> sql.Identifier:
    cursor.execute("SELECT current_database()")
    return sql.Identifier(cursor.fetchone()[0])
