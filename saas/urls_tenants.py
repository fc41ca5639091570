"""URLconf of organization hosts (<slug>.<BASE_DOMAIN>), running in the organization's schema."""

from django.urls import include, path

urlpatterns = [
]

handler400 = "saas.views.bad_request"
handler403 = "saas.views.permission_denied"
handler404 = "saas.views.not_found"
handler500 = "saas.views.server_error"
