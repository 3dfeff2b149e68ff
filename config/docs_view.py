"""GET /api/docs/: drf-spectacular's Swagger UI, with an OPTIONS answer that does not fail.

The UI's only renderer is its HTML template, which cannot render DRF's OPTIONS
metadata (a 500); OPTIONS is answered in JSON instead, like every other /api/ route.
"""

from drf_spectacular.views import SpectacularSwaggerView
from rest_framework.renderers import BaseRenderer, JSONRenderer


class ApiDocsView(SpectacularSwaggerView):
    def get_renderers(self) -> list[BaseRenderer]:
        if self.request.method == "OPTIONS":
            return [JSONRenderer()]
        return super().get_renderers()
