"""URLconf of the base host (public schema): admin, accounts, organizations, API docs."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

admin.site.site_header = "Task management administration"
admin.site.site_title = "Task management admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/auth/", include("shared_apps.accounts.urls")),
    path("api/", include("shared_apps.organizations.urls_public")),
    path("api/schema/", SpectacularAPIView.as_view(urlconf="saas.urls_public"), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

handler400 = "saas.views.bad_request"
handler403 = "saas.views.permission_denied"
handler404 = "saas.views.not_found"
handler500 = "saas.views.server_error"
