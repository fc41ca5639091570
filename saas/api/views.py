"""Project-wide JSON views: not-found tenant, unknown API URLs, 404/500 handlers."""

import sys

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from saas.api import messages
from saas.db.errors import RETRY_AFTER_SECONDS, database_unavailable, log_database_unavailable


def tenant_not_found(request, *args, **kwargs):
    """No active organization answers at this host."""
    return JsonResponse({"detail": "No organization is served at this address."}, status=404)


@csrf_exempt  # a POST must get this JSON 404, not the CSRF check's HTML 403
def api_not_found(request, detail=messages.API_NOT_FOUND):
    """Any /api/ URL no route matches, in every mode: the URLconfs end with it, because with
    DEBUG on Django answers unmatched URLs with its HTML page and never calls handler404."""
    return JsonResponse({"detail": detail.format(base_domain=settings.BASE_DOMAIN)}, status=404)


def not_found(request, exception=None):
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request):
    # Django calls this while handling the exception: one that means PostgreSQL is down
    # (raised before any view ran, e.g. by the organization lookup) is a 503, not a 500.
    error = sys.exc_info()[1]
    if database_unavailable(error):
        log_database_unavailable(error, request.path)
        return database_unavailable_response()
    return JsonResponse({"detail": "Internal server error."}, status=500)


def database_unavailable_response() -> JsonResponse:
    """503 while PostgreSQL is down, restarting or out of connections: retry shortly."""
    response = JsonResponse({"detail": messages.DATABASE_UNAVAILABLE}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def bad_request(request, exception=None):
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request, exception=None):
    return JsonResponse(
        {"detail": "You do not have permission to perform this action."}, status=403
    )
