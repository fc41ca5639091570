"""bench/many_orgs.py: what it measures in a backend and in the catalogue, on this test run's
database (the benchmark itself runs against databases of its own)."""

import pytest
from django.conf import settings
from django.db import connection
from django.db.utils import load_backend

from bench.many_orgs import CATALOGUE_TABLES, _buckets, _catalogue, _memory_sample

pytestmark = pytest.mark.django_db


def test_a_memory_sample_is_this_connections_backend():
    sample = _memory_sample()

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert sample["pid"] == cursor.fetchone()[0]
    assert 0 < sample["cache"] < sample["contexts"]
    # PostgreSQL runs on this machine in development and CI: its /proc is readable.
    assert sample["rss_anon"] > 0


@pytest.fixture
def fresh():
    """A django-tenants connection of its own to the test database (a backend with empty
    caches; the test's connection has served every organization already), closed after."""
    engine = "django_tenants.postgresql_backend"
    wrapper = load_backend(engine).DatabaseWrapper(
        {**settings.DATABASES["default"], "ENGINE": engine}, alias="default"
    )
    yield wrapper
    wrapper.close()


def serve(wrapper, schema_name: str) -> None:
    """Plan and run what a task list does in `schema_name`: its tables and indexes enter the
    backend's relation cache."""
    wrapper.set_schema(schema_name)
    with wrapper.cursor() as cursor:
        cursor.execute(
            "SELECT t.id, a.user_id FROM tasks_task t"
            " LEFT JOIN tasks_task_assignees a ON a.task_id = t.id"
            " JOIN projects_project p ON p.id = t.project_id"
            " WHERE t.deleted_at IS NULL ORDER BY t.created_at DESC, t.id DESC LIMIT 50"
        )
        cursor.fetchall()


def test_serving_another_organization_grows_the_backends_cache(fresh, acme, globex):
    """The growth the benchmark measures: a schema's tables and indexes, once planned, stay in
    the backend's caches while the connection lives."""
    serve(fresh, acme.schema_name)
    before = _memory_sample(fresh)
    serve(fresh, globex.schema_name)
    after = _memory_sample(fresh)
    serve(fresh, acme.schema_name)  # served before: nothing new to cache
    again = _memory_sample(fresh)

    assert after["pid"] == before["pid"]
    assert after["cache"] > before["cache"]
    assert again["cache"] == after["cache"]


def test_the_catalogue_counts_the_same_relations_in_every_organization(acme, globex):
    figures = _catalogue()

    assert figures["organizations"] == 2
    per_schema = figures["pg_class_per_schema"]
    assert per_schema["min"] == per_schema["max"] > 50
    assert sum(figures["relkinds"].values()) == per_schema["max"]
    assert set(figures["rows"]) == set(CATALOGUE_TABLES)
    assert figures["catalogue_bytes"] < figures["database_bytes"]


def test_provisioning_figures_are_summarized_per_thousand_organizations():
    claims = [10.0] * 1000 + [20.0] * 500
    refills = [300.0] * 1000 + [400.0] * 500

    assert _buckets(claims, refills, 10) == {
        "11-1,010": [10.0, 300.0],
        "1,011-1,510": [20.0, 400.0],
    }
