"""A real Celery worker on a broker of the test's own (a private redis-server), and
committed organizations' data for export jobs."""

import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context
from knox.models import AuthToken

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Membership, Organization, Role
from tenant_apps.exports.files import export_path, organization_folder
from tenant_apps.exports.models import Export, ExportStatus
from tenant_apps.projects.models import Project
from tenant_apps.tasks.models import Task
from tests.concurrency import delete_activity_after, last_activity_id
from tests.factories import make_project, make_task, make_user, users_delete
from tests.jobs import JobWorker

JOB_TIMEOUT = 90


def start_worker(folder: Path, broker_url: str, **env: str) -> JobWorker:
    """tests/jobs.py's worker (this run's queue, the test database), on `broker_url`."""
    worker = JobWorker(
        log_path=folder / f"worker-{uuid.uuid4().hex[:6]}.log",
        export_root=Path(settings.EXPORT_ROOT),
        mail_dir=folder / "mail",
    )
    with mock.patch.dict(os.environ, {"CELERY_BROKER_URL": broker_url, **env}):
        worker.start(settings.DATABASES["default"])
    return worker


def pool_children(pid: int) -> list[int]:
    """The pids of the processes `pid` started (a prefork worker's pool)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children.extend(int(child) for child in text)
    return children


@dataclass
class Member:
    organization: Organization
    user: User
    token: str
    marker: str


@dataclass
class Exporters:
    """A MEMBER of acme and one of globex, each with a project and tasks named after their
    organization; what the test exports is recorded for the clean-up."""

    acme: Member
    globex: Member
    last_activity: dict = field(default_factory=dict)


@contextmanager
def exporters(tasks_each: int = 3):
    """Committed users and tasks in acme and globex (call with the database unblocked);
    everything they made, exports and files included, removed afterwards."""
    suffix = uuid.uuid4().hex[:6]
    members = {}
    last = {}
    try:
        for slug in ("acme", "globex"):
            organization = Organization.objects.get(slug=slug)
            last[slug] = last_activity_id(organization)
            user = make_user(email=f"faults-{slug}-{suffix}@test.example.com")
            Membership.objects.create(user=user, organization=organization, role=Role.MEMBER)
            marker = f"faults {slug} {suffix}"
            project = make_project(organization, created_by=user, name=marker)
            for number in range(tasks_each):
                make_task(
                    organization, project=project, created_by=user, title=f"{marker} {number}"
                )
            members[slug] = Member(
                organization, user, AuthToken.objects.create(user=user)[1], marker
            )
        yield Exporters(members["acme"], members["globex"], last)
    finally:
        connection.set_schema_to_public()
        for slug, member in members.items():
            with tenant_context(member.organization):
                for export in Export.objects.filter(created_by=member.user):
                    for path in organization_folder().glob(f"{export.pk}.csv*"):
                        path.unlink(missing_ok=True)
                Export.objects.filter(created_by=member.user).delete()
                Task.all_objects.filter(created_by=member.user).delete()
                Project.all_objects.filter(created_by=member.user).delete()
            delete_activity_after(member.organization, last[slug])
            AuthToken.objects.filter(user=member.user).delete()
            Membership.objects.filter(user=member.user).delete()
            users_delete("id = %s", [member.user.pk])


def wait_for_export(organization: Organization, export_id: int, timeout: float = JOB_TIMEOUT):
    """The export once its job has finished it (done or failed)."""
    deadline = time.monotonic() + timeout
    while True:
        with tenant_context(organization):
            export = Export.objects.get(pk=export_id)
        if export.status in (ExportStatus.DONE, ExportStatus.FAILED):
            return export
        if time.monotonic() > deadline:
            raise AssertionError(f"export {export_id} still {export.status} after {timeout} s")
        time.sleep(0.1)


def export_file(organization: Organization, export_id: int) -> Path:
    with tenant_context(organization):
        return export_path(export_id)
