"""A list's FilterSet narrows alike whether `narrow` builds it or skips it (a request naming none of its filters)."""

from typing import Any

import pytest
from django.db.models import QuerySet
from django.http import QueryDict

from orders_read.bus import ROUTES
from orders_read.errors import InvalidFilters
from orders_read.filters import DailySalesFilter, ListFilterSet, OrderListFilter, OrderSearchFilter, ProductFilter
from orders_read.models import DailySales, OrderSummary, ProductView

FILTERSETS = sorted({route.filterset for route in ROUTES.values() if route.filterset}, key=lambda f: f.__name__)
ROWS = {  # what each list's handler hands its FilterSet
    "OrderListFilter": lambda: OrderSummary.objects.all(),
    "OrderSearchFilter": lambda: OrderSummary.objects.all(),
    "CustomerOrdersFilter": lambda: OrderSummary.objects.filter(customer_id="c").order_by("-created_at", "order_id"),
    "ProductFilter": lambda: ProductView.objects.all(),
    "DailySalesFilter": lambda: DailySales.objects.order_by("date"),
}


def sql(queryset: QuerySet) -> str:
    return str(queryset.query)


def built(filterset: type[ListFilterSet], data: Any, queryset: QuerySet) -> QuerySet:
    narrowing = filterset(data=data, queryset=queryset)
    assert narrowing.is_valid()
    return narrowing.qs


@pytest.mark.parametrize("filterset", FILTERSETS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("data", [{}, QueryDict("page=3&page_size=5&consistency_token=x")])
def test_a_request_without_filters_is_narrowed_as_the_built_filterset_narrows_it(
    filterset: type[ListFilterSet], data: Any
) -> None:
    rows = ROWS[filterset.__name__]()
    assert sql(filterset.narrow(data, rows)) == sql(built(filterset, data, rows))


def test_a_search_ranked_by_relevance_keeps_its_order_without_filters() -> None:
    ranked = ProductView.objects.extra(select={"rank": "1"}, order_by=["-rank", "product_id"])
    assert sql(ProductFilter.narrow({}, ranked)) == sql(built(ProductFilter, {}, ranked))


def test_a_named_filter_is_still_validated_and_applied() -> None:
    rows = OrderSummary.objects.all()
    narrowed = OrderListFilter.narrow(QueryDict("status=shipped&ordering=-total_amount"), rows)
    assert sql(narrowed) == sql(built(OrderListFilter, QueryDict("status=shipped&ordering=-total_amount"), rows))
    with pytest.raises(InvalidFilters) as refused:
        OrderListFilter.narrow(QueryDict("ordering=created_at,status"), rows)
    assert set(refused.value.errors) == {"ordering"}


def test_the_form_class_is_built_once_per_filterset_and_model() -> None:
    first = OrderListFilter(data={}, queryset=OrderSummary.objects.all())
    second = OrderListFilter(data={"status": "nope"}, queryset=OrderSummary.objects.all())
    assert first.get_form_class() is second.get_form_class()
    assert first.is_valid() and not second.is_valid()
    assert first.form.fields["status"] is not second.form.fields["status"]


@pytest.mark.parametrize("filterset", FILTERSETS, ids=lambda f: f.__name__)
def test_what_the_query_applies_is_no_filter_of_rows(filterset: type[ListFilterSet]) -> None:
    assert filterset.applied_by_query <= filterset.base_filters.keys()
    assert all(filterset.base_filters[name].method == "_ignore" for name in filterset.applied_by_query)


@pytest.mark.parametrize(
    ("filterset", "query"),
    [
        (ProductFilter, "search=mug&page=2"),
        (ProductFilter, "search=mug&in_stock=true"),
        (ProductFilter, "search=mug&ordering=-price"),
        (ProductFilter, "search="),
        (OrderSearchFilter, "q=abc&sort_by=total_amount&sort_order=asc"),
        (OrderSearchFilter, "q=abc&sort_by=status"),
        (OrderSearchFilter, "q=abc&status=shipped"),
        (DailySalesFilter, "date_from=2026-01-01&date_to=2026-02-01"),
    ],
)
def test_parameters_the_query_applies_are_cleaned_as_the_form_cleans_them(
    filterset: type[ListFilterSet], query: str
) -> None:
    rows = ROWS[filterset.__name__]()
    data = QueryDict(query)
    assert sql(filterset.narrow(data, rows)) == sql(built(filterset, data, rows))


@pytest.mark.parametrize(
    ("filterset", "query"),
    [
        (ProductFilter, "search=" + "x" * 201),
        (OrderSearchFilter, "q=abc&sort_by=nope"),
        (OrderSearchFilter, "sort_order=up"),
        (DailySalesFilter, "date_from=2026-13-01"),
    ],
)
def test_an_invalid_parameter_the_query_applies_is_refused_as_the_filterset_refuses_it(
    filterset: type[ListFilterSet], query: str
) -> None:
    rows = ROWS[filterset.__name__]()
    expected = filterset(data=QueryDict(query), queryset=rows)
    assert not expected.is_valid()
    with pytest.raises(InvalidFilters) as refused:
        filterset.narrow(QueryDict(query), rows)
    assert refused.value.errors == expected.errors
