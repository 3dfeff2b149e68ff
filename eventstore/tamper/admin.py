"""The tamper evidence in the admin: the seals, and the recorded verifications with a button to run one.

Read-only like the log. The button (on the verification list and on the operations
page) needs `eventstore.run_verification`; the run view refuses anyone else whatever
they post, queues the verification on a Celery worker and sends the operator back to
watch its progress. Registered by `eventstore.admin`, which imports this module.
"""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from eventstore.admin import HASH_PREFIX_LENGTH, ReadOnlyAdminMixin
from eventstore.models import Seal, Verification
from eventstore.tamper.runs import verification_progress
from eventstore.tamper.seals import last_seal

RUN_VERIFICATION = "eventstore.run_verification"


@admin.register(Seal)
class SealAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The seals, newest first: what `verify_log` checks the log against."""

    list_display = ("id", "sealed_at", "checkpoint_token", "events_count", "digest_prefix")
    ordering = ("-id",)
    list_per_page = 50
    show_full_result_count = False
    actions = None
    fields = ("id", "sealed_at", "checkpoint_token", "events_count", "digest", "previous_digest", "streams")
    readonly_fields = fields

    @admin.display(description="checkpoint")
    def checkpoint_token(self, obj: Seal) -> str:
        return obj.checkpoint.token()

    @admin.display(description="digest")
    def digest_prefix(self, obj: Seal) -> str:
        return format_html('<code title="{}">{}</code>', obj.digest, obj.digest[:HASH_PREFIX_LENGTH])

    @admin.display(description="streams in its range")
    def streams(self, obj: Seal) -> int:
        return len(obj.heads)


@admin.register(Verification)
class VerificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every recorded verification, newest first, with a button that runs one on a worker.

    The button (here and on the operations page) needs `eventstore.run_verification`;
    the run view refuses anyone else, whatever they post.
    """

    change_list_template = "admin/eventstore/verification/change_list.html"
    list_display = (
        "id",
        "finished_at",
        "result",
        "events_checked",
        "streams_checked",
        "seals_checked",
        "checkpoint_position",
        "first_failure",
        "started_by",
    )
    list_filter = ("ok",)
    ordering = ("-id",)
    actions = None
    fields = (
        "id",
        "started_at",
        "finished_at",
        "result",
        "checkpoint_token",
        "events_checked",
        "streams_checked",
        "seals_checked",
        "first_failure",
        "started_by",
    )
    readonly_fields = fields

    @admin.display(description="result", ordering="ok")
    def result(self, obj: Verification) -> str:
        return format_html(
            '<span class="verification-{}">{}</span>', "ok" if obj.ok else "failed", "OK" if obj.ok else "FAILED"
        )

    @admin.display(description="covered up to")
    def checkpoint_token(self, obj: Verification) -> str:
        return obj.checkpoint.token()

    def get_urls(self) -> list[Any]:
        run = path("run/", self.admin_site.admin_view(self.run_view), name="eventstore_verification_run")
        return [run, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "last_seal": last_seal(),
            "progress": verification_progress(),
            "can_run": request.user.has_perm(RUN_VERIFICATION),
            "run_url": reverse("admin:eventstore_verification_run"),
        }
        return super().changelist_view(request, extra_context=context)

    def run_view(self, request: HttpRequest) -> HttpResponse:
        """POST only, with the permission: queue a whole-log verification unless one is running."""
        from eventstore.tamper.tasks import queue_verification

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(RUN_VERIFICATION):
            raise PermissionDenied
        try:
            queued = queue_verification(started_by=request.user.get_username())
        except Exception as exc:  # the broker is down: say so, rather than a 500 page
            self.message_user(request, f"Could not start a verification: {type(exc).__name__}", messages.ERROR)
        else:
            if queued:
                self.message_user(request, "Verification started; its progress shows here.", messages.SUCCESS)
            else:
                self.message_user(request, "A verification is already running.", messages.WARNING)
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:eventstore_verification_changelist")
        return HttpResponseRedirect(target)
