"""The command endpoints as their clients read them: what each does, examples, and every error it can give.

One `extend_schema_view` per endpoint class, applied in api.py with one decorator
line, so the views stay about HTTP and this module about documentation. Error
examples are built with config/openapi.py's helpers from the same messages the
domain errors carry, so a documented body is the body a client gets. Eight
endpoints, each with examples for every answer, make it longer than most modules;
it is declarations only.
"""

from collections.abc import Callable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from config.openapi import (
    CHUNKED,
    MALFORMED_JSON,
    STAFF_ONLY,
    THROTTLED,
    TOO_LARGE,
    UNAUTHENTICATED,
    UNAVAILABLE,
    ViewT,
    error,
    error_responses,
    field_errors,
)
from orders_write import errors
from orders_write.serializers import CommandResultSerializer

TAG_CATALOGUE, TAG_ORDERS = "catalogue", "orders"
SKU = "MUG-001"
ORDER_ID = "3f2c8a8e-5b1d-4c7a-9e0f-2a6b7c8d9e10"
ADDRESS = {"name": "Alice Example", "street": "1 Main St", "city": "Oslo", "postcode": "0150"}


def _result(status: int, stream_id: str, version: int, position: int) -> OpenApiResponse:
    return OpenApiResponse(
        CommandResultSerializer,
        description="Done: the stream's new version (also the ETag) and the consistency token, in the body "
        "and in X-Consistency-Token.",
        examples=[
            OpenApiExample(
                "done",
                value={"id": stream_id, "version": version, "consistency_token": f"80731-{position}"},
                status_codes=[str(status)],
                response_only=True,
            )
        ],
    )


def _request(summary: str, value: dict) -> OpenApiExample:
    return OpenApiExample(summary, value=value, request_only=True)


# Errors every command can give; each command adds those of its own rules.
BAD_IDEMPOTENCY_KEY = error(
    400,
    "invalid_idempotency_key",
    "Idempotency-Key must be 1 to 255 characters.",
    summary="Idempotency-Key empty or too long",
)
BAD_IF_MATCH = error(400, "invalid_if_match", 'If-Match must be a version, like "3".', summary="If-Match is no version")
IN_PROGRESS = error(
    409,
    errors.RequestInProgress.code,
    errors.RequestInProgress.default_detail,
    summary="a request with this Idempotency-Key is still running",
)
CONCURRENCY = error(
    409,
    errors.ConcurrencyConflict.code,
    errors.ConcurrencyConflict.default_detail,
    summary="the stream kept changing while the command was retried",
)
VERSION_MISMATCH = error(412, errors.VersionMismatch.code, errors.VersionMismatch.default_detail, expected=3, actual=4)
KEY_REUSED = error(
    422,
    errors.IdempotencyKeyReused.code,
    errors.IdempotencyKeyReused.default_detail,
    summary="the Idempotency-Key came with another body before",
)
EVERY_COMMAND = (
    MALFORMED_JSON,
    CHUNKED,
    BAD_IDEMPOTENCY_KEY,
    UNAUTHENTICATED,
    IN_PROGRESS,
    TOO_LARGE,
    KEY_REUSED,
    THROTTLED,
)
ON_A_STREAM = (BAD_IF_MATCH, CONCURRENCY, VERSION_MISMATCH)
"""Commands on an existing order or product: If-Match applies, and so do concurrent changes."""

NO_PRODUCT = error(404, errors.NotFound.code, f"Product {SKU!r} does not exist.", summary="no such product")
NO_ORDER = error(404, errors.NotFound.code, f"Order {ORDER_ID} not found.", summary="no such order (or not yours)")
NOT_PENDING = error(
    422,
    errors.OrderNotPending.code,
    f"Order {ORDER_ID} is shipped.",
    summary="the order was shipped or cancelled",
    status="shipped",
)
UNKNOWN_PRODUCT = error(
    422,
    errors.UnknownProduct.code,
    "Product 'MUG-404' does not exist.",
    summary="no such product",
    product_id="MUG-404",
)
INSUFFICIENT_STOCK = error(
    422,
    errors.InsufficientStock.code,
    f"Only 3 of {SKU!r} available, 5 requested.",
    summary="not enough stock available",
    product_id=SKU,
    available=3,
    requested=5,
)


def _command(
    summary: str,
    description: str,
    tag: str,
    request: OpenApiExample,
    success: OpenApiResponse,
    status: int,
    *refusals: OpenApiExample,
    parameters: list[OpenApiParameter] | None = None,
    body: Any = None,
) -> Callable[[ViewT], ViewT]:
    """`body` replaces the view's request schema where it has none to show (an empty object)."""
    return extend_schema(
        **({"request": body} if body is not None else {}),  # request=None would mean "no body"
        summary=summary,
        description=description,
        tags=[tag],
        examples=[request],
        parameters=parameters,
        responses={status: success, **error_responses(*EVERY_COMMAND, *refusals, UNAVAILABLE)},
    )


product_register = extend_schema_view(
    post=_command(
        "Register a product",
        "Staff only. Adds a product to the catalogue; its sku becomes its product id and can never change. "
        "`initial_stock` units (default 0) go on hand at once. The product appears in catalogue reads "
        "once they include the answer's consistency token. If-Match does not apply: the product is new.",
        TAG_CATALOGUE,
        _request(
            "a mug with 40 in stock",
            {"sku": SKU, "name": "Enamel mug", "description": "Blue, 350 ml.", "price": "12.50", "initial_stock": 40},
        ),
        _result(201, SKU, 2, 1041),
        201,
        field_errors(
            "invalid fields",
            {
                "sku": ["A sku is 1-64 letters, digits, '.', '_' or '-'."],
                "price": ["Ensure that there are no more than 2 decimal places."],
            },
            summary="a bad sku and a price with three decimals",
        ),
        STAFF_ONLY,
        error(
            409,
            errors.AlreadyExists.code,
            f"A product with sku {SKU!r} already exists.",
            summary="the sku is taken",
            product_id=SKU,
        ),
    )
)

product_receive_stock = extend_schema_view(
    post=_command(
        "Receive stock",
        "Staff only. Puts `quantity` more units of the product on hand (in the warehouse), so they can be ordered.",
        TAG_CATALOGUE,
        _request("20 more units", {"quantity": 20}),
        _result(200, SKU, 5, 1187),
        200,
        field_errors(
            "invalid quantity", {"quantity": ["Ensure this value is greater than or equal to 1."]}, summary="quantity 0"
        ),
        STAFF_ONLY,
        NO_PRODUCT,
        *ON_A_STREAM,
    )
)

product_change_price = extend_schema_view(
    post=_command(
        "Change a product's price",
        "Staff only. The new price applies to items added from now on; lines already in orders keep "
        "the price they were added at.",
        TAG_CATALOGUE,
        _request("a new price", {"price": "14.90"}),
        _result(200, SKU, 6, 1203),
        200,
        field_errors(
            "invalid price",
            {"price": ["Ensure that there are no more than 2 decimal places."]},
            summary="three decimals",
        ),
        STAFF_ONLY,
        NO_PRODUCT,
        *ON_A_STREAM,
    )
)

order_create = extend_schema_view(
    post=_command(
        "Place an order",
        "Places a pending order and reserves its items' stock, all or nothing. Unit prices come from "
        "the catalogue; a price in the request is ignored. A customer orders for themselves "
        "(`customer_id` omitted or their own username); staff may order for any customer. The order id "
        "is chosen by the server and answered as `id`. If-Match does not apply: the order is new.",
        TAG_ORDERS,
        _request(
            "two mugs and a plate",
            {
                "items": [{"product_id": SKU, "quantity": 2}, {"product_id": "PLATE-7", "quantity": 1}],
                "shipping_address": ADDRESS,
            },
        ),
        _result(201, ORDER_ID, 3, 1210),
        201,
        field_errors("no items", {"items": ["This list may not be empty."]}, summary="an order without items"),
        UNKNOWN_PRODUCT,
        INSUFFICIENT_STOCK,
        error(
            422,
            errors.CustomerMismatch.code,
            errors.CustomerMismatch.default_detail,
            summary="a customer ordering for someone else",
        ),
        CONCURRENCY,
    )
)

order_add_item = extend_schema_view(
    post=_command(
        "Add an item to an order",
        "The order's owner or staff. Adds a line to a pending order at the catalogue's current price "
        "and reserves its stock.",
        TAG_ORDERS,
        _request("one more mug", {"product_id": SKU, "quantity": 1}),
        _result(200, ORDER_ID, 4, 1262),
        200,
        field_errors(
            "invalid quantity",
            {"quantity": ["Ensure this value is less than or equal to 10000."]},
            summary="an absurd quantity",
        ),
        NO_ORDER,
        NOT_PENDING,
        UNKNOWN_PRODUCT,
        INSUFFICIENT_STOCK,
        *ON_A_STREAM,
    )
)

_CANCEL = (
    "The order's owner or staff. Cancels a pending order and releases its reserved stock; "
    "a shipped or cancelled order cannot be cancelled."
)
_NO_REASON = field_errors("no reason", {"reason": ["This field is required."]}, summary="reason missing")

order_cancel = extend_schema_view(
    post=_command(
        "Cancel an order",
        _CANCEL,
        TAG_ORDERS,
        _request("changed my mind", {"reason": "Ordered the wrong colour."}),
        _result(200, ORDER_ID, 4, 1301),
        200,
        _NO_REASON,
        NO_ORDER,
        NOT_PENDING,
        *ON_A_STREAM,
    )
)

order_delete = extend_schema_view(
    delete=_command(
        "Cancel an order (DELETE)",
        f"The same as POST …/cancel/. {_CANCEL} The reason comes in the body or, for clients that cannot "
        "send a body with DELETE, as `?reason=`.",
        TAG_ORDERS,
        _request("changed my mind", {"reason": "Ordered the wrong colour."}),
        _result(200, ORDER_ID, 4, 1301),
        200,
        _NO_REASON,
        NO_ORDER,
        NOT_PENDING,
        *ON_A_STREAM,
        parameters=[
            OpenApiParameter(
                "reason",
                str,
                OpenApiParameter.QUERY,
                description="The reason, for clients that send no body; a reason in the body wins.",
                examples=[OpenApiExample("changed my mind", value="Ordered the wrong colour.")],
            )
        ],
    )
)

order_ship = extend_schema_view(
    post=_command(
        "Ship an order",
        "Staff only. Ships a pending order: its reserved units leave the warehouse (`on_hand` and "
        "`reserved` both drop, `available` is unchanged). The body is an empty object.",
        TAG_ORDERS,
        _request("ship", {}),
        _result(200, ORDER_ID, 5, 1344),
        200,
        error(403, errors.Forbidden.code, "Only staff can ship orders.", summary="a customer shipping"),
        NO_ORDER,
        NOT_PENDING,
        *ON_A_STREAM,
        body=OpenApiTypes.OBJECT,
    )
)
