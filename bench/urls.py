"""The project's URLs plus the baselines' endpoints (benchmark server only)."""

from django.urls import path

from bench.plainshop.read_views import PlainOrderViewSet, PlainProductViewSet
from bench.plainshop.views import PlainOrderCreateApi
from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as project_patterns

urlpatterns = [
    *project_patterns,
    path("bench/plain/orders/", PlainOrderCreateApi.as_view()),
    path("bench/plain/read/orders/", PlainOrderViewSet.as_view({"get": "list"})),
    path("bench/plain/read/orders/<uuid:order_id>/", PlainOrderViewSet.as_view({"get": "retrieve"})),
    path("bench/plain/read/products/", PlainProductViewSet.as_view({"get": "list"})),
]
