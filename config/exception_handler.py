"""The one place domain and store errors become HTTP answers (DRF EXCEPTION_HANDLER).

Bodies keep DRF's shape, `{"detail", "code", ...}`. Anything not listed falls through
to DRF, and real bugs still surface as logged 500s.
"""

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from eventstore.errors import InvalidCheckpoint
from orders_write.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    DomainError,
    Forbidden,
    NotFound,
    RequestInProgress,
    VersionMismatch,
)

STATUS_BY_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, status.HTTP_404_NOT_FOUND),
    (Forbidden, status.HTTP_403_FORBIDDEN),
    (AlreadyExists, status.HTTP_409_CONFLICT),
    (ConcurrencyConflict, status.HTTP_409_CONFLICT),
    (RequestInProgress, status.HTTP_409_CONFLICT),
    (VersionMismatch, status.HTTP_412_PRECONDITION_FAILED),
    (DomainError, status.HTTP_422_UNPROCESSABLE_ENTITY),
)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map the project's own errors, then let DRF handle its own."""
    if isinstance(exc, DomainError):
        code = next(code for error_type, code in STATUS_BY_ERROR if isinstance(exc, error_type))
        return Response({"detail": exc.detail, "code": exc.code, **exc.extra}, status=code)
    if isinstance(exc, InvalidCheckpoint):
        return Response({"detail": str(exc), "code": "invalid_consistency_token"}, status=400)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        response.data.setdefault("code", getattr(detail, "code", None) or "error")
    return response
