"""Switch off, in a benchmark server only, the speed tricks that reach under Django or psycopg.

A trick stays only if it pays on the production-shaped benchmark (bench/commands.py:
gunicorn worker processes over HTTP), so that benchmark runs servers with each one
switched off beside the server with all of them, and reports the difference. Set
`BENCH_WITHOUT` to a comma-separated list of names; bench.plainshop's `ready()` applies
it. What each name puts back is the plain Django way of doing the same thing:

- `pipeline`: the per-projection "pending" flags are set with one `cache.add` each
  (Django's cache API), instead of by one script in one round trip on Redis's own
  client, kept for the process.
"""

TRICKS = ("pipeline",)
"""The tricks on a command's path, which bench/commands.py weighs."""
ALL_TRICKS = TRICKS


def disable(names: str) -> list[str]:
    """Switch off the named tricks in this process; returns the names applied."""
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = set(wanted) - set(ALL_TRICKS)
    if unknown:
        raise ValueError(f"unknown tricks {sorted(unknown)}; known: {ALL_TRICKS}")
    if "pipeline" in wanted:
        from eventstore.projections import wakeups

        wakeups.redis_cache = lambda: None
    return wanted
