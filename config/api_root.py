"""GET /api/: where everything is, for people exploring the browsable API and for clients."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

ENDPOINTS = {
    "products": "/api/products/",
    "orders": "/api/orders/",
    "order_search": "/api/orders/search/",
    "sales": "/api/analytics/sales/",
    "projections": "/api/projections/",
    "auth_token": "/api/auth/token/",
    "schema": "/api/schema/",
    "docs": "/api/docs/",
}


class ApiRoot(APIView):
    """The API's entry points (absolute URLs). Open to anyone: the catalogue needs no login either."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        links = {name: request.build_absolute_uri(path) for name, path in ENDPOINTS.items()}
        links["login"] = request.build_absolute_uri(reverse("rest_framework:login"))
        return Response(links)
