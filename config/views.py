"""Project-wide fallback views: JSON errors instead of Django's HTML pages."""

from django.http import HttpRequest, HttpResponse, JsonResponse


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"detail": "Internal server error.", "code": "server_error"}, status=500)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
