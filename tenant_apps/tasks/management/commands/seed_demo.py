"""`manage.py seed_demo`: idempotently create demo organizations, users, projects and tasks."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.accounts.services import user_create
from shared_apps.organizations.models import Membership, Organization, Role
from shared_apps.organizations.services import (
    membership_add,
    organization_create,
    organization_url,
    site_url,
)
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import project_create
from tenant_apps.tasks.models import Priority, Status
from tenant_apps.tasks.services import task_create

DEMO_PASSWORD = "demo-pass-2026"
STAFF_EMAIL = "staff@example.com"

ORGANIZATIONS = {
    "acme": {
        "name": "Acme Corp",
        "members": [
            ("alice@acme.example.com", "Alice Admin", Role.ADMIN),
            ("mark@acme.example.com", "Mark Manager", Role.MANAGER),
            ("mia@acme.example.com", "Mia Member", Role.MEMBER),
        ],
        "projects": ["Website relaunch", "Mobile app"],
    },
    "globex": {
        "name": "Globex Corporation",
        "members": [
            ("gina@globex.example.com", "Gina Admin", Role.ADMIN),
            ("gary@globex.example.com", "Gary Manager", Role.MANAGER),
            ("gus@globex.example.com", "Gus Member", Role.MEMBER),
        ],
        "projects": ["Q4 planning"],
    },
}

TASKS = [
    ("Write the brief", Status.DONE, Priority.HIGH, -10),
    ("Collect requirements", Status.DONE, Priority.MEDIUM, -5),
    ("Draft the design", Status.IN_PROGRESS, Priority.HIGH, 3),
    ("Review with stakeholders", Status.NEW, Priority.MEDIUM, 7),
    ("Fix overdue item", Status.IN_PROGRESS, Priority.LOW, -2),
    ("Plan the launch", Status.NEW, Priority.LOW, None),
]


def _user(email: str, full_name: str, **extra) -> User:
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = user_create(
            email=email, password=DEMO_PASSWORD, full_name=full_name, email_verified=True
        )
    if extra:
        User.objects.filter(pk=user.pk).update(**extra)
    return user


class Command(BaseCommand):
    help = "Create the demo organizations acme and globex (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off (the demo users have a published password).",
        )

    @transaction.atomic
    def handle(self, *args, force=False, **options):
        if not (settings.DEBUG or force):
            raise CommandError(
                "seed_demo creates a superuser with a published password: it runs only with "
                "DEBUG=true (or --force on a throwaway database)."
            )
        _user(STAFF_EMAIL, "Staff", is_staff=True, is_superuser=True)
        for slug, spec in ORGANIZATIONS.items():
            users = [(_user(email, name), role) for email, name, role in spec["members"]]
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                organization = organization_create(name=spec["name"], slug=slug, admin=users[0][0])
            for user, role in users:
                if not Membership.objects.filter(organization=organization, user=user).exists():
                    membership_add(organization=organization, user=user, role=role)
            with tenant_context(organization):
                self._projects(organization, spec["projects"], [user for user, _ in users])
            self.stdout.write(f"{organization.name}: {organization_url(organization)}")
            for email, _, role in spec["members"]:
                self.stdout.write(f"  {role:<8} {email}")
        self.stdout.write(f"Admin: {site_url(settings.BASE_DOMAIN)}admin/  ({STAFF_EMAIL})")
        self.stdout.write(f"Every demo password: {DEMO_PASSWORD}")

    def _projects(self, organization, names, users):
        admin, manager, member = users
        today = timezone.localdate()
        for name in names:
            if Project.objects.filter(name=name).exists():
                continue
            project = project_create(
                name=name, description=f"Demo project: {name}", created_by=admin
            )
            for index, (title, status, priority, due_in) in enumerate(TASKS):
                task_create(
                    organization=organization,
                    project=project,
                    title=title,
                    created_by=manager if index % 2 else admin,
                    status=status,
                    priority=priority,
                    due_date=None if due_in is None else today + timedelta(days=due_in),
                    assignee_ids=[member.pk] if index % 2 == 0 else [manager.pk, member.pk],
                )
