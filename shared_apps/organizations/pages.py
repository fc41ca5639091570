"""The base-host page an emailed invitation opens: accept it with a password, no front-end
needed."""

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from shared_apps.accounts.links import site_url
from shared_apps.accounts.pages import page_context
from shared_apps.accounts.selectors import user_has_password_login
from shared_apps.accounts.serializers import FULL_NAME_MAX_LENGTH

from .selectors import invitation_by_token
from .services import invitation_accept_with_token, invitation_problem

SESSION_KEY = "invitation_token"


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(max_length=FULL_NAME_MAX_LENGTH, required=False, label="Your name")
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: by field where it names one of the
    form's fields, above the form otherwise."""
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for field, messages in exc.message_dict.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


@method_decorator(never_cache, name="dispatch")
class AcceptInvitationLinkPage(View):
    """The emailed link: keeps the token in the session and moves to a URL without it, so
    it does not linger in the address bar, the history, access logs or Referer headers
    (as Django's password-reset view does)."""

    def get(self, request, token):
        request.session[SESSION_KEY] = token
        return redirect("invitation-accept-form")


@method_decorator(never_cache, name="dispatch")
@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class AcceptInvitationPage(View):
    """GET shows the invitation; POST accepts it through the same service as the API."""

    template_name = "organizations/pages/accept_invitation.html"

    def get(self, request):
        return self._render(request, AcceptInvitationForm())

    def post(self, request):
        token = request.session.get(SESSION_KEY, "")
        form = AcceptInvitationForm(request.POST)
        if form.is_valid():
            try:
                membership, user = invitation_accept_with_token(token=token, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                del request.session[SESSION_KEY]
                context = {
                    "title": "Welcome",
                    "membership": membership,
                    "user": user,
                    "organization_url": site_url(membership.organization.domain),
                }
                return render(request, self.template_name, {**context, **page_context()})
        return self._render(request, form, status=400)

    def _render(self, request, form, status=200):
        token = request.session.get(SESSION_KEY)
        invitation = invitation_by_token(token=token) if token else None
        # Said only to the holder of the emailed token, i.e. the owner of the address.
        has_account = invitation is not None and user_has_password_login(email=invitation.email)
        context = {
            "title": "Join an organization",
            "invitation": invitation,
            "problem": invitation_problem(invitation),
            "has_account": has_account,
            "form": form,
        }
        return render(request, self.template_name, {**context, **page_context()}, status=status)
