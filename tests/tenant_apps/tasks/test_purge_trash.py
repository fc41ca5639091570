"""`manage.py purge_trash`: what has been in the trash longer than the retention goes for good,
in every active organization; activity stays; one organization's failure stops no other."""

import datetime
import logging

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.organizations.models import Organization
from tenant_apps.activity.models import Activity
from tenant_apps.activity.selectors import change_version
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import project_delete
from tenant_apps.tasks.management.commands import purge_trash
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import task_delete
from tests.factories import make_member, make_project, make_task

pytestmark = pytest.mark.django_db


def _trash_in(organization, *, days: int, actor):
    """A project trashed `days` ago with a task, and a task trashed alone `days` ago."""
    project = make_project(organization, created_by=actor)
    with_project = make_task(
        organization, project=project, created_by=actor, assignee_ids=[actor.id]
    )
    holder = make_project(organization, created_by=actor)
    alone = make_task(organization, project=holder, created_by=actor, assignee_ids=[actor.id])
    with tenant_context(organization):
        project_delete(project=project, actor=actor)
        task_delete(task=alone, actor=actor)
        for model, pk in ((Project, project.pk), (Task, with_project.pk), (Task, alone.pk)):
            model.all_objects.filter(pk=pk).update(
                deleted_at=timezone.now() - datetime.timedelta(days=days)
            )
    return {"project": project, "with_project": with_project, "alone": alone, "holder": holder}


def _exists(organization, model, pk: int) -> bool:
    with tenant_context(organization):
        return model.all_objects.filter(pk=pk).exists()


@pytest.fixture
def acme_trash(acme, acme_admin):
    """In acme: trash 40 days old and trash 5 days old."""
    return {
        "old": _trash_in(acme, days=40, actor=acme_admin),
        "new": _trash_in(acme, days=5, actor=acme_admin),
    }


def test_purge_removes_what_is_older_than_the_retention_and_keeps_the_rest(
    acme, acme_admin, acme_trash, settings
):
    settings.SOFT_DELETE_RETENTION_DAYS = 30
    old, new = acme_trash["old"], acme_trash["new"]
    live = make_task(acme, project=new["holder"], created_by=acme_admin)
    with tenant_context(acme):
        version = change_version()

    call_command("purge_trash")

    assert not _exists(acme, Project, old["project"].pk)
    assert not _exists(acme, Task, old["with_project"].pk)
    assert not _exists(acme, Task, old["alone"].pk)
    for pk in (new["with_project"].pk, new["alone"].pk, live.pk):
        assert _exists(acme, Task, pk)
    assert _exists(acme, Project, new["project"].pk)
    with tenant_context(acme):
        # Assignments go with their tasks; the version moves on (derived figures change).
        assert not Task.assignees.through.objects.filter(
            task_id__in=[old["with_project"].pk, old["alone"].pk]
        ).exists()
        assert change_version() > version


def test_older_than_days_overrides_the_retention(acme, acme_trash):
    call_command("purge_trash", "--older-than-days", "3")

    for trash in acme_trash.values():
        assert not _exists(acme, Task, trash["alone"].pk)
        assert not _exists(acme, Project, trash["project"].pk)


def test_purge_keeps_the_activity_naming_the_purged_rows(acme, acme_trash):
    old = acme_trash["old"]
    with tenant_context(acme):
        before = list(Activity.objects.order_by("id").values_list("id", "target_label"))

    call_command("purge_trash")

    with tenant_context(acme):
        after = list(Activity.objects.order_by("id").values_list("id", "target_label"))
        verbs = set(
            Activity.objects.filter(target_type="task", target_id=old["alone"].pk).values_list(
                "verb", flat=True
            )
        )
    assert after == before
    assert verbs == {"created", "assigned", "deleted"}


def test_purge_leaves_other_organizations_alone_where_nothing_is_old(acme, globex, acme_trash):
    globex_admin = make_member(globex, "ADMIN")
    globex_trash = _trash_in(globex, days=5, actor=globex_admin)

    call_command("purge_trash")

    assert not _exists(acme, Task, acme_trash["old"]["alone"].pk)
    assert _exists(globex, Task, globex_trash["alone"].pk)
    assert _exists(globex, Project, globex_trash["project"].pk)


def test_an_inactive_organization_is_skipped(acme, acme_trash):
    Organization.objects.filter(pk=acme.pk).update(is_active=False)

    call_command("purge_trash")

    assert _exists(acme, Task, acme_trash["old"]["alone"].pk)


def test_a_failure_in_one_organization_is_logged_and_the_others_are_purged(
    acme, globex, acme_trash, monkeypatch, caplog
):
    globex_admin = make_member(globex, "ADMIN")
    globex_trash = _trash_in(globex, days=40, actor=globex_admin)
    real = purge_trash.trash_purge

    def failing_in_acme(**kwargs):
        if connection.schema_name == acme.schema_name:
            raise RuntimeError("disk on fire")
        return real(**kwargs)

    monkeypatch.setattr(purge_trash, "trash_purge", failing_in_acme)

    with caplog.at_level(logging.ERROR), pytest.raises(CommandError, match="org_acme"):
        call_command("purge_trash")

    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "purge_trash failed in schema org_acme"
    assert record.exc_info is not None
    assert _exists(acme, Task, acme_trash["old"]["alone"].pk)
    assert not _exists(globex, Task, globex_trash["alone"].pk)


def test_a_negative_number_of_days_is_refused(acme):
    with pytest.raises(CommandError):
        call_command("purge_trash", "--older-than-days", "-1")
