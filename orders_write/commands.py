"""Commands: what a user asks the write side to do, as immutable, validated-shape messages.

A command is named in the imperative and carries who asked (`Metadata`) beside its
own fields. Shapes and ranges are already checked (serializers); the rules that need
the current state are the aggregates' job.
"""

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eventstore.log.positions import Checkpoint


@dataclass(frozen=True, slots=True, kw_only=True)
class IdempotencyClaim:
    """An Idempotency-Key with what identifies the request it was first used for."""

    key: str
    user_id: int
    fingerprint: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Metadata:
    """Who sent the command and how it travels: copied onto every event it produces."""

    user: str
    user_id: int | None = None
    is_staff: bool = False
    correlation_id: str = ""
    idempotency: IdempotencyClaim | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """Base of every command; `expected_version` is the client's If-Match, if it sent one.

    `weak_if_match`: the client sent a weak tag (`W/"3"`). If-Match compares strongly
    (RFC 9110), so a weak tag matches no version: the command is refused with 412.
    """

    metadata: Metadata
    command_id: uuid.UUID = field(default_factory=uuid.uuid4)
    expected_version: int | None = None
    weak_if_match: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterProduct(Command):
    sku: str
    name: str
    description: str = ""
    price: Decimal
    initial_stock: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveStock(Command):
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangePrice(Command):
    sku: str
    price: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderLine:
    """One requested line: a product and a quantity; the price comes from the catalogue."""

    product_id: str
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateOrder(Command):
    customer_id: str
    items: tuple[OrderLine, ...]
    shipping_address: dict[str, Any]
    order_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True, slots=True, kw_only=True)
class AddOrderItem(Command):
    order_id: str
    product_id: str
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrder(Command):
    order_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipOrder(Command):
    order_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandResult:
    """What a command did, in domain terms: the HTTP answer is the command API's to render.

    `id` and `version` name the target stream and its version after the command;
    `checkpoint` is where its events sit in the log (what read-your-writes waits for);
    `created` tells whether the command opened the stream. An idempotent replay is the
    first try's result, unchanged.
    """

    id: str
    version: int
    checkpoint: Checkpoint
    created: bool = False
