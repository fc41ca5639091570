"""`manage.py purge_trash`: remove for good what has been in the trash too long, in every
active organization."""

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from shared_apps.organizations.jobs import active_organizations
from tenant_apps.tasks.services import trash_cutoff, trash_purge

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Delete for good the projects and tasks deleted more than N days ago (default "
        "SOFT_DELETE_RETENTION_DAYS), in every active organization. Activity entries stay."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=None,
            help=f"Days in the trash (default {settings.SOFT_DELETE_RETENTION_DAYS}).",
        )

    def handle(self, *args, older_than_days=None, **options):
        days = settings.SOFT_DELETE_RETENTION_DAYS if older_than_days is None else older_than_days
        if days < 0:
            raise CommandError("--older-than-days must be 0 or more.")
        deleted_before = trash_cutoff(days=days)
        failed = []
        for organization in active_organizations():
            try:
                # One transaction per organization (trash_purge): a failure undoes only its own.
                with tenant_context(organization):
                    purged = trash_purge(deleted_before=deleted_before)
            except Exception:
                # Logged with the traceback; the other organizations are still purged.
                logger.exception("purge_trash failed in schema %s", organization.schema_name)
                failed.append(organization.schema_name)
                continue
            if purged["tasks"] or purged["projects"]:
                logger.info(
                    "purge_trash removed %d projects and %d tasks from schema %s",
                    purged["projects"],
                    purged["tasks"],
                    organization.schema_name,
                )
            self.stdout.write(
                f"{organization.schema_name}: {purged['projects']} projects, "
                f"{purged['tasks']} tasks removed"
            )
        if failed:
            # A non-zero exit, so the scheduler that runs this notices.
            raise CommandError(f"Failed in {len(failed)} organization(s): {', '.join(failed)}")
