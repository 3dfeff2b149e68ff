"""OpenAPI postprocessing: the error shapes and the protocol headers every endpoint shares.

The views describe their own bodies; what API.md promises across all of them (the
`{"detail", "code"}` errors, ETag and the consistency token on command answers,
Idempotency-Key and If-Match on commands, the read-your-writes headers on queries) is
added here once, so no view has to repeat it and none can forget it. Anything a view
already documents is left as it is.
"""

import re
from typing import Any

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
        "description": "Syntactic validation: each invalid field with its messages.",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
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
        "description": 'The stream or view version, "<version>"; send it back as If-Match.',
        "schema": {"type": "string"},
    },
    "X-Consistency-Token": {
        "description": "Log checkpoint of the command's last event; send it on a query to read your own write.",
        "schema": {"type": "string"},
    },
    "X-Consistency": {
        "description": "fresh: the projections passed the token; stale: the wait timed out.",
        "schema": {"type": "string", "enum": ["fresh", "stale"]},
    },
    "Warning": {"description": '110 - "Response is Stale" when X-Consistency is stale.', "schema": {"type": "string"}},
    "X-Request-ID": {
        "description": "The request id (the client's, or a new one); the correlation id of commands.",
        "schema": {"type": "string"},
    },
}

PARAMETERS: dict[str, dict[str, Any]] = {
    "Idempotency-Key": {
        "description": "Up to 255 characters: a retry with the same key and body replays the "
        "first answer and appends nothing.",
        "schema": {"type": "string"},
    },
    "If-Match": {
        "description": '"<version>" the client last saw; 412 version_mismatch otherwise.',
        "schema": {"type": "string"},
    },
    "X-Consistency-Token": {
        "description": "Wait until the projections behind this endpoint passed this token.",
        "schema": {"type": "string"},
    },
    "X-Consistency-Timeout": {
        "description": "Seconds to wait for the token (at most 10, default 2).",
        "schema": {"type": "number", "maximum": 10},
    },
    "X-Request-ID": {
        "description": "Optional request id, echoed back and used as correlation id.",
        "schema": {"type": "string"},
    },
}

COMMAND_ERRORS = {
    "400": "Malformed body or header (field errors, or detail/code).",
    "401": "Not authenticated.",
    "403": "Authenticated but not allowed (staff only).",
    "409": "Conflict: already_exists, request_in_progress, or a concurrency conflict after retries.",
    "412": "If-Match did not match the stream's version.",
    "413": "Body over 1 MiB.",
    "422": "A business rule refused the command (see code).",
}
QUERY_ERRORS = {"400": "Bad filter, ordering or consistency token.", "401": "Not authenticated."}
DETAIL_PATH = re.compile(r"^/api/(orders/\{order_id\}|products/\{sku\})/$")


def postprocess(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: complete every /api/ operation."""
    components = result.setdefault("components", {})
    for name, schema in SCHEMAS.items():
        components.setdefault("schemas", {}).setdefault(name, schema)
    for name, header in HEADERS.items():
        components.setdefault("headers", {}).setdefault(name, header)
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/") or path.startswith("/api/auth/"):
            continue
        for method, operation in operations.items():
            if method in ("post", "delete", "put", "patch"):
                _command(path, operation)
            elif method == "get":
                _query(path, operation)
    return result


def _command(path: str, operation: dict[str, Any]) -> None:
    _header_params(operation, "Idempotency-Key", "If-Match", "X-Request-ID")
    _success_headers(operation, "ETag", "X-Consistency-Token", "X-Request-ID")
    errors = dict(COMMAND_ERRORS)
    if "{" in path:
        errors["404"] = "No such order or product (or not yours)."
    _errors(operation, errors)


def _query(path: str, operation: dict[str, Any]) -> None:
    _header_params(operation, "X-Consistency-Token", "X-Consistency-Timeout", "X-Request-ID")
    names = ["X-Consistency", "Warning", "X-Request-ID"] + (["ETag"] if DETAIL_PATH.match(path) else [])
    _success_headers(operation, *names)
    errors = dict(QUERY_ERRORS)
    if {} in operation.get("security", []):
        errors.pop("401")  # public (the catalogue)
    if "{" in path:
        errors["404"] = "Not found (someone else's order is a 404 too)."
    _errors(operation, errors)


def _header_params(operation: dict[str, Any], *names: str) -> None:
    parameters = operation.setdefault("parameters", [])
    present = {(p.get("in"), p.get("name", "").lower()) for p in parameters}
    for name in names:
        if ("header", name.lower()) not in present:
            parameters.append({"in": "header", "name": name, "required": False, **PARAMETERS[name]})


def _success_headers(operation: dict[str, Any], *names: str) -> None:
    for status, response in operation.get("responses", {}).items():
        if str(status).startswith("2"):
            headers = response.setdefault("headers", {})
            for name in names:
                headers.setdefault(name, {"$ref": f"#/components/headers/{name}"})


def _errors(operation: dict[str, Any], errors: dict[str, str]) -> None:
    responses = operation.setdefault("responses", {})
    for status, description in errors.items():
        if status == "400":
            schema: dict[str, Any] = {
                "oneOf": [{"$ref": f"#/components/schemas/{FIELD_ERRORS}"}, {"$ref": f"#/components/schemas/{ERROR}"}]
            }
        else:
            schema = {"$ref": f"#/components/schemas/{VERSION_MISMATCH if status == '412' else ERROR}"}
        responses.setdefault(status, {"description": description, "content": {"application/json": {"schema": schema}}})
