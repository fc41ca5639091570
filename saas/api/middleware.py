"""API middleware: URLs with or without their trailing slash; server errors as JSON."""

import logging

from django.core.signals import got_request_exception
from django.urls import Resolver404, resolve

from saas.api.views import api_not_found, database_unavailable_response, server_error
from saas.db.errors import database_unavailable, log_database_unavailable

API_PREFIX = "/api/"


class ApiTrailingSlashMiddleware:
    """Serves `/api/tasks` as `/api/tasks/`, for every API route on every host.

    Django's APPEND_SLASH answers with a redirect instead, which clients follow with a GET (a
    POST's body is lost; with DEBUG on it is a RuntimeError, a 500). Rewriting the path before
    URL resolution keeps one canonical form in the URLconfs, so reverse() and the OpenAPI
    paths still end with a slash. Goes after the tenant middleware, which picks the URLconf.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(API_PREFIX) and not path.endswith("/"):
            urlconf = getattr(request, "urlconf", None)
            if _is_api_route(path + "/", urlconf):
                request.path_info = path + "/"
                request.path = request.path + "/"
        return self.get_response(request)


def _is_api_route(path: str, urlconf) -> bool:
    """True if `path` reaches a real endpoint, not the URLconfs' JSON 404 for the rest."""
    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return False
    return match.func is not api_not_found


class ApiServerErrorMiddleware:
    """A view's unhandled exception under /api/ answers the JSON 500 in every mode, and on
    any path a 503 when it means PostgreSQL is unavailable (saas/db/errors.py).

    With DEBUG off Django already uses handler500 (JSON); with it on, Django would answer its
    technical page (HTML or plain text) to API clients. The traceback is logged either way,
    as Django logs it, and error reporters hear `got_request_exception` as usual. Last in
    MIDDLEWARE, so it sees view exceptions first.
    """

    logger = logging.getLogger("django.request")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if database_unavailable(exception):
            # PostgreSQL down: a 503 on every path (pages too), not a logged traceback.
            log_database_unavailable(exception, request.path)
            return database_unavailable_response()
        if not request.path_info.startswith(API_PREFIX):
            return None
        got_request_exception.send(sender=None, request=request)
        self.logger.error(
            "Internal Server Error: %s",
            request.path,
            exc_info=exception,
            extra={"status_code": 500, "request": request},
        )
        return server_error(request)
