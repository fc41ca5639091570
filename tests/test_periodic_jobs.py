"""Periodic jobs: beat's schedule, and the fan-out from the public schema to one job per
active organization, where one organization's failure is logged with its schema name and
the others still run."""

import logging
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from kombu.exceptions import OperationalError

from saas.celery import app as celery_app
from saas.settings import _daily_at
from shared_apps.organizations.jobs import queue_for_each_organization
from shared_apps.organizations.models import Organization, Role
from tenant_apps.tasks import jobs
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import task_delete
from tests.factories import make_member, make_project, make_task
from tests.jobs import eager_jobs

pytestmark = pytest.mark.django_db


def test_beat_schedules_the_daily_jobs_at_the_configured_times_and_the_pool_refill():
    celery_app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE

    assert {entry["task"] for entry in schedule.values()} == {
        "tenant_apps.tasks.jobs.overdue_digest_all",
        "tenant_apps.tasks.jobs.trash_purge_all",
        "tenant_apps.exports.jobs.export_cleanup_all",
        "shared_apps.organizations.jobs.schema_pool_refill",
    }
    assert schedule["schema-pool-refill"]["schedule"] == settings.SCHEMA_POOL_REFILL_SECONDS
    for entry in schedule.values():
        assert entry["task"] in celery_app.tasks
    digest = schedule["overdue-digest"]["schedule"]
    assert (digest.hour, digest.minute) == ({7}, {0})


def test_job_times_come_from_the_environment_as_hh_mm(monkeypatch):
    monkeypatch.setenv("OVERDUE_DIGEST_TIME", "18:45")
    evening = _daily_at("OVERDUE_DIGEST_TIME", "07:00")
    assert (evening.hour, evening.minute) == ({18}, {45})
    for wrong in ("25:00", "7", "seven", "07:60"):
        monkeypatch.setenv("OVERDUE_DIGEST_TIME", wrong)
        with pytest.raises(ImproperlyConfigured, match="OVERDUE_DIGEST_TIME"):
            _daily_at("OVERDUE_DIGEST_TIME", "07:00")


@pytest.fixture
def due_in_each(acme, globex):
    """In acme and in globex, a member with a task due today."""
    members = {}
    for organization in (acme, globex):
        member = make_member(organization, Role.MEMBER)
        project = make_project(organization, created_by=member)
        make_task(
            organization,
            project=project,
            created_by=member,
            due_date=timezone.localdate(),
            assignee_ids=[member.id],
        )
        members[organization.slug] = member
    return members


def test_each_organizations_job_runs_in_its_own_schema(due_in_each, monkeypatch):
    ran = {}
    send = jobs.overdue_digest_send

    def spy(*, organization, today):
        ran[connection.schema_name] = organization.slug
        return send(organization=organization, today=today)

    monkeypatch.setattr(jobs, "overdue_digest_send", spy)
    assert connection.schema_name == "public"  # where beat's jobs start

    with eager_jobs():
        jobs.overdue_digest_all.apply()

    assert ran == {"org_acme": "acme", "org_globex": "globex"}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in due_in_each.values())


def test_a_failing_organization_is_logged_with_its_schema_and_the_others_still_run(
    due_in_each, monkeypatch, caplog
):
    send = jobs.overdue_digest_send

    def failing_in_acme(*, organization, today):
        if organization.slug == "acme":
            raise RuntimeError("acme's mail relay is down")
        return send(organization=organization, today=today)

    monkeypatch.setattr(jobs, "overdue_digest_send", failing_in_acme)

    with eager_jobs(), caplog.at_level(logging.ERROR):
        jobs.overdue_digest_all.apply()

    assert "Job tenant_apps.tasks.jobs.overdue_digest failed in schema org_acme" in caplog.text
    assert "acme's mail relay is down" in caplog.text
    assert [m.to for m in mail.outbox] == [[due_in_each["globex"].email]]


def test_a_job_that_cannot_be_queued_for_one_organization_is_logged_and_the_rest_are(
    acme, globex, monkeypatch, caplog
):
    queued = []

    class Job:
        name = "probe"

        def apply_async(self, args=(), kwargs=None):
            if connection.schema_name == "org_acme":
                raise OperationalError("Error 111 connecting to redis")
            queued.append(connection.schema_name)

    with caplog.at_level(logging.ERROR):
        failed = queue_for_each_organization(Job())

    assert failed == ["org_acme"]
    assert queued == ["org_globex"]
    assert "Could not queue job probe for schema org_acme" in caplog.text


def test_deactivated_organizations_get_no_jobs(acme, globex):
    Organization.objects.filter(pk=globex.pk).update(is_active=False)
    queued = []

    class Job:
        name = "probe"

        def apply_async(self, args=(), kwargs=None):
            queued.append(connection.schema_name)

    queue_for_each_organization(Job())

    assert queued == ["org_acme"]


def test_the_trash_purge_job_removes_what_is_older_than_the_retention_everywhere(
    acme, globex, settings
):
    settings.SOFT_DELETE_RETENTION_DAYS = 30
    trashed = {}
    for organization in (acme, globex):
        admin = make_member(organization, Role.ADMIN)
        project = make_project(organization, created_by=admin)
        old = make_task(organization, project=project, created_by=admin, title="old")
        recent = make_task(organization, project=project, created_by=admin, title="recent")
        with tenant_context(organization):
            task_delete(task=old, actor=admin)
            task_delete(task=recent, actor=admin)
            Task.all_objects.filter(pk=old.pk).update(
                deleted_at=timezone.now() - timedelta(days=31)
            )
        trashed[organization.slug] = (organization, old, recent)

    with eager_jobs():
        jobs.trash_purge_all.apply()

    for organization, old, recent in trashed.values():
        with tenant_context(organization):
            assert not Task.all_objects.filter(pk=old.pk).exists()
            assert Task.all_objects.filter(pk=recent.pk).exists()
