"""Everything under /api/: auth, the command endpoints, the query endpoints, the schema.

The write and read apps each publish their own urlpatterns. Some paths belong to
both (POST /api/orders/ is a command, GET /api/orders/ a query), and Django routes a
path to one view only, so such routes are merged here into one view that hands each
HTTP method to the app that serves it, answers `Allow` and OPTIONS with the methods
of all its parts, and keeps every part's URL name. The schema is generated from the unmerged
lists (config/schema_urls.py), so every endpoint keeps its own documentation.
"""

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, include, path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView

from config.api_root import ApiRoot
from config.docs_view import ApiDocsView
from config.token_view import obtain_token
from orders_read.urls import urlpatterns as query_patterns
from orders_write.urls import urlpatterns as command_patterns

View = Callable[..., HttpResponse]
METHOD_ORDER = ("get", "post", "put", "patch", "delete", "head", "options")
"""The order DRF and Django list methods in `Allow`."""


def allowed_methods(view: View) -> list[str]:
    """The HTTP methods a DRF view (APIView or ViewSet) answers, in lower case."""
    actions = getattr(view, "actions", None)
    if actions:
        return list(actions)
    cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
    if cls is None:
        return ["get", "post", "put", "patch", "delete"]
    return [m for m in cls.http_method_names if m not in ("options", "head") and hasattr(cls, m)]


def allow_header(methods: Iterable[str]) -> str:
    """`Allow` for a set of methods: HEAD wherever GET is, and OPTIONS always (as DRF answers them)."""
    names = {m.lower() for m in methods} | {"options"}
    if "get" in names:
        names.add("head")
    return ", ".join(m.upper() for m in METHOD_ORDER if m in names)


def method_dispatch(views: dict[str, View]) -> View:
    """One view that sends each method to the view that answers it (405 for the rest).

    Each view would announce only its own methods in `Allow`, so every answer carries
    the union instead; OPTIONS is answered by the first view with that union.
    """
    allow = allow_header(views)

    @csrf_exempt
    def dispatch(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        method = (request.method or "").lower()  # None only for a request built by hand: a 405
        if method == "head":
            method = "get"
        view = views.get(method) or (next(iter(views.values())) if method == "options" else None)
        if view is None:
            response: HttpResponse = JsonResponse(
                {"detail": f'Method "{request.method}" not allowed.', "code": "method_not_allowed"}, status=405
            )
        else:
            response = view(request, *args, **kwargs)
        response["Allow"] = allow
        return response

    return dispatch


def merge_routes(*pattern_lists: Sequence[URLPattern]) -> list[URLPattern]:
    """Patterns with the same route become one method-dispatching pattern; order is kept."""
    groups: dict[str, list[URLPattern]] = {}
    for pattern in (p for patterns in pattern_lists for p in patterns):
        groups.setdefault(str(pattern.pattern), []).append(pattern)
    return [merged for route, patterns in groups.items() for merged in _merged(route, patterns)]


def _merged(route: str, patterns: list[URLPattern]) -> list[URLPattern]:
    """The merged pattern once per name of its parts, so each name still reverses.

    Django gives a pattern one name. The copies after the first never resolve (the
    first matches the same paths), but `reverse` finds every name, and all of them
    lead to the same dispatching view.
    """
    if len(patterns) == 1:
        return patterns
    views: dict[str, View] = {}
    for pattern in patterns:
        for method in allowed_methods(pattern.callback):
            views.setdefault(method, pattern.callback)
    view = method_dispatch(views)
    names: list[str | None] = [p.name for p in patterns if p.name] or [None]
    return [path(route, view, name=name) for name in dict.fromkeys(names)]


urlpatterns = [
    path("", ApiRoot.as_view(), name="api-root"),
    path("auth/token/", obtain_token, name="api-token"),
    path("auth/", include("rest_framework.urls")),  # login/logout for the browsable API (session auth)
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include(merge_routes(command_patterns, query_patterns))),
]
