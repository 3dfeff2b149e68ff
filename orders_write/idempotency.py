"""Idempotency-Key records: claim a key inside the command's transaction, replay its result later.

The claim is the first write of the command's transaction, so a concurrent duplicate
blocks on the unique (key, user) index until the first commits, then fails on it and
replays the stored result: a key never runs twice. Only successful results are
stored (a refused command appended nothing, so running it again is harmless). What is
stored is the domain result (`CommandResult`), not an HTTP answer: the command API
renders a replay exactly as it rendered the first try, so the two cannot differ.
Raw SQL like the store: this sits on every keyed command's hot path.
"""

import hashlib
import json
from typing import Any

import orjson
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.utils import timezone

from eventstore.log.positions import Checkpoint
from orders_write.commands import CommandResult, IdempotencyClaim
from orders_write.errors import IdempotencyKeyReused, RequestInProgress

CONSTRAINT = "orders_write_idempotency_key_user"
MAX_KEY_LENGTH = 255


def fingerprint(method: str, path: str, data: Any) -> str:
    """What makes two requests "the same": method, path with query, and the parsed body."""
    try:
        body = orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    except TypeError:  # orjson refuses integers beyond 64 bits (a client may send any JSON); the stdlib does not
        body = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(method.upper().encode() + b"\n" + path.encode() + b"\n" + body).hexdigest()


def lookup(claim: IdempotencyClaim, *, using: str = DEFAULT_DB_ALIAS) -> CommandResult | None:
    """The stored result for this key, None if unused; refuses a key reused for another request."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT fingerprint, result FROM orders_write_idempotency WHERE key = %s AND user_id = %s",
            [claim.key, claim.user_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    stored_fingerprint, result = row
    if stored_fingerprint != claim.fingerprint:
        raise IdempotencyKeyReused()
    if not result:
        raise RequestInProgress()
    return decode(result)


def encode(result: CommandResult) -> str:
    """The stored form of a result: JSON with the checkpoint as its token."""
    return orjson.dumps(
        {"id": result.id, "version": result.version, "checkpoint": result.checkpoint.token(), "created": result.created}
    ).decode()


def decode(stored: str | bytes) -> CommandResult:
    data: dict[str, Any] = orjson.loads(stored)
    return CommandResult(
        id=data["id"],
        version=data["version"],
        checkpoint=Checkpoint.parse(data["checkpoint"]),
        created=data["created"],
    )


def claim_key(claim: IdempotencyClaim, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Take the key inside the command's transaction (blocks behind a concurrent duplicate)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO orders_write_idempotency (key, user_id, fingerprint, result, created_at)"
            " VALUES (%s, %s, %s, '', %s)",
            [claim.key, claim.user_id, claim.fingerprint, connection.ops.adapt_datetimefield_value(timezone.now())],
        )


def store_result(claim: IdempotencyClaim, result: CommandResult, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Fill in the claimed key's result, still inside the command's transaction."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "UPDATE orders_write_idempotency SET result = %s WHERE key = %s AND user_id = %s",
            [encode(result), claim.key, claim.user_id],
        )


def is_duplicate_claim(exc: IntegrityError) -> bool:
    """True when the IntegrityError is another request holding the same key."""
    diag = getattr(exc.__cause__, "diag", None)
    if diag is not None:
        return diag.constraint_name == CONSTRAINT
    return "orders_write_idempotency.key" in str(exc)


def settle(claim: IdempotencyClaim, *, using: str = DEFAULT_DB_ALIAS) -> CommandResult | None:
    """The committed result for this key, waiting for a first try that holds it; None if none did.

    Takes the key exactly as a claim does, in a transaction that is always rolled back:
    the insert blocks on the unique index behind an uncommitted first try and fails
    once it commits (then its result is read), or goes through when no try holds the
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
