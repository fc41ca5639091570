"""Base-host pages under /accounts/ that emailed links open."""

from django.urls import path

from . import pages

urlpatterns = [
    path("reset/<uidb64>/<token>/", pages.SetPasswordPage.as_view(), name="account-set-password"),
    path("reset/done/", pages.SetPasswordDonePage.as_view(), name="account-set-password-done"),
    path(
        "verify-email/<uidb64>/<token>/",
        pages.VerifyEmailPage.as_view(),
        name="account-verify-email",
    ),
]
