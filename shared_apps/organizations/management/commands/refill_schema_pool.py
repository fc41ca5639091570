"""`manage.py refill_schema_pool`: build spare schemas for onboarding to claim."""

from django.core.management.base import BaseCommand, CommandError

from shared_apps.organizations.schema_pool.pool import pool_refill


class Command(BaseCommand):
    help = (
        "Drop spare schemas not at the current migration state, then build (or drop) spares "
        "until the pool holds SCHEMA_POOL_SIZE (or --size) of them."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--size", type=int, default=None, help="Spares to keep (default: SCHEMA_POOL_SIZE)"
        )

    def handle(self, *args, size, **options):
        if size is not None and size < 0:
            raise CommandError("--size must be 0 or more.")
        refill = pool_refill(size=size)
        if not refill.ran:
            raise CommandError("Another refill is running; try again when it has finished.")
        for name in refill.dropped:
            self.stdout.write(f"Dropped spare {name}")
        built = len(refill.created)
        per_spare = f" ({refill.seconds / built * 1000:.0f} ms per spare)" if built else ""
        self.stdout.write(
            self.style.SUCCESS(f"Built {built} spare schemas in {refill.seconds:.2f} s{per_spare}")
        )
