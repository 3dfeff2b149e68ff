"""Sealing the log: a seal's digest chains the previous seal's to every event hash appended since.

A seal covers the events in (previous seal's checkpoint, its checkpoint] in log order:
(transaction_id, position) on PostgreSQL, position on SQLite, taking only events every
reader can already see (`eventstore.log.read.head`), so the set a seal covers can never
grow afterwards. Its digest is the hex SHA-256 of the UTF-8 text

    previous_digest "\\n" checkpoint_txid "\\n" checkpoint_position ("\\n" hash)*

with one `hash` per covered event in log order ("" as previous_digest for the first
seal). `heads` records, for each stream with events in the range, the version and
hash of its last one there: an event hash pins the whole stream below it, so a cut
tail, an edit re-chained to the end, or an event slipped into a sealed range is named
by stream and version, not only detected. Cost is proportional to what is new.
"""

import hashlib
from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from eventstore.backends import recorder_for
from eventstore.log.positions import ORIGIN, Checkpoint
from eventstore.log.read import head
from eventstore.models import Seal
from eventstore.tamper.reader import EventHash, StoredEvent, log_hashes


class SealDigest:
    """The running digest of one seal's range, and the last (version, hash) of each stream in it."""

    __slots__ = ("count", "heads", "sha")

    def __init__(self, previous_digest: str, checkpoint: Checkpoint) -> None:
        self.sha = hashlib.sha256(f"{previous_digest}\n{checkpoint.txid}\n{checkpoint.position}".encode())
        self.count = 0
        self.heads: dict[str, tuple[int, str]] = {}

    def add(self, events: Sequence[EventHash | StoredEvent]) -> None:
        """Events of the range in log order: one hash update and one dict update for them all."""
        if not events:
            return
        self.sha.update(("\n" + "\n".join([event[-1] for event in events])).encode())
        self.count += len(events)
        self.heads.update([(event[2], (event[3], event[-1])) for event in events])

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


def last_seal(*, using: str = DEFAULT_DB_ALIAS) -> Seal | None:
    return Seal.objects.using(using).order_by("-id").first()


def seal_log(*, using: str = DEFAULT_DB_ALIAS) -> Seal | None:
    """Seal every event readable now and not sealed yet; None when the log has not grown.

    One short transaction: a transaction-level advisory lock makes concurrent sealers
    take turns (the second finds nothing new) and needs no privilege beyond INSERT,
    which is all the runtime role holds on this append-only table; the transaction only
    gets an id at the INSERT, its last statement, so reading the new events holds back
    no projection reader.
    """
    with transaction.atomic(using=using):
        recorder_for(using).lock_seals(using=using)
        previous = last_seal(using=using)
        start = previous.checkpoint if previous else ORIGIN
        upto = head(using=using)
        if upto <= start:
            return None
        previous_digest = previous.digest if previous else ""
        digest = SealDigest(previous_digest, upto)
        for batch in log_hashes(start, upto, using=using):
            digest.add(batch)
        seal = Seal(
            checkpoint_txid=upto.txid,
            checkpoint_position=upto.position,
            sealed_at=timezone.now(),
            events_count=digest.count,
            digest=digest.hexdigest(),
            previous_digest=previous_digest,
            heads={stream_id: list(head) for stream_id, head in digest.heads.items()},  # as JSON reads back
        )
        seal.save(using=using)
    return seal
