"""Output serializers of the query API: exactly the fields of API.md, money as "0.00" strings."""

from rest_framework import serializers

from orders_read.models import DailySales, OrderSummary, ProductView


class OrderLineSerializer(serializers.Serializer):
    product_id = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    line_total = serializers.DecimalField(max_digits=14, decimal_places=2)


class OrderSerializer(serializers.ModelSerializer):
    items = OrderLineSerializer(many=True)
    shipping_address = serializers.DictField()

    class Meta:
        model = OrderSummary
        fields = (
            "order_id",
            "customer_id",
            "status",
            "items",
            "item_count",
            "total_amount",
            "shipping_address",
            "created_at",
            "shipped_at",
            "cancelled_at",
            "cancel_reason",
            "version",
        )


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProductView
        fields = ("product_id", "sku", "name", "description", "price", "on_hand", "available", "reserved", "version")


class DailySalesSerializer(serializers.ModelSerializer):
    class Meta:
        model = DailySales
        fields = ("date", "orders", "units", "revenue", "cancelled")


class HistoryEventSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    version = serializers.IntegerField()
    event_type = serializers.CharField()
    recorded_at = serializers.DateTimeField()
    # Shadows Serializer.data only in the class body: DRF's metaclass moves declared fields out of it.
    data = serializers.DictField()  # type: ignore[assignment]
    metadata = serializers.DictField()
    hash = serializers.CharField(help_text="hex SHA-256 chaining this event to the previous one")


class ProjectionStatusSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.CharField()
    checkpoint = serializers.CharField(help_text="the '<txid>-<position>' token of the last event applied")
    lag_events = serializers.IntegerField()
    lag_seconds = serializers.FloatField()
    last_error = serializers.CharField(allow_blank=True)
