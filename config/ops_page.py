"""The operations page in the admin (/admin/operations/, staff): the system at a glance, as pictures.

Events appended per minute and each projection's lag over the last hour, daily sales
over the last 30 days, any rebuild with its progress bar, and the last log
verification with a button to run one. Charts are SVG drawn on the server
(config/svg_charts.py), so the page needs no script and no network beyond this
server; it reloads itself, every few seconds while a rebuild or a verification runs.
"""

from datetime import timedelta
from decimal import Decimal

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from config import ops_data
from config.svg_charts import Bar, Point, bar_chart, legend, line_chart
from eventstore.lag_history import sample_unless_recent

WINDOW = timedelta(hours=1)
REFRESH_SECONDS = 15
REFRESH_ACTIVE_SECONDS = 2
"""How often the page reloads itself: quickly while a progress bar moves, gently otherwise."""
SAMPLE_ON_VIEW_SECONDS = 20
"""With no beat running (the embedded default), a page view samples the lag if nothing did for this long."""
RUN_VERIFICATION = "eventstore.run_verification"


def operations(request: HttpRequest) -> HttpResponse:
    """Render the page; wired through `admin.site.admin_view`, which lets staff only in."""
    now = timezone.now()
    sample_unless_recent(within_seconds=SAMPLE_ON_VIEW_SECONDS)
    per_minute = ops_data.events_per_minute(now=now)
    sales = ops_data.daily_sales(today=now.date())
    lag = ops_data.projection_lag(since=now - WINDOW)
    rebuilds = ops_data.rebuilds()
    tamper = ops_data.tamper_state()
    active = tamper.running or any(rebuild.active for rebuild in rebuilds)
    context = {
        **admin.site.each_context(request),
        "title": "Operations",
        "refresh_seconds": REFRESH_ACTIVE_SECONDS if active else REFRESH_SECONDS,
        "now": now,
        "events_chart": bar_chart(
            [
                Bar(f"{minute:%H:%M}", count, f"{minute:%H:%M} UTC: {count} event{'s' if count != 1 else ''}")
                for minute, count in per_minute
            ],
            chart_id="events-per-minute",
            caption="Events appended per minute, last hour",
        ),
        "events_total": sum(count for _, count in per_minute),
        "lag_chart": line_chart(
            {
                name: [
                    Point((s.taken_at - (now - WINDOW)).total_seconds(), s.lag_events, f"{s.taken_at:%H:%M:%S}")
                    for s in samples
                ]
                for name, samples in lag.items()
            },
            chart_id="projection-lag",
            caption="Projection lag in events, last hour",
            x_range=(0, WINDOW.total_seconds()),
            x_labels=(f"{now - WINDOW:%H:%M}", f"{now:%H:%M}"),
        ),
        "lag_legend": legend(list(lag)),
        "lag_now": {name: samples[-1].lag_events if samples else None for name, samples in lag.items()},
        "sales_chart": bar_chart(
            [
                Bar(
                    day.date.isoformat(),
                    float(day.revenue),
                    f"{day.date:%Y-%m-%d}: revenue {day.revenue}, {day.orders} orders,"
                    f" {day.units} units, {day.cancelled} cancelled",
                )
                for day in sales
            ],
            chart_id="daily-sales",
            caption="Revenue per day, last 30 days",
        ),
        "sales_total": sum((day.revenue for day in sales), start=Decimal("0.00")),
        "rebuilds": rebuilds,
        "tamper": tamper,
        "can_verify": request.user.has_perm(RUN_VERIFICATION),
        "verify_url": reverse("admin:eventstore_verification_run"),
        "verifications_url": reverse("admin:eventstore_verification_changelist"),
        "seals_url": reverse("admin:eventstore_seal_changelist"),
    }
    return TemplateResponse(request, "admin/operations.html", context)
