"""`make run`: migrate every schema, add the demo data when DEBUG is on, then serve, with a
Celery worker and beat next to the web server.

`python -m saas.devserver HOST PORT` is what `make run` executes. The server's command and
environment are defined here once: tests/browser starts the very same command against the
test database, so what those tests prove (pages, bounded connections) holds for `make run`.
After the migrations, honcho runs saas/Procfile (web server, worker, beat) in that
environment; Ctrl-C stops them all.
"""

import os
import sys
from collections.abc import Mapping
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PROCFILE = BASE_DIR / "saas" / "Procfile"


def server_environment(port: int, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the development server runs with on `port`."""
    env = dict(os.environ if environ is None else environ)
    # A developer's machine; `DEBUG=false make run` tries the production behaviour.
    env.setdefault("DEBUG", "true")
    # Printed and emailed links name the port actually served (`make run PORT=8600`).
    env["SITE_PORT"] = str(port)
    # runserver starts a thread per request, and a persistent connection lives on with its
    # thread's state: a sequential fuzzer left 91 open and PostgreSQL refused new clients.
    # Django's docs advise against persistent connections under the development server;
    # reconnecting per request keeps only the requests in flight connected.
    env["CONN_MAX_AGE"] = "0"
    # The server prints http://127.0.0.1:PORT/: that address reaches the public site too.
    env.setdefault("PUBLIC_HOST_ALIASES", "localhost,127.0.0.1")
    # beat remembers when each periodic job last ran; keep that with the other local state.
    env.setdefault("CELERY_BEAT_SCHEDULE_FILENAME", str(BASE_DIR / ".data" / "celerybeat-schedule"))
    return env


def server_command(host: str, port: int, *, reload: bool = True) -> list[str]:
    """The development server's command line (`reload`: restart when code changes); the
    Procfile's `web` line runs the same with reload."""
    command = [sys.executable, str(BASE_DIR / "manage.py"), "runserver", f"{host}:{port}"]
    if not reload:
        command.append("--noreload")
    return command


def migrate(stdout) -> None:
    """`migrate_schemas`, printing one line per schema instead of migrate's five."""
    from django.core.management import call_command
    from django.db.models.signals import pre_migrate
    from django_tenants.signals import schema_migrated

    pending: dict[str, list] = {}

    def remember_plan(sender, plan=None, **kwargs):
        # Sent once per app, with the same plan: what this schema's migrate is applying.
        pending["plan"] = plan or []

    def report(sender, schema_name, **kwargs):
        applied = len(pending.pop("plan", []))
        done = f"{applied} migration(s) applied" if applied else "up to date"
        stdout.write(f"Migrated {schema_name}: {done}\n")

    pre_migrate.connect(remember_plan, weak=False)
    schema_migrated.connect(report, weak=False)
    try:
        call_command("migrate_schemas", interactive=False, verbosity=0)
    finally:
        pre_migrate.disconnect(remember_plan)
        schema_migrated.disconnect(report)


def prepare(stdout) -> None:
    """Everything before serving: migrations, then the demo data only when DEBUG is on."""
    from django.conf import settings
    from django.core.management import call_command

    migrate(stdout)
    if settings.DEBUG:
        stdout.write("DEBUG is on: demo data (published passwords, development only):\n")
        call_command("seed_demo", stdout=stdout)
    else:
        stdout.write(
            "DEBUG is off: no demo data (its passwords are published). "
            'Add a staff user with `make manage ARGS="createsuperuser"`.\n'
        )
    # WhiteNoise serves from the apps' folders here, but warns at start-up ("No directory
    # at ...") while collectstatic's folder does not exist.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    Path(settings.CELERY_BEAT_SCHEDULE_FILENAME).parent.mkdir(parents=True, exist_ok=True)


def processes_command() -> list[str]:
    """honcho running saas/Procfile: the web server, a Celery worker and beat."""
    honcho = str(Path(sys.executable).with_name("honcho"))
    # `--env /dev/null`: honcho would let a .env file override the real environment; the
    # settings read .env themselves, with the real environment winning.
    return [
        honcho,
        "start",
        "--procfile",
        str(PROCFILE),
        "--app-root",
        str(BASE_DIR),
        "--env",
        os.devnull,
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m saas.devserver HOST PORT", file=sys.stderr)
        return 2
    host, port = argv[1], int(argv[2])
    os.environ.update(server_environment(port))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings")

    import django

    django.setup()
    from django.db import connections

    prepare(sys.stdout)
    connections.close_all()
    sys.stdout.flush()
    os.chdir(BASE_DIR)
    # The Procfile's commands (`python`, `celery`) are this virtualenv's.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    os.environ["RUN_ADDRESS"] = f"{host}:{port}"
    command = processes_command()
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
