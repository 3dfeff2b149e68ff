"""URL wiring: the admin, the API (commands and queries), its docs, and operations endpoints."""

from django.contrib import admin
from django.urls import include, path

from config import ops_page

urlpatterns = [
    path("admin/operations/", admin.site.admin_view(ops_page.operations), name="admin-operations"),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_router")),
    path("", include("config.ops_urls")),
]

handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
handler400 = "config.views.bad_request"
