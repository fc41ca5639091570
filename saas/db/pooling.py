"""DATABASE_POOL_MODE: how the application reaches PostgreSQL, and what each mode allows.

- `session` (the default): PostgreSQL directly, or a pooler that gives each client one server
  connection for the client's whole session (PgBouncer `pool_mode = session`). django-tenants'
  backend sets the schema with a session-level `SET search_path`, which is safe there;
  `saas.db.session` skips that statement when the connection already has that schema.
- `transaction`: PgBouncer `pool_mode = transaction`, where consecutive transactions of one
  client may run on different server connections. A session-level `SET search_path` would stay
  behind on a server connection that another client gets next, and that client would read and
  write another organization's tables. The backend `saas.db` sends the schema inside every
  transaction instead (`SET LOCAL`), never as session state.

Statement pooling is refused: it forbids transactions of more than one statement, which every
write here needs.
"""

from django.core.exceptions import ImproperlyConfigured

SESSION = "session"
TRANSACTION = "transaction"
POOL_MODES = (SESSION, TRANSACTION)
# The database backend for each mode (DATABASES["default"]["ENGINE"]).
ENGINES = {SESSION: "saas.db.session", TRANSACTION: "saas.db"}

UNKNOWN_MODE = (
    "DATABASE_POOL_MODE={value!r} is not supported. Use `session` when DATABASE_URL reaches "
    "PostgreSQL directly or through a pooler in session mode, or `transaction` behind "
    "PgBouncer's pool_mode=transaction."
)
STATEMENT_MODE = (
    "DATABASE_POOL_MODE=statement is refused: statement pooling forbids transactions of more "
    "than one statement, and every write of this application (onboarding, task changes with "
    "their activity entries) is one. Run PgBouncer with pool_mode=transaction and set "
    "DATABASE_POOL_MODE=transaction, or use pool_mode=session and DATABASE_POOL_MODE=session."
)
WORKER_REFUSED = (
    "Celery workers cannot run with DATABASE_POOL_MODE=transaction: a job holds session "
    "state across transactions (an export's advisory lock, released when the job ends), which "
    "a transaction pooler hands to other clients. Point the workers' DATABASE_URL at "
    "PostgreSQL directly (or at a pooler in session mode) with DATABASE_POOL_MODE=session."
)


def pool_mode(value: str) -> str:
    """The validated DATABASE_POOL_MODE; ImproperlyConfigured (the process does not start)
    for statement pooling or an unknown value."""
    mode = (value or SESSION).strip().lower()
    if mode == "statement":
        raise ImproperlyConfigured(STATEMENT_MODE)
    if mode not in POOL_MODES:
        raise ImproperlyConfigured(UNKNOWN_MODE.format(value=value))
    return mode


def refuse_worker_behind_transaction_pooler() -> None:
    """Stop a Celery worker at start-up when DATABASE_POOL_MODE is transaction (SystemExit:
    Celery logs and ignores ordinary exceptions raised by its start-up signals)."""
    from django.conf import settings

    if settings.DATABASE_POOL_MODE == TRANSACTION:
        raise SystemExit(f"ERROR: {WORKER_REFUSED}")
