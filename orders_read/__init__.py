"""The query side: read-only views, the projections that build them, queries and their API."""
