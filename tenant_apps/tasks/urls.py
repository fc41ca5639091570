"""Tenant-host URLs for tasks."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .apis import DashboardApi, TaskViewSet

router = SimpleRouter()
router.register("tasks", TaskViewSet, basename="task")
urlpatterns = [
    path("dashboard/", DashboardApi.as_view(), name="dashboard"),
    *router.urls,
]
