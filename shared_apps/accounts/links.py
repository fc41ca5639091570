"""Absolute URLs for people: this site's hosts, and the pages that emailed links open."""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

# Emailed link -> (page of this site, query parameters a FRONTEND_URL page receives).
PAGES = {
    "verify-email": "account-verify-email",
    "set-password": "account-set-password",
    "accept-invitation": "invitation-accept-page",
}


def site_url(host: str) -> str:
    """The base URL of `host` as a person would type it (scheme and port from settings)."""
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return f"{settings.SITE_SCHEME}://{host}{port}/"


def public_url(path: str = "") -> str:
    """An absolute URL on the base host (public site)."""
    return site_url(settings.BASE_DOMAIN) + path.lstrip("/")


def email_link(page: str, **params: str) -> str:
    """The link an email carries for `page`: FRONTEND_URL/<page>?<params> when a front-end is
    configured (it then calls the API), else this site's own page on the base host."""
    if settings.FRONTEND_URL:
        # The API's field is `uid`; the route's keyword keeps Django's name, `uidb64`.
        query = {("uid" if name == "uidb64" else name): value for name, value in params.items()}
        return f"{settings.FRONTEND_URL}/{page}?{urlencode(query)}"
    return public_url(reverse(PAGES[page], kwargs=params, urlconf=settings.PUBLIC_SCHEMA_URLCONF))
