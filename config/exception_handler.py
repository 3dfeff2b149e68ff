"""The one place domain and store errors become HTTP answers (DRF EXCEPTION_HANDLER).

Bodies keep DRF's shape, `{"detail", "code", ...}`. A database, cache or broker that
cannot be reached is 503 with Retry-After (API.md, Errors): the request did not
complete, and the same request may succeed a moment later (with an Idempotency-Key it
replays if it did commit). Anything not listed falls through to DRF, and real bugs
still surface as logged 500s.
"""

import logging
from typing import Any

from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django_filters.utils import translate_validation
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from eventstore.errors import InvalidCheckpoint
from orders_read.errors import InvalidFilters, NotFoundError
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


logger = logging.getLogger(__name__)

UNAVAILABLE: tuple[type[Exception], ...] = (
    DatabaseOperationalError,
    DatabaseInterfaceError,
    BrokerOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
)
RETRY_AFTER_SECONDS = 1
UNAVAILABLE_BODY = {"detail": "A backing service is unavailable; retry shortly.", "code": "service_unavailable"}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map the project's own errors, then let DRF handle its own."""
    if isinstance(exc, UNAVAILABLE):
        logger.warning("answering 503: a backing service failed: %r", exc)
        return Response(
            UNAVAILABLE_BODY,
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DomainError):
        code = next(code for error_type, code in STATUS_BY_ERROR if isinstance(exc, error_type))
        return Response({"detail": exc.detail, "code": exc.code, **exc.extra}, status=code)
    if isinstance(exc, InvalidCheckpoint):
        return Response({"detail": str(exc), "code": "invalid_consistency_token"}, status=400)
    if isinstance(exc, NotFoundError):  # the read side's: missing, or not the viewer's to see
        return Response({"detail": exc.detail, "code": "not_found"}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, InvalidFilters):  # DRF's field-error shape, as its filter backend would answer
        exc = translate_validation(exc.errors)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        response.data.setdefault("code", getattr(detail, "code", None) or "error")
    return response
