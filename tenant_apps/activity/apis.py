"""The activity log on organization hosts: read-only, for every member."""

from rest_framework import mixins, viewsets

from saas.api.filter_backends import DjangoFilterBackendSkippingAbsent
from saas.api.pagination import Ordering
from saas.api.renderers import FastJSONRenderMixin
from shared_apps.organizations.permissions import ActionPermissionsMixin, IsOrgMember

from .filters import ActivityFilter
from .selectors import activity_list
from .serializers import ACTIVITY_ROWS, ActivitySerializer

# Newest first by default; (created_at, id) is indexed alone and after each filter's column.
ACTIVITY_ORDERINGS = {"created_at": Ordering.field("created_at")}
ACTIVITY_DEFAULT_ORDERING = "-created_at"


class ActivityViewSet(
    FastJSONRenderMixin, ActionPermissionsMixin, mixins.ListModelMixin, viewsets.GenericViewSet
):
    """What happened in this organization: tasks, projects and members, newest first.

    Entries are written only by the services, in the transaction of the change they record;
    no endpoint creates, edits or deletes one (other methods answer 405).
    """

    # (Not in the docstring, the OpenAPI description.) The list is built from `.values()` rows
    # and rendered with orjson (saas.api.values, saas.api.renderers); ActivitySerializer
    # describes it in the schema (tests/tenant_apps/tasks/test_read_fast_path.py).

    serializer_class = ActivitySerializer
    filter_backends = [DjangoFilterBackendSkippingAbsent]
    filterset_class = ActivityFilter
    orderings = ACTIVITY_ORDERINGS
    default_ordering = ACTIVITY_DEFAULT_ORDERING
    action_permissions = {"list": [IsOrgMember]}

    def get_queryset(self):
        return activity_list()

    def list(self, request):
        page = self.paginate_queryset(
            ACTIVITY_ROWS.values(self.filter_queryset(self.get_queryset()))
        )
        return self.get_paginated_response(ACTIVITY_ROWS.to_representation(page))
