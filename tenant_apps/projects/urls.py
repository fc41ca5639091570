"""Tenant-host URLs for projects."""

from rest_framework.routers import SimpleRouter

from .apis import ProjectViewSet

router = SimpleRouter()
router.register("projects", ProjectViewSet, basename="project")
urlpatterns = router.urls
