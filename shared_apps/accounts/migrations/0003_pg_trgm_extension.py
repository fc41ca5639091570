"""pg_trgm in the public schema: the tasks' title search index (tasks_title_trgm) uses its
operator class, which tenant schemas find through their search_path ("<tenant>", public).

An extension belongs to the whole database, not to one schema or app: it is created here, by
a shared app, so public is migrated with it before any tenant schema builds the index.
pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_email_verified_at"),
    ]

    operations = [
        TrigramExtension(),
    ]
