"""by_key reads a view's row as the ORM's get() does: every field the same, on each backend, once per statement."""

import uuid

import pytest
from django.db import connections
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from eventstore.routers import read_db_alias
from orders_read.models import OrderSummary, ProductView
from orders_read.rows import by_key
from tests.integration.orders_read.support import LogWriter, catch_up_all

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("manual_projections"),
]


def every_field(row: object) -> dict[str, object]:
    fields = type(row)._meta.concrete_fields  # type: ignore[attr-defined]
    return {f.attname: getattr(row, f.attname) for f in fields}


def test_a_row_is_the_instance_get_would_return() -> None:
    log = LogWriter()
    log.product("MUG-1", name="Mug", price="4.50", stock=5)
    log.product("PLT-2", name="Plate", price="12.00", stock=5)
    order_id, _ = log.order("ann", [("MUG-1", 2), ("PLT-2", 1)])
    log.ship(order_id)
    catch_up_all()

    for model, key in ((OrderSummary, uuid.UUID(order_id)), (OrderSummary, order_id), (ProductView, "MUG-1")):
        expected = model.objects.get(pk=key)
        found = by_key(model, key)
        assert type(found) is model
        assert every_field(found) == every_field(expected)
        assert {k: type(v) for k, v in every_field(found).items()} == {
            k: type(v) for k, v in every_field(expected).items()
        }
        assert model_to_dict(found) == model_to_dict(expected)
        assert found._state.db == expected._state.db == read_db_alias()
        assert not found._state.adding


def test_a_missing_row_is_none_after_one_statement() -> None:
    with CaptureQueriesContext(connections[read_db_alias()]) as queries:
        assert by_key(OrderSummary, uuid.uuid4()) is None
        assert by_key(ProductView, "NOPE") is None
    assert len(queries) == 2


def test_a_malformed_key_is_refused_as_the_orm_refuses_it() -> None:
    with pytest.raises(Exception) as orm:
        OrderSummary.objects.get(pk="not-a-uuid")
    with pytest.raises(Exception) as ours:
        by_key(OrderSummary, "not-a-uuid")
    assert type(ours.value) is type(orm.value)
