"""Admin for users: email login, no username."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.core.exceptions import ValidationError

from .models import User, normalize_email
from .services import EMAIL_TAKEN, password_link_send, user_mark_email_verified


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")

    def clean_email(self):
        # Stored lower-cased like every other way in, so lookups and listings agree.
        email = normalize_email(self.cleaned_data["email"])
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(EMAIL_TAKEN)
        return email


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    ordering = ("email",)
    # Fits 1280 px; the dates are on each user's page.
    list_display = ("email", "full_name", "is_staff", "is_active", "email_verified")
    actions = ("send_password_link",)
    readonly_fields = ("email_verified_at",)
    search_fields = ("email", "full_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined", "email_verified_at")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),
    )

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # The membership forms' user search offers only accounts that can be added.
        if (
            request.path.endswith("/autocomplete/")
            and request.GET.get("model_name") == "membership"
        ):
            queryset = queryset.filter(is_active=True)
        return queryset, may_have_duplicates

    @admin.display(boolean=True, description="verified", ordering="email_verified_at")
    def email_verified(self, obj):
        return obj.is_email_verified

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            # Staff vouch for the addresses of the accounts they create by hand.
            user_mark_email_verified(user=obj)

    @admin.action(description="Email a link to set a password")
    def send_password_link(self, request, queryset):
        sent = []
        for user in queryset:
            try:
                password_link_send(user=user)
            except ValidationError as exc:
                self.message_user(request, f"{user.email}: {exc.messages[0]}", messages.ERROR)
            else:
                sent.append(user.email)
        if sent:
            self.message_user(request, f"Emailed a set-password link to {', '.join(sent)}.")

    def has_delete_permission(self, request, obj=None):
        # Users are referenced from many organization schemas: deactivate instead.
        return False
