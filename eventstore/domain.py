"""Typed event classes: the registry, and the mapping between payload dicts and objects.

An event class is a frozen dataclass whose name is its stored `event_type` and whose
`schema_version` says which payload shape it writes. Plain Python, no Django, so
aggregates and projections can use the classes anywhere.
"""

import dataclasses
import datetime as dt
import typing
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from eventstore.errors import UnknownEventType


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DomainEvent:
    """Base of every event class; subclasses are registered by `@event_type`."""

    schema_version: ClassVar[int] = 1

    @classmethod
    def event_type(cls) -> str:
        return cls.__name__

    def to_payload(self) -> dict[str, Any]:
        """A JSON-ready dict: Decimal and datetime become strings (money never floats)."""
        return {f.name: _to_json(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> "DomainEvent":
        """Build the event from a payload of the current schema, coercing by type hints."""
        hints = _hints(cls)
        return cls(**{name: _from_json(data[name], hints[name]) for name in hints if name in data})


E = TypeVar("E", bound=type[DomainEvent])
_REGISTRY: dict[str, type[DomainEvent]] = {}


def event_type(cls: E) -> E:
    """Register an event class under its name, refusing two classes with one name."""
    name = cls.event_type()
    if _REGISTRY.get(name, cls) is not cls:
        raise ValueError(f"event type {name!r} is registered twice")
    _REGISTRY[name] = cls
    return cls


def event_class(name: str) -> type[DomainEvent]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownEventType(name) from None


def _hints(cls: type) -> dict[str, Any]:
    cached = _HINTS.get(cls)
    if cached is None:
        all_hints = typing.get_type_hints(cls)
        cached = _HINTS[cls] = {f.name: all_hints[f.name] for f in dataclasses.fields(cls)}
    return cached


_HINTS: dict[type, dict[str, Any]] = {}


def _to_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    return value


def _from_json(value: Any, hint: Any) -> Any:
    if value is None:
        return None
    base = typing.get_origin(hint) or hint
    if base is typing.Union or base is getattr(__import__("types"), "UnionType", None):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
        base = typing.get_origin(hint) or hint
    if base is Decimal:
        return Decimal(value)
    if base is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if base is tuple:
        return tuple(value)
    return value
