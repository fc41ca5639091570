"""Rate limits (saas/api/throttling.py): 429 with Retry-After naming the scope, X-RateLimit-*
headers for the tightest scope, per-organization fairness, login lockouts that follow the
email address, client addresses behind trusted proxies, and a cache outage that lets requests
through. Each test sets small rates of its own; the suite's are out of reach (conftest)."""

import logging
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import yaml
from django.conf import settings as django_settings
from django.core.cache import caches
from django.test import Client
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from saas.api import throttling
from saas.api.rates import describe_period, parse_rate
from shared_apps.organizations.models import Membership, Role
from tests.conftest import CACHE_KEY_PREFIX
from tests.factories import client_for, make_member, make_user
from tests.shared_apps.accounts.emailed_links import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN_URL = "/api/auth/login/"
HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.fixture
def limit(settings):
    """`limit(scope="2/h", ...)`: small rates for this test (the others stay out of reach)."""

    def set_rates(**rates):
        rest_framework = settings.REST_FRAMEWORK
        settings.REST_FRAMEWORK = {
            **rest_framework,
            "DEFAULT_THROTTLE_RATES": {**rest_framework["DEFAULT_THROTTLE_RATES"], **rates},
        }

    return set_rates


def _headers(response) -> tuple[int, int, int]:
    return tuple(int(response.headers[name]) for name in HEADERS)


def _assert_throttled(response, scope: str, period: int = 3600) -> None:
    assert response.status_code == 429, response.content
    assert response.json()["scope"] == scope
    assert 1 <= int(response.headers["Retry-After"]) <= period
    assert f"Try again in {response.headers['Retry-After']} seconds" in response.json()["detail"]
    assert response.headers["X-RateLimit-Remaining"] == "0"


def _login(email: str, password: str = "wrong-password", **extra):
    return client_for(None).post(LOGIN_URL, {"email": email, "password": password}, **extra)


# --- 429, Retry-After and the headers -----------------------------------------------------------


def test_the_request_past_the_limit_is_a_429_with_retry_after_naming_the_scope(
    limit, acme, acme_member
):
    limit(user="3/h")
    client = client_for(acme_member, acme)

    answers = [client.get("/api/projects/") for _ in range(4)]

    assert [answer.status_code for answer in answers[:3]] == [200, 200, 200]
    assert [_headers(answer)[:2] for answer in answers[:3]] == [(3, 2), (3, 1), (3, 0)]
    assert all(1 <= _headers(answer)[2] <= 3600 for answer in answers)
    _assert_throttled(answers[3], "user")
    assert (
        answers[3].json()["detail"].startswith("Too many requests by one user: at most 3 per hour.")
    )
    assert set(answers[3].json()) == {"detail", "scope"}


def test_responses_carry_the_headers_of_the_tightest_scope_that_applies(limit, acme, acme_member):
    limit(user="50/h", organization="7/h", anon="20/h", login_ip="5/h")

    on_acme = client_for(acme_member, acme).get("/api/projects/")
    on_the_base_host = client_for(acme_member).get("/api/auth/me/")
    error = client_for(acme_member, acme).get("/api/projects/999999/")
    anonymous_login = _login("nobody@test.example.com")

    assert on_acme.status_code == 200
    assert _headers(on_acme)[:2] == (7, 6)  # the organization's limit is tighter than the user's
    assert _headers(on_the_base_host)[:2] == (50, 48)  # no organization there; second request
    assert error.status_code == 404
    assert _headers(error)[:2] == (7, 5)  # errors count and carry them too
    assert anonymous_login.status_code == 400
    assert _headers(anonymous_login)[:2] == (5, 4)  # login_ip is the tightest of anon, login_*


def test_a_refused_anonymous_request_is_counted_per_address_and_carries_the_headers(limit, acme):
    limit(anon="2/h")
    client = client_for(None, acme)

    answers = [client.get("/api/projects/") for _ in range(3)]

    assert [answer.status_code for answer in answers[:2]] == [401, 401]
    assert [_headers(answer)[:2] for answer in answers[:2]] == [(2, 1), (2, 0)]
    _assert_throttled(answers[2], "anon")


def test_the_organization_scope_is_per_organization(limit, acme, globex):
    limit(organization="3/h")
    both = make_member(acme, Role.MEMBER)
    globex_member = make_member(globex, Role.MEMBER)
    Membership.objects.create(user=both, organization=globex, role=Role.MEMBER)
    colleague = make_member(acme, Role.MEMBER)

    acme_answers = [client_for(both, acme).get("/api/projects/") for _ in range(3)]
    throttled = client_for(colleague, acme).get("/api/projects/")
    globex_same_user = client_for(both, globex).get("/api/projects/")
    globex_other_user = client_for(globex_member, globex).get("/api/projects/")

    assert [answer.status_code for answer in acme_answers] == [200, 200, 200]
    _assert_throttled(throttled, "organization")  # acme's allowance is shared by its members
    assert globex_same_user.status_code == 200  # globex has its own
    assert globex_other_user.status_code == 200
    assert _headers(globex_other_user)[:2] == (3, 1)


def test_outsiders_cannot_use_up_an_organizations_allowance(limit, acme, acme_member):
    limit(organization="2/h")
    outsider = client_for(make_user(), acme)
    anonymous = client_for(None, acme)

    refused = [outsider.get("/api/projects/") for _ in range(3)]
    refused += [anonymous.get("/api/projects/") for _ in range(3)]
    member = client_for(acme_member, acme).get("/api/projects/")

    assert [answer.status_code for answer in refused] == [403, 403, 403, 401, 401, 401]
    assert member.status_code == 200
    assert _headers(member)[:2] == (2, 1)


# --- login, sign-up and the other anonymous account endpoints -----------------------------------


def test_a_login_lockout_follows_the_email_across_addresses_and_forged_forwarded_for(limit):
    limit(login_email="3/15min")
    user = make_user(email="pat.jones@test.example.com", password=PASSWORD)

    wrong = [_login(user.email, REMOTE_ADDR="203.0.113.1") for _ in range(3)]
    elsewhere = _login(
        "  PAT.Jones@Test.Example.com ",
        PASSWORD,
        REMOTE_ADDR="198.51.100.7",
        HTTP_X_FORWARDED_FOR="192.0.2.99",
    )
    someone_else = _login("other@test.example.com", REMOTE_ADDR="203.0.113.1")

    assert [answer.status_code for answer in wrong] == [400, 400, 400]
    # Even the right password, from another address, with a forged header: not now.
    _assert_throttled(elsewhere, "login_email", period=15 * 60)
    assert (
        "password attempts for one email address: at most 3 per 15 minutes"
        in (elsewhere.json()["detail"])
    )
    assert "token" not in elsewhere.json()
    assert someone_else.status_code == 400  # other addresses are not locked out


def test_login_attempts_are_limited_per_client_address_whatever_the_header_says(limit):
    limit(login_ip="3/h")

    answers = [
        _login(
            f"u{n}@test.example.com", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"
        )
        for n in range(4)
    ]
    other_address = _login("user9@test.example.com", REMOTE_ADDR="203.0.113.6")

    assert [answer.status_code for answer in answers[:3]] == [400, 400, 400]
    _assert_throttled(answers[3], "login_ip")
    assert other_address.status_code == 400


def test_trusted_proxy_count_takes_the_client_address_from_x_forwarded_for(limit, settings):
    limit(login_ip="2/h")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.0.1"  # our load balancer: the socket's address of every request

    def login(forwarded_for: str):
        return _login("a@test.example.com", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded_for)

    first_client = [login("192.0.2.1"), login("192.0.2.1")]
    # What a client prepends is ignored: the proxy appends the address it saw, last.
    forged = login("192.0.2.2, 192.0.2.1")
    second_client = login("192.0.2.2")

    assert [answer.status_code for answer in first_client] == [400, 400]
    _assert_throttled(forged, "login_ip")
    assert second_client.status_code == 400


SIGN_UP = {"email": "new@test.example.com", "password": "x"}
RESET = {"email": "new@test.example.com"}
VERIFY = {"uid": "x", "token": "y", "password": "z"}
RESET_CONFIRM = {"uid": "x", "token": "y", "new_password": "z"}
INVITATION = {"token": "nope", "password": "z"}


@pytest.mark.parametrize(
    ("path", "body", "scope"),
    [
        ("/api/auth/register/", SIGN_UP, "register_ip"),
        ("/api/auth/register/", SIGN_UP, "register_email"),
        ("/api/auth/password-reset/", RESET, "password_reset_ip"),
        ("/api/auth/password-reset/", RESET, "password_reset_email"),
        ("/api/auth/verify-email/", VERIFY, "email_link_ip"),
        ("/api/auth/password-reset/confirm/", RESET_CONFIRM, "email_link_ip"),
        ("/api/auth/invitations/accept/", INVITATION, "email_link_ip"),
    ],
)
def test_each_anonymous_account_endpoint_has_its_stricter_scopes(limit, path, body, scope):
    limit(**{scope: "1/h"})
    client = client_for(None)

    first = client.post(path, body)
    second = client.post(path, body)

    assert first.status_code != 429, first.content
    _assert_throttled(second, scope)


def test_a_password_change_counts_as_a_password_attempt_for_the_account(limit):
    limit(login_email="2/15min")
    user = make_user(email="changer@test.example.com", password=PASSWORD)
    body = {"current_password": "wrong-password", "new_password": "tangerine-lighthouse-orbit-42"}

    changes = [client_for(user).post("/api/auth/password/", body) for _ in range(2)]
    login = _login(user.email, PASSWORD)

    assert [answer.status_code for answer in changes] == [400, 400]
    _assert_throttled(login, "login_email", period=15 * 60)


def test_creating_organizations_is_limited_but_listing_them_is_not(limit):
    limit(org_create="1/h")
    client = client_for(make_user())

    first = client.post("/api/orgs/", {"name": "X", "slug": "-bad-"})
    second = client.post("/api/orgs/", {"name": "X", "slug": "-bad-"})
    listing = [client.get("/api/orgs/") for _ in range(3)]

    assert first.status_code == 400
    _assert_throttled(second, "org_create")
    assert [answer.status_code for answer in listing] == [200, 200, 200]


class _ExportLikeView(APIView):
    """Stands for the exports endpoint: starting one is counted, reading progress is not."""

    throttle_classes = throttling.throttle_classes(throttling.ExportRateThrottle)

    def get(self, request):
        return Response({})

    def post(self, request):
        return Response({}, status=202)


def test_the_exports_scope_counts_only_the_exports_started(limit, acme_member):
    limit(exports="2/h")
    factory = APIRequestFactory()
    view = _ExportLikeView.as_view()

    def call(method: str):
        request = getattr(factory, method)("/api/exports/")
        force_authenticate(request, user=acme_member)
        return view(request)

    started = [call("post") for _ in range(3)]
    polled = [call("get") for _ in range(3)]

    assert [answer.status_code for answer in started] == [202, 202, 429]
    assert started[2].data["scope"] == "exports"
    assert [answer.status_code for answer in polled] == [200, 200, 200]


# --- counting ------------------------------------------------------------------------------


def test_counts_are_shared_through_the_cache_and_never_between_tests(limit, acme_member):
    limit(user="1/h")
    # Each test has its own key prefix (conftest), the throttle cache included.
    assert caches[throttling.CACHE_ALIAS].key_prefix.startswith(f"{CACHE_KEY_PREFIX}-")

    first = client_for(acme_member).get("/api/auth/me/")
    # Another client (another process, as far as the count knows): the count is the user's.
    second = client_for(acme_member).get("/api/auth/me/")

    assert first.status_code == 200
    _assert_throttled(second, "user")


def test_counter_keys_name_no_schema_so_one_user_has_one_count_on_every_host(limit, acme, globex):
    limit(user="2/h")
    both = make_member(acme, Role.MEMBER)
    Membership.objects.create(user=both, organization=globex, role=Role.MEMBER)

    on_acme = client_for(both, acme).get("/api/projects/")
    on_globex = client_for(both, globex).get("/api/projects/")
    on_the_base_host = client_for(both).get("/api/auth/me/")

    assert [on_acme.status_code, on_globex.status_code] == [200, 200]
    _assert_throttled(on_the_base_host, "user")


def test_requests_counted_at_the_same_time_are_each_counted():
    # DRF's own throttle (read the list, write it back) loses concurrent requests; INCR does not.
    key = "throttle:test:concurrent"

    def bump():
        for _ in range(25):
            throttling._increment(key, timeout=60)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert throttling._increment(key, timeout=60) == 8 * 25 + 1


def test_a_requests_scopes_are_counted_in_one_round_trip(limit, acme, acme_member, monkeypatch):
    limit(user="5/h", organization="7/h")
    calls = []
    real_increment = throttling._increment_many
    monkeypatch.setattr(
        throttling,
        "_increment_many",
        lambda counters: calls.append([key for key, _ in counters]) or real_increment(counters),
    )

    response = client_for(acme_member, acme).get("/api/projects/")

    assert response.status_code == 200
    # The user's and the organization's counters, in one call (anon does not apply).
    assert len(calls) == 1
    assert sorted(key.split(":")[1] for key in calls[0]) == ["organization", "user"]
    assert _headers(response)[:2] == (5, 4)  # the tightest: the user's, counted once


def test_a_refused_request_counts_only_the_callers_own_scope_in_one_round_trip(
    limit, acme, globex, monkeypatch
):
    limit(user="5/h", organization="7/h")
    outsider = make_member(globex, Role.MEMBER)
    calls = []
    real_increment = throttling._increment_many
    monkeypatch.setattr(
        throttling,
        "_increment_many",
        lambda counters: calls.append([key for key, _ in counters]) or real_increment(counters),
    )

    response = client_for(outsider, acme).get("/api/projects/")

    assert response.status_code == 403
    assert [[key.split(":")[1] for key in call] for call in calls] == [["user"]]


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb:cccc:dddd:eeee", "2001:db8:1:2::/64"),  # same /64, same count
        ("::ffff:203.0.113.9", "203.0.113.9"),
        (" 203.0.113.9 ", "203.0.113.9"),
    ],
)
def test_client_addresses_are_keyed_per_ipv4_address_and_per_ipv6_64(address, key):
    assert throttling.client_address(address) == key


def test_something_that_is_not_an_address_gets_a_key_of_its_own():
    assert throttling.client_address("unknown").startswith("other-")
    assert throttling.client_address("unknown") != throttling.client_address("unknown2")


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [
        ("600/min", (600, 60)),
        ("10/15min", (10, 900)),
        ("3/h", (3, 3600)),
        ("5/2d", (5, 172800)),
        ("1/s", (1, 1)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_rates_are_drfs_with_an_optional_number_of_units(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["ten/min", "10/fortnight", "10", "10/0min", "-1/min"])
def test_a_malformed_rate_is_refused(rate):
    with pytest.raises(ValueError, match="is not a rate|empty period"):
        parse_rate(rate)


def test_a_malformed_rate_in_the_environment_stops_the_start_naming_the_variable():
    env = {**os.environ, "THROTTLE_LOGIN_IP": "ten/min", "SECRET_KEY": "x"}
    env.setdefault("DATABASE_URL", "postgres://localhost/unused")

    started = subprocess.run(
        [sys.executable, "-c", "import saas.settings"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert started.returncode != 0
    assert "ImproperlyConfigured: THROTTLE_LOGIN_IP: 'ten/min' is not a rate" in started.stderr


def test_the_schema_documents_the_429_and_the_rate_limit_headers():
    schema = yaml.safe_load(client_for(None).get("/api/schema/").content)
    login = schema["paths"]["/api/auth/login/"]["post"]

    too_many = login["responses"]["429"]
    assert too_many["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RateLimited"
    }
    assert schema["components"]["schemas"]["RateLimited"]["required"] == ["detail", "scope"]
    assert too_many["headers"]["Retry-After"]["required"] is True
    for code in ("200", "400", "429"):
        assert set(HEADERS) <= set(login["responses"][code]["headers"])


def test_periods_are_named_in_words():
    assert [describe_period(s) for s in (1, 60, 900, 3600, 7200, 86400)] == [
        "second",
        "minute",
        "15 minutes",
        "hour",
        "2 hours",
        "day",
    ]


# --- the cache is down ---------------------------------------------------------------------


def _counter_cache(settings, location: str) -> None:
    """Point the counters at a Redis that is not there (or does not answer)."""
    settings.CACHES = {
        **settings.CACHES,
        throttling.CACHE_ALIAS: {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": f"{CACHE_KEY_PREFIX}-down",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.2,
                "SOCKET_TIMEOUT": 0.2,
                "IGNORE_EXCEPTIONS": False,
            },
        },
    }


@pytest.fixture
def black_hole():
    """A TCP port that accepts connections and never answers (a hung Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


def _closed_port() -> str:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: connections are refused at once
    return f"redis://127.0.0.1:{port}/0"


def test_a_dead_cache_lets_requests_through_with_one_warning(
    limit, settings, acme, acme_member, caplog, monkeypatch
):
    limit(user="1/h", organization="1/h")
    settings.CACHE_RETRY_SECONDS = 60
    _counter_cache(settings, _closed_port())
    attempts = []
    real_increment = throttling._increment_many
    monkeypatch.setattr(
        throttling,
        "_increment_many",
        lambda *a, **k: attempts.append(a) or real_increment(*a, **k),
    )
    client = client_for(acme_member, acme)

    with caplog.at_level(logging.WARNING, logger="saas.api.outage"):
        answers = [client.get("/api/projects/") for _ in range(5)]

    assert [answer.status_code for answer in answers] == [200] * 5  # not refused
    assert not any(name in answer.headers for answer in answers for name in HEADERS)
    assert len(attempts) == 1  # then the cache is left alone: no request pays for it again
    warnings = [r for r in caplog.records if r.name == "saas.api.outage"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "rate limits not enforced" in warnings[0].getMessage()


def test_a_hung_cache_costs_one_timeout_per_retry_period_not_one_per_request(
    limit, settings, acme, acme_member, black_hole
):
    limit(user="1/h")
    settings.CACHE_RETRY_SECONDS = 60
    _counter_cache(settings, black_hole)
    client = client_for(acme_member, acme)

    started = time.monotonic()
    first = client.get("/api/projects/")
    first_took = time.monotonic() - started
    started = time.monotonic()
    others = [client.get("/api/projects/") for _ in range(5)]
    others_took = time.monotonic() - started

    assert first.status_code == 200 and [a.status_code for a in others] == [200] * 5
    assert first_took < 2  # one socket timeout (0.2 s) and the request itself
    assert others_took < first_took + 1  # none of them waits for the cache


def test_counting_resumes_when_the_cache_is_back(limit, settings, acme_member, caplog):
    limit(user="1/h")
    settings.CACHE_RETRY_SECONDS = 0.05
    working = settings.CACHES[throttling.CACHE_ALIAS]
    _counter_cache(settings, _closed_port())
    client = client_for(acme_member)

    during = client.get("/api/auth/me/")
    settings.CACHES = {**settings.CACHES, throttling.CACHE_ALIAS: working}
    time.sleep(0.1)
    with caplog.at_level(logging.INFO, logger="saas.api.outage"):
        after = [client.get("/api/auth/me/") for _ in range(2)]

    assert during.status_code == 200
    assert after[0].status_code == 200
    _assert_throttled(after[1], "user")
    assert "Cache available again (it was rate limits not enforced" in caplog.text


def test_the_admin_login_form_is_limited_per_email_like_the_api_login(limit):
    limit(login_email="2/h")
    browser = Client(HTTP_HOST="localhost")
    attempt = {"username": "Target@Test.Example.com", "password": "wrong-guess-1"}

    answers = [
        browser.post("/admin/login/", attempt, REMOTE_ADDR=f"10.0.0.{n}").status_code
        for n in range(3)
    ]

    assert answers == [200, 200, 429]  # the form's own error twice, then the limit
    refused = browser.post("/admin/login/", attempt, REMOTE_ADDR="10.0.0.9")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert browser.get("/admin/login/").status_code == 200  # showing the form costs nothing
