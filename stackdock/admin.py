"""Admin for organizations, members and roles (an editable permission matrix).

Every change goes through the services so it is validated and audited.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest

from audit.services import audit_log
from stackdock.models import AREAS, ApiToken, Level, Membership, Organization, Role
from stackdock.permissions import Actor


def admin_actor(request: HttpRequest, org: Organization | None) -> Actor:
    """Django admin users act as the system on behalf of a superuser, recorded by name."""
    return Actor.system(f"admin:{request.user.get_username()}", org)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    readonly_fields = ["created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_log(
            actor=admin_actor(request, obj),
            org=obj,
            operation="org.change" if change else "org.create",
            target=obj,
            metadata={"fields": sorted(form.changed_data)},
        )


class _RoleFormBase(forms.ModelForm):
    """One select per area (the permission matrix) instead of raw JSON."""

    class Meta:
        model = Role
        fields = ["org", "name"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = (self.instance.permissions or {}) if self.instance.pk else {}
        for area in AREAS:
            self.fields[f"perm_{area}"].initial = current.get(area, Level.NONE)

    def clean(self) -> dict[str, Any] | None:
        data = super().clean()
        if self.instance.pk and self.instance.builtin:
            raise forms.ValidationError("Built-in roles cannot be changed; create a custom role.")
        return data

    def save(self, commit: bool = True) -> Role:
        role = super().save(commit=False)
        role.permissions = {a: self.cleaned_data[f"perm_{a}"] for a in AREAS}
        if commit:
            role.save()
        return role


# the form's metaclass collects declared fields, so the per-area selects are class attributes
RoleForm = type(
    "RoleForm",
    (_RoleFormBase,),
    {
        f"perm_{area}": forms.ChoiceField(label=area, choices=Level.choices, initial=Level.NONE)
        for area in AREAS
    },
)


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    form = RoleForm
    list_display = ["name", "org", "builtin"]
    list_filter = ["builtin", "org"]
    fields = ["org", "name", *[f"perm_{area}" for area in AREAS], "builtin"]
    readonly_fields = ["builtin"]

    def save_model(self, request: HttpRequest, obj: Role, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_log(
            actor=admin_actor(request, obj.org),
            org=obj.org,
            operation="role.change" if change else "role.create",
            target=obj,
            metadata={"permissions": obj.permissions},
        )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "org", "role", "created_at"]
    list_filter = ["org", "role__name"]
    autocomplete_fields = ["user"]

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_log(
            actor=admin_actor(request, obj.org),
            org=obj.org,
            operation="member.change" if change else "member.add",
            target=obj,
            metadata={"user": obj.user.get_username(), "role": obj.role.name},
        )

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        from stackdock.services import membership_delete

        with transaction.atomic():
            membership_delete(actor=admin_actor(request, obj.org), membership=obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset.select_related("org", "user"):  # one by one: each audited
            self.delete_model(request, obj)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created by their owner (API, dashboard, create_token); here only revoked."""

    list_display = ["name", "prefix", "membership", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = [
        "membership",
        "name",
        "prefix",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "created_at",
    ]
    exclude = ["token_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        from stackdock.services import token_revoke

        for token in queryset.filter(revoked_at__isnull=True).select_related("membership__org"):
            token_revoke(actor=admin_actor(request, token.membership.org), token=token)
