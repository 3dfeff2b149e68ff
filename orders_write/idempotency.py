"""Idempotency-Key records: claim a key inside the command's transaction, replay its answer later.

The claim is the first write of the command's transaction, so a concurrent duplicate
blocks on the unique (key, user) index until the first commits, then fails on it and
replays the stored answer: a key never runs twice. Only successful answers are
stored (a refused command appended nothing, so running it again is harmless).
Raw SQL like the store: this sits on every keyed command's hot path.
"""

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.utils import timezone

from orders_write.commands import IdempotencyClaim
from orders_write.errors import IdempotencyKeyReused, RequestInProgress

CONSTRAINT = "orders_write_idempotency_key_user"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """An HTTP answer as sent: status, JSON body (key order kept) and the headers to repeat."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def fingerprint(method: str, path: str, data: Any) -> str:
    """What makes two requests "the same": method, path with query, and the parsed body."""
    try:
        body = orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    except TypeError:  # orjson refuses integers beyond 64 bits (a client may send any JSON); the stdlib does not
        body = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(method.upper().encode() + b"\n" + path.encode() + b"\n" + body).hexdigest()


def lookup(claim: IdempotencyClaim, *, using: str = DEFAULT_DB_ALIAS) -> StoredAnswer | None:
    """The stored answer for this key, None if unused; refuses a key reused for another request."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT fingerprint, status_code, body, headers FROM orders_write_idempotency"
            " WHERE key = %s AND user_id = %s",
            [claim.key, claim.user_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    stored_fingerprint, status, body, headers = row
    if stored_fingerprint != claim.fingerprint:
        raise IdempotencyKeyReused()
    if not status:
        raise RequestInProgress()
    return StoredAnswer(status, orjson.loads(body), orjson.loads(headers))


def claim_key(claim: IdempotencyClaim, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Take the key inside the command's transaction (blocks behind a concurrent duplicate)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO orders_write_idempotency (key, user_id, fingerprint, status_code, body, headers, created_at)"
            " VALUES (%s, %s, %s, 0, '', '{}', %s)",
            [claim.key, claim.user_id, claim.fingerprint, connection.ops.adapt_datetimefield_value(timezone.now())],
        )


def store_answer(claim: IdempotencyClaim, answer: StoredAnswer, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Fill in the claimed key's answer, still inside the command's transaction."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "UPDATE orders_write_idempotency SET status_code = %s, body = %s, headers = %s"
            " WHERE key = %s AND user_id = %s",
            [
                answer.status,
                orjson.dumps(answer.body).decode(),
                orjson.dumps(answer.headers).decode(),
                claim.key,
                claim.user_id,
            ],
        )


def is_duplicate_claim(exc: IntegrityError) -> bool:
    """True when the IntegrityError is another request holding the same key."""
    diag = getattr(exc.__cause__, "diag", None)
    if diag is not None:
        return diag.constraint_name == CONSTRAINT
    return "orders_write_idempotency.key" in str(exc)


def settle(claim: IdempotencyClaim, *, using: str = DEFAULT_DB_ALIAS) -> StoredAnswer | None:
    """The committed answer for this key, waiting for a first try that holds it; None if none did.

    Takes the key exactly as a claim does, in a transaction that is always rolled back:
    the insert blocks on the unique index behind an uncommitted first try and fails
    once it commits (then its answer is read), or goes through when no try holds the
    key (and is undone: a refusal stores nothing).
    """
    try:
        with transaction.atomic(using=using):
            claim_key(claim, using=using)
            transaction.set_rollback(True, using=using)
    except IntegrityError as exc:
        if not is_duplicate_claim(exc):
            raise
        return lookup(claim, using=using)
    return None
