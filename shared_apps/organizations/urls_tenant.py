"""Tenant-host URLs for members and invitations."""

from rest_framework.routers import SimpleRouter

from .apis import InvitationViewSet, MemberViewSet

router = SimpleRouter()
router.register("members", MemberViewSet, basename="member")
router.register("invitations", InvitationViewSet, basename="invitation")
urlpatterns = router.urls
