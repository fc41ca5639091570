"""API URLs work with or without their trailing slash."""

from django.urls import Resolver404, resolve

from saas.api.views import api_not_found

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
