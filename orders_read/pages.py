"""A page of a list query's results: the bus's own type, rendered by the viewsets (API.md "Queries").

Counting and slicing are Django's Paginator (one COUNT and one LIMIT/OFFSET query on a
queryset), so a page is cut in the database, never in Python.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar, runtime_checkable

from django.core.paginator import InvalidPage, Paginator

from orders_read.errors import NotFoundError

T = TypeVar("T")

DEFAULT_PAGE_SIZE: Final = 20
MAX_PAGE_SIZE: Final = 100
LAST: Final = "last"
"""`?page=last`: the last page, whatever its number."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PageRequest:
    """Which page a list query wants: a 1-based number (or "last", or whatever the client sent) and its size."""

    number: int | str = 1
    size: int = DEFAULT_PAGE_SIZE


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    """One page of results, with what a client needs to walk the rest."""

    items: Sequence[T]
    total: int
    """Results over all pages."""
    page: int
    page_size: int
    total_pages: int
    """At least 1: an empty list still has its (empty) first page."""

    @property
    def has_next(self) -> bool:
        return self.page < self.total_pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def paginate(rows: Any, request: PageRequest) -> Page[Any]:
    """The requested page of `rows` (a queryset or a list); a page that does not exist is NotFound."""
    paginator = Paginator(rows, request.size)
    number = paginator.num_pages if request.number == LAST else request.number
    try:
        page = paginator.page(number)
    except InvalidPage:
        raise NotFoundError("Invalid page.") from None
    return Page(
        items=list(page.object_list),
        total=paginator.count,
        page=page.number,
        page_size=request.size,
        total_pages=paginator.num_pages,
    )


@runtime_checkable
class PageRenderer(Protocol):
    """What the read API asks of its paginator (DEFAULT_PAGINATION_CLASS): the page wanted, and the page rendered."""

    def page_request(self, request: Any) -> PageRequest: ...

    def render(self, page: Page[Any], results: list[Any], request: Any) -> Any: ...
