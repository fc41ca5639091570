"""Fixtures of the security tests: each organization with one object of every kind."""

import pytest
from django_tenants.utils import tenant_context

from .world import TENANT_MODELS, OrgWorld, build_world, every_row


@pytest.fixture
def acme_world(acme) -> OrgWorld:
    """Acme, with one object of every kind (texts start with "Acme secret")."""
    world = build_world(acme, "Acme secret", foreign_ids=False)
    yield world
    world.remove_files()


@pytest.fixture
def globex_world(globex, acme_world) -> OrgWorld:
    """Globex, with one object of every kind (texts start with "Globex secret"), whose
    projects, tasks and exports have ids that do not exist in acme."""
    world = build_world(globex, "Globex secret", foreign_ids=True)
    with tenant_context(acme_world.organization):
        for model in TENANT_MODELS:
            assert not every_row(model).filter(pk=world.ids[model]).exists()
    yield world
    world.remove_files()
