"""Public-host URLs for organizations."""

from rest_framework.routers import SimpleRouter

from .apis import OrganizationViewSet

router = SimpleRouter()
router.register("orgs", OrganizationViewSet, basename="organization")
urlpatterns = router.urls
