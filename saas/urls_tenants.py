"""URLconf of organization hosts (<slug>.<BASE_DOMAIN>), running in the organization's schema."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("api/", include("shared_apps.organizations.urls_tenant")),
    path("api/", include("tenant_apps.projects.urls")),
    path("api/", include("tenant_apps.tasks.urls")),
    path("api/schema/", SpectacularAPIView.as_view(urlconf="saas.urls_tenants"), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

handler400 = "saas.views.bad_request"
handler403 = "saas.views.permission_denied"
handler404 = "saas.views.not_found"
handler500 = "saas.views.server_error"
