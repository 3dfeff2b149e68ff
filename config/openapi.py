"""OpenAPI for clients: the error shapes and examples, and the protocol headers every endpoint shares.

Each app describes its own operations (summary, description, examples, the errors each
can give) in its `api_schema` module with the helpers here, so every error example is
built the one way the exception handler answers: `{"detail", "code", ...}`, or field
errors for a 400. What API.md promises across all endpoints (ETag and the consistency
token on command answers, Idempotency-Key and If-Match on commands, the
read-your-writes headers on queries, Retry-After on 429 and 503) is added by the
postprocessing hook once, so no view has to repeat it and none can forget it.

This module imports nothing of the apps, so both can use it without depending on
each other or on the wiring. It is longer than most because the error catalogue and the
hook that applies it are one contract: split, a new error could be documented in one
half and forgotten in the other.
"""

import json
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse

ViewT = TypeVar("ViewT", bound=Callable[..., Any])
"""What `extend_schema` decorates: a view function or class, returned as it came."""

ERROR = "Error"
FIELD_ERRORS = "FieldErrors"
VERSION_MISMATCH = "VersionMismatch"

SCHEMAS: dict[str, dict[str, Any]] = {
    ERROR: {
        "type": "object",
        "description": "Any error that is not about one field: a human message and a machine-readable code.",
        "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
        "required": ["detail", "code"],
        "additionalProperties": True,
    },
    FIELD_ERRORS: {
        "type": "object",
        "description": "Syntactic validation: each invalid field with its messages. A nested field's errors "
        "nest the same way: an object for an object's fields, a list with one entry per item for a list's.",
        "additionalProperties": {"anyOf": [{"type": "array"}, {"type": "object"}]},
    },
    VERSION_MISMATCH: {
        "allOf": [
            {"$ref": f"#/components/schemas/{ERROR}"},
            {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "enum": ["version_mismatch"]},
                    "expected": {"type": "integer"},
                    "actual": {"type": "integer"},
                },
            },
        ],
    },
}

HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": 'The version of the order or product, "<version>"; send it back as If-Match.',
        "schema": {"type": "string"},
    },
    "X-Consistency-Token": {
        "description": "The log position of the command's last event; send it as X-Consistency-Token on a "
        "read to see this change.",
        "schema": {"type": "string"},
    },
    "X-Consistency": {
        "description": "fresh: the answer includes the change the token names; stale: the wait timed out "
        "and it may not.",
        "schema": {"type": "string", "enum": ["fresh", "stale"]},
    },
    "Warning": {"description": '110 - "Response is Stale" when X-Consistency is stale.', "schema": {"type": "string"}},
    "X-Request-ID": {
        "description": "The request's id: the client's own X-Request-ID, or a new one; quote it when "
        "reporting a problem.",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    },
}

PARAMETERS: dict[str, dict[str, Any]] = {
    "Idempotency-Key": {
        "description": "1 to 255 characters chosen by the client. A retry with the same key and the same "
        "body replays the first answer (status, body, headers) and changes nothing; the same key with "
        "another body is 422 idempotency_key_reused; while the first request is still running, a "
        f"retry waits for it or gets 409 request_in_progress. Keys are kept {settings.IDEMPOTENCY_TTL_HOURS} hours.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    },
    "If-Match": {
        "description": 'The version of the order or product the client last saw, as its ETag gives it ("3"). '
        "The command runs only if the stream is still at that version, else 412 version_mismatch. "
        'A weak tag (W/"3") never matches.',
        "schema": {"type": "string"},
    },
    "X-Consistency-Token": {
        "description": "The consistency token of a command's answer: this answer then waits until it includes "
        "that command's changes (X-Consistency: fresh) or the timeout passes (stale). A malformed token, or one "
        "no command gave, is 400 invalid_consistency_token. Also accepted as ?consistency_token=.",
        "schema": {"type": "string"},
    },
    "X-Consistency-Timeout": {
        "description": "Seconds to wait for X-Consistency-Token (0 to 10, default 2); else 400 "
        "invalid_consistency_timeout.",
        "schema": {"type": "number", "maximum": 10},
    },
    "X-Request-ID": {
        "description": "An id of the client's choosing for this request, echoed back and recorded with "
        "the events a command appends.",
        "schema": {"type": "string"},
    },
}

UNPAGINATED = "x-unpaginated"
"""Marks an operation whose list answer is a plain array though its view paginates other actions."""
DETAIL_PATH = re.compile(r"^/api/(orders/\{order_id\}|products/\{sku\})/$")

STATUS_DESCRIPTIONS = {
    400: "The request is malformed: field errors (each invalid field with its messages), or detail and code.",
    401: "No valid credentials: send `Authorization: Token <token>` or log in with a session.",
    403: "Signed in, but only staff may do this.",
    404: "No such order or product; someone else's order is a 404 too.",
    409: "Conflict with another request.",
    412: "If-Match names another version than the current one; nothing changed.",
    413: "The body is over 1 MiB.",
    422: "A business rule refused the command; nothing changed.",
    429: "Too many requests; wait Retry-After seconds.",
    503: "A backing service is unreachable and nothing changed; retry after Retry-After seconds.",
}


def error(
    status: int, code: str, detail: str, /, *, summary: str = "", label: str = "", **extra: Any
) -> OpenApiExample:
    """An error answer as the exception handler builds it: `{"detail", "code", ...extra}`.

    `label` names the example where one status has two of the same code.
    """
    return OpenApiExample(
        label or code,
        value={"detail": detail, "code": code, **extra},
        summary=summary or code,
        status_codes=[str(status)],
        response_only=True,
    )


def field_errors(name: str, value: dict[str, list[str]], *, summary: str) -> OpenApiExample:
    """A 400 for a body or query that fails validation: each invalid field with its messages."""
    return OpenApiExample(name, value=value, summary=summary, status_codes=["400"], response_only=True)


def error_responses(*examples: OpenApiExample) -> dict[int, OpenApiResponse]:
    """One response per status, with its examples; the schema follows the examples' shape."""
    by_status: dict[int, list[OpenApiExample]] = defaultdict(list)
    for example in examples:
        for status in example.status_codes or ():  # `error` and `field_errors` always name one
            by_status[int(status)].append(example)
    return {status: _error_response(status, found) for status, found in sorted(by_status.items())}


def _error_response(status: int, examples: list[OpenApiExample]) -> OpenApiResponse:
    codes = [e.value["code"] for e in examples if "code" in e.value]
    kinds = {FIELD_ERRORS if "code" not in e.value else ERROR for e in examples}
    if status == 412:
        schema: dict[str, Any] = {"$ref": f"#/components/schemas/{VERSION_MISMATCH}"}
    elif len(kinds) == 1 and status != 400:  # any 400 may be field errors or a detail with a code
        schema = {"$ref": f"#/components/schemas/{kinds.pop()}"}
    else:
        schema = {
            "oneOf": [{"$ref": f"#/components/schemas/{FIELD_ERRORS}"}, {"$ref": f"#/components/schemas/{ERROR}"}]
        }
    description = STATUS_DESCRIPTIONS[status] + (f" Codes: {', '.join(dict.fromkeys(codes))}." if codes else "")
    return OpenApiResponse(response=schema, description=description, examples=examples)


# Errors any endpoint can give, exactly as they are answered.
UNAUTHENTICATED = error(401, "not_authenticated", "Authentication credentials were not provided.")
STAFF_ONLY = error(403, "permission_denied", "You do not have permission to perform this action.")
TOO_LARGE = error(413, "request_too_large", f"Request body exceeds {settings.MAX_REQUEST_BODY_BYTES} bytes.")
CHUNKED = error(
    400,
    "length_required",
    "Send the request body with a Content-Length, not in chunks.",
    summary="a body sent in chunks (no Content-Length)",
)
THROTTLED = error(
    429,
    "throttled",
    "Request was throttled. Expected available in 30 seconds.",
    summary="over the rate set for the API (off unless configured)",
)
UNAVAILABLE = error(503, "service_unavailable", "A backing service is unavailable; retry shortly.")
MALFORMED_JSON = error(
    400,
    "parse_error",
    "JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    summary="the body is not JSON",
)


def postprocess(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: the shared headers on every /api/ operation."""
    components = result.setdefault("components", {})
    for name, schema in SCHEMAS.items():
        components.setdefault("schemas", {}).setdefault(name, schema)
    for name, header in HEADERS.items():
        components.setdefault("headers", {}).setdefault(name, header)
    pages: set[str] = set()
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if path.startswith("/api/auth/"):
                _header_params(operation, "X-Request-ID")
            elif method in ("post", "delete", "put", "patch"):
                _command(path, operation)
            elif method == "get":
                _query(path, operation)
                _page_links(path, operation)
                _page_not_found(operation)
            _retry_after(operation)
            if operation.pop(UNPAGINATED, False):
                pages.add(_unpaginate(operation, components.get("schemas", {})))
    for schema in components.get("schemas", {}).values():  # drf-spectacular's placeholder page links
        for link in ("next", "previous"):
            schema.get("properties", {}).get(link, {}).pop("example", None)
    used = json.dumps(result.get("paths", {}))
    for name in pages:
        if f"#/components/schemas/{name}" not in used:
            del components["schemas"][name]
    return result


def _unpaginate(operation: dict[str, Any], schemas: dict[str, Any]) -> str:
    """The array inside drf-spectacular's page wrapper (it pages every list of a paginated view).

    Returns the page component's name, to drop once nothing refers to it.
    """
    content = operation["responses"]["200"]["content"]["application/json"]
    name = content["schema"]["$ref"].rsplit("/", 1)[-1]
    content["schema"] = schemas[name]["properties"]["results"]
    for example in content.get("examples", {}).values():
        example["value"] = example["value"]["results"]
    return name


def _command(path: str, operation: dict[str, Any]) -> None:
    """Idempotency-Key on every command; If-Match only where the path names an existing stream.

    A command without an id in its path creates its stream, so If-Match has nothing to compare.
    """
    if "{" in path:
        _header_params(operation, "Idempotency-Key", "If-Match", "X-Request-ID")
    else:
        operation["parameters"] = [p for p in operation.get("parameters", []) if p.get("name") != "If-Match"]
        _header_params(operation, "Idempotency-Key", "X-Request-ID")
    _success_headers(operation, "ETag", "X-Consistency-Token", "X-Request-ID")


def _query(path: str, operation: dict[str, Any]) -> None:
    _header_params(operation, "X-Consistency-Token", "X-Consistency-Timeout", "X-Request-ID")
    names = ["X-Consistency", "Warning", "X-Request-ID"] + (["ETag"] if DETAIL_PATH.match(path) else [])
    _success_headers(operation, *names)


def _page_links(path: str, operation: dict[str, Any]) -> None:
    """Page links in list examples that lead to this list, not to drf-spectacular's placeholder URL."""
    content = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
    for example in content.get("examples", {}).values():
        value = example.get("value")
        if isinstance(value, dict) and "next" in value and "previous" in value:
            value["next"] = f"https://shop.example.com{path}?page=4"
            value["previous"] = f"https://shop.example.com{path}?page=2"


def _page_not_found(operation: dict[str, Any]) -> None:
    """A paginated list answers 404 for a page beyond its last (DRF's "Invalid page.")."""
    if not any(p.get("in") == "query" and p.get("name") == "page" for p in operation.get("parameters", [])):
        return
    responses = operation.setdefault("responses", {})
    responses.setdefault(
        "404",
        {
            "description": "No such page: the page asked for is beyond the last. Codes: not_found.",
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{ERROR}"},
                    "examples": {
                        "InvalidPage": {
                            "value": {"detail": "Invalid page.", "code": "not_found"},
                            "summary": "a page beyond the last",
                        }
                    },
                }
            },
        },
    )


def _header_params(operation: dict[str, Any], *names: str) -> None:
    """Each named header once, with the description clients read here (replacing a view's shorter one)."""
    parameters = operation.setdefault("parameters", [])
    by_name = {p.get("name", "").lower(): p for p in parameters if p.get("in") == "header"}
    for name in names:
        if name.lower() in by_name:
            by_name[name.lower()].update(PARAMETERS[name])
        else:
            parameters.append({"in": "header", "name": name, "required": False, **PARAMETERS[name]})


def _success_headers(operation: dict[str, Any], *names: str) -> None:
    for status, response in operation.get("responses", {}).items():
        if str(status).startswith("2"):
            headers = response.setdefault("headers", {})
            for name in names:
                headers.setdefault(name, {"$ref": f"#/components/headers/{name}"})


def _retry_after(operation: dict[str, Any]) -> None:
    for status in ("429", "503"):
        if status in operation.get("responses", {}):
            headers = operation["responses"][status].setdefault("headers", {})
            headers.setdefault("Retry-After", {"$ref": "#/components/headers/Retry-After"})
