"""Emailed links carry (uid, token) pairs that name one active user, for one purpose."""

import pytest

from shared_apps.accounts.models import User
from shared_apps.accounts.tokens import (
    email_verification_token,
    password_token,
    uid_for,
    user_from_link,
)
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_link_names_the_user_it_was_made_for(unverified):
    uid, token = uid_for(unverified), email_verification_token.make_token(unverified)

    assert user_from_link(uid, token, email_verification_token) == unverified


def test_a_link_of_a_deactivated_user_names_no_one(verified):
    uid, token = uid_for(verified), password_token.make_token(verified)
    verified.is_active = False
    verified.save(update_fields=["is_active"])

    assert user_from_link(uid, token, password_token) is None


def test_a_link_is_valid_only_for_the_purpose_it_was_made_for(unverified):
    uid = uid_for(unverified)

    assert (
        user_from_link(uid, password_token.make_token(unverified), email_verification_token) is None
    )
    assert (
        user_from_link(uid, email_verification_token.make_token(unverified), password_token) is None
    )


def test_a_verification_link_stops_working_once_the_address_is_verified(unverified):
    uid, token = uid_for(unverified), email_verification_token.make_token(unverified)
    unverified.email_verified_at = make_user().date_joined
    unverified.save(update_fields=["email_verified_at"])

    assert user_from_link(uid, token, email_verification_token) is None


def test_a_link_stops_working_when_the_password_changes(verified):
    uid = uid_for(verified)
    tokens = (password_token.make_token(verified), email_verification_token.make_token(verified))
    user = User.objects.get(pk=verified.pk)
    user.set_password("a-brand-new-passphrase-7")
    user.save(update_fields=["password"])

    assert user_from_link(uid, tokens[0], password_token) is None
    assert user_from_link(uid, tokens[1], email_verification_token) is None


@pytest.mark.parametrize(
    "uid", ["", "!!!", "\ud800", "ÿé", "MA", "LTE", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ", "__"]
)
def test_a_uid_that_names_no_user_gives_none(verified, uid):
    assert user_from_link(uid, password_token.make_token(verified), password_token) is None
