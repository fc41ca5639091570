"""What a PostgreSQL that is down, restarting or out of connections looks like to Django, as
opposed to an error in a query (a bug, a deadlock, a timeout), which stays what it is."""

import logging

from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

# Seconds a client is told to wait (`Retry-After`): PostgreSQL restarts in seconds.
RETRY_AFTER_SECONDS = 5

# SQLSTATE classes and codes meaning "the server cannot serve you now": connection
# exceptions (08), insufficient resources such as too many connections (53), and the
# server shutting down, crashed, or still starting (57P01-57P03).
_UNAVAILABLE_CLASSES = ("08", "53")
_UNAVAILABLE_CODES = {"57P01", "57P02", "57P03"}


def database_unavailable(error: BaseException | None) -> bool:
    """Whether `error` means PostgreSQL could not be reached or dropped the connection (the
    request may succeed if retried shortly), rather than a query that failed."""
    if not isinstance(error, (OperationalError, InterfaceError)):
        return False
    # Django wraps the driver's exception; libpq reports lost and refused connections
    # without a SQLSTATE, the server its shutdowns and refusals with one.
    code = getattr(error.__cause__, "pgcode", None)
    return code is None or code.startswith(_UNAVAILABLE_CLASSES) or code in _UNAVAILABLE_CODES


def log_database_unavailable(error: BaseException, path: str) -> None:
    """One line per refused request, without a traceback: the cause is outside the code."""
    logger.warning("Database unavailable (%s): 503 for %s", str(error).strip(), path)
