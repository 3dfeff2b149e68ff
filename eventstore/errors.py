"""The event store's error tree; none of it knows about HTTP."""


class EventStoreError(Exception):
    """Base of everything the event store raises on purpose."""


class ConcurrencyError(EventStoreError):
    """A stream was not at the version the writer expected; nothing was appended.

    Raised for a plain mismatch, for a lost race on `(stream_id, version)` and for a
    serialization failure, so callers handle one thing: reload and decide again.
    """

    def __init__(self, stream_id: str, expected: int | str, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(f"stream {stream_id!r} is at version {actual}, expected {expected}")


class AppendOnlyViolation(EventStoreError):
    """Someone tried to change or delete a recorded event."""


class UnknownEventType(EventStoreError):
    """The log holds an event type no registered class claims."""


class InvalidCheckpoint(EventStoreError, ValueError):
    """A checkpoint or consistency token could not be parsed."""


class ProjectionNotFound(EventStoreError, LookupError):
    """No projection is registered under that name."""


class ProjectionBusy(EventStoreError):
    """Another worker holds this projection's checkpoint row (it moves the same checkpoint)."""


class RoleRefused(ValueError):
    """The runtime role asked for would hold more than the app needs (or is the owner itself)."""
