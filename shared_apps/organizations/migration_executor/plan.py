"""One plan per group of schemas with the same applied migrations, worked out once by Django's
own loader on one of them."""

from dataclasses import dataclass

from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.state import ProjectState
from django_tenants.utils import schema_context


class GroupExecutor(MigrationExecutor):
    """Django's executor, for many schemas at the same state: the plan from scratch (which
    `migrate` computes on every call) computed once, and no query for squashed migrations
    to record when none replaces others."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clean_plans = {}

    def migration_plan(self, targets, clean_start=False):
        if not clean_start:
            return super().migration_plan(targets)
        key = tuple(targets)
        if key not in self._clean_plans:
            self._clean_plans[key] = super().migration_plan(targets, clean_start=True)
        return self._clean_plans[key]

    def check_replacements(self):
        if self.loader.replacements:
            super().check_replacements()


@dataclass
class Group:
    """Schemas whose django_migrations hold the same rows, hence the same plan."""

    fingerprint: str
    executor: GroupExecutor  # its loader read the applied migrations of one of them
    targets: list
    plan: list  # [(Migration, backwards)], as Django's migrate computes it
    state: ProjectState  # rendered: the project's state before the plan
    # Whether the whole plan runs in one transaction per schema: no migration of it has
    # `atomic = False` (CREATE INDEX CONCURRENTLY and the like).
    atomic: bool

    @property
    def labels(self) -> list[str]:
        return [str(migration) for migration, _ in self.plan]


def plan_group(connection, representative: str, fingerprint: str) -> Group | None:
    """The plan of every schema whose django_migrations has `fingerprint`, worked out by
    Django's own loader on `representative` (one of them); None when there is nothing to do.

    Raises InconsistentMigrationHistory like Django's migrate.
    """
    with schema_context(representative, database=connection.alias):
        executor = GroupExecutor(connection)
        executor.loader.check_consistent_history(connection)
        targets = executor.loader.graph.leaf_nodes()
        plan = executor.migration_plan(targets)
        recorded = executor.recorder.applied_migrations()
        # migrate also records a squashed migration once all it replaces are applied.
        replacements_due = any(
            key not in recorded and all(replaced in recorded for replaced in migration.replaces)
            for key, migration in executor.loader.replacements.items()
        )
        if not plan and not replacements_due:
            return None
        # What Django's migrate does before applying, once here instead of once per schema
        # (private, but the command itself calls it); rendered now, so that forked workers
        # inherit the rendered models and each schema only clones them.
        state = executor._create_project_state(with_applied_migrations=True)
        state.apps  # noqa: B018 - renders
        atomic = all(migration.atomic for migration, _ in plan)
        if atomic:
            # Each schema runs the whole plan in one transaction of its own: a savepoint per
            # migration inside it (two more round trips per schema) would protect nothing.
            # These Migration objects are this group's own (its loader's).
            for migration, _ in plan:
                migration.atomic = False
        return Group(fingerprint, executor, targets, plan, state, atomic)
