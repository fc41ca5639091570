"""A claimed spare is the schema today's path would have migrated, catalogue entry for
catalogue entry, and nothing of one claim ever reaches another."""

import pytest
from django.db import connection
from django_tenants.utils import quote_schema_name, schema_exists, tenant_context

from shared_apps.organizations.models import Organization, Role, SpareSchema
from shared_apps.organizations.schema_pool import spare_schema_names
from shared_apps.organizations.schema_pool.pool import pool_refill, spare_claim
from shared_apps.organizations.services import organization_create
from tenant_apps.activity.models import Activity
from tenant_apps.projects.models import Project
from tenant_apps.tasks.models import Task
from tests.factories import make_member, make_project, make_task, make_user

pytestmark = pytest.mark.django_db

# Each query takes the schema's name; every text in the result has the name replaced, so two
# schemas compare equal when they differ only by it.
CATALOGUE = {
    "schema": """
        SELECT pg_get_userbyid(nspowner), nspacl::text, obj_description(oid, 'pg_namespace')
        FROM pg_namespace WHERE nspname = %(schema)s""",
    "relations": """
        SELECT c.relname, c.relkind, c.relpersistence, c.reloptions::text, c.relchecks,
               c.relhasindex, c.relhastriggers, c.relrowsecurity, c.relreplident,
               pg_get_userbyid(c.relowner), c.relacl::text, obj_description(c.oid, 'pg_class'),
               CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s ORDER BY c.relname""",
    "columns": """
        SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
               a.attisdropped, coll.collname, a.attacl::text,
               col_description(c.oid, a.attnum)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation coll ON coll.oid = a.attcollation AND a.attcollation <> 0
        WHERE n.nspname = %(schema)s AND a.attnum > 0
        ORDER BY c.relname, a.attnum""",
    "indexes": """
        SELECT ic.relname, t.relname, pg_get_indexdef(i.indexrelid), i.indisunique,
               i.indisprimary, i.indisvalid, i.indisready, i.indimmediate
        FROM pg_index i
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = %(schema)s ORDER BY ic.relname""",
    "constraints": """
        SELECT t.relname, con.conname, con.contype, pg_get_constraintdef(con.oid),
               con.condeferrable, con.condeferred, con.convalidated,
               fn.nspname, ft.relname, con.confupdtype, con.confdeltype, con.confmatchtype
        FROM pg_constraint con
        JOIN pg_namespace n ON n.oid = con.connamespace
        LEFT JOIN pg_class t ON t.oid = con.conrelid
        LEFT JOIN pg_class ft ON ft.oid = con.confrelid
        LEFT JOIN pg_namespace fn ON fn.oid = ft.relnamespace
        WHERE n.nspname = %(schema)s ORDER BY t.relname, con.conname""",
    "sequences": """
        SELECT s.sequencename, s.data_type::text, s.start_value, s.min_value, s.max_value,
               s.increment_by, s.cycle, s.cache_size, s.last_value,
               owner_table.relname, owner_column.attname, dep.deptype
        FROM pg_sequences s
        JOIN pg_namespace n ON n.nspname = s.schemaname
        JOIN pg_class seq ON seq.relname = s.sequencename AND seq.relnamespace = n.oid
        LEFT JOIN pg_depend dep ON dep.objid = seq.oid AND dep.classid = 'pg_class'::regclass
             AND dep.refclassid = 'pg_class'::regclass
        LEFT JOIN pg_class owner_table ON owner_table.oid = dep.refobjid
        LEFT JOIN pg_attribute owner_column ON owner_column.attrelid = dep.refobjid
             AND owner_column.attnum = dep.refobjsubid
        WHERE s.schemaname = %(schema)s ORDER BY s.sequencename""",
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND NOT t.tgisinternal ORDER BY c.relname, t.tgname""",
    "internal triggers": """
        SELECT c.relname, t.tgtype, t.tgenabled, t.tgdeferrable, t.tginitdeferred, count(*)
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND t.tgisinternal
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5""",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), p.prokind,
               CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %(schema)s ORDER BY 1, 2""",
    "types": """
        SELECT t.typname, t.typtype, t.typcategory, t.typlen
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = %(schema)s ORDER BY t.typname""",
    "policies": """
        SELECT c.relname, p.polname, p.polcmd, p.polpermissive,
               pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
        FROM pg_policy p
        JOIN pg_class c ON c.oid = p.polrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s ORDER BY 1, 2""",
}


def _normalized(value, schema: str):
    if isinstance(value, str):
        return value.replace(schema, "<schema>")
    if isinstance(value, list | tuple):
        return type(value)(_normalized(item, schema) for item in value)
    return value


def _query(sql: str, schema: str, params: dict | None = None) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params if params is not None else {"schema": schema})
        return [_normalized(row, schema) for row in cursor.fetchall()]


def catalogue(schema: str) -> dict:
    """Everything PostgreSQL knows about `schema`, its sequences' positions, its recorded
    migrations and the rows of each of its tables, with the schema's name normalized."""
    snapshot = {name: _query(sql, schema) for name, sql in CATALOGUE.items()}
    quoted = quote_schema_name(schema)
    sequences = [row[0] for row in snapshot["sequences"]]
    snapshot["sequence positions"] = {
        name: _query(f'SELECT last_value, is_called FROM {quoted}."{name}"', schema, ())
        for name in sequences
    }
    snapshot["migrations"] = _query(
        f"SELECT app, name FROM {quoted}.django_migrations ORDER BY app, name", schema, ()
    )
    tables = [row[0] for row in snapshot["relations"] if row[1] == "r"]
    snapshot["rows"] = {
        table: _query(
            f'SELECT row_to_json(t)::text FROM {quoted}."{table}" t ORDER BY 1', schema, ()
        )
        for table in tables
        if table != "django_migrations"  # `applied` is when; the names are compared above
    }
    return snapshot


def _fresh_schema(schema: str) -> None:
    """Today's path, on its own: CREATE SCHEMA and every migration (django-tenants)."""
    Organization(schema_name=schema).create_schema(check_if_exists=False, verbosity=0)


def test_every_claimed_spare_is_identical_to_a_freshly_migrated_schema():
    # Two spares: the first is migrated while its statements are recorded (unless this
    # process recorded them already), the second replays them.
    spares = pool_refill(size=2).created
    _fresh_schema("org_fresh_reference")
    reference = catalogue("org_fresh_reference")

    for index, spare in enumerate(spares):
        claimed = f"org_claimed_{index}"
        assert spare_claim(schema_name=claimed) == spare

        assert catalogue(claimed) == reference, spare


# One change of each kind the comparison must notice.
DIFFERENCES = {
    "index": 'CREATE INDEX "extra" ON {schema}.tasks_task (title)',
    "default": "ALTER TABLE {schema}.tasks_task ALTER COLUMN title SET DEFAULT 'x'",
    "nullability": "ALTER TABLE {schema}.tasks_task ALTER COLUMN description DROP NOT NULL",
    "constraint": "ALTER TABLE {schema}.tasks_task ADD CONSTRAINT extra CHECK (id > 0)",
    "sequence position": "SELECT nextval('{schema}.projects_project_id_seq')",
    "row": "UPDATE {schema}.activity_changecounter SET version = 1",
    "migration": "DELETE FROM {schema}.django_migrations WHERE name = '0004_dashboard_indexes'",
    "trigger": (
        "CREATE FUNCTION {schema}.noop() RETURNS trigger LANGUAGE plpgsql AS "
        "'BEGIN RETURN NEW; END'; CREATE TRIGGER extra BEFORE INSERT ON {schema}.tasks_task "
        "FOR EACH ROW EXECUTE FUNCTION {schema}.noop()"
    ),
}


@pytest.mark.parametrize("difference", DIFFERENCES)
def test_the_comparison_notices_any_difference(difference):
    spare = pool_refill(size=1).created[0]
    before = catalogue(spare)
    with connection.cursor() as cursor:
        cursor.execute(DIFFERENCES[difference].format(schema=quote_schema_name(spare)))

    assert catalogue(spare) != before


def test_a_fresh_schema_has_tables_sequences_and_rows_as_expected():
    # The identity test compares like with like; this pins what "fresh" means.
    (spare,) = pool_refill(size=1).created
    spare_claim(schema_name="org_claimed_fresh")

    snapshot = catalogue("org_claimed_fresh")

    tables = {row[0] for row in snapshot["relations"] if row[1] == "r"}
    assert {"tasks_task", "projects_project", "activity_activity", "django_migrations"} <= tables
    positions = snapshot["sequence positions"]
    # Only the migration records have used a sequence; every other one starts at 1.
    assert positions.pop("django_migrations_id_seq") == [(len(snapshot["migrations"]), True)]
    assert positions and all(position == [(1, False)] for position in positions.values())
    assert snapshot["rows"]["activity_changecounter"] == [('{"id":1,"version":0}',)]
    assert all(
        rows == [] for table, rows in snapshot["rows"].items() if "changecounter" not in table
    )
    # Users are referenced by id without constraints (tenant_apps.people).
    assert not [row for row in snapshot["constraints"] if row[8] == "accounts_user"]
    assert any(row[2] == "f" and row[7] == "<schema>" for row in snapshot["constraints"])


def test_nothing_of_one_claimed_organization_reaches_the_next():
    spares = pool_refill(size=3).created
    first = organization_create(name="First", slug="first-claim", admin=make_user())
    admin = make_member(first, Role.ADMIN)
    project = make_project(first, created_by=admin)
    make_task(first, project=project, created_by=admin, assignee_ids=[admin.pk])

    second = organization_create(name="Second", slug="second-claim", admin=make_user())

    with tenant_context(second):
        assert not Project.all_objects.exists()
        assert not Task.all_objects.exists()
        # Only its own first member's entry; its ids start afresh.
        assert list(Activity.objects.values_list("id", "verb")) == [(1, "member_added")]
        fresh = make_project(second, created_by=admin)
    assert fresh.pk == 1
    with tenant_context(first):
        assert Project.all_objects.count() == 1
    # The spares the two took are gone for good; the third is untouched.
    assert spare_schema_names() == [spares[2]]
    assert not any(schema_exists(name) for name in spares[:2])
    assert not SpareSchema.objects.filter(name__in=spares[:2]).exists()


def test_a_spare_once_claimed_is_never_handed_out_again():
    claimed = set()
    for index in range(3):
        pool_refill(size=1)
        spare = spare_claim(schema_name=f"org_taken_{index}")
        assert spare is not None and spare not in claimed
        claimed.add(spare)

    pool_refill(size=3)

    assert claimed.isdisjoint(spare_schema_names())
    assert claimed.isdisjoint(SpareSchema.objects.values_list("name", flat=True))


def _by_namespace_scan(name: str) -> str:
    """The fingerprint's objects found the obvious way (scans of the catalogue for the
    namespace), to check that the indexed lookups of schema_fingerprint miss none."""
    from shared_apps.organizations.schema_pool import state

    by_scan = """
        WITH objects(kind, definition) AS (
            SELECT 'relation', concat_ws(':', c.relname, c.relkind, c.relpersistence)
            FROM pg_class c WHERE c.relnamespace = %(oid)s
          UNION ALL
            SELECT 'constraint', concat_ws(':', con.conname, pg_get_constraintdef(con.oid),
                con.condeferrable, con.condeferred, con.convalidated)
            FROM pg_constraint con WHERE con.connamespace = %(oid)s
          UNION ALL
            SELECT 'function', pg_get_functiondef(p.oid)
            FROM pg_proc p WHERE p.pronamespace = %(oid)s AND p.prokind IN ('f', 'p')
        )
        SELECT md5(string_agg(kind || ' ' || definition, E'\\n' ORDER BY kind, definition))
        FROM objects"""
    by_index = state._FINGERPRINT.replace(
        "SELECT md5(string_agg(kind || ' ' || replace(definition, %(name)s, '<schema>')",
        "SELECT md5(string_agg(kind || ' ' || definition",
    ).replace(
        "FROM objects\n", "FROM objects WHERE kind IN ('relation', 'constraint', 'function')\n"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regnamespace(%s)::oid", [name])
        (oid,) = cursor.fetchone()
        results = []
        for sql in (by_scan, by_index):
            cursor.execute(sql, {"oid": oid, "name": name})
            results.append(cursor.fetchone()[0])
    return results


def test_the_fingerprint_finds_every_relation_constraint_and_function(acme):
    by_scan, by_index = _by_namespace_scan(acme.schema_name)

    assert by_scan is not None
    assert by_index == by_scan
