"""docker-compose.yml, read without a Docker engine: the services, how each is checked and
started, and configuration that comes from .env only (every ${VARIABLE} in .env.example)."""

import json
import re
import shutil
import subprocess

import pytest
import yaml

from .dockerfile import ROOT, Dockerfile, exec_form, healthcheck

COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
APP_SERVICES = {"migrate", "web", "worker", "beat"}  # the services running the project's image
SERVERS_DEPEND_ON = {
    "db": "service_healthy",
    "redis": "service_healthy",
    "migrate": "service_completed_successfully",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker-compose.yml as YAML sees it (anchors and `<<` merges resolved)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    """Its services by name."""
    return compose["services"]


def conditions(service: dict) -> dict[str, str]:
    return {name: rule["condition"] for name, rule in service["depends_on"].items()}


def test_the_stack_has_its_six_services(services):
    assert set(services) == {"db", "redis", "migrate", "web", "worker", "beat"}


def test_postgresql_16_keeps_its_data_in_a_named_volume_and_reports_readiness(compose, services):
    db = services["db"]
    volume, _, target = db["volumes"][0].partition(":")

    assert db["image"] == "postgres:16"
    assert target == "/var/lib/postgresql/data" and volume in compose["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_redis_7_reports_readiness(services):
    redis = services["redis"]

    assert redis["image"] == "redis:7"
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_the_application_services_run_one_image_with_the_stack_s_database_and_redis(services):
    for name in APP_SERVICES:
        service = services[name]
        assert (service["build"], service["image"]) == (".", "saas-api:latest"), name
        assert service["env_file"] == ".env", name
        assert "@db:5432/" in service["environment"]["DATABASE_URL"], name
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:6379/"), name


def test_migrations_run_once_after_the_database_is_ready(services):
    migrate = services["migrate"]

    assert migrate["command"] == ["python", "manage.py", "migrate_schemas", "--noinput"]
    assert migrate["restart"] == "no"
    assert conditions(migrate) == {"db": "service_healthy"}


def test_the_servers_start_after_the_database_redis_and_the_migrations(services):
    for name in ("web", "worker", "beat"):
        assert conditions(services[name]) == SERVERS_DEPEND_ON, name


def test_web_runs_the_image_s_gunicorn_and_health_check_on_port_8000(services):
    web = services["web"]
    final = Dockerfile.read().final

    # Not restated here, so compose runs exactly what tests/deploy/test_production_server.py runs.
    assert "command" not in web and "healthcheck" not in web
    assert exec_form(final.last("CMD").arguments)[0] == "gunicorn"
    assert "/healthz" in healthcheck(final.last("HEALTHCHECK"))[1][-1]
    assert web["ports"] == ["8000:8000"]


def test_celery_runs_a_worker_and_one_beat(services):
    worker, beat = services["worker"]["command"], services["beat"]["command"]

    assert worker == ["celery", "-A", "saas", "worker", "--loglevel=info"]
    assert beat == ["celery", "-A", "saas", "beat", "--loglevel=info"]
    assert "deploy" not in services["beat"]  # never replicated: jobs would run twice


def test_services_without_a_web_server_do_not_inherit_its_health_check(services):
    # The image's HEALTHCHECK requests /healthz; elsewhere it would mark the service unhealthy.
    for name in APP_SERVICES - {"web"}:
        check = services[name]["healthcheck"]
        assert check.get("disable") is True or "/healthz" not in str(check["test"]), name
    assert "celery" in " ".join(services["worker"]["healthcheck"]["test"])


def test_web_and_the_worker_share_the_export_files_in_a_folder_the_app_user_may_write(
    compose, services
):
    final = Dockerfile.read().final
    mount = f"exports:{final.environment()['EXPORT_ROOT']}"
    # The folders the image gives its user (the code folder belongs to root).
    writable = next(
        run.arguments.split("install -d -o app -g app ", 1)[1].split()
        for run in final.all("RUN")
        if "install -d -o app -g app " in run.arguments
    )

    assert mount in services["web"]["volumes"] and mount in services["worker"]["volumes"]
    assert "exports" in compose["volumes"]
    assert mount.split(":", 1)[1] in writable


def test_every_variable_the_file_uses_is_named_in_env_example():
    # Comments aside (compose substitutes in values only); `$$` is a literal dollar.
    text = re.sub(r"(^|\s)#.*", "", COMPOSE_FILE.read_text())
    used = set(re.findall(r"(?<!\$)\$\{?([A-Za-z_]\w*)", text))
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))

    assert used >= {"SECRET_KEY", "POSTGRES_PASSWORD"}
    assert used - named == set()


def test_secrets_are_required_from_env_never_written_in_the_file(services):
    # `${X:?message}`: compose refuses to start without it; no default to fall back on.
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", services["web"]["environment"]["SECRET_KEY"])
    assert re.fullmatch(
        r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", services["db"]["environment"]["POSTGRES_PASSWORD"]
    )
    assert ":${POSTGRES_PASSWORD:?" in services["web"]["environment"]["DATABASE_URL"]


# --- As Docker Compose itself reads it (when a Compose binary is installed) -------------------


def compose_command() -> list[str] | None:
    """`docker compose` or `docker-compose`, whichever works here (neither needs an engine)."""
    for program, *arguments in (["docker", "compose"], ["docker-compose"]):
        path = shutil.which(program)
        if path is None:
            continue
        command = [path, *arguments]
        if subprocess.run([*command, "version"], capture_output=True, timeout=30).returncode == 0:
            return command
    return None


@pytest.fixture(scope="module")
def docker_compose():
    """The Compose command line, or a skip saying why there is none."""
    command = compose_command()
    if command is None:
        pytest.skip("no Docker Compose here (`docker compose` or `docker-compose`)")
    return command


def compose_config(docker_compose, folder, env_lines: list[str]) -> subprocess.CompletedProcess:
    """`docker compose config` of a copy of the file with .env = .env.example + `env_lines`."""
    shutil.copy(COMPOSE_FILE, folder / "docker-compose.yml")
    (folder / ".env").write_text(ENV_EXAMPLE.read_text() + "\n".join(env_lines) + "\n")
    return subprocess.run(
        [*docker_compose, "config", "--format", "json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        # Only .env configures it, as on a machine where nothing else is set.
        env={"PATH": "/usr/bin:/bin", "HOME": str(folder)},
    )


def test_compose_accepts_the_file_with_env_example_and_the_two_secrets(docker_compose, tmp_path):
    result = compose_config(
        docker_compose, tmp_path, ["SECRET_KEY=from-env-file", "POSTGRES_PASSWORD=pw123"]
    )

    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)["services"]
    assert resolved["web"]["environment"]["SECRET_KEY"] == "from-env-file"
    assert resolved["web"]["environment"]["DATABASE_URL"] == "postgres://saas:pw123@db:5432/saas"
    assert resolved["web"]["environment"]["BASE_DOMAIN"] == "localhost"  # through env_file


def test_compose_refuses_to_start_without_a_secret_key(docker_compose, tmp_path):
    result = compose_config(docker_compose, tmp_path, ["POSTGRES_PASSWORD=pw123"])

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
