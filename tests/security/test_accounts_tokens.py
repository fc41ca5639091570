"""Accounts: a password change or reset ends the user's other tokens on every host, a
deactivated user's tokens stop at once, login answers alike (status, body and time) for an
unknown address, an unverified account and a wrong password, and Argon2 is sized so that 20
logins at once fit a 512 MB worker.

tests/shared_apps/accounts/ tests each flow on the base host; these follow the tokens onto an
organization's host too."""

import json
import os
import statistics
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.contrib.auth.hashers import get_hasher
from knox.models import AuthToken
from rest_framework.test import APIClient

from shared_apps.accounts.services import user_create
from shared_apps.accounts.tokens import password_token, uid_for
from shared_apps.organizations.models import Role
from tests.factories import make_member

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"
NEW_PASSWORD = "tangerine-lighthouse-orbit-42"
WORKER_MEMORY = 512 * 1024 * 1024
CONCURRENT_LOGINS = 20
# What a worker holds besides the hashes: Django, the app, its connections (a gunicorn worker
# of this project is about 100 MB; generously rounded up).
WORKER_BASELINE = 128 * 1024 * 1024


def _bearer(token: str, host: str) -> APIClient:
    client = APIClient(HTTP_HOST=host)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _works(token: str, acme) -> dict[str, int]:
    """The token's answer on the base host and on acme's host."""
    return {
        "base": _bearer(token, "localhost").get("/api/auth/me/").status_code,
        "acme": _bearer(token, acme.domain).get("/api/projects/").status_code,
    }


@pytest.fixture
def member(acme):
    """A MEMBER of acme with a password, signed in on three devices."""
    user = make_member(acme, Role.MEMBER, password=PASSWORD)
    tokens = [AuthToken.objects.create(user=user)[1] for _ in range(3)]
    return user, tokens


def test_a_password_change_ends_every_other_token_on_every_host(acme, member):
    user, (current, other, third) = member
    assert _works(other, acme) == {"base": 200, "acme": 200}

    response = _bearer(current, "localhost").post(
        "/api/auth/password/",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert _works(current, acme) == {"base": 200, "acme": 200}
    assert _works(other, acme) == {"base": 401, "acme": 401}
    assert _works(third, acme) == {"base": 401, "acme": 401}


def test_a_password_reset_ends_every_token_on_every_host(acme, member):
    user, tokens = member

    response = APIClient(HTTP_HOST="localhost").post(
        "/api/auth/password-reset/confirm/",
        {
            "uid": uid_for(user),
            "token": password_token.make_token(user),
            "new_password": NEW_PASSWORD,
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    for token in tokens:
        assert _works(token, acme) == {"base": 401, "acme": 401}
    assert _works(response.json()["token"], acme) == {"base": 200, "acme": 200}


def test_a_deactivated_users_tokens_stop_at_once_on_every_host(acme, member):
    user, tokens = member
    assert all(_works(token, acme) == {"base": 200, "acme": 200} for token in tokens)

    user.is_active = False  # what the admin's "active" box does
    user.save(update_fields=["is_active"])

    for token in tokens:
        assert _works(token, acme) == {"base": 401, "acme": 401}


def _login(email: str, password: str):
    started = time.perf_counter()
    response = APIClient(HTTP_HOST="localhost").post(
        "/api/auth/login/", {"email": email, "password": password}, format="json"
    )
    return response, time.perf_counter() - started


def test_login_answers_alike_for_unknown_unverified_and_wrong_password(
    acme, member, production_password_hashers
):
    """Same status and body; and the same time within noise: each kind of failure costs one
    Argon2 hash (an unknown address is hashed against a dummy), so the medians of rounds
    taken in turn stay within a generous factor. A kind that skipped the hash would be about
    a hundred times faster."""
    user, _ = member
    user.set_password(PASSWORD)  # an Argon2 hash, as in production
    user.save(update_fields=["password"])
    unverified = user_create(
        email="unverified.login@test.example.com", password=PASSWORD, email_verified=False
    )
    kinds = {
        "unknown address": ("nobody.here@test.example.com", PASSWORD),
        "unverified account": (unverified.email, "not-the-password"),
        "wrong password": (user.email, "not-the-password"),
    }
    answers, seconds = {}, {kind: [] for kind in kinds}
    for _ in range(7):
        for kind, (email, password) in kinds.items():
            response, elapsed = _login(email, password)
            answers.setdefault(kind, (response.status_code, response.json()))
            assert answers[kind] == (response.status_code, response.json())
            seconds[kind].append(elapsed)

    assert len(set(map(json.dumps, answers.values()))) == 1, answers
    assert answers["wrong password"][0] == 400
    medians = {kind: statistics.median(times) for kind, times in seconds.items()}
    assert max(medians.values()) < 2 * min(medians.values()), medians
    assert min(medians.values()) > 0.02, medians  # a real hash each time, not a shortcut


def test_the_configured_argon2_memory_for_twenty_logins_fits_a_512_mb_worker(
    production_password_hashers,
):
    hasher = get_hasher("argon2")
    assert hasher.algorithm == "argon2"
    assert settings.PASSWORD_HASHERS[0] == "shared_apps.accounts.hashers.Argon2PasswordHasher"
    hashing = hasher.memory_cost * 1024 * CONCURRENT_LOGINS
    assert WORKER_BASELINE + hashing <= WORKER_MEMORY, f"{hashing / 2**20:.0f} MiB of hashes"


MEASURE = """
import os, threading, django
django.setup()
from django.contrib.auth.hashers import get_hasher
hasher = get_hasher("argon2")
start = threading.Barrier({logins})
def login():
    start.wait()
    hasher.encode("correct-horse-battery-staple", hasher.salt())
threads = [threading.Thread(target=login) for _ in range({logins})]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
status = open("/proc/self/status").read().split("\\n")
print([line.split()[1] for line in status if line.startswith("VmHWM")][0])
"""


def test_twenty_concurrent_argon2_hashes_peak_below_a_512_mb_worker():
    """Measured: a process with Django and the app loaded (as a worker) hashes 20 passwords
    at once with the configured hasher; its peak resident memory (VmHWM) stays below 512 MB."""
    result = subprocess.run(
        [sys.executable, "-c", MEASURE.format(logins=CONCURRENT_LOGINS)],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "saas.settings"},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    peak = int(result.stdout.strip().splitlines()[-1]) * 1024
    assert peak < WORKER_MEMORY, f"peak {peak / 2**20:.0f} MiB"
