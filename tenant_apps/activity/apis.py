"""The activity log on organization hosts: read-only, for every member."""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import mixins, viewsets

from saas.api.pagination import Ordering
from shared_apps.organizations.permissions import ActionPermissionsMixin, IsOrgMember

from .filters import ActivityFilter
from .selectors import activity_list
from .serializers import ActivitySerializer

# Newest first by default; (created_at, id) is indexed alone and after each filter's column.
ACTIVITY_ORDERINGS = {"created_at": Ordering.field("created_at")}
ACTIVITY_DEFAULT_ORDERING = "-created_at"


class ActivityViewSet(ActionPermissionsMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """What happened in this organization: tasks, projects and members, newest first.

    Entries are written only by the services, in the transaction of the change they record;
    no endpoint creates, edits or deletes one (other methods answer 405).
    """

    serializer_class = ActivitySerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ActivityFilter
    orderings = ACTIVITY_ORDERINGS
    default_ordering = ACTIVITY_DEFAULT_ORDERING
    action_permissions = {"list": [IsOrgMember]}

    def get_queryset(self):
        return activity_list()
