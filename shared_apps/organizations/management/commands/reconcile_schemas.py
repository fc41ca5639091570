"""`manage.py reconcile_schemas [--fix]`: schemas without an organization and organizations
without a schema (shared_apps/organizations/reconcile.py says what each means)."""

from django.core.management.base import BaseCommand, CommandError

from shared_apps.organizations.reconcile import schema_mismatches, schema_mismatches_fix


class Command(BaseCommand):
    help = (
        "Report schemas no organization owns and organizations whose schema is missing; "
        "with --fix, drop the orphan org_*/spare_* schemas and deactivate those "
        "organizations. Exits 1 while something is left to fix."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--fix",
            action="store_true",
            help="Drop orphan org_*/spare_* schemas (CASCADE) and deactivate organizations "
            "without a schema. Other schemas are only reported.",
        )

    def handle(self, *args, fix: bool, **options):
        found = schema_mismatches()
        for schema in found.orphan_schemas:
            self.stdout.write(f"Schema without an organization: {schema}")
        for schema in found.unknown_schemas:
            self.stdout.write(
                f"Schema without an organization, not named like ours (never dropped "
                f"here; drop it by hand if it is not needed): {schema}"
            )
        for name in found.spare_rows_without_schema:
            self.stdout.write(f"Spare schema in the pool's table but not in the database: {name}")
        for schema in found.organizations_without_schema:
            self.stdout.write(f"Organization without its schema: {schema}")
        for schema in found.inactive_without_schema:
            self.stdout.write(
                f"Inactive organization without its schema (it serves nothing): {schema}"
            )

        left = found.problems
        if fix and left:
            fixed = schema_mismatches_fix(found)
            for schema in fixed.dropped_schemas:
                self.stdout.write(self.style.SUCCESS(f"Dropped schema {schema}"))
            for name in fixed.deleted_spare_rows:
                self.stdout.write(self.style.SUCCESS(f"Removed {name} from the pool's table"))
            for schema in fixed.deactivated:
                self.stdout.write(
                    self.style.SUCCESS(f"Deactivated the organization of {schema} (404 now)")
                )
            for name in fixed.skipped:
                self.stdout.write(f"Left {name}: it changed meanwhile (run again to check)")
            left = len(found.unknown_schemas) + len(fixed.skipped)

        if not found.problems:
            self.stdout.write(
                self.style.SUCCESS(
                    "Every schema has its organization and every organization its schema."
                )
            )
        elif left:
            raise CommandError(f"{left} mismatch(es) left.")
