"""The command endpoints: thin DRF views that validate a body, build one command and dispatch it.

Each view checks shape (its nested InputSerializer, 400), builds the command with who
sent it, and calls `dispatch`; domain errors become HTTP answers in
config/exception_handler.py, never here. The bus answers with a domain result (the
first try's, on an idempotent replay); `command_response` renders it (status, body,
ETag, X-Consistency-Token) in one place, so a replay is the same answer.
"""

import re
import uuid
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders_write import api_schema
from orders_write import commands as c
from orders_write.bus import dispatch
from orders_write.idempotency import MAX_KEY_LENGTH, fingerprint
from orders_write.limits import MAX_LINES, MAX_RECEIVE
from orders_write.serializers import (
    CommandResultSerializer,
    OrderItemSerializer,
    ShippingAddressField,
    StrictCharField,
    price_field,
    quantity_field,
    sku_field,
)

_IF_MATCH = re.compile(r'^(W/)?"?(\d{1,18})"?$')
_HEADERS = [
    OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, description="Replays the first answer."),
    OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, description='"<version>" of the target stream.'),
]


class InvalidHeader(APIException):
    status_code = 400
    default_code = "invalid_header"


class CommandApi(APIView):
    """Shared plumbing: metadata from the request, If-Match, and turning the result into a Response."""

    permission_classes = [IsAuthenticated]

    def validated(self, serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def run(self, request: Request, command_type: type[c.Command], **fields: Any) -> Response:
        expected, weak = self.if_match(request)
        command = command_type(metadata=self.metadata(request), expected_version=expected, weak_if_match=weak, **fields)
        return command_response(dispatch(command))

    def metadata(self, request: Request) -> c.Metadata:
        user = request.user
        return c.Metadata(
            user=user.get_username(),
            user_id=user.pk,
            is_staff=bool(user.is_staff),
            correlation_id=getattr(request._request, "request_id", ""),
            idempotency=self.claim(request),
        )

    def claim(self, request: Request) -> c.IdempotencyClaim | None:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return None
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidHeader(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.", "invalid_idempotency_key")
        data = request.data if isinstance(request.data, dict) else list(request.data)
        # The command APIs admit only authenticated users (a pk), and DRF's request always has a method.
        return c.IdempotencyClaim(
            key=key,
            user_id=request.user.pk,  # type: ignore[arg-type]
            fingerprint=fingerprint(request.method, request.get_full_path(), data),  # type: ignore[arg-type]
        )

    def if_match(self, request: Request) -> tuple[int | None, bool]:
        """The version If-Match names, and whether its tag was weak (which then never matches)."""
        value = request.headers.get("If-Match")
        if value is None or value.strip() == "*":
            return None, False
        match = _IF_MATCH.match(value.strip())
        if match is None:
            raise InvalidHeader('If-Match must be a version, like "3".', "invalid_if_match")
        return int(match[2]), bool(match[1])


def command_response(result: c.CommandResult) -> Response:
    """API.md "Commands": 201 when the command opened the stream, else 200; the version is the ETag."""
    token = result.checkpoint.token()
    return Response(
        {"id": result.id, "version": result.version, "consistency_token": token},
        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        headers={"ETag": f'"{result.version}"', "X-Consistency-Token": token},
    )


# Products (staff) -----------------------------------------------------------------


@api_schema.product_register
class ProductRegisterApi(CommandApi):
    permission_classes = [IsAdminUser]

    @extend_schema_serializer(component_name="ProductRegisterInput")
    class InputSerializer(serializers.Serializer):
        sku = sku_field()
        name = StrictCharField(max_length=200)
        description = StrictCharField(max_length=5000, allow_blank=True, required=False, default="")
        price = price_field()
        initial_stock = serializers.IntegerField(min_value=0, max_value=MAX_RECEIVE, required=False, default=0)

    @extend_schema(request=InputSerializer, responses={201: CommandResultSerializer}, parameters=_HEADERS)
    def post(self, request: Request) -> Response:
        data = self.validated(self.InputSerializer, request.data)
        return self.run(request, c.RegisterProduct, **data)


@api_schema.product_receive_stock
class ProductReceiveStockApi(CommandApi):
    permission_classes = [IsAdminUser]

    @extend_schema_serializer(component_name="ProductReceiveStockInput")
    class InputSerializer(serializers.Serializer):
        quantity = serializers.IntegerField(min_value=1, max_value=MAX_RECEIVE)

    @extend_schema(request=InputSerializer, responses={200: CommandResultSerializer}, parameters=_HEADERS)
    def post(self, request: Request, sku: str) -> Response:
        data = self.validated(self.InputSerializer, request.data)
        return self.run(request, c.ReceiveStock, sku=sku, **data)


@api_schema.product_change_price
class ProductChangePriceApi(CommandApi):
    permission_classes = [IsAdminUser]

    @extend_schema_serializer(component_name="ProductChangePriceInput")
    class InputSerializer(serializers.Serializer):
        price = price_field()

    @extend_schema(request=InputSerializer, responses={200: CommandResultSerializer}, parameters=_HEADERS)
    def post(self, request: Request, sku: str) -> Response:
        data = self.validated(self.InputSerializer, request.data)
        return self.run(request, c.ChangePrice, sku=sku, **data)


# Orders ---------------------------------------------------------------------------


@api_schema.order_create
class OrderCreateApi(CommandApi):
    @extend_schema_serializer(component_name="OrderCreateInput")
    class InputSerializer(serializers.Serializer):
        customer_id = StrictCharField(max_length=150, required=False)
        # A ListField, not `many=True`: an empty list is then `{"items": ["..."]}` (API.md's field error shape),
        # not `{"items": {"non_field_errors": [...]}}`.
        items = serializers.ListField(child=OrderItemSerializer(), allow_empty=False, max_length=MAX_LINES)
        shipping_address = ShippingAddressField()

    @extend_schema(request=InputSerializer, responses={201: CommandResultSerializer}, parameters=_HEADERS)
    def post(self, request: Request) -> Response:
        data = self.validated(self.InputSerializer, request.data)
        items = tuple(c.OrderLine(**item) for item in data["items"])
        return self.run(
            request,
            c.CreateOrder,
            customer_id=data.get("customer_id") or request.user.get_username(),
            items=items,
            shipping_address=dict(data["shipping_address"]),
        )


@api_schema.order_add_item
class OrderAddItemApi(CommandApi):
    @extend_schema_serializer(component_name="OrderAddItemInput")
    class InputSerializer(serializers.Serializer):
        product_id = sku_field()
        quantity = quantity_field()

    @extend_schema(request=InputSerializer, responses={200: CommandResultSerializer}, parameters=_HEADERS)
    def post(self, request: Request, order_id: uuid.UUID) -> Response:
        data = self.validated(self.InputSerializer, request.data)
        return self.run(request, c.AddOrderItem, order_id=str(order_id), **data)


# API.md marks optional body fields with `?`; `reason` has none, so a cancel without one is a 400.
@extend_schema_serializer(component_name="OrderCancelInput")
class CancelInputSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=500, allow_blank=True)


@api_schema.order_cancel
class OrderCancelApi(CommandApi):
    InputSerializer = CancelInputSerializer

    @extend_schema(request=InputSerializer, responses={200: CommandResultSerializer}, parameters=_HEADERS)
    def post(self, request: Request, order_id: uuid.UUID) -> Response:
        data = self.validated(self.InputSerializer, request.data)
        return self.run(request, c.CancelOrder, order_id=str(order_id), **data)


@api_schema.order_delete
class OrderDeleteApi(CommandApi):
    """DELETE is cancel: the reason comes from the body or, for clients that send no body, `?reason=`."""

    InputSerializer = CancelInputSerializer

    @extend_schema(
        request=InputSerializer,
        responses={200: CommandResultSerializer},
        parameters=[*_HEADERS, OpenApiParameter("reason", str, OpenApiParameter.QUERY)],
    )
    def delete(self, request: Request, order_id: uuid.UUID) -> Response:
        body = request.data
        if isinstance(body, dict) and "reason" not in body and "reason" in request.query_params:
            body = {"reason": request.query_params["reason"]}
        data = self.validated(self.InputSerializer, body)
        return self.run(request, c.CancelOrder, order_id=str(order_id), **data)


@api_schema.order_ship
class OrderShipApi(CommandApi):
    @extend_schema_serializer(component_name="OrderShipInput")
    class InputSerializer(serializers.Serializer):
        pass

    @extend_schema(request=InputSerializer, responses={200: CommandResultSerializer}, parameters=_HEADERS)
    def post(self, request: Request, order_id: uuid.UUID) -> Response:
        self.validated(self.InputSerializer, request.data)
        return self.run(request, c.ShipOrder, order_id=str(order_id))
