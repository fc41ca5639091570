"""Anonymous sweep: every route of both URLconfs (read from the resolver), every method, with
no token, malformed ones, an expired and a revoked token: 401 everywhere but an explicit,
small allow-list of what must work signed out; the admin is its own session login."""

import itertools
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from knox.models import AuthToken

from shared_apps.organizations.models import Role
from tests.factories import make_member

from .routes import METHODS, PUBLIC_URLCONF, TENANT_URLCONF, Route, routes
from .world import OrgWorld

pytestmark = pytest.mark.django_db

# What works without signing in, by route name, and why.
ALLOWED_WITHOUT_TOKEN = {
    PUBLIC_URLCONF: {
        "index": "the site's JSON index of where things are",
        "auth-register": "signing up",
        "auth-login": "logging in",
        "auth-verify-email": "the emailed verification link's secret is the credential",
        "auth-password-reset": "asking for a reset link",
        "auth-password-reset-confirm": "the emailed reset link's secret is the credential",
        "auth-invitation-accept-token": "the emailed invitation's secret is the credential",
        # The small pages emailed links open (their secret is in the URL).
        "invitation-accept-form": "page: accept an invitation",
        "invitation-accept-page": "page: accept an invitation",
        "account-set-password": "page: set a password",
        "account-set-password-done": "page: password set",
        "account-verify-email": "page: verify an address",
        "schema": "the API's description",
        "docs": "the API's description",
    },
    TENANT_URLCONF: {
        "schema": "the API's description",
        "docs": "the API's description",
    },
}
# Outside the URLconfs, answered on every host by saas.middleware.HealthCheckMiddleware.
HEALTH_PATH = "/healthz"
ADMIN_PREFIX = "admin/"
ADMIN_LOGIN = "/admin/login/"
ADMIN_LOGOUT = "/admin/logout/"  # signed out already: back to the admin's index


def _swept(urlconf: str) -> list[Route]:
    return [route for route in routes(urlconf) if not route.route.startswith(ADMIN_PREFIX)]


def _url(route: Route, world: OrgWorld) -> str:
    return route.path({"pk": world.ids.get(route.model, 1)} if "pk" in route.parameters else {})


@pytest.fixture
def credentials(acme) -> dict:
    """Authorization headers that must not sign anyone in, each of an ADMIN of acme where a
    token is involved (a bug accepting it would reach everything)."""
    admin = make_member(acme, Role.ADMIN)
    _, valid = AuthToken.objects.create(user=admin)
    expired_row, expired = AuthToken.objects.create(user=admin)
    AuthToken.objects.filter(pk=expired_row.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    revoked_row, revoked = AuthToken.objects.create(user=admin)
    revoked_row.delete()
    return {
        "none": None,
        "expired": f"Bearer {expired}",
        "revoked": f"Bearer {revoked}",
        # Malformed: the sweep takes them in turn, one per route and method.
        "malformed": [
            "Bearer",
            f"Bearer {valid[:8]} {valid[8:]}",
            "Bearer " + "0" * len(valid),
            f"Token {valid}",
            "Basic YWRtaW5AZXhhbXBsZS5jb206cGFzc3dvcmQ=",
        ],
    }


def _in_turn(credentials: dict) -> Iterator[dict[str, str | None]]:
    """For each request cell: no token, an expired, a revoked and one malformed token (the
    next one each time)."""
    for malformed in itertools.cycle(credentials["malformed"]):
        yield {
            "none": None,
            "expired": credentials["expired"],
            "revoked": credentials["revoked"],
            "malformed": malformed,
        }


def _send(client, method: str, url: str, header: str | None, host: str):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    return getattr(client, method.lower())(url, HTTP_HOST=host, **extra)


@pytest.mark.parametrize("urlconf", [TENANT_URLCONF, PUBLIC_URLCONF])
def test_every_endpoint_answers_401_without_a_valid_token_but_the_allow_list(
    client, acme_world, credentials, urlconf
):
    host = acme_world.host if urlconf == TENANT_URLCONF else "localhost"
    allowed = ALLOWED_WITHOUT_TOKEN[urlconf]
    swept = _swept(urlconf)
    assert set(allowed) <= {route.name for route in swept}, "a stale allow-list entry"
    failures = []
    cells = _in_turn(credentials)

    for route in swept:
        url = _url(route, acme_world)
        supported = route.methods()
        for method in METHODS:
            statuses = {}
            variants = next(cells)
            if supported is not None and method not in supported:
                # A 405 either way: no token, and one bad token (each kind in turn).
                variants = {"none": None, "malformed": variants["malformed"]}
            for name, header in variants.items():
                response = _send(client, method, url, header, host)
                statuses[name] = response.status_code
                if response.status_code >= 500:
                    failures.append(f"{name}: {method} {url}: {response.status_code}")
                elif route.name in allowed or route.is_api_not_found:
                    continue
                elif supported is not None and method not in supported:
                    # No handler: 405, or 401 for a bad token (always reported first).
                    if response.status_code not in ({405} if header is None else {405, 401}):
                        failures.append(f"{name}: {method} {url}: {response.status_code}, not 405")
                elif response.status_code != 401:
                    failures.append(f"{name}: {method} {url}: {response.status_code}, not 401")
                elif method != "HEAD" and "detail" not in response.json():
                    failures.append(f"{name}: {method} {url}: a 401 without a detail")
                elif "Bearer" not in response.get("WWW-Authenticate", ""):
                    failures.append(f"{name}: {method} {url}: no Bearer challenge")
            if route.is_api_not_found:
                if set(statuses.values()) != {404}:
                    failures.append(f"{method} {url}: {statuses}, not 404")
            elif route.name in allowed:
                signed_out = statuses["none"]
                # Works signed out; a bad token changes nothing, or is told it is bad.
                if signed_out in (401, 403) or not set(statuses.values()) <= {signed_out, 401}:
                    failures.append(f"allowed {method} {url}: {statuses}")

    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("host", ["localhost", "acme.localhost"])
def test_the_health_check_needs_no_token_on_any_host(client, credentials, host):
    for header in (None, credentials["expired"], *credentials["malformed"]):
        response = _send(client, "GET", HEALTH_PATH, header, host)
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok"}


def test_the_admin_sends_every_anonymous_request_to_its_login_page(client, credentials):
    """The admin is a staff session login of its own: a token of any kind opens nothing."""
    admin_routes = [r for r in routes(PUBLIC_URLCONF) if r.route.startswith(ADMIN_PREFIX)]
    assert len(admin_routes) > 20
    failures = []
    for route in admin_routes:
        url = route.path()
        for header in (None, *credentials["malformed"][-3:]):
            for method in ("GET", "POST"):
                response = _send(client, method, url, header, "localhost")
                if url == ADMIN_LOGIN:
                    ok = response.status_code == 200 and "id_password" in response.content.decode()
                elif url == ADMIN_LOGOUT:
                    ok = response.status_code == 302 and response["Location"] == "/admin/"
                else:
                    ok = response.status_code == 302 and response["Location"].startswith(
                        ADMIN_LOGIN
                    )
                if not ok:
                    failures.append(f"{method} {url}: {response.status_code}")
    assert not failures, "\n".join(failures)
