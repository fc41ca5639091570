"""Record what one fresh migration of a tenant schema executes, and replay it into a new
schema: the same DDL and rows, sent in one round trip instead of running Django's migrate
(tens of milliseconds instead of hundreds, and flat as migrations accumulate)."""

import logging
import re

from django.core.management import call_command
from django.db import connection
from django_tenants.postgresql_backend.base import EXTRA_SEARCH_PATHS
from django_tenants.utils import schema_context

logger = logging.getLogger(__name__)

# Transaction control: the replay runs in one transaction of its own.
_SAVEPOINT = re.compile(r"\s*(SAVEPOINT|RELEASE\s+SAVEPOINT)\b", re.IGNORECASE)
_ROLLBACK = re.compile(r"\s*ROLLBACK\b", re.IGNORECASE)
# Reads change nothing (introspection, the recorder's own queries, RunPython's lookups)...
_READ = re.compile(r"\s*(SELECT|SHOW)\b", re.IGNORECASE)
# ...unless they move a sequence.
_SEQUENCE_WRITE = re.compile(r"\b(nextval|setval)\s*\(", re.IGNORECASE)
# django-tenants points the search path at the schema being migrated (and back); the replay
# runs under schema_context() instead.
_SEARCH_PATH = re.compile(
    r"\s*SET\s+((LOCAL|SESSION)\s+)?search_path\s*(=|TO)\s*(?P<path>.*?)\s*;?\s*\Z", re.I | re.S
)


class NotReplayable(Exception):
    """The migration did something a replay could not reproduce exactly."""


class Recorder:
    """An execute wrapper keeping, parameters inlined, every statement that changes the
    schema being migrated (`connection.execute_wrapper(recorder)`)."""

    def __init__(self, schema_name: str):
        self.schema_name = schema_name
        self.statements: list[str] = []
        self.problem: str | None = None

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        for one in params if many else [params]:
            self._keep(sql if one is None else context["connection"].ops.compose_sql(sql, one))
        return result

    def _keep(self, statement: str) -> None:
        if _SAVEPOINT.match(statement):
            return
        if _ROLLBACK.match(statement):
            self._refuse("rolled back part of its work")
        elif path := _SEARCH_PATH.match(statement):
            schemas = {part.strip().strip("\"'") for part in path["path"].split(",")}
            if not schemas <= {self.schema_name, "public", *EXTRA_SEARCH_PATHS}:
                self._refuse(f"set its own search path: {statement}")
        elif _READ.match(statement) and not _SEQUENCE_WRITE.search(statement):
            return
        elif self.schema_name in statement:
            self._refuse(f"named the schema it migrated: {statement[:200]}")
        else:
            self.statements.append(statement)

    def _refuse(self, reason: str) -> None:
        if self.problem is None:
            self.problem = reason


def migrate_and_record(schema_name: str) -> list[str]:
    """Migrate the existing, empty schema `schema_name` with django-tenants' own command
    (the standard executor: in this process, on this connection, inside the caller's
    transaction) and return what it executed, replayable into another schema.

    Raises NotReplayable (the schema is migrated all the same) if the migrations did
    something a replay could not reproduce: named the schema, changed the search path
    themselves, or rolled back to a savepoint.
    """
    recorder = Recorder(schema_name)
    with connection.execute_wrapper(recorder):
        call_command(
            "migrate_schemas",
            tenant=True,
            schema_name=schema_name,
            executor="standard",
            interactive=False,
            verbosity=0,
        )
    connection.set_schema_to_public()
    if recorder.problem:
        raise NotReplayable(recorder.problem)
    return recorder.statements


def replay(schema_name: str, statements: list[str]) -> None:
    """Execute a recorded migration in the existing, empty schema `schema_name`, in one
    round trip. Unqualified names resolve as they did when it was recorded: new objects go
    to the schema, references to shared tables (the users) to public."""
    with schema_context(schema_name), connection.cursor() as cursor:
        # No parameters: the driver sends the script as it is, all statements at once.
        cursor.execute(";\n".join(statements))
