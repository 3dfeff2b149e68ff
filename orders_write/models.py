"""The write side's one table of its own (the idempotency records of answered commands), and a permission."""

from django.db import models

from eventstore.models import ProjectionState


class IdempotencyRecord(models.Model):
    """The first successful result of a request sent with an Idempotency-Key.

    Written in the same transaction as the command's events, so a key is recorded if
    and only if its events are. The unique (key, user) index is what makes a
    concurrent duplicate wait for the first and then replay it instead of running.
    `result` is the command's domain result as JSON (orders_write/idempotency.py
    encodes it); the API renders a replay from it as it rendered the first answer.
    A record is kept IDEMPOTENCY_TTL_HOURS (24) hours; then beat's
    `purge_expired_idempotency_records` deletes it (orders_write/tasks.py).
    """

    key = models.CharField(max_length=255)
    user_id = models.BigIntegerField()
    fingerprint = models.CharField(max_length=64)
    result = models.TextField(default="")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "orders_write_idempotency"
        constraints = [
            models.UniqueConstraint(fields=("key", "user_id"), name="orders_write_idempotency_key_user"),
        ]
        # The expiry task finds records older than IDEMPOTENCY_TTL_HOURS by it.
        indexes = [models.Index(fields=("created_at",), name="orders_write_idem_created")]

    def __str__(self) -> str:
        return f"{self.key} (user {self.user_id})"


class ProjectionOperations(ProjectionState):
    """No table: carries the permission to change projections from the admin (resume, skip, rebuild).

    Viewing projections in the admin needs only `eventstore.view_projectionstate`; the
    actions that change their state also need `orders_write.operate_projections`
    (superusers have every permission). It lives here, as a proxy, so that the event
    store's own migrations stay the event store's.
    """

    class Meta:
        proxy = True
        default_permissions = ()
        permissions = [("operate_projections", "Can resume, skip a failed event of, and rebuild projections")]
        verbose_name = "projection operations"
