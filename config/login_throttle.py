"""Login throttling: after N failed logins for one username from one address, 429 until the window passes.

API.md (Auth): 10 failures within 15 minutes (LOGIN_THROTTLE_FAILURES,
LOGIN_THROTTLE_WINDOW_SECONDS) for a (username, client address) pair, on the token
endpoint and the admin login; further attempts answer 429 with Retry-After whatever
the password. Failures are counted from Django's `user_login_failed` signal, so both
logins count the same way, in the cache (Redis in production: every process sees the
same count; local memory in the embedded default).

Written here rather than with django-axes: axes keeps its own attempt tables and
middleware and answers its own lockout page, where the contract needs a JSON 429 with
Retry-After on the token endpoint; what is needed is two cache keys and a signal.
"""

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse


def _key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username}\n{address}".encode("utf-8", "replace")).hexdigest()[:32]
    return f"login-throttle:{digest}"


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def retry_after(username: str, address: str) -> int | None:
    """Seconds until this pair may try again, or None when it is not throttled."""
    key = _key(username, address)
    state = cache.get_many([f"{key}:count", f"{key}:since"])
    failures, since = state.get(f"{key}:count", 0), state.get(f"{key}:since")
    if failures < settings.LOGIN_THROTTLE_FAILURES or since is None:
        return None
    remaining = since + settings.LOGIN_THROTTLE_WINDOW_SECONDS - time.time()
    return max(1, int(remaining + 0.999)) if remaining > 0 else None


def record_failure(username: str, address: str) -> None:
    """Count one failure; the window starts with the first failure of the pair."""
    key, window = _key(username, address), settings.LOGIN_THROTTLE_WINDOW_SECONDS
    cache.add(f"{key}:since", time.time(), timeout=window)
    cache.add(f"{key}:count", 0, timeout=window)
    try:
        cache.incr(f"{key}:count")
    except ValueError:  # expired between the add and the incr: start a new window
        cache.set(f"{key}:count", 1, timeout=window)


@receiver(user_login_failed)
def _count_failed_login(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if request is not None:
        record_failure(str(credentials.get("username", "")), client_address(getattr(request, "_request", request)))


class LoginThrottleMiddleware:
    """Answers a throttled login attempt with 429 before any password is checked."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.paths = set(settings.LOGIN_THROTTLE_PATHS)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path in self.paths:
            wait = retry_after(_username(request), client_address(request))
            if wait is not None:
                return JsonResponse(
                    {"detail": f"Too many failed logins; try again in {wait} seconds.", "code": "throttled"},
                    status=429,
                    headers={"Retry-After": str(wait)},
                )
        return self.get_response(request)


def _username(request: HttpRequest) -> str:
    """The username a login attempt names, from a JSON body (token endpoint) or a form (admin)."""
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, RecursionError):
            return ""
        value = body.get("username", "") if isinstance(body, dict) else ""
        return value if isinstance(value, str) else ""
    return request.POST.get("username", "")
