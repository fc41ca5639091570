"""Fixtures for the account flows: people in each state an address can be in, and commits."""

import pytest
from django.test import Client

from shared_apps.accounts.services import user_create
from tests.factories import make_user

from .emailed_links import PASSWORD


@pytest.fixture
def committed(django_capture_on_commit_callbacks, mailoutbox):
    """`with committed():` runs the block as if its transaction committed, sending its emails."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def verified(db):
    """An active account with a verified address and PASSWORD."""
    return make_user(email="pat.jones@test.example.com", password=PASSWORD, full_name="Pat Jones")


@pytest.fixture
def unverified(db):
    """An active account that signed up with PASSWORD but never confirmed its address."""
    return user_create(
        email="una.verified@test.example.com",
        password=PASSWORD,
        full_name="Una Verified",
        email_verified=False,
    )


@pytest.fixture
def passwordless(db):
    """A verified account without a password (made by onboarding or an invitation)."""
    return make_user(email="no.password@test.example.com")


@pytest.fixture
def not_set_up(db):
    """An active account with neither a password nor a verified address, as onboarding makes
    a first admin (who is emailed a link to set a password)."""
    return user_create(
        email="first.admin@test.example.com",
        password=None,
        full_name="First Admin",
        email_verified=False,
    )


@pytest.fixture
def deactivated(db):
    """A verified account with PASSWORD that staff deactivated."""
    user = make_user(email="gone@test.example.com", password=PASSWORD)
    user.is_active = False
    user.save(update_fields=["is_active"])
    return user


@pytest.fixture
def browser(db):
    """A Django test client on the base host, as a browser opening an emailed link."""
    return Client(HTTP_HOST="localhost")
