"""The URL list the OpenAPI schema is generated from: every app's views, unmerged.

config/api_router.py merges routes that two apps share into one dispatching view,
which drf-spectacular cannot introspect; here each view keeps its own entry.
"""

from django.urls import include, path

from config.token_view import obtain_token
from orders_read.urls import urlpatterns as query_patterns
from orders_write.urls import urlpatterns as command_patterns

urlpatterns = [
    path("api/auth/token/", obtain_token),
    path("api/", include(command_patterns)),
    path("api/", include(query_patterns)),
]
