"""Upcasters: stored payloads of older schema versions, brought to the current shape.

Code above the store sees only the newest shape of every event. An upcaster is one
step, from version n to n+1; `upcast` applies the steps in order when reading.
"""

from collections.abc import Callable, KeysView
from typing import Any

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]

_STEPS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register `fn` as the step that turns `event_type` v`from_version` into the next version."""

    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _STEPS:
            raise ValueError(f"two upcasters for {event_type} v{from_version}")
        _STEPS[key] = fn
        return fn

    return register


def upcast(event_type: str, schema_version: int, data: Payload) -> tuple[int, Payload]:
    """Apply every registered step from `schema_version` on; returns the new version and payload."""
    while (step := _STEPS.get((event_type, schema_version))) is not None:
        data = step(data)
        schema_version += 1
    return schema_version, data


def upcast_steps() -> KeysView[tuple[str, int]]:
    """The (event_type, schema_version) pairs that have a step, as a live view: a bulk reader tests
    membership and skips the call to `upcast` for the (nearly all) payloads of the current schema."""
    return _STEPS.keys()
