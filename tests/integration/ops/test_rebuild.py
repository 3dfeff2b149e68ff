"""Blue/green and in-place rebuilds: same views after, nothing lost, served throughout, safe to rerun."""

import threading
from decimal import Decimal

import psycopg
import pytest
from django.db import connections

from eventstore.log.append import NO_STREAM, StreamWrite, append, head
from eventstore.models import ProjectionState
from eventstore.projections.runner import catch_up
from eventstore.rebuild import parallel, shadow_tables
from eventstore.rebuild.orchestration import (
    RebuildInProgress,
    rebuild_lock_key,
    rebuild_progress,
    rebuild_projection,
    rebuild_projections,
    stale_projections,
)
from eventstore.routers import read_db_alias
from orders_read.models import ProductView
from orders_write.events import ProductRegistered
from tests.integration.ops.counting import (
    NAME,
    POISON,
    StockCount,
    add_products,
    expected_rows,
    table_exists,
    view_rows,
    wait_until_readable,
)
from tests.support.processes import database_url

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

TABLE = StockCount._meta.db_table


def _state() -> ProjectionState:
    return ProjectionState.objects.using(read_db_alias()).get(name=NAME)


def _index_names(table: str) -> set[str]:
    connection = connections[read_db_alias()]
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {name for name, info in constraints.items() if info["index"] and not name.startswith("sqlite_autoindex")}


def test_blue_green_rebuild_gives_the_same_views_and_moves_the_checkpoint_to_the_head(counting_projection) -> None:
    add_products(30, receipts=3)
    catch_up(NAME)
    before, indexes_before = view_rows(), _index_names(TABLE)
    assert before == expected_rows(30, receipts=3)
    seen: list[tuple[int, int]] = []

    report = rebuild_projection(NAME, batch_size=7, progress=lambda done, total: seen.append((done, total)))

    assert view_rows() == before
    assert report.events == 120 and report.events_per_s > 0
    assert seen[-1] == (120, 120) and len(seen) > 10
    state = _state()
    assert (state.checkpoint, state.status, state.events_applied) == (head(), "active", 120)
    assert _index_names(TABLE) == indexes_before  # the live index names survive the swap
    assert not table_exists(shadow_tables.shadow_name(TABLE))
    assert rebuild_progress(NAME)["phase"] == "done"
    rebuild_projection(NAME)  # a second swap must not collide with the first one's index names
    assert view_rows() == before


def test_rebuild_fixes_a_view_that_drifted_from_the_log(counting_projection) -> None:
    add_products(5)
    catch_up(NAME)
    connection = connections[read_db_alias()]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET on_hand = 999")
        cursor.execute(f"DELETE FROM {TABLE} WHERE sku = 'p00001'")
    rebuild_projection(NAME)
    assert view_rows() == expected_rows(5)


def test_bumped_version_is_noticed_and_cleared_by_the_rebuild(counting_projection) -> None:
    add_products(2)
    catch_up(NAME)
    assert NAME not in stale_projections()
    ProjectionState.objects.using(read_db_alias()).filter(name=NAME).update(version=0)
    assert NAME in stale_projections()
    rebuild_projection(NAME)
    assert NAME not in stale_projections()
    assert _state().version == counting_projection.version


def test_interrupted_rebuild_leaves_the_live_view_alone_and_a_rerun_completes(counting_projection) -> None:
    add_products(20)
    catch_up(NAME)
    checkpoint = _state().checkpoint

    def interrupt(done: int, total: int) -> None:
        if done >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rebuild_projection(NAME, batch_size=5, progress=interrupt)
    assert view_rows() == expected_rows(20)
    assert _state().checkpoint == checkpoint
    assert rebuild_progress(NAME)["phase"] == "failed"

    # A kill -9 leaves its shadow behind: the next run drops it and starts afresh.
    connection = connections[read_db_alias()]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {TABLE}__shadow (sku varchar(64) PRIMARY KEY, junk integer)")
    rebuild_projection(NAME, batch_size=5)
    assert view_rows() == expected_rows(20)
    assert _state().checkpoint == head()


def test_in_place_rebuild_replays_into_the_emptied_tables(counting_projection) -> None:
    add_products(12, receipts=2)
    catch_up(NAME)
    ProjectionState.objects.using(read_db_alias()).filter(name=NAME).update(version=0)

    report = rebuild_projection(NAME, in_place=True, batch_size=5)

    assert report.events == 36
    assert view_rows() == expected_rows(12, receipts=2)
    state = _state()
    assert (state.checkpoint, state.version, state.events_applied) == (head(), 1, 36)


def test_a_failed_projection_is_healed_by_a_rebuild_once_the_cause_is_gone(counting_projection) -> None:
    add_products(3)
    catch_up(NAME)
    ProjectionState.objects.using(read_db_alias()).filter(name=NAME).update(
        status="failed", failed_position=1, last_error="boom"
    )
    rebuild_projection(NAME)
    state = _state()
    assert (state.status, state.failed_position, state.last_error) == ("active", None, "")
    assert view_rows() == expected_rows(3)


@pytest.mark.postgres
def test_queries_during_a_rebuild_never_fail_nor_see_a_partial_view_and_new_events_are_kept(
    counting_projection,
) -> None:
    """Every batch of the rebuild waits for a query of the live table from another connection."""
    add_products(200)
    catch_up(NAME)
    full = view_rows()
    observed: list[int] = []
    errors: list[BaseException] = []
    query_done = threading.Event()
    stop = threading.Event()

    def query_live_view() -> None:
        try:
            while not stop.is_set():
                with connections[read_db_alias()].cursor() as cursor:
                    cursor.execute(f"SELECT count(*), min(events) FROM {TABLE}")
                    count, min_events = cursor.fetchone()
                observed.append(count)
                if min_events != 2:
                    errors.append(AssertionError(f"half-applied row seen: min(events) = {min_events}"))
                query_done.set()
        except BaseException as exc:
            errors.append(exc)
            query_done.set()
        finally:
            connections.close_all()

    batches = 0

    def between_batches(done: int, total: int) -> None:
        nonlocal batches
        batches += 1
        if batches <= 3:  # commands keep arriving while the rebuild runs
            add_products(1, prefix=f"late{batches}-")
        query_done.clear()
        assert query_done.wait(10), "the query thread stopped answering"

    reader = threading.Thread(target=query_live_view)
    reader.start()
    try:
        rebuild_projection(NAME, batch_size=25, progress=between_batches)
    finally:
        stop.set()
        reader.join(10)

    assert errors == []
    assert len(observed) >= batches > 8
    assert min(observed) >= len(full)  # never empty, never partial
    catch_up(NAME)
    late = [row for prefix in ("late1-", "late2-", "late3-") for row in expected_rows(1, prefix=prefix)]
    assert view_rows() == sorted(full + late)


@pytest.mark.postgres
def test_a_second_rebuild_of_the_same_projection_is_refused_while_one_runs(counting_projection) -> None:
    add_products(3)
    catch_up(NAME)
    with psycopg.connect(database_url(read_db_alias()), autocommit=True) as other_process:
        other_process.execute("SELECT pg_advisory_lock(%s)", [rebuild_lock_key(NAME)])
        with pytest.raises(RebuildInProgress):
            rebuild_projection(NAME)
        assert view_rows() == expected_rows(3)
        other_process.execute("SELECT pg_advisory_unlock(%s)", [rebuild_lock_key(NAME)])
    rebuild_projection(NAME)
    assert view_rows() == expected_rows(3)


@pytest.mark.postgres
def test_a_swap_waits_only_briefly_behind_a_long_query_then_retries(counting_projection, settings, monkeypatch) -> None:
    """A query holding the live table makes the swap time out and roll back whole; the next attempt swaps."""
    from eventstore.rebuild import orchestration as rebuild

    add_products(4)
    catch_up(NAME)
    settings.PROJECTION_SWAP_LOCK_TIMEOUT_MS = 100
    monkeypatch.setattr(rebuild, "SWAP_RETRY_PAUSE_SECONDS", 0.01)
    with psycopg.connect(database_url(read_db_alias())) as long_query:
        long_query.execute(f"SELECT count(*) FROM {TABLE}")  # its transaction keeps a share lock on the table
        retries: list[tuple] = []

        def end_the_long_query(message: str, *args: object, **kwargs: object) -> None:
            retries.append(args)
            assert view_rows() == expected_rows(4)  # the timed-out attempt changed nothing
            long_query.rollback()

        monkeypatch.setattr(rebuild.logger, "warning", end_the_long_query)
        rebuild_projection(NAME)
    assert retries == [(NAME, 1, rebuild.SWAP_ATTEMPTS)]
    assert view_rows() == expected_rows(4)
    assert _state().checkpoint == head()
    assert not table_exists(shadow_tables.shadow_name(TABLE))


@pytest.mark.postgres
def test_a_swap_that_never_gets_the_table_fails_cleanly(counting_projection, settings, monkeypatch) -> None:
    from django.db import OperationalError

    from eventstore.rebuild import orchestration as rebuild

    add_products(2)
    catch_up(NAME)
    checkpoint = _state().checkpoint
    settings.PROJECTION_SWAP_LOCK_TIMEOUT_MS = 50
    monkeypatch.setattr(rebuild, "SWAP_RETRY_PAUSE_SECONDS", 0.01)
    with psycopg.connect(database_url(read_db_alias())) as long_query:
        long_query.execute(f"SELECT count(*) FROM {TABLE}")
        with pytest.raises(OperationalError):
            rebuild_projection(NAME)
    assert view_rows() == expected_rows(2)
    assert _state().checkpoint == checkpoint
    assert not table_exists(shadow_tables.shadow_name(TABLE))
    assert rebuild_progress(NAME)["phase"] == "failed"


@pytest.mark.postgres
def test_the_shadow_is_filled_without_secondary_indexes_and_gets_them_before_the_swap(counting_projection) -> None:
    """Indexes are built once after the fill (cheaper than keeping them up), with the live names after the swap."""
    add_products(30)
    catch_up(NAME)
    live = _pg_indexes(TABLE)
    shadow = shadow_tables.shadow_name(TABLE)
    during: list[list[str]] = []

    def look_at_the_shadow(done: int, total: int) -> None:
        during.append([name for name, _ in _pg_indexes(shadow)])

    rebuild_projection(NAME, batch_size=10, progress=look_at_the_shadow)

    assert [name for name, _ in live] == ["ops_test_stock_count_name", "ops_test_stock_count_pkey"]
    assert len(during) >= 3 and all(names == [f"{shadow}_pkey"] for names in during)
    assert _pg_indexes(TABLE) == live  # same names, same definitions
    assert view_rows() == expected_rows(30)


def _pg_indexes(table: str) -> list[tuple[str, str]]:
    with connections[read_db_alias()].cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname", [table])
        return cursor.fetchall()


@pytest.mark.postgres
def test_a_rebuild_failing_in_a_worker_process_leaves_its_view_alone_and_the_others_complete(
    counting_projection, settings
) -> None:
    add_products(6)
    catch_up(NAME)
    append(
        StreamWrite(
            "Product-bad",
            NO_STREAM,
            [ProductRegistered(product_id="bad", name=POISON, description="", price=Decimal("1.00"))],
        )
    )
    wait_until_readable()
    catch_up("catalogue")  # the bigger one by its last build: it runs in this process, ours in a worker
    settings.PROJECTION_REBUILD_PROCESSES = 2
    assert parallel.processes_for([NAME, "catalogue"]) == 2
    try:
        with pytest.raises(ValueError, match="poison product"):
            rebuild_projections([NAME, "catalogue"], batch_size=3)

        assert view_rows() == expected_rows(6)
        assert not table_exists(f"{TABLE}__shadow")
        assert rebuild_progress(NAME)["phase"] == "failed"
        assert rebuild_progress("catalogue")["phase"] == "done"
        assert ProductView.objects.using(read_db_alias()).count() == 7
    finally:
        with connections[read_db_alias()].cursor() as cursor:  # unmanaged: the test runner's flush leaves it
            cursor.execute(f"DELETE FROM {ProductView._meta.db_table}")
