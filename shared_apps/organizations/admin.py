"""Admin: staff onboard organizations in one form and manage memberships and activation."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from shared_apps.accounts.admin import UserAdmin
from shared_apps.accounts.models import User

from .models import Invitation, Membership, Organization, Role
from .services import (
    INACTIVE_USER,
    LAST_ADMIN,
    MOVE_MEMBERSHIP,
    is_last_admin,
    membership_add,
    membership_change_role,
    membership_delete,
    organization_onboard,
    organization_onboarding_lock,
    organization_set_active,
    organization_slug_check,
    organization_url,
)


def _date(moment) -> str:
    """A list column's date without the time of day, so the columns fit beside the sidebar."""
    return date_format(timezone.localtime(moment), "SHORT_DATE_FORMAT")


class OrganizationCreationForm(forms.ModelForm):
    """Name, subdomain and first admin: everything onboarding needs, nothing it derives."""

    admin_email = forms.EmailField(
        max_length=254,
        label="First admin's email",
        help_text="Becomes the organization's ADMIN; a user is created if none has this email.",
    )

    class Meta:
        model = Organization
        fields = ("name", "slug")
        help_texts = {"slug": "The subdomain: 3-40 of a-z, 0-9 and '-', starting with a letter."}

    def clean_admin_email(self):
        email = self.cleaned_data["admin_email"]
        if User.objects.filter(email__iexact=email, is_active=False).exists():
            raise ValidationError(INACTIVE_USER)
        return email

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        # The add view validates and saves in one transaction: from here to its end no other
        # staff onboarding runs, so a slug found free is still free when the form is saved.
        organization_onboarding_lock()
        try:
            organization_slug_check(slug=slug)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["slug"]) from exc
        return slug


class InvitationInline(admin.TabularInline):
    """Open invitations, for reference: ADMINs manage them through the API."""

    model = Invitation
    verbose_name = "pending invitation"
    verbose_name_plural = "pending invitations"
    extra = 0
    fields = ("email", "role", "invited_by", "created_at", "expires_at")
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(accepted_at__isnull=True, expires_at__gt=timezone.now())
            .select_related("invited_by")
        )

    def has_add_permission(self, request, obj=None):
        return False


class MembershipInlineFormSet(forms.BaseInlineFormSet):
    """Refuses edits that would leave no ADMIN or move a membership to another user."""

    def clean(self):
        super().clean()
        roles = []
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data:
                continue
            if form.instance.pk and "user" in form.changed_data:
                raise ValidationError(MOVE_MEMBERSHIP)
            user = form.cleaned_data.get("user")
            if not form.instance.pk and user is not None and not user.is_active:
                raise ValidationError(f"{user.email}: {INACTIVE_USER}")
            if not form.cleaned_data.get("DELETE"):
                roles.append(form.cleaned_data.get("role"))
        if Role.ADMIN not in roles:
            raise ValidationError(LAST_ADMIN)


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipInlineFormSet
    extra = 0
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("user",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    # Short columns so the URL fits beside the sidebar at 1280 px: the schema name is the
    # slug's twin (on the change page), the creation date needs no time of day here.
    list_display = ("name", "slug", "is_active", "created", "link")
    list_filter = ("is_active",)
    search_fields = ("name", "slug")
    readonly_fields = ("slug", "schema_name", "created_at", "link")
    fields = ("name", "slug", "schema_name", "is_active", "created_at", "link")
    actions = ("deactivate", "reactivate")

    def get_queryset(self, request):
        # The public tenant is the site itself, not a customer.
        return super().get_queryset(request).exclude(schema_name="public")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = OrganizationCreationForm
            kwargs["fields"] = ("name", "slug", "admin_email")
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ("name", "slug", "admin_email") if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        # No domain inline: an organization has one domain, derived from its slug, and the
        # URL field shows it already.
        return () if obj is None else (MembershipInline, InvitationInline)

    def save_model(self, request, obj, form, change):
        if change:
            if "is_active" in form.changed_data:
                organization_set_active(organization=obj, is_active=obj.is_active)
            if "name" in form.changed_data:
                obj.save(update_fields=["name"])
            return
        # New organizations go through the same onboarding service as the API and the
        # command; the admin then logs and redirects using the created row's identity.
        onboarded = organization_onboard(
            actor=request.user,
            name=form.cleaned_data["name"],
            slug=form.cleaned_data["slug"],
            admin_email=form.cleaned_data["admin_email"],
        )
        organization = onboarded.organization
        obj.pk = organization.pk
        obj.schema_name = organization.schema_name
        obj.created_at = organization.created_at
        obj._state.adding = False
        email = onboarded.admin.email
        if onboarded.password_link_sent:
            created = "Created the account" if onboarded.user_created else "The account"
            self.message_user(
                request,
                f"{created} {email} has no password yet: emailed it a single-use link to set "
                f"one. Resend it from the user's page (action “Email a link to set a "
                f"password”) if needed.",
                messages.SUCCESS,
            )
        else:
            self.message_user(request, f"{email} is the first ADMIN.", messages.SUCCESS)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        # Memberships change through the services (last-ADMIN rule, task unassignment).
        # The formset's clean() checked the end state has an ADMIN; apply additions and
        # promotions before demotions and removals so no step passes through zero ADMINs.
        formset.save(commit=False)
        organization = form.instance
        for membership in formset.new_objects:
            membership_add(
                organization=organization,
                user=membership.user,
                role=membership.role,
                actor=request.user,
            )
        role_changes = [m for m, changed in formset.changed_objects if "role" in changed]
        role_changes.sort(key=lambda membership: membership.role != Role.ADMIN)
        for membership in role_changes:
            membership_change_role(membership=membership, role=membership.role, actor=request.user)
        for membership in formset.deleted_objects:
            membership_delete(membership=membership, actor=request.user)

    def has_delete_permission(self, request, obj=None):
        # Deleting would orphan a schema full of data; deactivate instead.
        return False

    @admin.display(description="URL")
    def link(self, obj):
        if not obj.pk:
            return "-"
        url = organization_url(obj)
        # The host and port are what tell organizations apart; the scheme is always the same.
        return format_html('<a href="{}">{}</a>', url, url.split("://", 1)[-1].rstrip("/"))

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj):
        return _date(obj.created_at)

    @admin.action(
        description="Deactivate selected organizations (subdomain goes offline, data kept)"
    )
    def deactivate(self, request, queryset):
        for organization in queryset:
            organization_set_active(organization=organization, is_active=False)
        self.message_user(request, f"Deactivated {queryset.count()} organization(s).")

    @admin.action(description="Reactivate selected organizations")
    def reactivate(self, request, queryset):
        for organization in queryset:
            organization_set_active(organization=organization, is_active=True)
        self.message_user(request, f"Reactivated {queryset.count()} organization(s).")


class MembershipAdminForm(forms.ModelForm):
    """Checks the membership rules before the services apply them."""

    class Meta:
        model = Membership
        fields = ("user", "organization", "role")

    def clean(self):
        cleaned = super().clean()
        instance = self.instance
        if instance.pk and {"user", "organization"} & set(self.changed_data):
            raise ValidationError(MOVE_MEMBERSHIP)
        user = cleaned.get("user")
        if not instance.pk and user is not None and not user.is_active:
            raise ValidationError({"user": INACTIVE_USER})
        if instance.pk and instance.role == Role.ADMIN and cleaned.get("role") != Role.ADMIN:
            if is_last_admin(instance):
                raise ValidationError(LAST_ADMIN)
        return cleaned


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipAdminForm
    list_display = ("user", "organization", "role", "created")
    # Only organizations that have members: never the public site.
    list_filter = ("role", ("organization", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__email", "organization__slug", "organization__name")
    autocomplete_fields = ("user", "organization")
    list_select_related = ("user", "organization")

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(organization__schema_name="public")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organization":
            kwargs["queryset"] = Organization.objects.exclude(schema_name="public")
        elif db_field.name == "user":
            kwargs["queryset"] = User.objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            membership_change_role(membership=obj, role=obj.role, actor=request.user)
        else:
            created = membership_add(
                organization=obj.organization, user=obj.user, role=obj.role, actor=request.user
            )
            obj.pk = created.pk
            obj._state.adding = False

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj):
        return _date(obj.created_at)

    def has_delete_permission(self, request, obj=None):
        # The last ADMIN stays; staff promote someone else first.
        return super().has_delete_permission(request, obj) and not (obj and is_last_admin(obj))

    def delete_model(self, request, obj):
        membership_delete(membership=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("organization"):
            try:
                membership_delete(membership=membership, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{membership}: {exc.messages[0]}", messages.ERROR)


# --- Users: their memberships on their page -------------------------------------------------
# Registered from here because accounts sits below organizations: accounts' own admin must
# not import this app, so this app extends the user admin with what it knows.


class UserMembershipInline(admin.TabularInline):
    """The organizations a user belongs to, with their role (changed on the organization)."""

    model = Membership
    fk_name = "user"
    extra = 0
    fields = ("organization_link", "role", "created_at")
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .exclude(organization__schema_name="public")
            .select_related("organization")
        )

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Organization")
    def organization_link(self, membership):
        url = reverse("admin:organizations_organization_change", args=[membership.organization_id])
        return format_html('<a href="{}">{}</a>', url, membership.organization)


admin.site.unregister(User)


@admin.register(User)
class UserWithMembershipsAdmin(UserAdmin):
    """The accounts app's user admin, plus the user's memberships."""

    def get_inlines(self, request, obj):
        inlines = super().get_inlines(request, obj)
        return inlines if obj is None else (*inlines, UserMembershipInline)
