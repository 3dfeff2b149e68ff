"""Query routes (GET); config/api_router.py merges those shared with the command app."""

from django.urls import path

from orders_read.api import OrderViewSet, ProductViewSet, ProjectionViewSet, SalesViewSet

urlpatterns = [
    path("products/", ProductViewSet.as_view({"get": "list"}), name="product-list"),
    path("products/<str:sku>/", ProductViewSet.as_view({"get": "retrieve"}), name="product-detail"),
    path("orders/", OrderViewSet.as_view({"get": "list"}), name="order-list"),
    path("orders/search/", OrderViewSet.as_view({"get": "search"}), name="order-search"),
    path("orders/<uuid:order_id>/", OrderViewSet.as_view({"get": "retrieve"}), name="order-detail"),
    path("orders/<uuid:order_id>/history/", OrderViewSet.as_view({"get": "history"}), name="order-history"),
    path(
        "customers/<str:customer_id>/orders/", OrderViewSet.as_view({"get": "customer_orders"}), name="customer-orders"
    ),
    path("analytics/sales/", SalesViewSet.as_view({"get": "list"}), name="sales-daily"),
    path("projections/", ProjectionViewSet.as_view({"get": "list"}), name="projection-status"),
]
