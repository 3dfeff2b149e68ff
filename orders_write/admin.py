"""API tokens in the admin: listed by owner with only a prefix of the key, never the key itself.

DRF's own TokenProxy admin lists every key in clear (anyone with view permission on
tokens could act as any user) and shows it again in the change and delete pages. It
is replaced by a list that shows `ab12…`, with no add, change, detail or delete page
(each of those prints the key as the object's name). Revoke a token by deleting it
from a shell, or by deactivating its user.

Idempotency records are listed read-only: each is the first answer to a retried
request and must replay byte for byte, so nobody edits one; beat deletes them when
they expire.
"""

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from eventstore.admin import ReadOnlyAdminMixin
from orders_write.models import IdempotencyRecord

KEY_PREFIX_LENGTH = 4


def key_prefix(key: str) -> str:
    return f"{key[:KEY_PREFIX_LENGTH]}…"


if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class TokenPrefixAdmin(TokenAdmin):
    list_display = ("masked_key", "user", "created")
    list_display_links = None  # no link to a page that would name the token by its key
    actions = None

    @admin.display(description="key")
    def masked_key(self, obj: TokenProxy) -> str:
        return key_prefix(obj.key)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TokenProxy | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TokenProxy | None = None) -> bool:
        return False

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        raise PermissionDenied  # its title would be the key

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        raise PermissionDenied


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Which keys were answered, for whom and with what: support's view of a client's retries."""

    list_display = ("key", "user_id", "created_at")
    search_fields = ("=key",)
    search_help_text = "An Idempotency-Key (exact)."
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    actions = None
    fields = ("key", "user_id", "fingerprint", "created_at", "result")
    readonly_fields = fields
