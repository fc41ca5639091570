"""Bulk seeding of organizations with realistic tasks (manage.py seed_tasks, the benchmark)."""

from .load import MAINTAIN_MIN_ROWS, LoadError, LoadReport, tasks_load, tasks_vacuum
from .organizations import (
    SeedResult,
    organization_seed,
    organization_slugs,
    organizations_seed,
    seeded_email,
)

__all__ = [
    "MAINTAIN_MIN_ROWS",
    "LoadError",
    "LoadReport",
    "SeedResult",
    "organization_seed",
    "organization_slugs",
    "organizations_seed",
    "seeded_email",
    "tasks_load",
    "tasks_vacuum",
]
