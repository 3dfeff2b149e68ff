"""The write side's housekeeping: idempotency records expire after IDEMPOTENCY_TTL_HOURS.

Beat runs `purge_expired_idempotency_records` (every IDEMPOTENCY_PURGE_BEAT_SECONDS,
15 minutes by default). It deletes in batches of IDEMPOTENCY_PURGE_BATCH (5,000) rows per
statement, each its own short transaction, until a batch comes back short: a big
backlog never becomes one long transaction holding locks and back projection readers.
Only committed answers are visible to it; a claim in flight is uncommitted, and every
claim is far younger than the TTL.
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from orders_write.models import IdempotencyRecord

logger = logging.getLogger(__name__)


def purge_expired(
    *, ttl_hours: float | None = None, batch_size: int | None = None, using: str = DEFAULT_DB_ALIAS
) -> int:
    """Delete every record older than the TTL, `batch_size` per statement; the number deleted."""
    ttl_hours = settings.IDEMPOTENCY_TTL_HOURS if ttl_hours is None else ttl_hours
    batch_size = batch_size or settings.IDEMPOTENCY_PURGE_BATCH
    cutoff = timezone.now() - timedelta(hours=ttl_hours)
    expired = IdempotencyRecord.objects.using(using).filter(created_at__lt=cutoff)
    total = 0
    while True:
        batch = expired.values("pk")[:batch_size]
        with transaction.atomic(using=using):
            # One statement: DELETE … WHERE id IN (SELECT id … WHERE created_at < cutoff LIMIT n).
            deleted, _ = IdempotencyRecord.objects.using(using).filter(pk__in=batch).delete()
        total += deleted
        if deleted < batch_size:
            break
    if total:
        logger.info("deleted %d idempotency records older than %s hours", total, ttl_hours)
    return total


@shared_task(ignore_result=True, expires=600)
def purge_expired_idempotency_records() -> int:
    """Beat: forget Idempotency-Keys older than IDEMPOTENCY_TTL_HOURS."""
    return purge_expired()
