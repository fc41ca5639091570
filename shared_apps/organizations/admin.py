"""Admin: staff onboard organizations in one form and manage memberships and activation."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from shared_apps.accounts.models import User

from .models import Domain, Membership, Organization, Role
from .services import (
    INACTIVE_USER,
    LAST_ADMIN,
    MOVE_MEMBERSHIP,
    is_last_admin,
    membership_add,
    membership_change_role,
    membership_delete,
    organization_onboard,
    organization_set_active,
    organization_slug_check,
    organization_url,
)


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
        try:
            organization_slug_check(slug=slug)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["slug"]) from exc
        return slug


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0
    fields = ("domain", "is_primary")
    readonly_fields = ("domain", "is_primary")
    can_delete = False

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
    list_display = ("name", "slug", "schema_name", "is_active", "created_at", "link")
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
        return () if obj is None else (DomainInline, MembershipInline)

    def save_model(self, request, obj, form, change):
        if change:
            if "is_active" in form.changed_data:
                organization_set_active(organization=obj, is_active=obj.is_active)
            if "name" in form.changed_data:
                obj.save(update_fields=["name"])
            return
        # New organizations go through the same onboarding service as the API and the
        # command; the admin then logs and redirects using the created row's identity.
        organization, admin_user, created = organization_onboard(
            name=form.cleaned_data["name"],
            slug=form.cleaned_data["slug"],
            admin_email=form.cleaned_data["admin_email"],
        )
        obj.pk = organization.pk
        obj.schema_name = organization.schema_name
        obj.created_at = organization.created_at
        obj._state.adding = False
        if created:
            self.message_user(
                request,
                f"Created user {admin_user.email} without a password: set one from the user's page.",
                messages.WARNING,
            )

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        # Memberships change through the services (last-ADMIN rule, task unassignment).
        # The formset's clean() checked the end state has an ADMIN; apply additions and
        # promotions before demotions and removals so no step passes through zero ADMINs.
        formset.save(commit=False)
        organization = form.instance
        for membership in formset.new_objects:
            membership_add(organization=organization, user=membership.user, role=membership.role)
        role_changes = [m for m, changed in formset.changed_objects if "role" in changed]
        role_changes.sort(key=lambda membership: membership.role != Role.ADMIN)
        for membership in role_changes:
            membership_change_role(membership=membership, role=membership.role)
        for membership in formset.deleted_objects:
            membership_delete(membership=membership)

    def has_delete_permission(self, request, obj=None):
        # Deleting would orphan a schema full of data; deactivate instead.
        return False

    @admin.display(description="URL")
    def link(self, obj):
        if not obj.pk:
            return "-"
        url = organization_url(obj)
        return format_html('<a href="{}">{}</a>', url, url)

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
    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("role", "organization")
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
            membership_change_role(membership=obj, role=obj.role)
        else:
            created = membership_add(organization=obj.organization, user=obj.user, role=obj.role)
            obj.pk = created.pk
            obj._state.adding = False

    def has_delete_permission(self, request, obj=None):
        # The last ADMIN stays; staff promote someone else first.
        return super().has_delete_permission(request, obj) and not (obj and is_last_admin(obj))

    def delete_model(self, request, obj):
        membership_delete(membership=obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("organization"):
            try:
                membership_delete(membership=membership)
            except ValidationError as exc:
                self.message_user(request, f"{membership}: {exc.messages[0]}", messages.ERROR)
