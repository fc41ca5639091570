"""The one place that decides which organization slugs and schema names are allowed."""

import re

from django.core.exceptions import ValidationError

SLUG_MIN_LENGTH = 3
SLUG_MAX_LENGTH = 40
SCHEMA_PREFIX = "org_"

# Subdomains that name infrastructure, or could be mistaken for the product itself.
RESERVED_SLUGS = frozenset(
    {
        "www",
        "api",
        "admin",
        "public",
        "static",
        "media",
        "mail",
        "app",
        "apps",
        "assets",
        "auth",
        "login",
        "logout",
        "signup",
        "register",
        "account",
        "accounts",
        "billing",
        "blog",
        "cdn",
        "dashboard",
        "dev",
        "docs",
        "ftp",
        "help",
        "imap",
        "information-schema",
        "localhost",
        "ns1",
        "ns2",
        "pop",
        "pop3",
        "root",
        "smtp",
        "staging",
        "status",
        "support",
        "system",
        "template",
        "test",
        "webmail",
    }
)
# PostgreSQL reserves pg_* for system schemas.
RESERVED_PREFIXES = ("pg_", "pg-")

# Checked in the database as well (CHECK constraints on the organization table).
SLUG_PATTERN = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
SCHEMA_NAME_PATTERN = r"^org_[a-z][a-z0-9_]{1,38}[a-z0-9]$"

_slug_re = re.compile(r"[a-z0-9-]+\Z")
_schema_re = re.compile(SCHEMA_NAME_PATTERN.replace("$", r"\Z"))


def validate_slug(slug: str) -> None:
    """Raise ValidationError with a message a person can act on if `slug` is not allowed."""
    if not isinstance(slug, str) or not slug:
        raise ValidationError("Choose a subdomain.", code="required")
    if slug in RESERVED_SLUGS or slug.startswith(RESERVED_PREFIXES):
        raise ValidationError(f'"{slug}" is reserved. Choose another subdomain.', code="reserved")
    if not SLUG_MIN_LENGTH <= len(slug) <= SLUG_MAX_LENGTH:
        raise ValidationError(
            f"Use {SLUG_MIN_LENGTH} to {SLUG_MAX_LENGTH} characters.", code="length"
        )
    if not _slug_re.match(slug):
        raise ValidationError(
            "Use only lowercase letters (a-z), digits and hyphens.", code="characters"
        )
    if not slug[0].isalpha():
        raise ValidationError("Start with a letter.", code="start")
    if slug.endswith("-"):
        raise ValidationError("Do not end with a hyphen.", code="end")
    if "--" in slug:
        raise ValidationError("Do not use two hyphens in a row.", code="double_hyphen")


def schema_name_for(slug: str) -> str:
    """Derive the PostgreSQL schema name from a valid slug: `acme-corp` -> `org_acme_corp`.

    Slugs never contain `_`, so the mapping is one-to-one.
    """
    validate_slug(slug)
    schema_name = SCHEMA_PREFIX + slug.replace("-", "_")
    # Belt and braces: django-tenants' own check accepts far more than we want.
    if not _schema_re.match(schema_name):
        raise ValidationError("This subdomain cannot be used.", code="schema")
    return schema_name
