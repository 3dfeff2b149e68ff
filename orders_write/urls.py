"""The command routes: a flat list, merged with the query routes in config/api_router.py."""

from django.urls import path

from orders_write import api

urlpatterns = [
    path("products/", api.ProductRegisterApi.as_view(), name="product-register"),
    path("products/<str:sku>/stock/", api.ProductReceiveStockApi.as_view(), name="product-receive-stock"),
    path("products/<str:sku>/price/", api.ProductChangePriceApi.as_view(), name="product-change-price"),
    path("orders/", api.OrderCreateApi.as_view(), name="order-create"),
    path("orders/<uuid:order_id>/", api.OrderDeleteApi.as_view(), name="order-delete"),
    path("orders/<uuid:order_id>/items/", api.OrderAddItemApi.as_view(), name="order-add-item"),
    path("orders/<uuid:order_id>/cancel/", api.OrderCancelApi.as_view(), name="order-cancel"),
    path("orders/<uuid:order_id>/ship/", api.OrderShipApi.as_view(), name="order-ship"),
]
