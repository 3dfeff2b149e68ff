"""URL wiring: the admin, the API (commands and queries), its docs, and operations endpoints."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("config.api_router")),
    path("", include("config.ops_urls")),
]

handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
handler400 = "config.views.bad_request"
