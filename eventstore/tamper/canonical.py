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

Canonical JSON is the text PostgreSQL prints for a `jsonb` value (`data::text`):
object keys ordered by the length of their UTF-8 bytes, then by those bytes; ", "
between items and ": " between a key and its value, no other whitespace; in strings `"`
and `\\` escaped with a backslash, U+0008/0009/000A/000C/000D as \\b \\t \\n \\f \\r,
every other character below U+0020 as \\u00XX (lowercase hex), nothing else escaped
(non-ASCII as itself); numbers in plain decimal notation, never an exponent, the digits
after the point kept as stored (1.50 stays 1.50, 1e3 is 1000, 1.5e-7 is 0.00000015),
minus zero as 0.

Why PostgreSQL's own text: the database computes every hash inside the INSERT, and
printing a jsonb value costs it microseconds, where re-serializing it in PL/pgSQL cost
a hundred; a verifier on PostgreSQL hashes `data::text` as it comes. This module is the
same form for SQLite and for anyone checking a log elsewhere (docs/tamper-evidence.md).
"""

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

_ITEM, _KEY = ", ", ": "
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(_ITEM, _KEY), allow_nan=False)


def jsonb_key_order(key: str) -> tuple[int, bytes]:
    """How jsonb orders an object's keys: shorter UTF-8 first, then bytewise."""
    raw = key.encode()
    return len(raw), raw


def canonical_json(value: Any) -> str:
    """The reference serializer: the canonical JSON of a decoded value (floats and Decimals exact)."""
    if isinstance(value, dict):
        keys = sorted(value, key=_checked_key_order)
        return "{" + _ITEM.join(f"{_string(k)}{_KEY}{canonical_json(value[k])}" for k in keys) + "}"
    if isinstance(value, list | tuple):
        return "[" + _ITEM.join(canonical_json(v) for v in value) + "]"
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
    """The canonical JSON of stored JSON text (SQLite's column, or any JSON a verifier holds).

    The common case (no number with a fraction or an exponent: this app writes money as
    strings) reorders the keys and lets the C encoder write; a value holding a float is
    parsed again exactly (numbers as Decimal) and written by the reference.
    """
    value = orjson.loads(text)
    if has_float(value):
        return canonical_json(json.loads(text, parse_float=Decimal))
    return _encoder.encode(_in_jsonb_order(value))


def _in_jsonb_order(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: _in_jsonb_order(value[k]) for k in sorted(value, key=jsonb_key_order)}
    if kind is list:
        return [_in_jsonb_order(v) for v in value]
    return value


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
    return (dict in kinds or list in kinds) and any(type(item) in (dict, list) and has_float(item) for item in items)


def json_string(value: str) -> str:
    """A string as canonical JSON (fields 2 and 4)."""
    return orjson.dumps(value).decode()


def _checked_key_order(key: Any) -> tuple[int, bytes]:
    if not isinstance(key, str):
        raise TypeError(f"object keys must be strings, not {type(key).__name__}")
    return jsonb_key_order(key)


def _string(value: str) -> str:
    return orjson.dumps(value).decode()


def utc_timestamp(value: datetime | str) -> str:
    """Field 8: a datetime (naive means UTC, as Django stores it on SQLite) or its stored text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chained_hash(
    previous: str,
    stream_id: str,
    version: int,
    event_type: str,
    schema_version: int,
    data: str,
    metadata: str,
    recorded_at: str,
) -> str:
    """The hash of one event from fields already in canonical form (data and metadata canonical JSON)."""
    text = f"{previous}\n{json_string(stream_id)}\n{version}\n{json_string(event_type)}\n{schema_version}\n"
    return hashlib.sha256(f"{text}{data}\n{metadata}\n{recorded_at}".encode()).hexdigest()


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
    """The hash of one event from its stored columns (data and metadata as any stored JSON text)."""
    return chained_hash(
        previous,
        stream_id,
        version,
        event_type,
        schema_version,
        canonical_json_text(data),
        canonical_json_text(metadata),
        utc_timestamp(recorded_at),
    )
