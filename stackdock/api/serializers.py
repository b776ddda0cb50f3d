"""Shared serializers: strict input, the error shape, the 202 receipt, and tenancy I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from stackdock.models import AREAS, ApiToken, Level, Membership, Role


class InputSerializer(serializers.Serializer):
    """Input serializers reject fields they do not know instead of ignoring them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(k) for k in data if k not in self.fields)
            if unknown:
                raise serializers.ValidationError({k: ["Unknown field."] for k in unknown})
        return super().to_internal_value(data)


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

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at", "updated_at"]


class MemberCreateSerializer(InputSerializer):
    email = serializers.EmailField()
    role = serializers.CharField(max_length=63)
    password = serializers.CharField(
        required=False,
        write_only=True,
        max_length=128,
        style={"input_type": "password"},
        help_text="Only for a user that does not exist yet; else ignored.",
    )


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
        help_text="Membership id to create the token for (needs members: full); default: you.",
    )


class OrgSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class WhoamiTokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class WhoamiSerializer(serializers.Serializer):
    user = UserSerializer()
    org = OrgSerializer()
    role = serializers.CharField()
    permissions = serializers.DictField(child=serializers.CharField())
    token = WhoamiTokenSerializer(allow_null=True)
    organizations = serializers.ListField(
        child=serializers.CharField(), help_text="Slugs of every organization you belong to."
    )
