"""The PostgreSQL append statement's text: one per shape, and small enough for psycopg to keep it parsed.

psycopg parses a statement's text for its placeholders in Python on every execution
unless the statement has at most MAX_CACHED_STATEMENT_PARAMS parameters and
MAX_CACHED_STATEMENT_LENGTH bytes; an order's append must stay under both.
"""

from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH, MAX_CACHED_STATEMENT_PARAMS

from eventstore.backends.postgres.log import _append_statement


def test_an_order_of_three_lines_is_a_statement_psycopg_keeps_parsed() -> None:
    # CreateOrder of three products: the order's stream (its creation and three lines), and one event per product.
    sql = _append_statement((4, 1, 1, 1))
    parameters = 4 * 3 + 7 * 5  # each stream: id, type, expected version; each event: five columns
    assert sql.count("%s") == parameters <= MAX_CACHED_STATEMENT_PARAMS
    assert len(sql.encode()) <= MAX_CACHED_STATEMENT_LENGTH


def test_indexes_and_offsets_follow_the_shape() -> None:
    sql = _append_statement((2, 0, 1))
    assert "(0, %s, %s, %s::int), (1, %s, %s, %s::int), (2, %s, %s, %s::int)" in sql
    assert "(0, 1, %s::uuid" in sql and "(0, 2, %s::uuid" in sql and "(2, 1, %s::uuid" in sql
    assert "(1, 1, %s::uuid" not in sql
    assert _append_statement((2, 0, 1)) is sql  # one text per shape
