"""The generic event-sourcing machinery: the log, snapshots, projections and their runner.

Knows nothing of orders: the orders apps build on it, never the other way round.
"""
