"""Tenant-host URLs for the activity log."""

from rest_framework.routers import SimpleRouter

from .apis import ActivityViewSet

router = SimpleRouter()
router.register("activity", ActivityViewSet, basename="activity")
urlpatterns = router.urls
