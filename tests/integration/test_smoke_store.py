"""A first round trip through the store on whichever database the suite runs on."""

from decimal import Decimal

import pytest

from eventstore.errors import ConcurrencyError
from eventstore.store import NO_STREAM, StreamWrite, append, read_all, read_stream
from orders_write.events import ProductRegistered, StockReceived

pytestmark = pytest.mark.django_db(transaction=True)


def test_append_then_read_back_in_order() -> None:
    registered = ProductRegistered(product_id="sku-1", name="Mug", description="", price=Decimal("9.99"))
    received = StockReceived(product_id="sku-1", quantity=3)
    result = append(StreamWrite("Product-sku-1", NO_STREAM, [registered, received]))
    assert result.versions == {"Product-sku-1": 2}
    events = read_stream("Product-sku-1")
    assert [e.version for e in events] == [1, 2]
    assert events[0].to_domain() == registered
    assert [e.position for e in read_all()] == [e.position for e in events]
    with pytest.raises(ConcurrencyError) as refused:
        append(StreamWrite("Product-sku-1", 1, [StockReceived(product_id="sku-1", quantity=1)]))
    assert (refused.value.expected, refused.value.actual) == (1, 2)
    assert len(read_stream("Product-sku-1")) == 2
