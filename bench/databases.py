"""Databases of the benchmarks' own, next to the development one: their URL for a child
process and a direct connection (same server and credentials as DATABASES["default"])."""

from urllib.parse import quote


def database_url(name: str) -> str:
    """DATABASE_URL of database `name` on the development database's server (libpq's form:
    a socket folder goes in `?host=`, which pg_dump reads too)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    credentials = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "localhost"
    if host.startswith("/"):  # a Unix socket folder
        return f"postgres://{credentials}@/{name}?host={quote(host, safe='')}"
    return f"postgres://{credentials}@{host}:{db.get('PORT') or 5432}/{name}"


def connect(name: str, *, autocommit: bool = False):
    """A psycopg2 connection to database `name` on the same server (close it yourself: its
    `with` block only ends a transaction)."""
    import psycopg2
    from django.conf import settings

    db = settings.DATABASES["default"]
    connection = psycopg2.connect(
        dbname=name,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
    )
    connection.autocommit = autocommit
    return connection


def users_delete(where: str, params) -> None:
    """Delete users a benchmark or a test made, for good: raw SQL (the ORM's cascade check
    would look for tenant tables in public), in a transaction that allows it (the users table
    refuses deletes otherwise: shared_apps/accounts/migrations/0005)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL saas.allow_user_delete = 'on'")
        cursor.execute(f"DELETE FROM public.accounts_user WHERE {where}", params)
        # Inside a test's transaction this is a savepoint, which SET LOCAL outlives.
        cursor.execute("SET LOCAL saas.allow_user_delete = 'off'")
