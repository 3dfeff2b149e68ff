"""Tamper evidence for the event log: per-stream hash chains, seals, and their verification.

- `canonical`: the documented canonical form of an event and its hash (docs/tamper-evidence.md).
- `reader`: the log in batches with only what the hashes need, holding no transaction id.
- `seals`: append-only checkpoints whose digests chain everything appended since the last.
- `verify`: recompute every chain and seal in one pass over the log.

On PostgreSQL a BEFORE INSERT trigger computes the hash inside the append's own
statement (migrations 0003 and 0005), so no writer can chain to a parent another writer also
chained to: the (stream_id, version) uniqueness already decides who wins. On SQLite
the trigger calls the hash as a Python function (`eventstore.backends.sqlite.functions`),
and each backend reads the log as stored for hashing (`eventstore.backends.*.tamper`).
"""
