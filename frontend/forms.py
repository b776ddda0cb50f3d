"""Dashboard forms. Spec and credentials forms are built from pydantic models
(``frontend.schema_forms``); these are the hand-written ones."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from audit.models import AuditStatus
from docks.models import ProvisioningSource, ProvisioningState
from provisioning.models import FailurePolicy, OperationKind, OperationStatus
from stackdock.models import AREAS, LEVEL_RANK, Level
from stackdock.utils.forms import EndpointField


class EmailLoginForm(AuthenticationForm):
    """Django's login form, labelled for email (the email is the username)."""

    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        # Django's says "a correct username": this form asks for an email
        "invalid_login": "That email and password do not match an account. The password is "
        "case-sensitive.",
    }

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


def _blank(choices: Any, label: str = "Any") -> list[tuple[str, str]]:
    return [("", label), *[(str(v), str(lab)) for v, lab in choices]]


# --- docks ------------------------------------------------------------------------------


def dock_name_field() -> forms.CharField:
    return forms.CharField(
        label="Dock name",
        max_length=100,
        help_text="How this account is called in StackDock, e.g. “aws-production”.",
    )


def endpoint_field() -> forms.URLField:
    return EndpointField(
        label="Endpoint override",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Only for emulators and compatible services (moto, LocalStack, MinIO) "
        "on a host this installation allows. Leave empty for the real provider.",
    )


class DockSettingsForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    sync_interval_seconds = forms.IntegerField(
        label="Sync every (seconds)", min_value=60, help_text="At least 60 seconds."
    )


class DockDeleteForm(forms.Form):
    confirm_name = forms.CharField(label="Type the dock's name to confirm")
    orphan = forms.BooleanField(
        label="Keep resources StackDock provisioned on it (they stay listed, detached)",
        required=False,
    )


class GrantForm(forms.Form):
    membership = forms.TypedChoiceField(label="Member", coerce=int)
    perm = forms.ChoiceField(
        label="Grant",
        choices=[
            ("view_dock", "View this dock and its resources"),
            ("provision_dock", "Provision on this dock"),
        ],
    )

    def __init__(self, *args: Any, members: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["membership"]).choices = [
            (m.pk, f"{m.user.username} ({m.role.name})") for m in members
        ]


# --- resources and operations ----------------------------------------------------------


def search_field(label: str, placeholder: str = "") -> forms.CharField:
    """A filter's free-text input: ``type="search"``, which the lists' "filter as you
    type" trigger listens to (frontend/includes/filter_form.html)."""
    attrs = {"placeholder": placeholder} if placeholder else {}
    return forms.CharField(label=label, required=False, widget=forms.SearchInput(attrs=attrs))


class ResourceFilterForm(forms.Form):
    search = search_field("Search", "Name or provider id")
    dock = forms.ChoiceField(label="Dock", required=False)
    provider = forms.ChoiceField(label="Provider", required=False)
    provisioning_source = forms.ChoiceField(
        label="Source",
        required=False,
        choices=_blank(
            [
                (ProvisioningSource.SST, "Managed by a stack"),
                (ProvisioningSource.API, "Provisioned alone"),
                (ProvisioningSource.MANUAL, "Discovered"),
            ]
        ),
    )
    provisioning_state = forms.ChoiceField(
        label="State", required=False, choices=_blank(ProvisioningState.choices)
    )

    def __init__(self, *args: Any, docks: Any = (), providers: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["dock"]).choices = _blank(
            (str(d.pk), d.name) for d in docks
        )
        cast(forms.ChoiceField, self.fields["provider"]).choices = _blank((p, p) for p in providers)


class OperationFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Status", required=False, choices=_blank(OperationStatus.choices)
    )
    kind = forms.ChoiceField(label="Kind", required=False, choices=_blank(OperationKind.choices))
    dock = forms.ChoiceField(label="Dock", required=False)
    stack = search_field("Stack")

    def __init__(self, *args: Any, docks: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["dock"]).choices = _blank(
            (str(d.pk), d.name) for d in docks
        )


class AuditFilterForm(forms.Form):
    who = forms.ChoiceField(
        label="Who",
        required=False,
        choices=[
            ("people", "People"),
            ("all", "People and system"),
            ("system", "System only"),
        ],
        initial="people",
        help_text="People: users and their API tokens. System: syncs, workers, decrypts.",
    )
    operation = search_field("Operation", "dock.* or resource.provision")
    status = forms.ChoiceField(label="Status", required=False, choices=_blank(AuditStatus.choices))
    actor = search_field("Actor")
    target = search_field("Target")
    since = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput({"type": "date"}))


# --- stacks -------------------------------------------------------------------------------


class StackForm(forms.Form):
    spec = forms.CharField(
        label="Stack spec (YAML or JSON)",
        widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "false", "class": "code"}),
        strip=False,
        help_text="name, resources: each with dock, type, properties; "
        "reference another resource's output with ${name.output}.",
    )
    on_failure = forms.ChoiceField(
        label="When a step fails", choices=FailurePolicy.choices, initial=FailurePolicy.STOP
    )


class ConfirmNameForm(forms.Form):
    confirm_name = forms.CharField(label="Type the name to confirm")


# --- import ------------------------------------------------------------------------------

IMPORT_ALONE = "alone"
IMPORT_INTO_STACK = "stack"


class ImportForm(forms.Form):
    """How to manage a discovered resource: alone, or in a stack under a name."""

    mode = forms.ChoiceField(
        label="Manage it",
        widget=forms.RadioSelect,
        initial=IMPORT_ALONE,
        choices=[
            (IMPORT_ALONE, "Alone (update and destroy it from its page)"),
            (IMPORT_INTO_STACK, "In a stack (its spec gains the resource)"),
        ],
    )
    stack = forms.ChoiceField(label="Stack", required=False)
    resource = forms.CharField(
        label="Name in the stack",
        required=False,
        max_length=63,
        help_text="1-63 lowercase letters, digits, - or _, starting with a letter.",
    )

    def __init__(self, *args: Any, stacks: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["stack"])
        field.choices = [("", "Choose a stack"), *[(name, name) for name in stacks]]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("mode") == IMPORT_INTO_STACK:
            if not data.get("stack"):
                self.add_error("stack", "Choose the stack to add it to.")
            if not data.get("resource"):
                self.add_error("resource", "Give it a name in the stack.")
        return data


# --- organization settings -------------------------------------------------------------


def role_privilege(role: Any) -> tuple[int, int, str]:
    """A sort key, most privileged first: the levels of every area added up (full 2,
    read 1), the owner before an admin with the same levels, then the name."""
    score = sum(LEVEL_RANK.get(Level(role.level(area)), 0) for area in AREAS)
    return (-score, 0 if role.name == "owner" else 1, role.name)


def by_privilege(roles: Any) -> list[Any]:
    return sorted(roles, key=role_privilege)


class MemberAddForm(forms.Form):
    """A new member's email and role; the role starts at the least privileged one."""

    email = forms.EmailField(label="Email")
    role = forms.ChoiceField(label="Role", help_text="Start small: a role can be raised later.")

    def __init__(self, *args: Any, roles: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ordered = by_privilege(roles)
        field = cast(forms.ChoiceField, self.fields["role"])
        field.choices = [(r.name, r.name) for r in ordered]
        if ordered:
            field.initial = ordered[-1].name


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role")

    def __init__(self, *args: Any, roles: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["role"]).choices = [
            (r.name, r.name) for r in by_privilege(roles)
        ]


LEVEL_CHOICES = [(Level.NONE, "none"), (Level.READ, "read"), (Level.FULL, "full")]


class RoleForm(forms.Form):
    """A role's name and its permission matrix row (one select per area)."""

    name = forms.CharField(label="Role name", max_length=63)

    def __init__(self, *args: Any, with_name: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not with_name:
            del self.fields["name"]
        for area in AREAS:
            self.fields[f"perm_{area}"] = forms.ChoiceField(
                label=area, choices=LEVEL_CHOICES, initial=Level.NONE
            )

    def area_fields(self) -> list[forms.BoundField]:
        return [self[f"perm_{a}"] for a in AREAS]

    def permissions(self) -> dict[str, str]:
        return {area: self.cleaned_data[f"perm_{area}"] for area in AREAS}


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label="Token name", max_length=100, help_text="What it is for, e.g. “ci”."
    )
    expires_days = forms.IntegerField(
        label="Expires after (days)",
        required=False,
        min_value=1,
        max_value=3650,
        help_text="Empty: never expires.",
    )
