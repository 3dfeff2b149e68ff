"""Signals the store sends, so it needs to know nothing of who listens (projections, metrics)."""

from django.dispatch import Signal

events_committed = Signal()
"""Sent after a transaction that appended events has committed."""
