"""A test-only app: the test runner's `flush`, which empties the append-only tables as their owner."""
