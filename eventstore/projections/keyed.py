"""Projections with one row per key (an order, a product): one fold, two ways to write it.

The live runner applies a batch by reading the rows it touches, folding, and upserting
them (`apply`). A blue/green rebuild starts from empty tables, so its fill keeps the
folded rows in memory across batches and COPYs them once (`KeyedFill`, see
eventstore.rebuild.fresh_fill); both run the same `fold`, so they cannot drift apart (the
incremental == rebuilt test holds them to it).
"""

from abc import abstractmethod
from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar

from django.db import models, transaction

from eventstore.log.read import Recorded
from eventstore.projections.base import Projection, Target
from eventstore.projections.sql import insert_fresh, upsert
from eventstore.rebuild.fresh_fill import FreshFill, writes_behind


class KeyedProjection(Projection):
    """A projection whose table holds one row per key, folded in memory as a dict per key."""

    model: ClassVar[type[models.Model]]
    columns: ClassVar[tuple[str, ...]]
    key: ClassVar[str]
    needs_metadata: ClassVar[bool] = False
    """Folds read only payloads, types, versions and times: a rebuild may skip metadata (log_reader)."""

    @abstractmethod
    def keys(self, batch: Sequence[Recorded]) -> tuple[set[str], set[str]]:
        """The keys the batch touches and those it creates (raw, as the events carry them)."""

    def canonical(self, key: str) -> str:
        """The form a key has in the folded dict (the raw form unless a projection normalizes it)."""
        return key

    @abstractmethod
    def load(self, target: Target, keys: set[str]) -> dict[str, dict[str, Any]]:
        """The stored rows of these keys, as folded dicts under their canonical keys."""

    @abstractmethod
    def fold(self, rows: dict[str, dict[str, Any]], batch: Sequence[Recorded], target: Target) -> None:
        """Fold the batch into `rows` (pure; raises on an event the log should not hold)."""

    @abstractmethod
    def rows(self, folded: dict[str, dict[str, Any]], target: Target) -> list[tuple]:
        """The table rows (in `columns` order) of the folded dicts."""

    def apply(self, batch: Sequence[Recorded], target: Target) -> None:
        touched, created = self.keys(batch)
        folded = self.load(target, touched - created)
        self.fold(folded, batch, target)
        upsert(target, self.model, self.columns, self.rows(folded, target), key=self.key)

    def fresh_fill(self, target: Target) -> "KeyedFill":
        return KeyedFill(self, target)


class KeyedFill(FreshFill):
    """The rows of one fill in memory; new ones are COPYed, ones read back after a flush upserted."""

    def __init__(self, projection: KeyedProjection, target: Target) -> None:
        self.projection = projection
        self.target = target
        self.folded: dict[str, dict[str, Any]] = {}
        self.stored: set[str] = set()
        """Keys read back from the table (after a flush): those rows exist there already."""
        self.flushed = False

    def fold(self, batch: Sequence[Recorded]) -> None:
        projection = self.projection
        if self.flushed:  # before the first flush the table is empty: nothing to read back
            touched, created = projection.keys(batch)
            missing = {projection.canonical(k) for k in touched - created - self.folded.keys()} - self.folded.keys()
            if missing:
                loaded = projection.load(self.target, missing)
                self.folded.update(loaded)
                self.stored.update(loaded)
        projection.fold(self.folded, batch, self.target)

    def held(self) -> int:
        return len(self.folded)

    def flush(self, chunk: int) -> None:
        """Rows are built a chunk at a time, so a flush never holds every row twice (dicts and tuples);
        a chunk's fresh rows are COPYed behind while the next chunk is built (`writes_behind`)."""
        projection, target = self.projection, self.target
        keys = list(self.folded)
        with writes_behind(target.using) as later:
            for start in range(0, len(keys), max(1, chunk)):
                part = keys[start : start + chunk]
                fresh = projection.rows({k: self.folded[k] for k in part if k not in self.stored}, target)
                later(partial(insert_fresh, target, projection.model, projection.columns, fresh, chunk=chunk))
                self._upsert_again({k: self.folded[k] for k in part if k in self.stored})
        self.folded, self.stored, self.flushed = {}, set(), True

    def _upsert_again(self, again: dict[str, dict[str, Any]]) -> None:
        """Rows read back after an earlier flush: they exist, so they are upserted (none is among the fresh ones)."""
        projection, target = self.projection, self.target
        if again:
            with transaction.atomic(using=target.using):
                upsert(target, projection.model, projection.columns, projection.rows(again, target), key=projection.key)
