"""The base-host page an emailed invitation opens: accept it with a password, no front-end
needed."""

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views import View

from shared_apps.accounts.links import site_url
from shared_apps.accounts.pages import page_context
from shared_apps.accounts.selectors import user_has_password_login

from .selectors import invitation_by_token
from .services import invitation_accept_with_token


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(max_length=150, required=False, label="Your name")
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )


class AcceptInvitationPage(View):
    """GET shows the invitation; POST accepts it through the same service as the API."""

    template_name = "organizations/pages/accept_invitation.html"

    def get(self, request, token):
        return self._render(request, token, AcceptInvitationForm())

    def post(self, request, token):
        form = AcceptInvitationForm(request.POST)
        if form.is_valid():
            try:
                membership, user = invitation_accept_with_token(token=token, **form.cleaned_data)
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    for message in messages:
                        form.add_error(field if field in form.fields else None, message)
            else:
                context = {
                    "title": "Welcome",
                    "membership": membership,
                    "user": user,
                    "organization_url": site_url(membership.organization.domain),
                }
                return render(request, self.template_name, {**context, **page_context()})
        return self._render(request, token, form, status=400)

    def _render(self, request, token, form, status=200):
        invitation = invitation_by_token(token=token)
        # Said only to the holder of the emailed token, i.e. the owner of the address.
        has_account = invitation is not None and user_has_password_login(email=invitation.email)
        context = {
            "title": "Join an organization",
            "invitation": invitation,
            "has_account": has_account,
            "form": form,
        }
        return render(request, self.template_name, {**context, **page_context()}, status=status)
