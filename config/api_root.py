"""GET /api/: where everything is, for people exploring the browsable API and for clients."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

ENDPOINTS = {  # link name -> URL name
    "products": "product-list",
    "orders": "order-list",
    "order_search": "order-search",
    "sales": "sales-daily",
    "projections": "projection-status",
    "auth_token": "api-token",
    "schema": "api-schema",
    "docs": "api-docs",
    "login": "rest_framework:login",
}


class ApiRoot(APIView):
    """The API's entry points (absolute URLs). Open to anyone: the catalogue needs no login either."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        return Response({link: request.build_absolute_uri(reverse(name)) for link, name in ENDPOINTS.items()})
