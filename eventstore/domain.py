"""Typed event classes: the registry, and the mapping between payload dicts and objects.

An event class is a frozen dataclass whose name is its stored `event_type` and whose
`schema_version` says which payload shape it writes. Plain Python, no Django, so
aggregates and projections can use the classes anywhere.
"""

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar, Self, TypeVar

from eventstore.errors import UnknownEventType


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DomainEvent:
    """Base of every event class; subclasses are registered by `@event_type`."""

    schema_version: ClassVar[int] = 1

    @classmethod
    def event_type(cls) -> str:
        return cls.__name__

    def to_payload(self) -> dict[str, Any]:
        """A JSON-ready dict: Decimal and datetime become strings (money never floats).

        Every command encodes its events, so each class's field names are looked up once.
        """
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in dataclasses.fields(self))
        return {name: _to_json(getattr(self, name)) for name in names}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Self:
        """Build the event from a payload of the current schema, coercing by type hints.

        Folds decode every event of the log, so each class's coercions are worked out once
        and a payload with exactly the class's fields is passed on without a copy per field.
        """
        decode = _DECODERS.get(cls)
        if decode is None:
            decode = _DECODERS[cls] = _decoder(cls)
        return decode(data)


E = TypeVar("E", bound=type[DomainEvent])
_REGISTRY: dict[str, type[DomainEvent]] = {}


def event_type(cls: E) -> E:
    """Register an event class under its name, refusing two classes with one name."""
    name = cls.event_type()
    if _REGISTRY.get(name, cls) is not cls:
        raise ValueError(f"event type {name!r} is registered twice")
    _REGISTRY[name] = cls
    return cls


def decode(name: str, data: dict[str, Any]) -> DomainEvent:
    """The event of type `name` built from a payload of the current schema: `from_payload` in one lookup.

    Every fold calls this once per event, so the decoder is found by the stored type name
    directly rather than through the class (raises UnknownEventType for an unregistered type).
    """
    decoder = _BY_NAME.get(name)
    if decoder is None:
        decoder = _BY_NAME[name] = _decoder(event_class(name))
    return decoder(data)


def event_class(name: str) -> type[DomainEvent]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownEventType(name) from None


D = TypeVar("D", bound=DomainEvent)
_DECODERS: dict[type, Callable[[dict[str, Any]], Any]] = {}
_BY_NAME: dict[str, Callable[[dict[str, Any]], DomainEvent]] = {}


def _decoder(cls: type[D]) -> Callable[[dict[str, Any]], D]:
    """A payload-to-event function for `cls`: only the fields whose type needs it (money, times) are coerced.

    A complete payload is set on a new instance field by field, which is what the frozen
    dataclass's `__init__` does (event classes define no `__post_init__`) without its
    keyword packing: folds decode every event of the log, and this halves the cost. A
    payload missing a field goes through the constructor, so a default applies or the
    usual TypeError names the field.
    """
    all_hints = typing.get_type_hints(cls)
    plan = tuple((f.name, _coercion(all_hints[f.name])) for f in dataclasses.fields(cls))
    new, set_field = object.__new__, object.__setattr__

    def coerced(data: dict[str, Any]) -> dict[str, Any]:
        fields = {}
        for name, coerce in plan:
            if name in data:
                value = data[name]
                fields[name] = value if coerce is None or value is None else coerce(value)
        return fields

    def decode(data: dict[str, Any]) -> D:
        event = new(cls)
        try:
            for name, coerce in plan:
                value = data[name]
                set_field(event, name, value if coerce is None or value is None else coerce(value))
        except KeyError:
            return cls(**coerced(data))
        return event

    return decode


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_JSON_READY = (str, int, float, bool, type(None))


def _to_json(value: Any) -> Any:
    if isinstance(value, _JSON_READY):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    return value


def _coercion(hint: Any) -> Callable[[Any], Any] | None:
    """How a JSON value becomes a field of type `hint` (None: it is already the right type)."""
    base = typing.get_origin(hint) or hint
    if base is typing.Union or base is types.UnionType:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
        base = typing.get_origin(hint) or hint
    if base is Decimal:
        return Decimal
    if base is dt.datetime:
        return dt.datetime.fromisoformat
    if base is tuple:
        return tuple
    return None
