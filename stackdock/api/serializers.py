"""Shared serializers: strict input, the error shape, the 202 receipt, and tenancy I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from stackdock.models import AREAS, ApiToken, Level, Membership, Role


class InputSerializer(serializers.Serializer):
    """Input serializers reject fields they do not know instead of ignoring them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(k) for k in data if k not in self.fields)
            if unknown:
                raise serializers.ValidationError({k: ["Unknown field."] for k in unknown})
        return super().to_internal_value(data)


# --- fast output of lists ----------------------------------------------------------------
#: a field computed from the whole row: (the columns it reads, (row, memo) -> value);
#: ``memo`` is a dict shared by the rows of one ``many()`` call (e.g. one page)
Computed = tuple[Sequence[str], Callable[[Mapping[str, Any], dict[Any, Any]], Any]]


class ValuesSerializer:
    """Serializes ``QuerySet.values()`` rows exactly as ``serializer_class`` serializes
    model instances, for list pages.

    DRF spends most of a list's time per field and row (``get_attribute``, the
    readable-fields generator, the time-zone lookups of every ``DateTimeField``),
    and the rows must first be built into model instances. Here the page is read
    as dicts of just the columns the fields use, and each field is a
    ``(name, column, to_representation)`` step worked out once, with date-times
    formatted directly. ``computed`` replaces the serializer's method fields (their
    methods take instances). ``tests/api/test_values_serializer.py`` checks the output
    against the serializer itself.
    """

    def __init__(
        self,
        serializer_class: type[serializers.Serializer],
        computed: Mapping[str, Computed] | None = None,
    ) -> None:
        computed = dict(computed or {})
        self.steps: list[tuple[str, Callable[[Mapping[str, Any], Any, dict[Any, Any]], Any]]] = []
        columns: dict[str, None] = {}
        for name, field in serializer_class().fields.items():
            if field.write_only:
                continue
            if name in computed:
                reads, fn = computed.pop(name)
                columns.update(dict.fromkeys(reads))
                self.steps.append((name, _computed_step(fn)))
                continue
            source = str(field.source)
            if isinstance(field, serializers.SerializerMethodField) or "." in source:
                raise ImproperlyConfigured(f"{serializer_class.__name__}.{name} needs `computed`")
            columns[source] = None
            self.steps.append((name, _column_step(source, _fast_representation(field))))
        if computed:
            raise ImproperlyConfigured(f"no such fields: {', '.join(sorted(computed))}")
        self.columns = tuple(columns)

    def many(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        tz = timezone.get_current_timezone()
        steps = self.steps
        memo: dict[Any, Any] = {}
        return [{name: step(row, tz, memo) for name, step in steps} for row in rows]


def _computed_step(
    fn: Callable[[Mapping[str, Any], dict[Any, Any]], Any],
) -> Callable[[Mapping[str, Any], Any, dict[Any, Any]], Any]:
    def step(row: Mapping[str, Any], tz: Any, memo: dict[Any, Any]) -> Any:
        return fn(row, memo)

    return step


def _column_step(
    column: str, represent: Callable[[Any, Any], Any]
) -> Callable[[Mapping[str, Any], Any, dict[Any, Any]], Any]:
    def step(row: Mapping[str, Any], tz: Any, memo: dict[Any, Any]) -> Any:
        value = row[column]
        return None if value is None else represent(value, tz)

    return step


def _fast_representation(field: serializers.Field) -> Callable[[Any, Any], Any]:
    if (
        settings.USE_TZ
        and isinstance(field, serializers.DateTimeField)
        and str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
        and getattr(field, "timezone", None) is None
    ):
        return _iso_datetime
    plain = field.to_representation
    return lambda value, tz: plain(value)


def _iso_datetime(value: datetime, tz: Any) -> str:
    """``DateTimeField.to_representation`` (ISO 8601, UTC as ``Z``) of an aware value."""
    if value.tzinfo is None:  # naive: not from this project's database; DRF's own way
        return str(serializers.DateTimeField().to_representation(value))
    text = (value if value.tzinfo is tz else value.astimezone(tz)).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# --- the 202 receipt ---------------------------------------------------------------------
class ReceiptSerializer(serializers.Serializer):
    """The 202 answer of every request that queued an operation."""

    provision_id = serializers.IntegerField(help_text="The operation's id.")
    kind = serializers.CharField()
    status = serializers.CharField(help_text='Always "queued" (when the work was accepted).')
    status_url = serializers.URLField(help_text="Poll it: GET /api/v1/operations/{id}.")
    resource_id = serializers.IntegerField(allow_null=True)
    resource_table = serializers.CharField(allow_null=True)
    stack = serializers.CharField(allow_null=True)
    dock = serializers.UUIDField(allow_null=True)


# --- members, roles, tokens -----------------------------------------------------------------
class PermissionsField(serializers.DictField):
    """``{area: none|read|full}`` over the fixed areas."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.ChoiceField(choices=Level.values), **kwargs)


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()


class MemberSerializer(serializers.ModelSerializer):
    user = UserSerializer(read_only=True)
    role = serializers.CharField(source="role.name", read_only=True)
    service_account = serializers.SerializerMethodField(
        help_text="A membership for automation: nobody signs in as it; its maker makes its tokens."
    )

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "service_account", "created_at", "updated_at"]

    def get_service_account(self, membership: Membership) -> bool:
        from stackdock.service_accounts import is_service_account

        return is_service_account(membership)


class MemberUpdateSerializer(InputSerializer):
    role = serializers.CharField(max_length=63)


class RoleSerializer(serializers.ModelSerializer):
    permissions = serializers.SerializerMethodField()
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Role
        fields = [
            "id",
            "name",
            "permissions",
            "builtin",
            "member_count",
            "created_at",
            "updated_at",
        ]

    def get_permissions(self, role: Role) -> dict[str, str]:
        return {area: role.level(area) for area in AREAS}


class RoleCreateSerializer(InputSerializer):
    name = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}$", max_length=63)
    permissions = PermissionsField()


class RoleUpdateSerializer(InputSerializer):
    permissions = PermissionsField()


class TokenSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="membership.user.get_username", read_only=True)
    scope = PermissionsField(
        read_only=True,
        allow_null=True,
        help_text="The cap on the member's role per area; null: the role as it is.",
    )
    member = serializers.IntegerField(source="membership_id", read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "user",
            "member",
            "active",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "scope",
        ]


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(
        read_only=True, help_text="The secret: shown in this response only, never again."
    )

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]


class TokenCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=100, required=False, default="token")
    expires_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=3650
    )
    member = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**62,
        help_text="Membership id to create the token for (needs members: full and a rank at "
        "or above that member's; the token is pinned to what they hold now); default: you.",
    )
    role = serializers.CharField(
        required=False,
        max_length=63,
        help_text="Narrow the token to this role (at or below the member's); never widens.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # ``read_only`` is an attribute of every DRF field (a serializer is one): declared
        # as a class attribute it would shadow that, so the input field is added here
        fields = super().get_fields()
        fields["read_only"] = serializers.BooleanField(
            required=False, default=False, help_text="Cap every area at read."
        )
        return fields


class OrgSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class WhoamiTokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    scope = PermissionsField(allow_null=True)


class WhoamiSerializer(serializers.Serializer):
    user = UserSerializer()
    org = OrgSerializer()
    role = serializers.CharField()
    permissions = serializers.DictField(
        child=serializers.CharField(),
        help_text="Effective: the role's levels, capped by the token's scope.",
    )
    token = WhoamiTokenSerializer(allow_null=True)
    organizations = serializers.ListField(
        child=serializers.CharField(), help_text="Slugs of every organization you belong to."
    )


class ServiceAccountCreateSerializer(InputSerializer):
    name = serializers.RegexField(r"^[a-z0-9][a-z0-9-]{0,39}$", max_length=40)
    role = serializers.CharField(max_length=63)


class InvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.CharField(source="role.name")
    status = serializers.CharField(help_text="pending, accepted, withdrawn or expired")
    invited_by = serializers.CharField(source="inviter_repr")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class InvitationCreatedSerializer(InvitationSerializer):
    link = serializers.URLField(
        help_text="The link that accepts the invitation: shown in this response only, and "
        "mailed to the address. It works once, until expires_at."
    )


class InvitationCreateSerializer(InputSerializer):
    email = serializers.EmailField()
    role = serializers.CharField(max_length=63)


class InvitationAcceptSerializer(InputSerializer):
    token = serializers.CharField(
        max_length=2000, help_text="The invitation's link, or the secret at its end."
    )
