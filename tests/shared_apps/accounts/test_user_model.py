"""Users log in with their email, in any case, and their passwords are stored as Argon2 hashes."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from shared_apps.accounts.models import User
from shared_apps.accounts.services import user_create

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"


def test_the_user_model_logs_in_with_an_email_address():
    assert get_user_model() is User
    assert User.USERNAME_FIELD == "email"
    assert User.REQUIRED_FIELDS == []
    assert "username" not in {field.name for field in User._meta.get_fields()}


def test_emails_are_stored_lower_cased_and_stripped():
    user = user_create(email="  Alice@X.COM ", password=None)

    user.refresh_from_db()
    assert user.email == "alice@x.com"


def test_the_manager_also_stores_emails_lower_cased():
    user = User.objects.create_user("Bob@Example.ORG", password=PASSWORD)

    user.refresh_from_db()
    assert user.email == "bob@example.org"


def test_login_by_email_is_case_insensitive():
    user = user_create(email="Alice@X.com", password=PASSWORD)

    for typed in ("ALICE@X.COM", "alice@x.com", " Alice@x.COM "):
        assert authenticate(email=typed, password=PASSWORD) == user, typed


def test_login_fails_with_a_wrong_password_or_for_an_inactive_user():
    user = user_create(email="carol@x.com", password=PASSWORD)

    assert authenticate(email="carol@x.com", password="wrong-password-123") is None
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert authenticate(email="carol@x.com", password=PASSWORD) is None


def test_passwords_are_hashed_with_argon2(production_password_hashers):
    user = user_create(email="dave@x.com", password=PASSWORD)

    user.refresh_from_db()
    assert user.password.startswith("argon2")
    assert PASSWORD not in user.password
    assert user.check_password(PASSWORD)


def test_a_user_created_without_a_password_cannot_log_in():
    user = user_create(email="erin@x.com", password=None)

    assert not user.has_usable_password()
    assert authenticate(email="erin@x.com", password="") is None


def test_create_superuser_makes_a_staff_superuser_who_can_log_in():
    admin = User.objects.create_superuser("Root@X.com", password=PASSWORD)

    admin.refresh_from_db()
    assert (admin.email, admin.is_staff, admin.is_superuser, admin.is_active) == (
        "root@x.com",
        True,
        True,
        True,
    )
    assert authenticate(email="ROOT@x.com", password=PASSWORD) == admin


def test_create_superuser_refuses_a_non_staff_superuser():
    with pytest.raises(ValueError, match="is_staff=True"):
        User.objects.create_superuser("root2@x.com", password=PASSWORD, is_staff=False)
    assert not User.objects.filter(email="root2@x.com").exists()


def test_an_email_already_taken_in_another_case_is_refused():
    user_create(email="frank@x.com", password=None)

    with pytest.raises(ValidationError) as excinfo:
        user_create(email="FRANK@X.COM", password=None)

    assert excinfo.value.message_dict == {"email": ["A user with this email already exists."]}
    assert User.objects.filter(email__iexact="frank@x.com").count() == 1


def test_an_invalid_email_is_refused_on_the_email_field():
    with pytest.raises(ValidationError) as excinfo:
        user_create(email="not-an-email", password=None)

    assert list(excinfo.value.message_dict) == ["email"]


def test_a_weak_password_is_refused_on_the_password_field():
    with pytest.raises(ValidationError) as excinfo:
        user_create(email="gina@x.com", password="123")

    assert list(excinfo.value.message_dict) == ["password"]
    assert not User.objects.filter(email="gina@x.com").exists()


def test_an_email_too_long_to_store_is_refused_on_the_email_field():
    # 302 characters: a syntactically valid address, longer than the 254-character column.
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".com"

    with pytest.raises(ValidationError) as excinfo:
        user_create(email=email, password=None)

    assert list(excinfo.value.message_dict) == ["email"]
    assert not User.objects.filter(email=email).exists()


def test_a_full_name_too_long_to_store_is_refused_on_the_full_name_field():
    with pytest.raises(ValidationError) as excinfo:
        user_create(email="harry@x.com", password=None, full_name="H" * 151)

    assert list(excinfo.value.message_dict) == ["full_name"]
    assert not User.objects.filter(email="harry@x.com").exists()


def test_case_insensitive_email_lookups_are_served_by_an_index():
    """Login, sign-up and invitations look users up with `email__iexact`; with sequential
    scans off, the plan must name the UPPER(email) index rather than fall back to a scan."""
    user_create(email="indexed@example.com", password=None)
    query = User.objects.filter(email__iexact="INDEXED@example.com")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)

    assert "accounts_user_email_upper" in plan
    assert query.get().email == "indexed@example.com"
