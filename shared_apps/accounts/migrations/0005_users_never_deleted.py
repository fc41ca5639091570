"""A user's row is never deleted: organizations' tables keep users' ids without foreign-key
constraints (tenant_apps.people), so PostgreSQL itself refuses the DELETE (users are
deactivated instead). A transaction that sets `saas.allow_user_delete` to `on` may still
delete (a test's own users, once their every trace is gone)."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION accounts_user_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('saas.allow_user_delete', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'user % is referenced by organizations: deactivate it, never delete it',
        OLD.id USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER accounts_user_never_deleted BEFORE DELETE ON accounts_user
    FOR EACH ROW EXECUTE FUNCTION accounts_user_never_deleted();
"""

BACKWARD = """
DROP TRIGGER accounts_user_never_deleted ON accounts_user;
DROP FUNCTION accounts_user_never_deleted();
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_user_email_upper_index")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
