"""A fill's COPYs run behind on a thread of their own (writes_behind), and rebuild workers step back for the CPU."""

import multiprocessing
import threading
from collections.abc import Iterator

import pytest
from django.db import connections, transaction

from eventstore.backends import recorder_for
from eventstore.rebuild import worker
from eventstore.rebuild.fresh_fill import writes_behind
from eventstore.routers import read_db_alias

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

TABLE = "rebuild_writes_behind_probe"


@pytest.fixture
def probe() -> Iterator[str]:
    """A table the writes fill (committed: the writer's own connection must see it)."""
    db = read_db_alias()
    with connections[db].cursor() as cursor:
        cursor.execute(f"CREATE TABLE {TABLE} (n integer NOT NULL)")
    try:
        yield db
    finally:
        with connections[db].cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def _insert(db: str, n: int, threads: list[str]) -> None:
    threads.append(threading.current_thread().name)
    with transaction.atomic(using=db), connections[db].cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (n) VALUES (%s)", [n])


def _stored(db: str) -> list[int]:
    with connections[db].cursor() as cursor:
        cursor.execute(f"SELECT n FROM {TABLE} ORDER BY n")
        return [n for (n,) in cursor.fetchall()]


def test_every_write_has_committed_when_the_block_ends_in_order(probe) -> None:
    threads: list[str] = []
    order: list[int] = []
    with writes_behind(probe) as later:
        for n in range(5):
            later(lambda n=n: (order.append(n), _insert(probe, n, threads)))

    assert order == [0, 1, 2, 3, 4]
    assert _stored(probe) == [0, 1, 2, 3, 4]
    behind = recorder_for(probe).parallel_rebuilds
    assert set(threads) == ({"rebuild-writer"} if behind else {threading.current_thread().name})


def test_a_failed_write_is_raised_and_the_writes_after_it_do_not_run(probe) -> None:
    threads: list[str] = []

    def fail() -> None:
        raise RuntimeError("copy failed")

    with pytest.raises(RuntimeError, match="copy failed"), writes_behind(probe) as later:
        later(lambda: _insert(probe, 1, threads))
        later(fail)
        later(lambda: _insert(probe, 2, threads))
        later(lambda: _insert(probe, 3, threads))

    assert _stored(probe) == [1]


def test_an_error_of_the_caller_still_waits_for_the_writes_queued(probe) -> None:
    threads: list[str] = []
    with pytest.raises(ValueError, match="fold failed"), writes_behind(probe) as later:
        later(lambda: _insert(probe, 1, threads))
        raise ValueError("fold failed")

    assert _stored(probe) == [1]
    assert not any(t.name == "rebuild-writer" for t in threading.enumerate())


def test_inside_a_transaction_the_writes_run_at_once_on_its_connection(probe) -> None:
    """Another connection could not see the transaction's rows (nor write after them)."""
    threads: list[str] = []
    with transaction.atomic(using=probe), writes_behind(probe) as later:
        later(lambda: _insert(probe, 7, threads))
        assert _stored(probe) == [7]
    assert threads == [threading.current_thread().name]


def test_a_worker_process_steps_back_for_the_cpu(monkeypatch) -> None:
    """The caller rebuilds the projection that ends last: its fold should have the CPU first."""
    niced: list[int] = []
    monkeypatch.setattr(worker.os, "nice", niced.append)
    monkeypatch.setattr(worker, "_updates", None)
    databases = {alias: connections[alias].settings_dict["NAME"] for alias in connections}
    worker.start(multiprocessing.get_context("spawn").Queue(), databases)

    assert niced == [worker.NICENESS] and worker.NICENESS > 0
