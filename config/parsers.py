"""Request parsers: DRF's JSON parser, with a body nested too deep answered like any malformed JSON.

Python's json decoder recurses once per nesting level and raises RecursionError
(not ValueError) past about a thousand levels, which DRF lets through as a 500:
two kilobytes of `[` were enough. API.md: never a 500 for bad input.
"""

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
