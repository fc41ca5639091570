"""Tenant-host URLs for exports."""

from rest_framework.routers import SimpleRouter

from .apis import ExportViewSet

router = SimpleRouter()
router.register("exports", ExportViewSet, basename="export")
urlpatterns = router.urls
