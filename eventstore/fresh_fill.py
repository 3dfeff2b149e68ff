"""The fast path of a blue/green fill: a projection's fold kept in memory across batches.

A live batch must read the rows it changes from the view and write them back (upsert),
because earlier batches stored them. A blue/green fill starts from empty shadow
tables, so every row a batch needs was made by an earlier batch of the same fill:
keeping the folded rows in memory saves the read and the upsert of every batch, and
the fresh rows are written once, by COPY, into a table with no secondary indexes yet
(DESIGN.md, "How fast a rebuild can be"). Memory stays bounded: past a limit the rows
are flushed and forgotten, and later batches read back the few they touch again.

A projection opts in by offering `fresh_fill(target) -> FreshFill`; one without it is
filled batch by batch through `apply`, as the live runner does.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence

from eventstore.projections import Projection, Target
from eventstore.store import RecordedEvent


class FreshFill(ABC):
    """One fill's in-memory fold; `flush` writes what it holds to the target and forgets it.

    `flush` commits in short transactions of its own (at most `chunk` rows each): one
    long write transaction would hold back every projection reader of the cluster.
    """

    @abstractmethod
    def fold(self, batch: Sequence[RecordedEvent]) -> None:
        """Fold handled events (in log order) into the rows held in memory."""

    @abstractmethod
    def held(self) -> int:
        """How many rows are held in memory (what the flush limit is compared with)."""

    @abstractmethod
    def flush(self, chunk: int) -> None:
        """Write the held rows to the target tables, then forget them."""


def fresh_fill(projection: Projection, target: Target) -> FreshFill | None:
    """The projection's in-memory fill into `target`, or None if it only has `apply`."""
    start = getattr(projection, "fresh_fill", None)
    return start(target) if callable(start) else None
