"""URLconf of organization hosts (<slug>.<BASE_DOMAIN>), running in the organization's schema."""

from django.urls import include, path, re_path

from saas.api import messages
from saas.api.docs import DocsView, SchemaView
from saas.api.views import api_not_found

urlpatterns = [
    path("api/", include("shared_apps.organizations.urls_tenant")),
    path("api/", include("tenant_apps.projects.urls")),
    path("api/", include("tenant_apps.tasks.urls")),
    path("api/", include("tenant_apps.activity.urls")),
    path("api/", include("tenant_apps.exports.urls")),
    path("api/schema/", SchemaView.as_view(urlconf="saas.urls_tenants"), name="schema"),
    path("api/docs/", DocsView.as_view(url_name="schema"), name="docs"),
    # Last: any other /api/ URL is a JSON 404; base-host endpoints say where they are.
    re_path(r"^api/(?:auth|orgs)(?:/|$)", api_not_found, {"detail": messages.ON_BASE_HOST}),
    re_path(r"^api(?:/|$)", api_not_found),
]

handler400 = "saas.api.views.bad_request"
handler403 = "saas.api.views.permission_denied"
handler404 = "saas.api.views.not_found"
handler500 = "saas.api.views.server_error"
