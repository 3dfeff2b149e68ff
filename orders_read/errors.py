"""The read side's refusals, in its own terms; config/exception_handler.py maps them to HTTP."""

from collections.abc import Mapping
from typing import Any, Literal


class NotFoundError(Exception):
    """The thing asked for does not exist, or the viewer may not see it (never a 403)."""

    consistency: Literal["fresh", "stale"] | None = None
    """How fresh the views that found nothing were, when the query carried a token (the bus
    sets it): a client must tell "not there" from "not in the views yet"."""

    def __init__(self, detail: str = "Not found.") -> None:
        super().__init__(detail)
        self.detail = detail


class NotAtThatPoint(NotFoundError):
    """The stream exists but has no state at the point asked for.

    Carries the order's customer (None: a public product) so the bus tells only those who
    may see the order why: to anyone else it must look like any missing order.
    """

    def __init__(self, detail: str, *, owner: str | None) -> None:
        super().__init__(detail)
        self.owner = owner


class InvalidFilters(Exception):
    """A list's filter or ordering parameters did not validate: the field errors, per parameter."""

    def __init__(self, errors: Mapping[str, Any]) -> None:
        super().__init__(dict(errors))
        self.errors = errors
