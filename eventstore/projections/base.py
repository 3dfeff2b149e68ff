"""Projections: the base class every view builder extends, and their registry.

A projection names the event types it handles and the view models whose tables it
owns, and applies a whole batch of events with set-based writes. It writes only to
the tables its `Target` names, so the same code fills the live tables and, during a
blue/green rebuild, fresh shadow tables beside them.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from django.db import models

from eventstore.domain import DomainEvent
from eventstore.errors import ProjectionNotFound
from eventstore.log.read import Recorded


@dataclass(frozen=True, slots=True)
class Target:
    """Where a projection writes: a database alias and, per view model, a table name."""

    using: str
    tables: Mapping[type[models.Model], str] = field(default_factory=dict)

    def table(self, model: type[models.Model]) -> str:
        return self.tables.get(model, model._meta.db_table)


class Projection(ABC):
    """Builds view tables from the log; one instance serves every batch."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    """Bump it when the projection's logic or tables change: the views need a rebuild."""
    handles: ClassVar[tuple[type[DomainEvent], ...]]
    models: ClassVar[tuple[type[models.Model], ...]]
    """The view models whose tables this projection owns (and a rebuild replaces)."""

    @classmethod
    def handled_types(cls) -> frozenset[str]:
        return frozenset(event.event_type() for event in cls.handles)

    @abstractmethod
    def apply(self, batch: Sequence[Recorded], target: Target) -> None:
        """Apply events (only of handled types, in log order) to the target tables.

        Runs inside the runner's transaction: raise to refuse the whole batch.
        """


P = TypeVar("P", bound=type[Projection])
_REGISTRY: dict[str, Projection] = {}


def register(cls: P) -> P:
    """Class decorator: make the projection known to the runner, tasks and commands."""
    existing = _REGISTRY.get(cls.name)
    if existing is not None and type(existing) is not cls:
        raise ValueError(f"two projections are named {cls.name!r}")
    _REGISTRY[cls.name] = cls()
    return cls


def unregister(name: str) -> None:
    """Forget a projection (one registered for a while, as a test's); its tables and state stay."""
    _REGISTRY.pop(name, None)


def get_projection(name: str) -> Projection:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ProjectionNotFound(f"no projection named {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def all_projections() -> list[Projection]:
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]
