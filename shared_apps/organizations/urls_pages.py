"""Base-host pages for invitations (under /accounts/invitations/)."""

from django.urls import path

from . import pages

urlpatterns = [
    path("accept/", pages.AcceptInvitationPage.as_view(), name="invitation-accept-form"),
    path("<str:token>/", pages.AcceptInvitationLinkPage.as_view(), name="invitation-accept-page"),
]
