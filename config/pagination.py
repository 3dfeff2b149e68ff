"""Page-number pagination as API.md describes it: ?page= and ?page_size= (at most 100).

The query bus cuts the page (orders_read/pages.py); this class reads the request's
page parameters with DRF's rules and renders the bus's `Page` as the JSON API.md
gives: `count`, `next`, `previous`, `results`, then `page`, `page_size` and
`total_pages`. Links are DRF's own, so they keep every other query parameter.
"""

from typing import Any

from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from orders_read.pages import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, LazyCountPaginator, Page, PageRequest


class StandardPagination(PageNumberPagination):
    django_paginator_class = LazyCountPaginator
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def page_request(self, request: Request) -> PageRequest:
        """The page the client asked for; a size that is not a positive integer is the default."""
        return PageRequest(
            number=request.query_params.get(self.page_query_param) or 1,
            size=self.get_page_size(request) or DEFAULT_PAGE_SIZE,
        )

    def render(self, page: Page[Any], results: list[Any], request: Request) -> Response:
        # The absolute URL is built only for a link: most searches fit in one page and need none.
        url = request.build_absolute_uri() if page.has_next or page.has_previous else ""
        return Response(
            {
                "count": page.total,
                "next": replace_query_param(url, self.page_query_param, page.page + 1) if page.has_next else None,
                "previous": self._previous_link(url, page),
                "results": results,
                "page": page.page,
                "page_size": page.page_size,
                "total_pages": page.total_pages,
            }
        )

    def _previous_link(self, url: str, page: Page[Any]) -> str | None:
        if not page.has_previous:
            return None
        if page.page == 2:  # the first page's link carries no page parameter, as DRF renders it
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, page.page - 1)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"].update(
            {
                "page": {"type": "integer", "example": 1},
                "page_size": {"type": "integer", "example": DEFAULT_PAGE_SIZE},
                "total_pages": {"type": "integer", "example": 1},
            }
        )
        paginated["required"] = [*paginated.get("required", []), "page", "page_size", "total_pages"]
        return paginated
