"""Tenant-host URLs for tasks."""

from rest_framework.routers import SimpleRouter

from .apis import TaskViewSet

router = SimpleRouter()
router.register("tasks", TaskViewSet, basename="task")
urlpatterns = router.urls
