"""Test data builders that go through the same services as the product."""

import itertools

from django.conf import settings
from django_tenants.utils import tenant_context
from knox.models import AuthToken
from rest_framework.test import APIClient

from bench.databases import users_delete  # noqa: F401 (the tests' cleanups import it from here)
from shared_apps.accounts.models import User
from shared_apps.accounts.services import user_create
from shared_apps.organizations.models import Membership, Organization, Role
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import project_create
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import task_create

_sequence = itertools.count(1)


def make_user(
    *, email: str | None = None, password: str | None = None, full_name: str = ""
) -> User:
    """A new active, verified user; no password (cheap) unless one is given."""
    email = email or f"user{next(_sequence)}@test.example.com"
    return user_create(
        email=email,
        password=password,
        full_name=full_name or email.split("@")[0],
        email_verified=True,
    )


def make_member(organization: Organization, role: str = Role.MEMBER, **user_kwargs) -> User:
    """A new user who is a member of `organization` with `role`."""
    user = make_user(**user_kwargs)
    Membership.objects.create(user=user, organization=organization, role=role)
    return user


def host_of(organization: Organization | None) -> str:
    """The HTTP host that routes to `organization` (None: the public site)."""
    return settings.BASE_DOMAIN if organization is None else organization.domain


def client_for(user: User | None, organization: Organization | None = None) -> APIClient:
    """An API client on the organization's host (public if None), with the user's Bearer token."""
    client = APIClient(HTTP_HOST=host_of(organization))
    if user is not None:
        _, token = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def make_project(
    organization: Organization, *, created_by: User, name: str | None = None
) -> Project:
    """A project in `organization`'s schema."""
    with tenant_context(organization):
        return project_create(name=name or f"Project {next(_sequence)}", created_by=created_by)


def make_task(organization: Organization, *, project: Project, created_by: User, **fields) -> Task:
    """A task in `organization`'s schema (fields as task_create takes them)."""
    fields.setdefault("title", f"Task {next(_sequence)}")
    with tenant_context(organization):
        return task_create(
            organization=organization, project=project, created_by=created_by, **fields
        )
