"""Tenant-host URLs for members."""

from rest_framework.routers import SimpleRouter

from .apis import MemberViewSet

router = SimpleRouter()
router.register("members", MemberViewSet, basename="member")
urlpatterns = router.urls
