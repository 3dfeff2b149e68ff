"""Aggregates over the log: loading them from their streams (`loading`) and snapshotting them (`snapshots`)."""
