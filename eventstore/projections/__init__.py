"""Projections: the base class and registry (`base`), the runner and its retries, their status, how they are
woken (`wakeups`), read-your-writes waits (`consistency`), and helpers for keyed and set-based SQL views
(`keyed`, `sql`)."""
