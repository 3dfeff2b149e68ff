"""`is_transient` on errors a real database raised: a terminated connection, statement and lock
timeouts, a deadlock and a serialization failure are transient; a projection's own bug is not."""

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import IntegrityError, OperationalError, ProgrammingError, connections, transaction

from eventstore.transient import is_transient, sqlstates
from tests.support.processes import database_url


def caught(fn: object) -> BaseException:
    try:
        fn()  # type: ignore[operator]
    except BaseException as exc:  # the error itself is what these tests look at
        return exc
    raise AssertionError("expected an error")


def pid_of(conn: psycopg.Connection) -> int:
    return conn.info.backend_pid


@pytest.fixture
def raw() -> Iterator[psycopg.Connection]:
    """A second autocommit connection to the test database, for terminating, locking and racing."""
    with psycopg.connect(database_url("default"), autocommit=True) as conn:
        yield conn


@pytest.fixture
def probe_table(raw: psycopg.Connection) -> Iterator[str]:
    table = f"transient_probe_{uuid.uuid4().hex[:8]}"
    raw.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, n int NOT NULL)")
    raw.execute(f"INSERT INTO {table} VALUES (1, 0), (2, 0)")
    yield table
    raw.execute(f"DROP TABLE IF EXISTS {table}")


# A lost connection ---------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_django_connection_terminated_from_another_session_is_transient(raw: psycopg.Connection) -> None:
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    assert raw.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone() == (True,)
    try:
        first = caught(lambda: connection.cursor().execute("SELECT 1"))
        again = caught(lambda: connection.cursor().execute("SELECT 1"))  # the same dead connection, once more
    finally:
        connection.close()
    assert isinstance(first, OperationalError)  # Django's wrapper, the driver's error as its cause
    assert is_transient(first) and is_transient(again)
    with connection.cursor() as cursor:  # closed, it is opened anew
        cursor.execute("SELECT 1")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_statement_running_when_its_backend_is_terminated_raises_a_transient_admin_shutdown(
    raw: psycopg.Connection,
) -> None:
    victim = psycopg.connect(database_url("default"), autocommit=True)
    errors: list[BaseException] = []

    def sleep() -> None:
        errors.append(caught(lambda: victim.execute("SELECT pg_sleep(30)")))

    thread = threading.Thread(target=sleep)
    thread.start()
    try:
        while not raw.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event = 'PgSleep'", [pid_of(victim)]
        ).fetchone():
            time.sleep(0.005)  # until the statement is running
        raw.execute("SELECT pg_terminate_backend(%s, 5000)", [pid_of(victim)])
        thread.join(10)
    finally:
        victim.close()
    (error,) = errors
    assert isinstance(error, psycopg.OperationalError)
    assert is_transient(error)
    assert is_transient(caught(lambda: victim.execute("SELECT 1")))  # the connection is closed now


def test_a_refused_connection_is_transient() -> None:
    error = caught(lambda: psycopg.connect("postgresql://nobody@127.0.0.1:1/none", connect_timeout=2))
    assert isinstance(error, psycopg.OperationalError)
    assert is_transient(error)


# Timeouts, deadlocks, serialization -----------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_statement_timeout_is_transient_raw_and_wrapped_by_django() -> None:
    def timed_out() -> None:
        with transaction.atomic(), connections["default"].cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = '1ms'")
            cursor.execute("SELECT pg_sleep(1)")

    error = caught(timed_out)
    assert isinstance(error, OperationalError)
    assert sqlstates(error) == ["57014"]
    assert is_transient(error)
    assert is_transient(error.__cause__)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_lock_timeout_is_transient(raw: psycopg.Connection, probe_table: str) -> None:
    with raw.transaction():
        raw.execute(f"SELECT * FROM {probe_table} WHERE id = 1 FOR UPDATE")

        def waits_for_the_row() -> None:
            with transaction.atomic(), connections["default"].cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '20ms'")
                cursor.execute(f"UPDATE {probe_table} SET n = n + 1 WHERE id = 1")

        error = caught(waits_for_the_row)
    assert sqlstates(error) == ["55P03"]
    assert is_transient(error)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_deadlock_is_transient(probe_table: str) -> None:
    first = psycopg.connect(database_url("default"))
    second = psycopg.connect(database_url("default"))
    errors: list[BaseException] = []
    try:
        for conn in (first, second):
            conn.execute("SET deadlock_timeout = '20ms'")
        first.execute(f"UPDATE {probe_table} SET n = 1 WHERE id = 1")
        second.execute(f"UPDATE {probe_table} SET n = 1 WHERE id = 2")

        def cross(conn: psycopg.Connection, row: int) -> None:
            try:
                conn.execute(f"UPDATE {probe_table} SET n = 2 WHERE id = %s", [row])
            except psycopg.Error as exc:
                errors.append(exc)
            finally:
                conn.rollback()  # the survivor's lock is released once the victim is gone

        threads = [threading.Thread(target=cross, args=(first, 2)), threading.Thread(target=cross, args=(second, 1))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    finally:
        first.close()
        second.close()
    (error,) = errors  # PostgreSQL cancels one of the two
    assert error.sqlstate == "40P01"
    assert is_transient(error)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_serialization_failure_is_transient(raw: psycopg.Connection, probe_table: str) -> None:
    def lost_update() -> None:
        with transaction.atomic(), connections["default"].cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute(f"SELECT n FROM {probe_table} WHERE id = 1")  # the snapshot is taken here
            raw.execute(f"UPDATE {probe_table} SET n = n + 1 WHERE id = 1")  # another session commits
            cursor.execute(f"UPDATE {probe_table} SET n = n + 1 WHERE id = 1")

    error = caught(lost_update)
    assert sqlstates(error) == ["40001"]
    assert is_transient(error)


# Not transient ---------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_errors_of_the_code_or_the_data_are_not_transient(probe_table: str) -> None:
    def execute(sql: str) -> None:
        with transaction.atomic(), connections["default"].cursor() as cursor:
            cursor.execute(sql)

    duplicate = caught(lambda: execute(f"INSERT INTO {probe_table} VALUES (1, 0)"))
    syntax = caught(lambda: execute("SELEC 1"))
    missing = caught(lambda: execute("SELECT * FROM no_such_table_here"))
    division = caught(lambda: execute("SELECT 1 / 0"))
    assert isinstance(duplicate, IntegrityError) and isinstance(syntax, ProgrammingError)
    for error in (duplicate, syntax, missing, division):
        assert not is_transient(error), repr(error)


def test_a_projections_own_bug_is_not_transient() -> None:
    assert not is_transient(caught(lambda: {}["order_id"]))
    assert not is_transient(caught(lambda: int("not a number")))
    assert not is_transient(caught(lambda: 1 / 0))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_chain_is_followed_through_cause_and_context_but_not_past_from_none() -> None:
    def timed_out() -> None:
        with transaction.atomic(), connections["default"].cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = '1ms'")
            cursor.execute("SELECT pg_sleep(1)")

    def reraised(how: str) -> None:
        try:
            timed_out()
        except OperationalError as exc:
            if how == "from":
                raise ValueError("could not apply the batch") from exc
            if how == "context":
                raise ValueError("could not apply the batch")  # noqa: B904 - the implicit context is the point
            raise ValueError("could not apply the batch") from None

    assert is_transient(caught(lambda: reraised("from")))
    assert is_transient(caught(lambda: reraised("context")))
    assert not is_transient(caught(lambda: reraised("from None")))


# SQLite: a database that stays locked is SQLite's lock timeout ---------------------------


def test_a_locked_sqlite_database_is_transient_a_missing_table_is_not(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    waiter = sqlite3.connect(path, timeout=0.01, isolation_level=None)
    try:
        holder.execute("CREATE TABLE t (x int)")
        holder.execute("BEGIN IMMEDIATE")
        locked = caught(lambda: waiter.execute("BEGIN IMMEDIATE"))
        missing = caught(lambda: waiter.execute("SELECT * FROM no_such_table"))
    finally:
        holder.close()
        waiter.close()
    assert isinstance(locked, sqlite3.OperationalError) and "locked" in str(locked)
    assert is_transient(locked)
    assert isinstance(missing, sqlite3.OperationalError)
    assert not is_transient(missing)
