"""Project-wide fallback views: JSON errors instead of Django's HTML pages."""

import sys

from django.http import HttpRequest, HttpResponse, JsonResponse

from config.exception_handler import RETRY_AFTER_SECONDS, UNAVAILABLE, UNAVAILABLE_BODY


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django calls this inside its `except`: a service outage raised outside DRF (a middleware) is still a 503."""
    if isinstance(sys.exc_info()[1], UNAVAILABLE):
        return JsonResponse(UNAVAILABLE_BODY, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return JsonResponse({"detail": "Internal server error.", "code": "server_error"}, status=500)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
