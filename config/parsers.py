"""Request parsers: DRF's JSON parser, refusing what no field could ever store.

Python's json decoder recurses once per nesting level and raises RecursionError
(not ValueError) past about a thousand levels, which DRF lets through as a 500:
two kilobytes of `[` were enough. A NUL character or a lone surrogate (`"\\ud800"`)
anywhere in the document, object keys included, is refused here too: PostgreSQL text
cannot hold either, and UTF-8 cannot encode a lone surrogate, so letting one through
to a serializer that does not look at it (an address's keys, an ignored field) ends
in a 500 when it is stored or hashed (API.md, Errors).
"""

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from config.hostile import unstorable


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        if _contains_unstorable(data):
            raise ParseError("JSON parse error - NUL characters and lone surrogates are not allowed.")
        return data


def _contains_unstorable(value: Any) -> bool:
    """Walks the parsed document without recursion (its depth is the client's to choose)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if unstorable(item):
                return True
        elif isinstance(item, dict):
            for key, child in item.items():
                if unstorable(key):
                    return True
                pending.append(child)
        elif isinstance(item, list):
            pending.extend(item)
    return False
