"""The API's description on every host: the OpenAPI document and its Swagger UI page.

drf-spectacular's views, plus: they attempt no authentication (the description is public and
the same for everyone, so a stale token in a client never locks it out with a 401), and
everything but the document or the page itself answers JSON like the rest of the API (the
page's HTML renderer answered OPTIONS with a 500 and errors as plain text, the document's
YAML renderer errors as YAML)."""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer

SUCCESSFUL_READS = ("GET", "HEAD")


class JsonErrorsMixin:
    """Responses other than a successful GET or HEAD are rendered as JSON."""

    authentication_classes: list = []

    def finalize_response(self, request, response, *args, **kwargs):
        if request.method not in SUCCESSFUL_READS or response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SchemaView(JsonErrorsMixin, SpectacularAPIView):
    """`GET /api/schema/`: the OpenAPI document of the host's URLconf."""


class DocsView(JsonErrorsMixin, SpectacularSwaggerView):
    """`GET /api/docs/`: Swagger UI over the host's OpenAPI document."""
