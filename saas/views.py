"""Project-wide JSON views: not-found tenant, 404/500 handlers."""

from django.http import JsonResponse


def tenant_not_found(request, *args, **kwargs):
    """No active organization answers at this host."""
    return JsonResponse({"detail": "No organization is served at this address."}, status=404)


def not_found(request, exception=None):
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request):
    return JsonResponse({"detail": "Internal server error."}, status=500)


def bad_request(request, exception=None):
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request, exception=None):
    return JsonResponse(
        {"detail": "You do not have permission to perform this action."}, status=403
    )
