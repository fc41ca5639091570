"""Who can log in with a password: an active, verified account that has one."""

import pytest

from shared_apps.accounts.selectors import user_has_password_login

pytestmark = pytest.mark.django_db


def test_a_verified_account_with_a_password_logs_in_with_it(verified):
    assert user_has_password_login(email=verified.email)
    assert user_has_password_login(email=f"  {verified.email.upper()} ")


@pytest.mark.parametrize("who", ["unverified", "passwordless", "deactivated"])
def test_other_accounts_do_not_log_in_with_a_password(request, who):
    assert not user_has_password_login(email=request.getfixturevalue(who).email)


def test_an_unknown_address_has_no_password_login(db):
    assert not user_has_password_login(email="nobody@test.example.com")
