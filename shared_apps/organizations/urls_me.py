"""Public-host URLs under /api/auth/ that involve organizations: profile and invitations."""

from django.urls import path

from . import apis

urlpatterns = [
    path("me/", apis.MeApi.as_view(), name="auth-me"),
    path(
        "invitations/accept/",
        apis.InvitationTokenAcceptApi.as_view(),
        name="auth-invitation-accept-token",
    ),
    path(
        "invitations/<int:pk>/accept/",
        apis.MyInvitationAcceptApi.as_view(),
        name="auth-invitation-accept",
    ),
]
