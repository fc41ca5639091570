"""URLconf of the base host (public schema): admin, accounts, organizations, API docs."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Task management administration"
admin.site.site_title = "Task management admin"

urlpatterns = [
    path("admin/", admin.site.urls),
]

handler400 = "saas.views.bad_request"
handler403 = "saas.views.permission_denied"
handler404 = "saas.views.not_found"
handler500 = "saas.views.server_error"
