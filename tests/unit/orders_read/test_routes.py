"""The query bus's registry: each query declares handler, projections and access scope, or the app will not start."""

from dataclasses import dataclass

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from eventstore.projections.base import all_projections
from orders_read.access import Public
from orders_read.bus import ROUTES, Route, check_routes, defined_queries, routes_check
from orders_read.queries import GetProduct, Query


@dataclass(frozen=True, slots=True, kw_only=True)
class GetNothing:
    """Stands for a query someone added without a route (not a Query subclass, so the real check stays clean)."""


def test_every_query_of_the_read_side_has_a_route_and_the_check_runs_at_startup() -> None:
    assert set(defined_queries()) == set(ROUTES)
    assert all(issubclass(query, Query) for query in ROUTES)
    assert check_routes(ROUTES, defined_queries(), [p.name for p in all_projections()]) == []
    assert routes_check in checks.registry.registry.get_checks()
    assert routes_check() == []


def test_a_query_without_a_route_is_a_startup_error() -> None:
    [error] = check_routes(ROUTES, [*defined_queries(), GetNothing], [p.name for p in all_projections()])
    assert (error.id, error.level) == ("orders_read.E001", checks.ERROR)
    assert "GetNothing" in error.msg


def test_a_route_cannot_be_declared_without_an_access_scope() -> None:
    with pytest.raises(ImproperlyConfigured, match="no access scope"):
        Route(handler=lambda query: None, backed_by=(), scope=None)  # type: ignore[arg-type]


def test_a_route_waiting_for_an_unknown_projection_is_a_startup_error() -> None:
    routes = {GetProduct: Route(handler=lambda query: None, backed_by=("catalog",), scope=Public())}
    [error] = check_routes(routes, [GetProduct], ["catalogue"])
    assert error.id == "orders_read.E002" and "catalog" in error.msg
