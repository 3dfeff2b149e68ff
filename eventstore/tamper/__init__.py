"""Tamper evidence for the event log: per-stream hash chains, seals, and their verification.

- `canonical`: the documented canonical form of an event and its hash (docs/tamper-evidence.md).
- `sqlite`: the hash as a SQLite function, for the trigger that chains each insert there.
- `reader`: the log in batches with only what the hashes need, holding no transaction id.
- `seals`: append-only checkpoints whose digests chain everything appended since the last.
- `verify`: recompute every chain and seal in one pass over the log.

On PostgreSQL a BEFORE INSERT trigger computes the hash inside the append's own
statement (migrations 0003 and 0005), so no writer can chain to a parent another writer also
chained to: the (stream_id, version) uniqueness already decides who wins.
"""
