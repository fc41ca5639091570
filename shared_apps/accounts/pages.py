"""Small pages on the base host that emailed links open (set a password, verify an address),
so every flow works with no front-end of its own."""

from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN, PasswordResetConfirmView
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import TemplateView

from .services import INVALID_LINK, email_verify, password_set
from .tokens import email_verification_token, password_token, user_from_link


def page_context() -> dict:
    return {"login_url": reverse("auth-login"), "docs_url": reverse("docs")}


class SetPasswordPage(PasswordResetConfirmView):
    """Django's reset-confirm view (it hides the token from the address bar and referrers)."""

    template_name = "accounts/pages/set_password.html"
    success_url = reverse_lazy("account-set-password-done")
    token_generator = password_token
    title = "Set your password"

    extra_context = {"invalid_link": INVALID_LINK}

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form):
        # The service, not form.save(): the link also proves the address and ends old tokens.
        password_set(user=form.user, new_password=form.cleaned_data["new_password1"])
        del self.request.session[INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())


class SetPasswordDonePage(TemplateView):
    template_name = "accounts/pages/set_password_done.html"
    extra_context = {"title": "Password set"}

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **page_context()}


VERIFY_SESSION_KEY = "verify_email_token"
# The URL's token once it moved to the session (Django's reset view does the same).
SESSION_TOKEN = "confirm"


@method_decorator(never_cache, name="dispatch")
@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class VerifyEmailPage(View):
    """GET asks for the sign-up password and POST verifies: mail scanners that open links
    verify nothing, and only whoever chose the password can activate the account. The token
    moves from the URL to the session first, so it does not linger in the address bar,
    the history, access logs or Referer headers."""

    template_name = "accounts/pages/verify_email.html"

    def get(self, request, uidb64, token):
        if token != SESSION_TOKEN:
            request.session[VERIFY_SESSION_KEY] = token
            return redirect("account-verify-email", uidb64=uidb64, token=SESSION_TOKEN)
        token = request.session.get(VERIFY_SESSION_KEY, "")
        return self._render(request, user=user_from_link(uidb64, token, email_verification_token))

    def post(self, request, uidb64, token):
        token = request.session.get(VERIFY_SESSION_KEY, "")
        user = user_from_link(uidb64, token, email_verification_token)
        if user is None:
            return self._render(request, user=None, status=400)
        try:
            email_verify(uidb64=uidb64, token=token, password=request.POST.get("password", ""))
        except ValidationError as exc:
            errors = exc.message_dict.get("password", exc.messages)
            return self._render(request, user=user, errors=errors, status=400)
        del request.session[VERIFY_SESSION_KEY]
        return self._render(request, user=user, verified=True)

    def _render(self, request, *, user, verified=False, errors=(), status=200):
        context = {
            "title": "Confirm your email address",
            "user": user,
            "verified": verified,
            "errors": errors,
            "invalid_link": INVALID_LINK,
        }
        return render(request, self.template_name, {**context, **page_context()}, status=status)
