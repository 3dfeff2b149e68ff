"""Verifying the log: every stream's hash chain and every seal, recomputed in one pass in log order.

Each event is hashed from its canonical columns (`eventstore.tamper.reader` gives them,
`eventstore.tamper.canonical` defines them) and its predecessor's stored hash, so a
changed event is named itself rather than every event after it. Seals are checked as
the pass crosses their checkpoints (`eventstore.tamper.seals`): the digest, the count,
the chain of seal digests, and each stream's last version and hash in the sealed
range, which names a stream that lost its tail below a seal or gained an event inside
a sealed range.

What a chain in the same database cannot show: events appended after the last seal
and then removed, or a log and seals rewritten together by the database's owner.
Copying the seals elsewhere (docs/tamper-evidence.md) closes that.

Longer than most modules on purpose: the chain check, the seal check and the
single pass that drives both share one findings record and one order of the log,
and reading them apart would hide how a finding in one explains the other.
"""

import bisect
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from django.db import DEFAULT_DB_ALIAS, connections

from eventstore.backends import recorder_for
from eventstore.log.positions import ORIGIN, Checkpoint
from eventstore.log.read import head
from eventstore.tamper.canonical import json_string
from eventstore.tamper.reader import StoredEvent, log_events, stream_events
from eventstore.tamper.seals import SealDigest

Progress = Callable[[int], None]

MAX_WAITING = 100_000
"""Events held back for a predecessor later in the log, at most; beyond, the gap is a removal."""
_NEW_STREAM = (0, "")


def _place(event: StoredEvent) -> Checkpoint:
    return Checkpoint(event[0], event[1])


_sha256, _dumps = hashlib.sha256, orjson.dumps


@dataclass(frozen=True, slots=True)
class Failure:
    stream_id: str | None
    version: int | None
    reason: str
    """changed, removed, inserted or seal."""
    detail: str


@dataclass(slots=True)
class Report:
    ok: bool = True
    events_checked: int = 0
    streams_checked: int = 0
    seals_checked: int = 0
    first_failure: Failure | None = None

    def as_dict(self) -> dict[str, Any]:
        report = asdict(self)
        report["first_failure"] = asdict(self.first_failure) if self.first_failure else None
        return report


@dataclass(slots=True)
class _Findings:
    """The failure found earliest in the log; the pass goes on, so counts cover everything."""

    at: int = -1
    first: Failure | None = None

    def add(self, at: int, failure: Failure) -> None:
        if self.first is None or at < self.at:
            self.at, self.first = at, failure


@dataclass(slots=True)
class _SealRow:
    id: int
    checkpoint: Checkpoint
    events_count: int
    digest: str
    previous_digest: str
    heads: dict[str, list[Any]]


class ChainCheck:
    """Every stream's chain, fed events in log order; an event whose predecessor is not read yet waits."""

    def __init__(self, findings: _Findings) -> None:
        self.findings = findings
        self.streams: dict[str, tuple[int, str]] = {}
        self.types: dict[str, bytes] = {}  # event type -> its JSON string: a handful, quoted once each
        self.waiting: dict[tuple[str, int], tuple[int, StoredEvent]] = {}

    def feed_batch(self, at: int, batch: list[StoredEvent]) -> int:
        """Check a batch in log order; returns the index of its last event.

        `_check` unrolled into the loop: this is where verify_log spends its time, and
        per-event calls and attribute lookups cost as much as the hashing
        (bench/verify.py). Anything out of the ordinary goes through `feed`.
        """
        streams, types, dumps, sha256 = self.streams, self.types, _dumps, _sha256
        for event in batch:
            at += 1
            _, _, stream_id, version, event_type, schema, data, metadata, recorded_at, stored = event
            last = streams.get(stream_id)
            if self.waiting or (version != 1 if last is None else version != last[0] + 1):
                self.feed(at, event)
                continue
            quoted_type = types.get(event_type)
            if quoted_type is None:
                quoted_type = types[event_type] = json_string(event_type).encode()
            preimage = b"\n".join(
                (
                    b"" if last is None else last[1].encode(),
                    dumps(stream_id),
                    b"%d" % version,
                    quoted_type,
                    b"%d" % schema,
                    data.encode(),
                    metadata.encode(),
                    recorded_at.encode(),
                )
            )
            if sha256(preimage).hexdigest() != stored:
                self._changed(at, stream_id, version)
            streams[stream_id] = (version, stored)
        return at

    def feed(self, at: int, event: StoredEvent) -> None:
        stream_id, version = event[2], event[3]
        last_version, parent = self.streams.get(stream_id, _NEW_STREAM)
        if version != last_version + 1:
            self._out_of_order(at, event, last_version)
            return
        self._check(at, event, parent)
        while self.waiting and (held := self.waiting.pop((stream_id, version + 1), None)):
            at, event = held
            version += 1
            self._check(at, event, self.streams[stream_id][1])

    def finish(self) -> None:
        """What still waits lost its predecessor: the first missing version of each stream was removed."""
        earliest: dict[str, tuple[int, int]] = {}
        for (stream_id, _), (at, _) in self.waiting.items():
            if stream_id not in earliest or at < earliest[stream_id][0]:
                missing = self.streams.get(stream_id, _NEW_STREAM)[0] + 1
                earliest[stream_id] = (at, missing)
        for stream_id, (at, missing) in earliest.items():
            self.findings.add(at, Failure(stream_id, missing, "removed", f"version {missing} is missing"))
        self.waiting.clear()

    def _out_of_order(self, at: int, event: StoredEvent, last_version: int) -> None:
        stream_id, version = event[2], event[3]
        if version <= last_version:
            self.findings.add(at, Failure(stream_id, version, "inserted", f"version {version} appears twice"))
        elif len(self.waiting) >= MAX_WAITING:
            self.findings.add(
                at, Failure(stream_id, last_version + 1, "removed", f"version {last_version + 1} is missing")
            )
        else:
            self.waiting[(stream_id, version)] = (at, event)

    def _check(self, at: int, event: StoredEvent, parent: str) -> None:
        """The documented hash (eventstore.tamper.canonical), built as bytes: the hot loop of verify_log."""
        _, _, stream_id, version, event_type, schema, data, metadata, recorded_at, stored = event
        quoted_type = self.types.get(event_type)
        if quoted_type is None:
            quoted_type = self.types[event_type] = json_string(event_type).encode()
        preimage = b"\n".join(
            (
                parent.encode(),
                _dumps(stream_id),
                b"%d" % version,
                quoted_type,
                b"%d" % schema,
                data.encode(),
                metadata.encode(),
                recorded_at.encode(),
            )
        )
        if _sha256(preimage).hexdigest() != stored:
            self._changed(at, stream_id, version)
        self.streams[stream_id] = (version, stored)

    def _changed(self, at: int, stream_id: str, version: int) -> None:
        self.findings.add(
            at,
            Failure(
                stream_id,
                version,
                "changed",
                "the event does not match its hash (it was changed, or written with a forged hash,"
                " or the hash of the version before it was)",
            ),
        )


class SealCheck:
    """Every seal, finished as the pass in log order goes past its checkpoint."""

    def __init__(self, seals: Iterator[_SealRow], findings: _Findings) -> None:
        self.seals = seals
        self.findings = findings
        self.checked = 0
        self.previous_digest = ""
        self.previous_id: int | None = None
        self._start(next(self.seals, None))

    def _start(self, seal: _SealRow | None) -> None:
        self.current = seal
        self.until = seal.checkpoint if seal else None
        self.digest = SealDigest(self.previous_digest, seal.checkpoint) if seal else None

    def add_batch(self, at: int, batch: list[StoredEvent]) -> None:
        """A batch in log order whose first event is the `at + 1`th: its pieces go to the seals they fall in."""
        start = 0
        while self.until is not None and self.digest is not None:
            cut = bisect.bisect_right(batch, self.until, lo=start, key=_place)
            self.digest.add(batch[start:cut])
            if cut == len(batch):
                return
            self._finish(at + cut + 1)  # a failure of this seal ranks before the first event past it
            start = cut

    def finish(self, at: int) -> None:
        while self.current is not None:
            self._finish(at)

    def _finish(self, at: int) -> None:
        seal, digest = self.current, self.digest
        if seal is None or digest is None:
            return
        self.checked += 1
        failure = None
        if seal.previous_digest != self.previous_digest:  # first: a lost seal makes its range look inserted
            failure = Failure(
                None,
                None,
                "seal",
                f"seal #{seal.id} does not chain to seal #{self.previous_id}"
                " (a seal between them was removed or changed)",
            )
        failure = failure or self._heads(seal, digest.heads)
        if failure is None and (seal.events_count != digest.count or seal.digest != digest.hexdigest()):
            first = next(iter(digest.heads), None)
            failure = Failure(
                first,
                None,
                "seal",
                f"seal #{seal.id}: its digest does not match the events it covered"
                f" ({digest.count} found, {seal.events_count} sealed)",
            )
        if failure is not None:
            self.findings.add(at, failure)
        self.previous_digest, self.previous_id = seal.digest, seal.id
        self._start(next(self.seals, None))

    @staticmethod
    def _heads(seal: _SealRow, found: dict[str, tuple[int, str]]) -> Failure | None:
        """The first stream (by id) whose last event in the seal's range is not the one the seal recorded."""
        if len(found) == len(seal.heads) and all(
            (head := found.get(stream_id)) is not None and head[0] == version and head[1] == sealed_hash
            for stream_id, (version, sealed_hash) in seal.heads.items()
        ):
            return None  # the common case, without sorting thousands of stream ids
        for stream_id, (version, sealed_hash) in sorted(seal.heads.items()):
            got = found.get(stream_id)
            if got is None or got[0] < version:
                return Failure(
                    stream_id,
                    version,
                    "removed",
                    f"seal #{seal.id} covered version {version}, which is gone from its range",
                )
            if got[0] > version:
                return Failure(
                    stream_id,
                    got[0],
                    "inserted",
                    f"version {got[0]} is inside the range of seal #{seal.id}, which ended at {version}",
                )
            if got[1] != sealed_hash:
                return Failure(
                    stream_id,
                    version,
                    "changed",
                    f"the hash of version {version} is not the one seal #{seal.id} recorded",
                )
        for stream_id in sorted(found.keys() - seal.heads.keys()):
            return Failure(
                stream_id, found[stream_id][0], "inserted", f"seal #{seal.id} covered no event of this stream"
            )
        return None


def verify_log(
    *, stream_id: str | None = None, using: str = DEFAULT_DB_ALIAS, progress: Progress | None = None
) -> Report:
    """Recompute every chain (or one stream's) and check it against the seals."""
    if stream_id is not None:
        return _verify_stream(stream_id, using, progress)
    findings = _Findings()
    chain = ChainCheck(findings)
    seals = SealCheck(_seals(using), findings)
    upto = max(head(using=using), _last_checkpoint(using))
    at = 0
    for batch in log_events(ORIGIN, upto, using=using):
        seals.add_batch(at, batch)
        at = chain.feed_batch(at, batch)
        if progress is not None:
            progress(len(batch))
    seals.finish(at + 1)
    streams = len(chain.streams.keys() | {stream for stream, _ in chain.waiting})
    chain.finish()
    return Report(findings.first is None, at, streams, seals.checked, findings.first)


def _verify_stream(stream_id: str, using: str, progress: Progress | None) -> Report:
    """One stream's chain, and every seal's record of it: the version it covered must still be there, unchanged."""
    findings = _Findings()
    chain = ChainCheck(findings)
    sealed = _sealed_heads(stream_id, using)  # version -> [(seal id, checkpoint, hash)]
    last = max(((entries[-1][0], entries[-1][1], version) for version, entries in sealed.items()), default=None)
    seen: set[int] = set()
    at = 0
    for batch in stream_events(stream_id, using=using):
        for event in batch:
            at += 1
            chain.feed(at, event)
            txid, position, version, stored = event[0], event[1], event[3], event[9]
            for seal_id, _, sealed_hash in sealed.get(version, ()):
                seen.add(version)
                if sealed_hash != stored:
                    findings.add(
                        at,
                        Failure(
                            stream_id,
                            version,
                            "changed",
                            f"the hash of version {version} is not the one seal #{seal_id} recorded",
                        ),
                    )
            if last is not None and version > last[2] and (txid, position) <= last[1]:
                findings.add(
                    at,
                    Failure(
                        stream_id,
                        version,
                        "inserted",
                        f"version {version} is inside the range of seal #{last[0]}, which ended at {last[2]}",
                    ),
                )
        if progress is not None:
            progress(len(batch))
    chain.finish()
    for version in sorted(sealed.keys() - seen):
        seal_id = sealed[version][0][0]
        findings.add(
            at + 1, Failure(stream_id, version, "removed", f"seal #{seal_id} covered version {version}, which is gone")
        )
    checked = sum(len(entries) for entries in sealed.values())
    return Report(findings.first is None, at, 1 if at else 0, checked, findings.first)


def _seals(using: str, batch_size: int = 100) -> Iterator[_SealRow]:
    """Every seal in order, a batch at a time (a seal's heads can be large)."""
    recorder = recorder_for(using)
    after = 0
    while True:
        rows = recorder.select_seals(after, batch_size, using=using)
        if not rows:
            return
        for seal_id, txid, position, count, digest, previous, seal_heads in rows:
            yield _SealRow(
                seal_id, Checkpoint(int(txid), int(position)), count, digest, previous, orjson.loads(seal_heads)
            )
        after = rows[-1][0]


def _last_checkpoint(using: str) -> Checkpoint:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT checkpoint_txid, checkpoint_position FROM eventstore_seal ORDER BY id DESC LIMIT 1")
        row = cursor.fetchone()
    return Checkpoint(int(row[0]), int(row[1])) if row else ORIGIN


def _sealed_heads(stream_id: str, using: str) -> dict[int, list[tuple[int, Checkpoint, str]]]:
    sealed: dict[int, list[tuple[int, Checkpoint, str]]] = {}
    for seal_id, txid, position, entry in recorder_for(using).select_sealed_heads(stream_id, using=using):
        version, sealed_hash = orjson.loads(entry)
        sealed.setdefault(version, []).append((seal_id, Checkpoint(int(txid), int(position)), sealed_hash))
    return sealed
