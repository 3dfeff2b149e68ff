"""django-filter FilterSets for the query API: every filter and ordering API.md offers.

An ordering is exactly one whitelisted field with an optional `-` (API.md): anything
else, a comma list included, is a 400 in DRF's field-error shape, where DRF's own
OrderingFilter silently ignores an unknown field and django-filter's accepts a list.
Each offered ordering has an index (orders_read/models.py).
"""

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

from django import forms
from django.db.models import Model, QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from django_filters import rest_framework as filters

from orders_read.errors import InvalidFilters

STATUS_CHOICES = (("pending", "pending"), ("shipped", "shipped"), ("cancelled", "cancelled"))


class StrictOrderingFilter(filters.ChoiceFilter):
    """One field, ascending or with `-` descending, plus a unique tie-breaker so pages
    never overlap or skip rows.

    A plain choice, not django-filter's CSV OrderingFilter: `a,b` is then not one of
    the choices and fails validation like any other unknown value.
    """

    def __init__(self, *args: object, fields: tuple[str, ...], tiebreak: str, **kwargs: object) -> None:
        self.tiebreak = tiebreak
        choices = [(f, f) for f in fields] + [(f"-{f}", f"-{f}") for f in fields]
        super().__init__(*args, choices=choices, **kwargs)

    def filter(self, qs: QuerySet, value: str | None) -> QuerySet:
        if not value:
            return qs
        return qs.order_by(value, self.tiebreak)


_FORM_CLASSES: dict[tuple[type, type[Model]], type[forms.Form]] = {}


class ListFilterSet(filters.FilterSet):
    """A list's FilterSet: its filters, then `arrange` (the list's order) over what they left.

    `narrow` builds the FilterSet only when the request names a filter that narrows the
    rows. A request naming none, or only parameters the query itself applies
    (`applied_by_query`: a search's text, a sort), passes every other filter an empty
    value, which lets the rows through; so once those few values are valid, only
    `arrange` has anything to do. A FilterSet deep-copies its filters and a form its
    fields on every request, which a plain page or a search would otherwise pay.
    """

    applied_by_query: ClassVar[frozenset[str]] = frozenset()
    """Parameters validated here but applied by the query or by `arrange`, never as a filter of rows."""

    @classmethod
    def arrange(cls, queryset: QuerySet, cleaned: Mapping[str, Any]) -> QuerySet:
        """The rows after the filters, in the list's order (`cleaned`: the validated parameters)."""
        return queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return self.arrange(super().filter_queryset(queryset), self.form.cleaned_data)

    def get_form_class(self) -> type[forms.Form]:
        return self.form_class(self.queryset.model)

    @classmethod
    def form_class(cls, model: type[Model]) -> type[forms.Form]:
        """One form class per FilterSet class and model, built once: none of these filters
        makes its form field from the request (as a ModelChoiceFilter with a callable
        queryset would), and each form copies its class's fields (Django's BaseForm)."""
        key = (cls, model)
        form_class = _FORM_CLASSES.get(key)
        if form_class is None:  # two threads may both build it: either result is as good
            form_class = _FORM_CLASSES[key] = filters.FilterSet.get_form_class(
                cls(queryset=model._default_manager.none())
            )
        return form_class

    @classmethod
    def narrow(cls, data: Mapping[str, Any], queryset: QuerySet) -> QuerySet:
        """`queryset` filtered by `data`; a malformed parameter raises InvalidFilters (a 400)."""
        cleaned = cls._only_applied_by_query(data, queryset.model)
        if cleaned is not None:
            return cls.arrange(queryset.all(), cleaned)
        narrowing = cls(data=data, queryset=queryset)
        if not narrowing.is_valid():
            raise InvalidFilters(narrowing.errors)
        return narrowing.qs

    @classmethod
    def _only_applied_by_query(cls, data: Mapping[str, Any], model: type[Model]) -> dict[str, Any] | None:
        """The cleaned values when `data` names no filter but valid `applied_by_query` ones, else None.

        Cleaned as the form would clean them (a field's clean keeps no state, so the
        class's fields serve every request); anything invalid goes the FilterSet's way,
        which words the 400 as always.
        """
        named = cls.base_filters.keys() & data.keys()
        if not named <= cls.applied_by_query:
            return None
        cleaned: dict[str, Any] = {}
        if named:
            fields = cls.form_class(model).base_fields
            for name in named:
                field = fields[name]
                try:
                    cleaned[name] = field.clean(field.widget.value_from_datadict(data, {}, name))
                except forms.ValidationError:
                    return None
        return cleaned


class OrderListFilter(ListFilterSet):
    customer_id = filters.CharFilter(field_name="customer_id", max_length=150)
    status = filters.ChoiceFilter(choices=STATUS_CHOICES)
    ordering = StrictOrderingFilter(fields=("created_at", "total_amount", "status"), tiebreak="order_id")

    @classmethod
    def arrange(cls, queryset: QuerySet, cleaned: Mapping[str, Any]) -> QuerySet:
        return queryset if queryset.query.order_by else queryset.order_by("-created_at", "order_id")


class CustomerOrdersFilter(ListFilterSet):
    status = filters.ChoiceFilter(choices=STATUS_CHOICES)


SORT_BY = (("created_at", "created_at"), ("total_amount", "total_amount"), ("status", "status"))
SORT_ORDER = (("asc", "asc"), ("desc", "desc"))


class DateOrDateTimeField(forms.Field):
    """An ISO 8601 date (`2026-11-29`, the whole UTC day) or date-time (with a zone, or UTC without one)."""

    default_error_messages = {"invalid": "Enter an ISO 8601 date or date-time."}

    def to_python(self, value: Any) -> date | datetime | None:
        if value in self.empty_values:
            return None
        try:
            parsed = parse_date(value) or parse_datetime(value)  # a bare date first: it is a whole day
        except ValueError:  # well-formed but impossible: month 13
            parsed = None
        if parsed is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if isinstance(parsed, datetime) and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed


class CreatedBoundFilter(filters.Filter):
    """`created_from` / `created_to`, both inclusive: a date bound covers its whole UTC day."""

    field_class = DateOrDateTimeField

    def __init__(self, *args: Any, upper: bool, **kwargs: Any) -> None:
        self.upper = upper
        super().__init__(*args, field_name="created_at", **kwargs)

    def filter(self, qs: QuerySet, value: date | datetime | None) -> QuerySet:
        if value is None:
            return qs
        if isinstance(value, datetime):
            return qs.filter(created_at__lte=value) if self.upper else qs.filter(created_at__gte=value)
        start = datetime.combine(value, time.min, tzinfo=UTC)
        return qs.filter(created_at__lt=start + timedelta(days=1)) if self.upper else qs.filter(created_at__gte=start)


class OrderSearchFilter(ListFilterSet):
    """`q` is applied by the SearchOrders query; here the list's filters, a creation range and the sort."""

    applied_by_query = frozenset({"q", "sort_by", "sort_order"})

    q = filters.CharFilter(method="_ignore", max_length=200)
    status = filters.ChoiceFilter(choices=STATUS_CHOICES)
    customer_id = filters.CharFilter(field_name="customer_id", max_length=150)
    created_from = CreatedBoundFilter(upper=False)
    created_to = CreatedBoundFilter(upper=True)
    sort_by = filters.ChoiceFilter(choices=SORT_BY, method="_ignore")
    sort_order = filters.ChoiceFilter(choices=SORT_ORDER, method="_ignore")

    def _ignore(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset

    @classmethod
    def arrange(cls, queryset: QuerySet, cleaned: Mapping[str, Any]) -> QuerySet:
        field = cleaned.get("sort_by") or "created_at"
        descending = (cleaned.get("sort_order") or "desc") == "desc"
        return queryset.order_by(f"-{field}" if descending else field, "order_id")


IN_STOCK = (("true", "true"), ("false", "false"), ("1", "1"), ("0", "0"))


class ProductFilter(ListFilterSet):
    """`search` is applied by the SearchProducts query (full text); here in_stock and ordering."""

    applied_by_query = frozenset({"search"})

    search = filters.CharFilter(method="_ignore", max_length=200)
    in_stock = filters.ChoiceFilter(choices=IN_STOCK, method="_in_stock")
    ordering = StrictOrderingFilter(fields=("name", "price", "available"), tiebreak="product_id")

    def _ignore(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset

    def _in_stock(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        wanted = value in ("true", "1")
        return queryset.filter(available__gt=0) if wanted else queryset.filter(available__lte=0)

    @classmethod
    def arrange(cls, queryset: QuerySet, cleaned: Mapping[str, Any]) -> QuerySet:
        if queryset.query.order_by or queryset.query.extra_order_by:  # asked for, or relevance of a search
            return queryset
        return queryset.order_by("product_id")


class DailySalesFilter(ListFilterSet):
    """Bad dates are 400; the range itself is applied by the GetDailySales query."""

    applied_by_query = frozenset({"date_from", "date_to"})

    date_from = filters.DateFilter(method="_ignore")
    date_to = filters.DateFilter(method="_ignore")

    def _ignore(self, queryset: QuerySet, name: str, value: object) -> QuerySet:
        return queryset
