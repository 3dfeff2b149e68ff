"""Rebuilding projections from the log: the orchestration (blue/green or in place), the in-memory fresh
fill, the lean read-ahead log reader, shadow tables and progress reporting."""
