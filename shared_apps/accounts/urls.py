"""Public-host URLs for accounts (/api/auth/...)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("register/", apis.RegisterApi.as_view(), name="auth-register"),
    path("verify-email/", apis.VerifyEmailApi.as_view(), name="auth-verify-email"),
    path("login/", apis.LoginApi.as_view(), name="auth-login"),
    path("logout/", apis.LogoutApi.as_view(), name="auth-logout"),
    path("logout-all/", apis.LogoutAllApi.as_view(), name="auth-logout-all"),
    path("password/", apis.PasswordChangeApi.as_view(), name="auth-password-change"),
    path("password-reset/", apis.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "password-reset/confirm/",
        apis.PasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
]
