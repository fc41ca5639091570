"""The daily export cleanup: rows and files older than EXPORT_RETENTION_DAYS go, nothing
newer, and only in the organization the job runs for."""

import os
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.exports.files import export_path, organization_folder, partial_path
from tenant_apps.exports.jobs import export_cleanup_all, export_cleanup_organization
from tenant_apps.exports.models import Export, ExportStatus
from tests.factories import make_member
from tests.jobs import eager_jobs

pytestmark = pytest.mark.django_db

DAY = 24 * 3600


def make_export(organization, user, *, age_days: float, with_file=True) -> Export:
    """A done export requested `age_days` ago, with its file (as old) unless told not to."""
    with tenant_context(organization):
        export = Export.objects.create(created_by=user, status=ExportStatus.DONE)
        Export.objects.filter(pk=export.pk).update(
            created_at=timezone.now() - timedelta(days=age_days)
        )
        if with_file:
            path = export_path(export.pk)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("id\n")
            stamp = time.time() - age_days * DAY
            os.utime(path, (stamp, stamp))
        return export


def stray_file(organization, export_id: int, *, age_days: float, partial=False):
    """A file in the organization's folder that no export row owns."""
    with tenant_context(organization):
        path = (partial_path if partial else export_path)(export_id)
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("id\n")
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


def exists(organization, export: Export) -> tuple[bool, bool]:
    """(row exists, file exists)."""
    with tenant_context(organization):
        return Export.objects.filter(pk=export.pk).exists(), export_path(export.pk).exists()


def test_old_exports_and_their_files_are_deleted_and_newer_ones_kept(acme, globex, settings):
    settings.EXPORT_RETENTION_DAYS = 7
    user = make_member(acme)
    old = make_export(acme, user, age_days=8)
    old_failed = make_export(acme, user, age_days=30, with_file=False)
    recent = make_export(acme, user, age_days=6.9)
    old_stray = stray_file(acme, 10**9, age_days=9)
    old_partial = stray_file(acme, 10**9 + 1, age_days=9, partial=True)
    new_stray = stray_file(acme, 10**9 + 2, age_days=1)
    globex_old = make_export(globex, make_member(globex), age_days=8)
    with tenant_context(acme):
        unrelated = organization_folder() / "README.txt"
    unrelated.write_text("not an export")
    os.utime(unrelated, (0, 0))

    with eager_jobs(), tenant_context(acme):
        result = export_cleanup_organization.apply()

    assert result.get() == 2
    assert exists(acme, old) == (False, False)
    assert exists(acme, old_failed) == (False, False)
    assert exists(acme, recent) == (True, True)
    assert not old_stray.exists() and not old_partial.exists()
    assert new_stray.exists() and unrelated.exists()
    assert exists(globex, globex_old) == (True, True)  # another organization's job


def test_beats_cleanup_runs_in_every_active_organization(acme, globex, settings):
    settings.EXPORT_RETENTION_DAYS = 7
    acme_old = make_export(acme, make_member(acme), age_days=8)
    globex_old = make_export(globex, make_member(globex), age_days=8)
    globex_new = make_export(globex, make_member(globex), age_days=1)

    with eager_jobs():
        export_cleanup_all.apply()

    assert exists(acme, acme_old) == (False, False)
    assert exists(globex, globex_old) == (False, False)
    assert exists(globex, globex_new) == (True, True)
