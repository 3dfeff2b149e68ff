"""Request-wide middleware: a request id in and out, the 1 MiB body limit, unstorable text refused, and JSON
answers (never Django's redirects or HTML pages) for paths the API does not have."""

import re
import uuid
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware import common as django_common

from config.hostile import unstorable
from config.logging import request_id_var
from config.views import not_found

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    """Takes `X-Request-ID` from the client (or makes one) and echoes it back.

    The id also becomes the default correlation id of any command the request sends.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # Django's HttpRequest declares no such attribute; the command API reads it back with getattr.
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class BodySizeLimitMiddleware:
    """Answers 413 for bodies over MAX_REQUEST_BODY_BYTES before anything reads them, and 400 for a
    body sent in chunks.

    Django's own DATA_UPLOAD_MAX_MEMORY_SIZE only guards form parsing; a JSON body
    would otherwise be read whole by DRF's parser. A chunked body (no Content-Length)
    reaches a WSGI application as an empty one: a command would be refused for fields
    it did send, and one over the limit could not be told apart.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limit = settings.MAX_REQUEST_BODY_BYTES

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > self.limit:
            return JsonResponse(
                {"detail": f"Request body exceeds {self.limit} bytes.", "code": "request_too_large"},
                status=413,
            )
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower() and not declared:
            return JsonResponse(
                {"detail": "Send the request body with a Content-Length, not in chunks.", "code": "length_required"},
                status=400,
            )
        return self.get_response(request)


class UnstorableTextMiddleware:
    """400 for a NUL or a lone surrogate (or bytes that are not UTF-8) in the path or a query parameter.

    Django decodes the path leniently (a percent-encoded lone surrogate stays as its
    escapes and then matches no route: a 404) and the query string with replacement
    characters, so the raw bytes are checked here, before any view sees them. A
    parameter's error has DRF's field shape, `{"name": ["message"]}`; the path's,
    `{"detail", "code"}`. JSON bodies are checked by config.parsers.JSONParser.
    """

    MESSAGE = "NUL characters, lone surrogates and invalid UTF-8 are not allowed."

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.META.get("PATH_INFO", "").encode("latin-1", "replace")  # WSGI: the raw bytes as latin-1
        if _bad_text(unquote_to_bytes(path)):
            return JsonResponse({"detail": f"Path: {self.MESSAGE}", "code": "invalid_path"}, status=400)
        query = request.META.get("QUERY_STRING", "")
        if query:
            for pair in query.split("&"):
                name, _, value = pair.partition("=")
                raw_name, raw_value = (unquote_to_bytes(part.replace("+", " ")) for part in (name, value))
                if _bad_text(raw_name) or _bad_text(raw_value):
                    label = raw_name.decode("utf-8", "replace").replace("\x00", "")
                    return JsonResponse({label or "query": [self.MESSAGE]}, status=400)
        return self.get_response(request)


def _bad_text(raw: bytes) -> bool:
    try:
        return unstorable(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return True


class CommonMiddleware(django_common.CommonMiddleware):
    """Django's, except that a missing trailing slash is redirected only for reads (GET, HEAD).

    A client that follows a 301 repeats the request as a GET, so a command sent to
    `/api/orders` would come back as the list of orders, as if it had been taken; with
    DEBUG on Django raises instead (a 500). Any other method on a path the router does
    not make is a 404 (API.md: trailing slashes as DRF routers make them).
    """

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        return request.method in ("GET", "HEAD") and super().should_redirect_with_slash(request)


class JsonNotFoundMiddleware:
    """A path no URL matches answers the API's JSON 404 with DEBUG on too.

    With DEBUG off Django answers it with `handler404` (config.views.not_found); with it on,
    as `make run` has it, with its HTML debug page, which no client of the API can read.
    A matched view's own 404 (an API's JSON, the admin's page) passes through.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.DEBUG and response.status_code == 404 and getattr(request, "resolver_match", None) is None:
            return not_found(request)
        return response
