"""Who may see what a query answers: the viewer, and the scope every query declares in the bus's registry.

A customer sees only their own orders; staff see everything. Whatever a viewer may
not see is answered as missing (NotFoundError, a 404), never as forbidden, so an
order's existence does not leak to those who may not see it. Each scope names the
field or attribute that holds the owner, so no rule depends on guessing from the
shape of a result.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from orders_read.errors import NotAtThatPoint, NotFoundError

Handler = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asks: staff see everything, a customer (by username) only their own orders."""

    username: str | None
    is_staff: bool = False

    @classmethod
    def of(cls, user: Any) -> "Viewer":
        if user is None or not getattr(user, "is_authenticated", False):
            return cls(None, False)
        return cls(user.get_username(), bool(user.is_staff))

    def may_see(self, owner: str | None) -> bool:
        """Staff, or the owner themself (an ownerless thing is staff's only)."""
        return self.is_staff or (self.username is not None and self.username == owner)


class Scope:
    """Base of the access rules: runs a query's handler for a viewer and hides what they may not see."""

    def answer(self, handler: Handler, query: Any, viewer: Viewer) -> Any:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Public(Scope):
    """Anyone may see the answer: the catalogue."""

    def answer(self, handler: Handler, query: Any, viewer: Viewer) -> Any:
        return handler(query)


@dataclass(frozen=True, slots=True)
class StaffOnly(Scope):
    """Staff only (their endpoints also require it): to anyone else the answer does not exist."""

    def answer(self, handler: Handler, query: Any, viewer: Viewer) -> Any:
        if not viewer.is_staff:
            raise NotFoundError()
        return handler(query)


@dataclass(frozen=True, slots=True)
class OwnedRows(Scope):
    """A queryset of rows owned by the customer in `field`: a customer's is narrowed to their own rows."""

    field: str = "customer_id"

    def answer(self, handler: Handler, query: Any, viewer: Viewer) -> QuerySet:
        rows = handler(query)
        return rows if viewer.is_staff else rows.filter(**{self.field: viewer.username or ""})


@dataclass(frozen=True, slots=True)
class OwnedResult(Scope):
    """One result whose `attribute` names its owner: anyone else gets NotFound.

    A state that does not exist at a point in the past (NotAtThatPoint) says so only
    to those who may see the stream; to anyone else it is missing like any order.
    """

    attribute: str = "customer_id"
    missing: str = "No such order."

    def answer(self, handler: Handler, query: Any, viewer: Viewer) -> Any:
        try:
            result = handler(query)
        except NotAtThatPoint as absent:
            if absent.owner is not None and not viewer.may_see(absent.owner):
                raise NotFoundError(self.missing) from None
            raise
        if not viewer.may_see(getattr(result, self.attribute)):
            raise NotFoundError(self.missing)
        return result


@dataclass(frozen=True, slots=True)
class OwnerInQuery(Scope):
    """The query names the owner in `field` (a customer's orders): anyone else gets NotFound before it runs."""

    field: str = "customer_id"
    missing: str = "No such customer."

    def answer(self, handler: Handler, query: Any, viewer: Viewer) -> Any:
        if not viewer.may_see(getattr(query, self.field)):
            raise NotFoundError(self.missing)
        return handler(query)
