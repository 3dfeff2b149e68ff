"""The operator's admin: the event log (read-only, fast on millions of rows) and projection health.

The log can only be read here: no add, change or delete, and no bulk delete action (the
database refuses them anyway). On a big log the changelist must not count every row
on every page, so the full count is switched off and an unfiltered page estimates its
total from PostgreSQL's statistics. Projections can be resumed and rebuilt from here by
whoever holds `orders_write.operate_projections` (superusers do): view permission
alone shows them but offers no action, and a forged action POST does nothing. A
rebuild runs as a Celery task and its progress shows in the list.

Tamper evidence: each event's hash prefix, the seals, and the verifications with the
last one's result; `eventstore.run_verification` holders may run one on a worker.
A stream links to the view that shows it (an order, a product) when the app owning
that view registered a link with `register_stream_view`: the event store imports no
app of its own users. One module for the whole of the store's admin, as Django's
convention has it (`admin.py` is what `autodiscover` imports), a little over the size
the rest keeps to.
"""

import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.db.models.expressions import Combinable, RawSQL
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.http import urlencode

from eventstore.backends import recorder_for
from eventstore.log.append import count_after
from eventstore.log.positions import Checkpoint
from eventstore.models import Event, ProjectionState
from eventstore.projections import runner
from eventstore.projections.base import get_projection
from eventstore.rebuild.orchestration import rebuild_progress

OPERATE_PROJECTIONS = "orders_write.operate_projections"  # see orders_write.models.ProjectionOperations
HASH_PREFIX_LENGTH = 12

StreamViewLink = Callable[[str], str | None]
"""Given a stream id, the admin URL of the view showing that stream's entity (None: no such row)."""
STREAM_VIEWS: dict[str, StreamViewLink] = {}


def register_stream_view(stream_type: str, link: StreamViewLink) -> None:
    """Let the event admin link a stream of `stream_type` to the admin page of its view."""
    STREAM_VIEWS[stream_type] = link


def stream_changelist_url(stream_id: str) -> str:
    """Every event of one stream, in version order."""
    return reverse("admin:eventstore_event_changelist") + "?" + urlencode({"stream_id": stream_id})


class ReadOnlyAdminMixin:
    """No add, change or delete: the log is immutable and views belong to their projections."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EstimatedCountPaginator(Paginator):
    """Counts an unfiltered log from pg_class.reltuples: `count(*)` reads every row of millions."""

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if query is not None and not query.where:
            db = getattr(self.object_list, "db", "default")
            estimate = recorder_for(db).estimated_count(using=db)
            if estimate is not None:  # no statistics: fall back to counting
                return estimate
        return super().count


class DistinctValueFilter(admin.SimpleListFilter):
    """Filter choices from the column's distinct values, found by a loose index scan on PostgreSQL.

    `SELECT DISTINCT` would read the whole index; the recursive query jumps from one
    value to the next, so it costs one index probe per distinct value.
    """

    column: str

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(value, value) for value in recorder_for("default").distinct_values(self.column, using="default")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(**{self.column: value}) if value else queryset


class StreamTypeFilter(DistinctValueFilter):
    title = "stream type"
    parameter_name = column = "stream_type"


class EventTypeFilter(DistinctValueFilter):
    title = "event type"
    parameter_name = column = "event_type"


def _pretty(value: Any) -> str:
    return format_html('<pre class="event-json">{}</pre>', json.dumps(value, indent=2, sort_keys=True, default=str))


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("position", "stream", "event_type", "version", "recorded_at", "hash_prefix")
    list_display_links = ("position",)
    list_filter = (StreamTypeFilter, EventTypeFilter)
    list_per_page = 50
    search_fields = ("stream_id",)
    search_help_text = "A stream id (exact or its beginning, e.g. Order-3f2a) or an event id."
    ordering = ("-position",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    fields = (
        "position",
        "event_id",
        "stream",
        "stream_type",
        "version",
        "event_type",
        "schema_version",
        "recorded_at",
        "transaction_id",
        "hash",
        "view_link",
        "payload",
        "event_metadata",
    )
    readonly_fields = fields

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        """Exact or prefix stream id, or an exact event id: never a scan for `%term%`.

        Exact ids always use the (stream_id, version) index; a prefix (LIKE 'term%') does
        where the database collation is C, as on these servers.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(stream_id=term) | Q(stream_id__startswith=term)
        with contextlib.suppress(ValueError):  # not a uuid: then it is no event id either
            # Raw, because the store writes the canonical text form, which on SQLite is not
            # the form the ORM's UUIDField compares against.
            event_id = str(uuid.UUID(term))
            condition |= Q(position__in=RawSQL("SELECT position FROM eventstore_event WHERE event_id = %s", [event_id]))
        return queryset.filter(condition), False

    @admin.display(description="stream", ordering="stream_id")
    def stream(self, obj: Event) -> str:
        """The stream id, linking to every event of that stream in order."""
        return format_html(
            '<a class="stream-link" href="{}" title="all events of this stream">{}</a>',
            stream_changelist_url(obj.stream_id),
            obj.stream_id,
        )

    @admin.display(description="hash")
    def hash_prefix(self, obj: Event) -> str:
        """Enough of the chain hash to compare by eye with `verify_log` or the history endpoint."""
        return format_html('<code class="hash-prefix" title="{}">{}</code>', obj.hash, obj.hash[:HASH_PREFIX_LENGTH])

    @admin.display(description="current view")
    def view_link(self, obj: Event) -> str:
        """The read side's page for this stream's entity, when its app registered one."""
        link = STREAM_VIEWS.get(obj.stream_type)
        url = link(obj.stream_id) if link else None
        if not url:
            return "-"
        return format_html('<a class="view-link" href="{}">{}</a>', url, obj.stream_id)

    @admin.display(description="data")
    def payload(self, obj: Event) -> str:
        return _pretty(obj.data)

    @admin.display(description="metadata")
    def event_metadata(self, obj: Event) -> str:
        return _pretty(obj.metadata)

    def get_ordering(self, request: HttpRequest) -> list[str | Combinable] | tuple[str | Combinable, ...]:
        if request.GET.get("stream_id"):  # the stream link: one stream, in version order
            return ("version",)
        return super().get_ordering(request)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:  # Django 5.2 always passes it
        return lookup == "stream_id" or super().lookup_allowed(lookup, value, request)


@admin.register(ProjectionState)
class ProjectionStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "status",
        "versions",
        "checkpoint_token",
        "lag_events",
        "events_applied",
        "last_event_at",
        "short_error",
        "rebuild",
    )
    readonly_fields = (
        "name",
        "status",
        "version",
        "checkpoint_token",
        "events_applied",
        "last_event_at",
        "failed_event",
        "failed_at",
        "skipped_positions",
        "last_error",
        "rebuild",
        "updated_at",
    )
    fields = readonly_fields
    actions = ("resume", "skip_failed_event", "start_rebuild")

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """May change projections (the actions); `admin.action(permissions=("operate",))` asks this."""
        return request.user.has_perm(OPERATE_PROJECTIONS)

    @admin.display(description="version (code/stored)")
    def versions(self, obj: ProjectionState) -> str:
        try:
            code = get_projection(obj.name).version
        except LookupError:
            return f"?/{obj.version} (not registered)"
        return f"{code}/{obj.version}" + ("" if code == obj.version else " needs rebuild")

    @admin.display(description="checkpoint")
    def checkpoint_token(self, obj: ProjectionState) -> str:
        return obj.checkpoint.token()

    @admin.display(description="lag (events)")
    def lag_events(self, obj: ProjectionState) -> int:
        return count_after(Checkpoint(obj.checkpoint_txid, obj.checkpoint_position))

    @admin.display(description="failed on event")
    def failed_event(self, obj: ProjectionState) -> str:
        """A link to the event the projection stopped on, to read its payload before resuming or skipping."""
        if obj.failed_position is None:
            return "-"
        url = reverse("admin:eventstore_event_change", args=[obj.failed_position])
        return format_html('<a class="failed-event" href="{}">#{}</a>', url, obj.failed_position)

    @admin.display(description="last error")
    def short_error(self, obj: ProjectionState) -> str:
        lines = obj.last_error.strip().splitlines()
        return lines[-1][:120] if lines else ""

    @admin.display(description="rebuild")
    def rebuild(self, obj: ProjectionState) -> str:
        progress = rebuild_progress(obj.name)
        if not progress:
            return "-"
        total = progress.get("events_total") or 0
        done = progress.get("events_done") or 0
        percent = f" ({100 * done // total}%)" if total else ""
        return f"{progress['phase']}: {done}/{total} events{percent}"

    @admin.action(description="Resume the selected failed projections", permissions=("operate",))
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, runner.resume, "Resumed {name}")

    @admin.action(description="Skip the failed event and resume (recorded)", permissions=("operate",))
    def skip_failed_event(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = "Skipped the failed event of {name} (recorded), resumed"
        self._each(request, queryset, runner.skip_failed_event, done)

    @admin.action(
        description="Rebuild the selected projections (blue/green, in the background)", permissions=("operate",)
    )
    def start_rebuild(self, request: HttpRequest, queryset: QuerySet) -> None:
        from eventstore.tasks import queue_rebuild

        names = list(queryset.values_list("name", flat=True))
        queue_rebuild(names)
        self.message_user(
            request, f"Rebuild started for {', '.join(names)}; progress shows in the list.", messages.SUCCESS
        )

    def _each(self, request: HttpRequest, queryset: QuerySet, operation: Any, done: str) -> None:
        for name in queryset.values_list("name", flat=True):
            try:
                operation(name)
            except (LookupError, ValueError) as exc:
                self.message_user(request, f"Could not change {name}: {exc}", messages.ERROR)
            else:
                self.message_user(request, done.format(name=name), messages.SUCCESS)


# The seal and verification admins live with the rest of the tamper evidence.
from eventstore.tamper import admin as _tamper_admin  # noqa: E402, F401
