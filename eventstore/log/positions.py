"""Checkpoints: where a reader stands in the log, and their compact token form.

A checkpoint is the pair (transaction id, position) of the last event read. The log
is read in that order, so "a projection has passed a command's token" is plain
tuple comparison. On SQLite the transaction id is always 0.
"""

import re
from typing import NamedTuple

from eventstore.errors import InvalidCheckpoint

_TOKEN = re.compile(r"^(\d{1,20})-(\d{1,20})$", re.ASCII)  # ASCII: "\d" would accept other scripts' digits


class Checkpoint(NamedTuple):
    txid: int
    position: int

    def token(self) -> str:
        """The string form clients carry between a command and a query."""
        return f"{self.txid}-{self.position}"

    @classmethod
    def parse(cls, token: object) -> "Checkpoint":
        match = _TOKEN.match(token.strip()) if isinstance(token, str) else None
        if match is None:
            raise InvalidCheckpoint(f"malformed consistency token {token!r}; expected '<txid>-<position>'")
        return cls(int(match[1]), int(match[2]))


ORIGIN = Checkpoint(0, 0)
