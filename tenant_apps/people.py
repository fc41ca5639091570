"""How tenant tables refer to users, who live in public: by id, without a foreign-key constraint.

A foreign key from an organization's table to `public.accounts_user` puts two triggers on the
users table, and the organizations multiply them: 14 per organization, 28,016 at 2,000
(`make bench`, many organizations). Each of them is loaded by every new connection the first
time it touches the users table, fired by every update of a user's row (101 ms at 2,000
organizations against 1.8 ms at 10), and each one created takes a lock on the users table that
makes sign-ups wait for onboarding. So tenant tables keep the user's id, with its index, and
no constraint; what the constraint guaranteed holds another way:

* a user's row is never deleted (deactivated instead): a trigger on the users table refuses
  the DELETE (shared_apps/accounts/migrations), as the admin already did;
* the ids written come from the request's own user or from members the services validated.

The ORM still knows the relation (joins, `select_related`, PROTECT), so nothing else changes.
"""

from django.conf import settings
from django.db import migrations, models


def user_reference(*, null: bool = False, on_delete=models.PROTECT, **options) -> models.ForeignKey:
    """A foreign key to a user, without a database constraint (see the module)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=on_delete,
        related_name="+",
        db_constraint=False,
        null=null,
        blank=null,
        **options,
    )


def user_keys_drop(*tables: str) -> migrations.RunSQL:
    """A migration step for schemas migrated before users were referenced without keys: drop
    the foreign keys from `tables` to the users table, where there are any.

    The history creates none any more, so a schema migrated since (every new spare) finds
    nothing and takes no lock on the users table; dropping one takes an ACCESS EXCLUSIVE lock
    on it (its triggers go), once per older schema, at that deploy's `migrate_schemas`.
    """
    # Names come from this module's callers (migrations), never from input.
    names = ", ".join(f"'{table}'::regclass" for table in tables)
    return migrations.RunSQL(
        f"""
        DO $$
        DECLARE key record;
        BEGIN
            FOR key IN
                SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
                WHERE contype = 'f' AND confrelid = 'accounts_user'::regclass
                  AND conrelid IN ({names})
            LOOP
                EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', key.tbl, key.conname);
            END LOOP;
        END
        $$
        """,
        migrations.RunSQL.noop,
    )
