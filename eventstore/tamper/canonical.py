"""The canonical form of an event and its chained SHA-256: the one definition both databases follow.

An event's `hash` is the lowercase hex SHA-256 of the UTF-8 bytes of these eight
fields joined by a line feed ("\\n"), with nothing before the first or after the last:

    1. the previous event's `hash` in the same stream (version - 1); "" for version 1
    2. stream_id, as a JSON string
    3. version, in decimal
    4. event_type, as a JSON string
    5. schema_version, in decimal
    6. data, as canonical JSON
    7. metadata, as canonical JSON
    8. recorded_at in UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ (always six fraction digits)

Canonical JSON is what Python's `json.dumps(value, sort_keys=True, separators=(",",
":"), ensure_ascii=False)` writes: object keys sorted by code point, no whitespace,
non-ASCII characters as themselves (UTF-8); in strings `"` and `\\` are escaped with a
backslash, U+0008/0009/000A/000C/000D as \\b \\t \\n \\f \\r, every other character
below U+0020 as \\u00XX (lowercase hex), and nothing else is escaped. Numbers are
written as PostgreSQL prints a jsonb number: plain decimal notation, never an exponent,
the digits after the point kept as stored (1.50 stays 1.50, 1e3 is 1000, 1.5e-7 is
0.00000015), minus zero as 0. Strings and objects are never changed otherwise.

JSON-quoting the two free-text fields keeps the preimage unambiguous: no field can
contain a raw line feed. The canonical JSON is computed from the stored JSON text,
so both databases hash the same event to the same value (tests/integration/tamper).
"""

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

SORTED = _SORTED = orjson.OPT_SORT_KEYS
_NESTED = (dict, list)
_loads, _dumps = orjson.loads, orjson.dumps


def canonical_json(value: Any) -> str:
    """The reference serializer: the canonical JSON of a decoded value (floats and Decimals exact)."""
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(f"{_string(k)}:{canonical_json(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, str):
        return _string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # as stored: the shortest repr, which is what orjson writes
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} has no JSON form")
        return format(abs(value) if value.is_zero() else value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON")


def canonical_json_text(text: str | bytes) -> str:
    """The canonical JSON of stored JSON text."""
    return canonical_json_bytes(text).decode()


def canonical_json_bytes(text: str | bytes) -> bytes:
    """The canonical JSON of stored JSON text, UTF-8 encoded (what the hash reads).

    orjson does the common case (no floats: this app's payloads carry money as strings)
    several times faster than the reference. orjson reads every number with a fraction
    or an exponent, and every integer beyond 64 bits, as a float, and would print it its
    own way; when the decoded value holds a float, the text is parsed again exactly
    (numbers as Decimal) and written by the reference.
    """
    value = _loads(text)
    return exact_canonical_json_bytes(text) if has_float(value) else _dumps(value, option=_SORTED)


def has_float(value: Any) -> bool:
    """Whether a decoded value holds a float anywhere (the types of a container's items are collected in C)."""
    kind = type(value)
    if kind is dict:
        items = value.values()
    elif kind is list:
        items = value
    else:
        return kind is float
    kinds = set(map(type, items))
    if float in kinds:
        return True
    return (dict in kinds or list in kinds) and any(type(item) in _NESTED and has_float(item) for item in items)


def exact_canonical_json_bytes(text: str | bytes) -> bytes:
    """The reference path: numbers parsed as Decimal, written by `canonical_json`."""
    return canonical_json(json.loads(text, parse_float=Decimal)).encode()


def json_string(value: str) -> str:
    """A string as canonical JSON (fields 2 and 4)."""
    return orjson.dumps(value).decode()


def _string(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"object keys must be strings, not {type(value).__name__}")
    return orjson.dumps(value).decode()


def utc_timestamp(value: datetime | str) -> str:
    """Field 8: a datetime (naive means UTC, as Django stores it on SQLite) or its stored text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def preimage(
    previous: str,
    stream_id: str,
    version: int,
    event_type: str,
    schema_version: int,
    data: str,
    metadata: str,
    recorded_at: str,
) -> str:
    """The text that is hashed, from fields already in canonical form."""
    return f"{previous}\n{stream_id}\n{version}\n{event_type}\n{schema_version}\n{data}\n{metadata}\n{recorded_at}"


def event_hash(
    previous: str,
    stream_id: str,
    version: int,
    event_type: str,
    schema_version: int,
    data: str | bytes,
    metadata: str | bytes,
    recorded_at: datetime | str,
) -> str:
    """The hash of one event from its stored columns (data and metadata as stored JSON text)."""
    text = preimage(
        previous,
        json_string(stream_id),
        version,
        json_string(event_type),
        schema_version,
        canonical_json_text(data),
        canonical_json_text(metadata),
        utc_timestamp(recorded_at),
    )
    return hashlib.sha256(text.encode()).hexdigest()
