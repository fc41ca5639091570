"""The session-mode backend (saas/db/session): no `SET search_path` when the connection already
has the schema, and never a statement on a schema other than the one selected, whatever
sequence of tenants, commits, rollbacks and savepoint rollbacks runs before it."""

import psycopg2.extensions
import pytest
from django.conf import settings
from django.db.utils import load_backend
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db(transaction=False)


class RecordingCursor(psycopg2.extensions.cursor):
    """Every statement the connection sends, raw ones (django-tenants' SET) included."""

    sent: list[str] = []

    def execute(self, query, vars=None):
        RecordingCursor.sent.append(query if isinstance(query, str) else query.decode())
        return super().execute(query, vars)


@pytest.fixture
def own():
    """A connection through saas.db.session of its own to the test database (autocommit;
    the test database's organizations are committed, so it sees them); closed afterwards."""
    engine = "saas.db.session"
    options = {**settings.DATABASES["default"].get("OPTIONS", {})}
    options["cursor_factory"] = RecordingCursor
    settings_dict = {**settings.DATABASES["default"], "ENGINE": engine, "OPTIONS": options}
    wrapper = load_backend(engine).DatabaseWrapper(settings_dict, alias="default")
    RecordingCursor.sent = []
    yield wrapper
    wrapper.close()


def serve(wrapper, schema_name: str) -> str:
    """What a request to `schema_name` does: select it, run a query; the search path the
    query ran with, as the server saw it."""
    wrapper.set_schema_to_public()  # as django-tenants' middleware does first
    wrapper.set_schema(schema_name)
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        return cursor.fetchone()[0]


def sets(wrapper) -> list[str]:
    return [sql for sql in RecordingCursor.sent if sql.startswith("SET search_path")]


def expected(schema_name: str) -> str:
    return "public" if schema_name == "public" else f"{schema_name}, public"


def test_the_same_organization_again_sends_no_set(own, acme):
    assert serve(own, acme.schema_name) == expected(acme.schema_name)
    assert len(sets(own)) == 1

    for _ in range(3):
        assert serve(own, acme.schema_name) == expected(acme.schema_name)

    assert len(sets(own)) == 1


def test_another_organization_is_set_and_so_is_the_first_one_again(own, acme, globex):
    serve(own, acme.schema_name)
    assert serve(own, globex.schema_name) == expected(globex.schema_name)
    assert serve(own, acme.schema_name) == expected(acme.schema_name)
    assert serve(own, "public") == "public"

    assert len(sets(own)) == 4


def test_a_set_undone_by_a_rollback_is_sent_again(own, acme, globex):
    serve(own, acme.schema_name)
    with pytest.raises(RuntimeError), atomic(own):
        assert serve(own, globex.schema_name) == expected(globex.schema_name)
        raise RuntimeError

    # The rollback undid that SET on the server (SET is transactional): it is sent again.
    assert serve(own, globex.schema_name) == expected(globex.schema_name)
    assert len(sets(own)) == 3


def test_a_new_connection_is_set(own, acme):
    serve(own, acme.schema_name)
    own.close()

    assert serve(own, acme.schema_name) == expected(acme.schema_name)
    assert len(sets(own)) == 2


# A step: select a tenant and run a query, in autocommit, in a transaction that commits or
# rolls back, or after a savepoint that is rolled back.
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["acme", "globex", "public"]),
        st.sampled_from(["autocommit", "commit", "rollback", "savepoint_rollback"]),
    ),
    min_size=1,
    max_size=12,
)


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
def test_every_query_runs_on_the_schema_selected_whatever_came_before(own, acme, globex, steps):
    schemas = {"acme": acme.schema_name, "globex": globex.schema_name, "public": "public"}
    for name, how in steps:
        schema_name = schemas[name]
        if how == "autocommit":
            assert serve(own, schema_name) == expected(schema_name)
            continue
        try:
            with atomic(own):
                if how == "savepoint_rollback":
                    savepoint = own.savepoint()
                    assert serve(own, schema_name) == expected(schema_name)
                    own.savepoint_rollback(savepoint)
                else:
                    assert serve(own, schema_name) == expected(schema_name)
                if how == "rollback":
                    raise RuntimeError
        except RuntimeError:
            pass
        # Whatever the transaction did, the next query runs where it is told to.
        other = schemas["globex" if name != "globex" else "acme"]
        assert serve(own, other) == expected(other)
        assert serve(own, schema_name) == expected(schema_name)


class atomic:
    """A transaction on `wrapper` (commit, or rollback when the block raises)."""

    def __init__(self, wrapper):
        self.wrapper = wrapper

    def __enter__(self):
        self.wrapper.set_autocommit(False)

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.wrapper.commit()
        else:
            self.wrapper.rollback()
        self.wrapper.set_autocommit(True)
        return False
