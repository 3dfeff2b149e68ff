"""The project's URLs plus the baseline's one endpoint (benchmark server only)."""

from django.urls import path

from bench.plainshop.views import PlainOrderCreateApi
from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as project_patterns

urlpatterns = [*project_patterns, path("bench/plain/orders/", PlainOrderCreateApi.as_view())]
