"""The write side's one table of its own: the idempotency records of answered commands."""

from django.db import models


class IdempotencyRecord(models.Model):
    """The first successful answer to a request sent with an Idempotency-Key.

    Written in the same transaction as the command's events, so a key is recorded if
    and only if its events are. The unique (key, user) index is what makes a
    concurrent duplicate wait for the first and then replay it instead of running.
    `body` is the JSON text as first sent, kept as text (jsonb would reorder keys).
    """

    key = models.CharField(max_length=255)
    user_id = models.BigIntegerField()
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    body = models.TextField(default="")
    headers = models.TextField(default="{}")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "orders_write_idempotency"
        constraints = [
            models.UniqueConstraint(fields=("key", "user_id"), name="orders_write_idempotency_key_user"),
        ]

    def __str__(self) -> str:
        return f"{self.key} (user {self.user_id}) -> {self.status_code}"
