"""The event log and the tables that serve it: snapshots and projection checkpoints.

The log is the only source of truth. Everything else here is a cache (snapshots)
or bookkeeping (projection state) that can be thrown away and rebuilt.
"""

from typing import Any, NoReturn

from django.db import models

from eventstore.errors import AppendOnlyViolation
from eventstore.fields import CurrentTransactionId, Xid8Field
from eventstore.log.positions import Checkpoint


class EventQuerySet(models.QuerySet):
    """Refuses bulk changes: recorded events are immutable."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation("events cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyViolation("events cannot be deleted")

    def _raw_delete(self, using: str | None) -> NoReturn:
        """The deletion collector's fast path (`_raw_delete(using)`), refused like `delete`."""
        raise AppendOnlyViolation("events cannot be deleted")


class Event(models.Model):
    """One immutable fact in one stream; `position` is its place in the global log."""

    position = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(unique=True)
    stream_id = models.CharField(max_length=255)
    stream_type = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    event_type = models.CharField(max_length=100)
    schema_version = models.PositiveSmallIntegerField(default=1)
    data = models.JSONField()
    metadata = models.JSONField(default=dict)
    recorded_at = models.DateTimeField()
    transaction_id = Xid8Field(db_default=CurrentTransactionId(), editable=False)
    hash = models.CharField(max_length=64, db_default="", editable=False)
    """Hex SHA-256 chaining this event to its stream's previous one; set by a database trigger on insert."""

    objects = EventQuerySet.as_manager()

    class Meta:
        db_table = "eventstore_event"
        ordering = ("position",)
        constraints = [
            models.UniqueConstraint(fields=("stream_id", "version"), name="eventstore_event_stream_version"),
        ]
        indexes = [
            models.Index(fields=("transaction_id", "position"), name="eventstore_event_tail"),
            models.Index(fields=("event_type", "position"), name="eventstore_event_type"),
            models.Index(fields=("stream_type", "position"), name="eventstore_event_stype"),
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.stream_id} v{self.version} {self.event_type}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyViolation("events cannot be changed once recorded")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation("events cannot be deleted")


class SealQuerySet(models.QuerySet):
    """Refuses bulk changes: a seal is as immutable as the events it covers."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation("seals cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyViolation("seals cannot be deleted")

    def _raw_delete(self, using: str | None) -> NoReturn:
        """The deletion collector's fast path (`_raw_delete(using)`), refused like `delete`."""
        raise AppendOnlyViolation("seals cannot be deleted")


class Seal(models.Model):
    """A checkpoint of the log and a digest chaining the previous seal's to every event hash since.

    `heads` maps each stream with events in this seal's range to [version, hash] of its
    last one there, so a verifier can name the stream whose tail was cut below a seal.
    Append-only like the log (a trigger refuses UPDATE and DELETE).
    """

    id = models.BigAutoField(primary_key=True)
    checkpoint_txid = models.BigIntegerField()
    checkpoint_position = models.BigIntegerField()
    sealed_at = models.DateTimeField()
    events_count = models.BigIntegerField()
    digest = models.CharField(max_length=64)
    previous_digest = models.CharField(max_length=64, blank=True)
    heads = models.JSONField(default=dict)

    objects = SealQuerySet.as_manager()

    class Meta:
        db_table = "eventstore_seal"
        ordering = ("id",)

    def __str__(self) -> str:
        return f"seal #{self.id} at {self.checkpoint.token()} ({self.events_count} events)"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyViolation("seals cannot be changed once recorded")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation("seals cannot be deleted")

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.checkpoint_txid, self.checkpoint_position)


class Snapshot(models.Model):
    """The folded state of one stream at one version: a cache, safe to delete.

    `schema` is the aggregate's snapshot schema; a snapshot of another schema is
    ignored, so changing an aggregate's state shape only needs a bumped number.
    """

    stream_id = models.CharField(max_length=255, primary_key=True)
    version = models.PositiveIntegerField()
    schema = models.PositiveSmallIntegerField()
    state = models.JSONField()
    taken_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "eventstore_snapshot"

    def __str__(self) -> str:
        return f"{self.stream_id} @ v{self.version}"


class ProjectionState(models.Model):
    """Where one projection stands in the log, and whether it is healthy.

    Lives on the read database beside the views, so the checkpoint and the view
    rows it describes commit in the same transaction.
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        FAILED = "failed"
        REBUILDING = "rebuilding"

    name = models.CharField(max_length=100, primary_key=True)
    version = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    checkpoint_txid = models.BigIntegerField(default=0)
    checkpoint_position = models.BigIntegerField(default=0)
    events_applied = models.BigIntegerField(default=0)
    last_event_at = models.DateTimeField(null=True, blank=True)
    failed_position = models.BigIntegerField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    skipped_positions = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "eventstore_projection_state"
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.checkpoint_txid, self.checkpoint_position)

    @checkpoint.setter
    def checkpoint(self, value: Checkpoint) -> None:
        self.checkpoint_txid, self.checkpoint_position = value


class Verification(models.Model):
    """The outcome of one whole-log verification (`verify_log`, or the admin's button through a worker).

    Kept so the admin and `/metrics` can say when the log was last proven whole and up to
    where. Written once when a run ends and never changed (the model refuses it); old runs
    may be deleted by whoever holds the delete permission, which is why there is no trigger.
    """

    id = models.BigAutoField(primary_key=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    checkpoint_txid = models.BigIntegerField(help_text="the log head when the run started: it covered at least this")
    checkpoint_position = models.BigIntegerField()
    events_checked = models.BigIntegerField(default=0)
    streams_checked = models.BigIntegerField(default=0)
    seals_checked = models.BigIntegerField(default=0)
    failure_stream_id = models.CharField(max_length=255, blank=True, default="")
    failure_version = models.PositiveIntegerField(null=True, blank=True)
    failure_reason = models.CharField(max_length=20, blank=True, default="")
    failure_detail = models.TextField(blank=True, default="")
    started_by = models.CharField(max_length=150, blank=True, default="", help_text="empty: the command line")

    class Meta:
        db_table = "eventstore_verification"
        ordering = ("-id",)
        permissions = [("run_verification", "Can run a verification of the log from the admin")]

    def __str__(self) -> str:
        return f"verification #{self.id} {'ok' if self.ok else 'FAILED'} at {self.checkpoint.token()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyViolation("a verification's result cannot be changed once recorded")
        super().save(*args, **kwargs)

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.checkpoint_txid, self.checkpoint_position)

    @property
    def first_failure(self) -> str:
        """Where the run found the log broken first, as `verify_log` words it ("" when it held)."""
        if self.ok:
            return ""
        where = f"stream {self.failure_stream_id}" if self.failure_stream_id else "the seals"
        if self.failure_version is not None:
            where += f" version {self.failure_version}"
        return f"{where}: {self.failure_reason}: {self.failure_detail}"


class LagSample(models.Model):
    """One projection's lag at one moment: the history behind the operations page's lag chart.

    The current lag is computed from the log at any time (eventstore.projections.status), but its past
    is gone once the projection catches up, so beat samples it (`sample_projection_lag`)
    and prunes what is older than LAG_SAMPLE_KEEP_SECONDS. A cache of recent history:
    safe to delete.
    """

    id = models.BigAutoField(primary_key=True)
    taken_at = models.DateTimeField(db_index=True)
    projection = models.CharField(max_length=100)
    lag_events = models.BigIntegerField()
    lag_seconds = models.FloatField()

    class Meta:
        db_table = "eventstore_lag_sample"
        ordering = ("taken_at", "projection")

    def __str__(self) -> str:
        return f"{self.projection} at {self.taken_at:%H:%M:%S}: {self.lag_events} events behind"
