"""A page of a list query's results: the bus's own type, rendered by the viewsets (API.md "Queries").

Counting and slicing are Django's Paginator (a LIMIT/OFFSET query on a queryset, and a
COUNT when the page cannot tell the total: `LazyCountPaginator`), so a page is cut in
the database, never in Python.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar, runtime_checkable

from django.core.paginator import EmptyPage, InvalidPage, PageNotAnInteger, Paginator
from django.core.paginator import Page as DjangoPage

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


_LARGEST_OFFSET: Final = 2**62
"""Beyond this a page's OFFSET would overflow the database's integers: such a page is counted first (and is a 404)."""


class LazyCountPaginator(Paginator):
    """Django's Paginator, counting only when the page cannot tell the total itself.

    A page that holds fewer rows than a page can is the last one, so the total is the
    rows before it plus its own, and an empty page beyond the first lies past the end:
    neither needs a COUNT. Only a full page (more may follow) or a question about the
    number of pages (`?page=last`) counts. Most searches fit in their first page, which
    is then one query instead of two. Same pages, numbers and errors as Django's.
    """

    def page(self, number: Any) -> DjangoPage:
        if self.orphans or not self.allow_empty_first_page or "count" in self.__dict__:
            return super().page(number)
        number = self._positive(number)
        bottom = (number - 1) * self.per_page
        if bottom > _LARGEST_OFFSET:
            return super().page(number)
        items = list(self.object_list[bottom : bottom + self.per_page])
        if len(items) < self.per_page:
            if not items and number > 1:
                raise EmptyPage(self.error_messages["no_results"])
            self.__dict__["count"] = bottom + len(items)  # what the cached `count` would find
        return DjangoPage(items, number, self)

    def _positive(self, number: Any) -> int:
        """Django's validate_number without its upper bound (which needs the count)."""
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number


def paginate(rows: Any, request: PageRequest) -> Page[Any]:
    """The requested page of `rows` (a queryset or a list); a page that does not exist is NotFound."""
    paginator = LazyCountPaginator(rows, request.size)
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


_PAGE_RENDERERS: set[type] = set()


def renders_pages(paginator_class: type) -> bool:
    """Whether the class is a PageRenderer, remembered per class.

    A runtime Protocol check walks the protocol's members on every call, and the read
    API asks on every list request.
    """
    if paginator_class in _PAGE_RENDERERS:
        return True
    if not issubclass(paginator_class, PageRenderer):
        return False
    _PAGE_RENDERERS.add(paginator_class)
    return True
