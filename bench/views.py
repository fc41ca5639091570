"""The throughput benchmark's two reference views of the task list's first page (50 newest
tasks with creator and assignees), mounted only by bench.settings.

* BareTaskList: what a plain DRF list gives: ListAPIView, the API's TaskSerializer (nested
  ModelSerializers for the people), select_related/prefetch_related, token authentication;
  no membership check, rate limits, filters or cursor links.
* floor_task_list: the least any Django view can do for the same JSON: the token, the same two
  queries as `.values()` rows, dicts built inline, orjson.
"""

import orjson
from django.http import HttpResponse, JsonResponse
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated

from shared_apps.accounts.authentication import BearerTokenAuthentication
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.selectors import task_list
from tenant_apps.tasks.serializers import TaskSerializer

PAGE_SIZE = 50
PEOPLE = ("id", "email", "full_name")
TASK_COLUMNS = (
    "id",
    "project",
    "title",
    "description",
    "status",
    "priority",
    "due_date",
    "created_by__id",
    "created_by__email",
    "created_by__full_name",
    "created_at",
    "updated_at",
    "deleted_at",
)


class BareTaskList(ListAPIView):
    """The first page as a bare DRF view serves it."""

    serializer_class = TaskSerializer
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = []
    filter_backends = []
    pagination_class = None

    def get_queryset(self):
        return task_list()[:PAGE_SIZE]


def floor_task_list(request):
    """The first page with nothing but what it needs (the floor of the comparison)."""
    try:
        authenticated = BearerTokenAuthentication().authenticate(request)
    except AuthenticationFailed as exc:
        return JsonResponse({"detail": str(exc.detail)}, status=401)
    if authenticated is None:
        return JsonResponse({"detail": "Authentication credentials were not provided."}, status=401)
    rows = list(Task.objects.order_by("-created_at", "-id").values(*TASK_COLUMNS)[:PAGE_SIZE])
    assignees: dict[int, list] = {}
    for task_id, *person in (
        Task.assignees.through.objects.filter(task_id__in=[row["id"] for row in rows])
        .order_by("user__email")
        .values_list("task_id", "user__id", "user__email", "user__full_name")
    ):
        assignees.setdefault(task_id, []).append(dict(zip(PEOPLE, person, strict=True)))
    results = [
        {
            "id": row["id"],
            "project": row["project"],
            "title": row["title"],
            "description": row["description"],
            "status": row["status"],
            "priority": row["priority"],
            "due_date": row["due_date"],
            "created_by": {
                "id": row["created_by__id"],
                "email": row["created_by__email"],
                "full_name": row["created_by__full_name"],
            },
            "assignees": assignees.get(row["id"], []),
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "deleted_at": row["deleted_at"],  # live tasks: always null, like deleted_by
            "deleted_by": None,
        }
        for row in rows
    ]
    # orjson writes dates and UTC times as DRF does (`Z`, microseconds when non-zero).
    return HttpResponse(
        orjson.dumps({"results": results}, option=orjson.OPT_UTC_Z),
        content_type="application/json",
    )
