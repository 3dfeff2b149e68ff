"""The baseline endpoint: create an order the classic way (ORM rows, `UPDATE ... WHERE stock >= n`).

Same validation (the real endpoint's InputSerializer), same auth, same middleware, same
answer shape, so the benchmark compares only what happens behind the view.
"""

from decimal import Decimal

from django.db import transaction
from django.db.models import F
from rest_framework.exceptions import APIException
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.plainshop.models import PlainOrder, PlainOrderLine, PlainProduct
from orders_write.api import OrderCreateApi


class Refused(APIException):
    status_code = 422
    default_code = "insufficient_stock"


class PlainOrderCreateApi(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        serializer = OrderCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        wanted: dict[str, int] = {}
        for item in data["items"]:
            wanted[item["product_id"]] = wanted.get(item["product_id"], 0) + item["quantity"]
        with transaction.atomic():
            for sku, quantity in sorted(wanted.items()):
                if not PlainProduct.objects.filter(sku=sku, stock__gte=quantity).update(stock=F("stock") - quantity):
                    raise Refused(f"Not enough {sku}.")
            products = {p.sku: p for p in PlainProduct.objects.filter(sku__in=wanted)}
            total = sum((products[i["product_id"]].price * i["quantity"] for i in data["items"]), Decimal("0"))
            order = PlainOrder.objects.create(
                customer_id=data.get("customer_id") or request.user.get_username(),
                shipping_address=data["shipping_address"],
                total_amount=total,
            )
            PlainOrderLine.objects.bulk_create(
                [
                    PlainOrderLine(
                        order=order,
                        product=products[i["product_id"]],
                        quantity=i["quantity"],
                        unit_price=products[i["product_id"]].price,
                    )
                    for i in data["items"]
                ]
            )
        return Response({"id": str(order.id), "version": 1}, status=201, headers={"ETag": '"1"'})
