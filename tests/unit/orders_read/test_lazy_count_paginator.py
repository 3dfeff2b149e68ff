"""LazyCountPaginator cuts the same pages and refuses the same numbers as Django's, counting only when it must."""

from typing import Any

import pytest
from django.core.paginator import InvalidPage, Paginator

from orders_read.pages import LazyCountPaginator


class Rows:
    """A list that notes whether anyone counted it (as a queryset's COUNT would be a query)."""

    def __init__(self, n: int) -> None:
        self.rows = list(range(n))
        self.counted = 0

    def __getitem__(self, key: slice) -> list[int]:
        return self.rows[key]

    def count(self) -> int:
        self.counted += 1
        return len(self.rows)


def outcome(paginator: Paginator, number: Any) -> tuple[Any, ...]:
    try:
        page = paginator.page(number)
    except InvalidPage as refused:
        return type(refused), str(refused)
    return list(page), page.number, paginator.count, paginator.num_pages, page.has_next(), page.has_previous()


@pytest.mark.parametrize("total", [0, 1, 19, 20, 21, 40, 45])
@pytest.mark.parametrize("number", [1, 2, 3, 4, "2", 2.0, 2.5, 0, -1, "x", None, 10**30])
def test_the_same_pages_and_refusals_as_djangos(total: int, number: Any) -> None:
    assert outcome(LazyCountPaginator(Rows(total), 20), number) == outcome(Paginator(Rows(total), 20), number)


@pytest.mark.parametrize(("total", "number"), [(0, 1), (5, 1), (45, 3), (45, 4), (40, 3)])
def test_a_page_short_of_full_or_past_the_end_is_answered_without_counting(total: int, number: int) -> None:
    rows = Rows(total)
    outcome(LazyCountPaginator(rows, 20), number)
    assert rows.counted == 0


@pytest.mark.parametrize(("total", "number"), [(20, 1), (45, 2)])
def test_a_full_page_counts_once_to_tell_whether_more_follow(total: int, number: int) -> None:
    rows = Rows(total)
    outcome(LazyCountPaginator(rows, 20), number)
    assert rows.counted == 1
