"""A read serializer's output built without DRF's per-field machinery: the same dicts, at a fraction of the calls.

DRF builds a ModelSerializer's fields anew for every response (get_fields: mapping
model fields, deep-copying declared ones) and then walks them per row through
get_attribute, a generator and each field's to_representation. The read API answers
every request with a few fixed serializers, so `representer` reads a serializer's
fields once per process and turns them into a plan: per field its name and one plain
converter that computes what the field's to_representation computes (the same
conversions, rounding, time zone and formats, read from the same field objects).

Only field kinds whose output is reproduced exactly here are planned (an exact-type
check, so a subclass that changes its output is never mistaken for its base); a
serializer with any other field has no representer and is rendered by DRF. A row the
plan cannot take as planned (a missing key, a value DRF would call or reject) is
rendered by the DRF serializer itself, so whatever DRF would answer, or raise, is the
answer.
"""

import datetime
import decimal
import re
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.signals import setting_changed
from django.db.models import Model
from django.dispatch import receiver
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework import fields as f
from rest_framework.settings import api_settings

Converter = Callable[[Any, Any], Any]
"""(value, the render's time zone) -> what the field's to_representation returns for a value that is not None."""


class Representer:
    """One serializer's `to_representation`, planned once: `one(row)` and `many(rows)` answer what `.data` would."""

    def __init__(self, serializer: serializers.Serializer, plan: list[tuple[str, Converter]], model: type | None):
        self._serializer = serializer
        self._plan = plan
        self._model = model
        """Rows of exactly this class (or dicts) are planned; anything else goes DRF's way."""

    def one(self, row: Any) -> dict[str, Any]:
        return self._row(row, _render_timezone())

    def many(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        zone = _render_timezone()
        return [self._row(row, zone) for row in rows]

    def _row(self, row: Any, zone: Any) -> dict[str, Any]:
        if type(row) is dict:
            value_of: Callable[[str], Any] = row.__getitem__
        elif type(row) is self._model:
            value_of = row.__dict__.__getitem__  # a loaded concrete field's value; deferred is a KeyError
        else:
            return self._serializer.to_representation(row)
        try:
            out = {}
            for name, convert in self._plan:
                value = value_of(name)
                out[name] = None if value is None else convert(value, zone)
            return out
        except Exception:  # DRF's own path answers (or raises) exactly as DRF would
            return self._serializer.to_representation(row)


def _render_timezone() -> Any:
    """What DateTimeField.default_timezone returns: the same for every field and row of one render."""
    return timezone.get_current_timezone() if settings.USE_TZ else None


def representer(serializer_class: type[serializers.BaseSerializer]) -> Representer | None:
    """The class's representer, made once per process; None when a field has no exact plan (DRF renders it)."""
    try:
        return _REPRESENTERS[serializer_class]
    except KeyError:
        serializer = serializer_class()
        made = _plan_serializer(serializer) if isinstance(serializer, serializers.Serializer) else None
        return _REPRESENTERS.setdefault(serializer_class, made)  # two threads may both plan: either is as good


_REPRESENTERS: dict[type, Representer | None] = {}


@receiver(setting_changed)
def _forget(setting: str, **kwargs: Any) -> None:
    """api_settings (formats, decimal coercion) are read when a plan is made: a test that changes them starts over."""
    if setting in ("REST_FRAMEWORK", "USE_TZ"):
        _REPRESENTERS.clear()


def _plan_serializer(serializer: serializers.Serializer) -> Representer | None:
    plan: list[tuple[str, Converter]] = []
    for field in serializer.fields.values():
        if field.write_only:
            continue
        name = field.field_name
        if name is None or field.source_attrs != [name]:
            return None
        convert = _converter(field)
        if convert is None:
            return None
        plan.append((name, convert))
    meta = getattr(serializer, "Meta", None)
    model = getattr(meta, "model", None) if isinstance(serializer, serializers.ModelSerializer) else None
    if model is not None and not all(_is_concrete(model, name) for name, _ in plan):
        return None
    return Representer(serializer, plan, model)


def _is_concrete(model: type[Model], name: str) -> bool:
    """A column of the model: its value is in the instance's __dict__ under its name once loaded."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:  # a property or method, which only DRF renders
        return False
    return bool(getattr(field, "concrete", False)) and getattr(field, "attname", None) == name


def _converter(field: f.Field) -> Converter | None:
    """A plain function computing field.to_representation(value) for a value that is not None, or None."""
    kind = type(field)
    if kind in (f.CharField, f.UUIDField) and getattr(field, "uuid_format", "hex_verbose") == "hex_verbose":
        return _str
    if kind is f.IntegerField:
        return _int
    if kind is f.DecimalField:
        return _decimal_converter(field)
    if kind is f.DateTimeField:
        return _datetime_converter(field)
    if kind is f.DictField and type(field.child) is f._UnvalidatedField:  # type: ignore[attr-defined]
        return _dict
    if kind is serializers.ListSerializer:
        child = _plan_serializer(field.child)  # type: ignore[attr-defined]
        if child is None:
            return None
        return lambda value, zone: _list(child, value, zone)
    return None


def _str(value: Any, zone: Any) -> str:
    return str(value)


def _int(value: Any, zone: Any) -> int:
    return int(value)


def _dict(value: Any, zone: Any) -> dict[str, Any]:
    # DictField with an unvalidated child: keys as text, values as they are.
    return {str(key): val for key, val in value.items()}


def _list(child: Representer, value: Any, zone: Any) -> list[dict[str, Any]]:
    if type(value) is not list:  # a manager or another iterable: DRF's ListSerializer knows what to do
        raise TypeError
    return [child._row(item, zone) for item in value]


def _decimal_converter(field: f.Field) -> Converter | None:
    coerce = getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    if field.decimal_places is None or field.normalize_output or field.localize or not coerce:  # type: ignore[attr-defined]
        return None
    places, max_digits, rounding = field.decimal_places, field.max_digits, field.rounding  # type: ignore[attr-defined]
    exponent = decimal.Decimal(".1") ** places
    # Money as the views store it (a numeric column, or "12.50" in a line's JSON) already has exactly the field's
    # places and fits its digits: quantizing changes nothing, so its plain text is the answer.
    whole = max_digits - places if max_digits is not None else 0
    canonical = re.compile(rf"-?(?:0|[1-9][0-9]{{0,{whole - 1}}})\.[0-9]{{{places}}}") if whole > 0 < places else None

    def convert(value: Any, zone: Any) -> str:
        kind = type(value)
        if canonical is not None:
            if kind is str and canonical.fullmatch(value):
                return value
            if kind is decimal.Decimal and canonical.fullmatch(text := f"{value:f}"):
                return text
        if not isinstance(value, decimal.Decimal):
            value = decimal.Decimal(str(value).strip())
        context = decimal.getcontext().copy()
        if max_digits is not None:
            context.prec = max_digits
        return f"{value.quantize(exponent, rounding=rounding, context=context):f}"

    return convert


def _datetime_converter(field: f.Field) -> Converter | None:
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    if output_format is None or output_format.lower() != ISO_8601:
        return None
    own_zone = getattr(field, "timezone", _NO_ZONE)

    def convert(value: Any, zone: Any) -> Any:
        if not value:
            return None
        if isinstance(value, str):
            return value
        target = zone if own_zone is _NO_ZONE else own_zone
        if target is None or not isinstance(value, datetime.datetime) or value.utcoffset() is None:
            value = field.enforce_timezone(value)  # type: ignore[attr-defined]  # naive values and naive output: DRF's own rules
        else:
            value = value.astimezone(target)
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return convert


_NO_ZONE: Any = object()
