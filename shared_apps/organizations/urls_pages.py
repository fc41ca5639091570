"""Base-host pages for invitations (under /accounts/invitations/)."""

from django.urls import path

from . import pages

urlpatterns = [
    path("<str:token>/", pages.AcceptInvitationPage.as_view(), name="invitation-accept-page"),
]
