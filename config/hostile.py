"""Text no part of the system can store: NUL characters and lone surrogates (API.md, Errors: a 400)."""

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    """True when `text` holds a NUL or a lone surrogate (PostgreSQL and UTF-8 refuse both)."""
    return _UNSTORABLE.search(text) is not None
