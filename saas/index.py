"""`GET /` on the base host: a small JSON index of where things are, instead of a 404."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
    renderer_classes,
)
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from saas.middleware import HEALTH_PATH
from shared_apps.organizations.services import site_url


@extend_schema(exclude=True)
@api_view(["GET", "HEAD"])  # HEAD: uptime checks probe the site root with it
@authentication_classes([])
@permission_classes([AllowAny])
@renderer_classes([JSONRenderer])
def site_index(request):
    """Links a person or a client starts from, absolute on the host that was asked."""

    def url(path: str) -> str:
        return request.build_absolute_uri(path)

    return Response(
        {
            "name": settings.SPECTACULAR_SETTINGS["TITLE"],
            "docs": url(reverse("docs")),
            "schema": url(reverse("schema")),
            "admin": url(reverse("admin:index")),
            "health": url(HEALTH_PATH),
            "register": url(reverse("auth-register")),
            "login": url(reverse("auth-login")),
            # Each organization's projects and tasks are served on its own subdomain.
            "organization_api": f"{site_url('{slug}.' + settings.BASE_DOMAIN)}api/",
        }
    )
