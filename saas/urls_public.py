"""URLconf of the base host (public schema): admin, account pages, accounts and organizations
APIs, API docs."""

from django.contrib import admin
from django.urls import include, path, re_path

from saas.api import messages
from saas.api.docs import DocsView, SchemaView
from saas.api.throttling import throttle_login_form
from saas.api.views import api_not_found
from saas.index import site_index

admin.site.site_header = "Task management administration"
admin.site.site_title = "Task management admin"
# "View site": the site is an API, so the page a person can use is its documentation.
admin.site.site_url = "/api/docs/"
# The admin's login form checks passwords too: the API login's rate limits apply to it.
admin.site.login = throttle_login_form(admin.site.login)

urlpatterns = [
    path("", site_index, name="index"),
    path("admin/", admin.site.urls),
    # Pages that emailed links open (set a password, verify an address, accept an invitation).
    path("accounts/invitations/", include("shared_apps.organizations.urls_pages")),
    path("accounts/", include("shared_apps.accounts.urls_pages")),
    path("api/auth/", include("shared_apps.organizations.urls_me")),
    path("api/auth/", include("shared_apps.accounts.urls")),
    path("api/", include("shared_apps.organizations.urls_public")),
    path("api/schema/", SchemaView.as_view(urlconf="saas.urls_public"), name="schema"),
    path("api/docs/", DocsView.as_view(url_name="schema"), name="docs"),
    # Last: any other /api/ URL is a JSON 404; organization endpoints say where they are.
    re_path(
        r"^api/(?:projects|tasks|members|invitations)(?:/|$)",
        api_not_found,
        {"detail": messages.ON_ORGANIZATION_HOST},
    ),
    re_path(r"^api(?:/|$)", api_not_found),
]

handler400 = "saas.api.views.bad_request"
handler403 = "saas.api.views.permission_denied"
handler404 = "saas.api.views.not_found"
handler500 = "saas.api.views.server_error"
