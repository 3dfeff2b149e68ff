"""URL wiring: the admin, the API (commands and queries), its docs, and operations endpoints."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("config.api_router")),
    path("", include("config.ops_urls")),
]
