"""``/whoami``, members, invitations, roles and API tokens."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from stackdock import invitations, selectors, service_accounts, services
from stackdock.api.base import ApiView, ApiViewSet, parse_int_id
from stackdock.api.serializers import (
    InvitationAcceptSerializer,
    InvitationCreatedSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    RoleCreateSerializer,
    RoleSerializer,
    RoleUpdateSerializer,
    ServiceAccountCreateSerializer,
    TokenCreatedSerializer,
    TokenCreateSerializer,
    TokenSerializer,
    WhoamiSerializer,
)
from stackdock.models import Membership


class WhoamiView(ApiView):
    @extend_schema(
        tags=["tenancy"],
        operation_id="whoami",
        summary="Who you are: user, organization, role, effective permissions",
        responses=WhoamiSerializer,
    )
    def get(self, request: Request) -> Response:
        actor = self.actor
        membership = actor.membership
        assert membership is not None and actor.user is not None
        token = actor.token
        slugs = list(
            Membership.objects.filter(user_id=actor.user.pk)
            .order_by("org__slug")
            .values_list("org__slug", flat=True)
        )
        data = {
            "user": {
                "id": actor.user.pk,
                "username": actor.user.get_username(),
                "email": getattr(actor.user, "email", ""),
            },
            "org": {
                "id": membership.org.pk,
                "slug": membership.org.slug,
                "name": membership.org.name,
            },
            "role": membership.role.name,
            "permissions": actor.permissions,
            "token": (
                {
                    "id": token.pk,
                    "name": token.name,
                    "prefix": token.prefix,
                    "expires_at": token.expires_at,
                    "scope": token.scope,
                }
                if token is not None
                else None
            ),
            "organizations": slugs,
        }
        return Response(WhoamiSerializer(data).data)


class MemberViewSet(ApiViewSet):
    @extend_schema(
        tags=["tenancy"],
        summary="List members (members: read)",
        responses=MemberSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        return self.paginated(selectors.members_for(actor=self.actor), MemberSerializer)

    @extend_schema(
        tags=["tenancy"],
        summary="Invite someone by email (the same as POST /invitations)",
        request=InvitationCreateSerializer,
        responses={201: InvitationCreatedSerializer},
    )
    def create(self, request: Request) -> Response:
        return invite(self, request)

    @extend_schema(
        tags=["tenancy"],
        summary="Change a member's role (members: full; the member and the role at or below you)",
        request=MemberUpdateSerializer,
        responses=MemberSerializer,
    )
    def partial_update(self, request: Request, pk: Any) -> Response:
        data = self.validated(MemberUpdateSerializer)
        membership = selectors.member_get(actor=self.actor, member_id=parse_int_id(pk, "Member"))
        membership = services.member_change_role(
            actor=self.actor, membership=membership, role_name=data["role"]
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(
        tags=["tenancy"],
        summary="Remove a member (members: full; the member at or below you)",
        responses={204: None},
    )
    def destroy(self, request: Request, pk: Any) -> Response:
        membership = selectors.member_get(actor=self.actor, member_id=parse_int_id(pk, "Member"))
        services.member_remove(actor=self.actor, membership=membership)
        return Response(status=204)


class RoleViewSet(ApiViewSet):
    @extend_schema(
        tags=["tenancy"], summary="List roles (members: read)", responses=RoleSerializer(many=True)
    )
    def list(self, request: Request) -> Response:
        return self.paginated(selectors.roles_for(actor=self.actor), RoleSerializer)

    @extend_schema(
        tags=["tenancy"],
        summary="Create a custom role (members: full; not above your own role)",
        request=RoleCreateSerializer,
        responses={201: RoleSerializer},
    )
    def create(self, request: Request) -> Response:
        data = self.validated(RoleCreateSerializer)
        actor = self.actor
        role = services.role_create(
            actor=actor, org=self.org, name=data["name"], permissions=data["permissions"]
        )
        role = selectors.role_get(actor=actor, role_id=role.pk)
        return Response(RoleSerializer(role).data, status=201)

    @extend_schema(
        tags=["tenancy"],
        summary="Change a custom role's permissions (members: full; old and new at or below you)",
        request=RoleUpdateSerializer,
        responses=RoleSerializer,
    )
    def partial_update(self, request: Request, pk: Any) -> Response:
        data = self.validated(RoleUpdateSerializer)
        role = selectors.role_get(actor=self.actor, role_id=parse_int_id(pk, "Role"))
        services.role_change(actor=self.actor, role=role, permissions=data["permissions"])
        role = selectors.role_get(actor=self.actor, role_id=role.pk)
        return Response(RoleSerializer(role).data)

    @extend_schema(
        tags=["tenancy"],
        summary="Delete a custom role nobody has (members: full; at or below you)",
        responses={204: None},
    )
    def destroy(self, request: Request, pk: Any) -> Response:
        role = selectors.role_get(actor=self.actor, role_id=parse_int_id(pk, "Role"))
        services.role_delete(actor=self.actor, role=role)
        return Response(status=204)


class TokenViewSet(ApiViewSet):
    @extend_schema(
        tags=["tenancy"],
        summary="List API tokens (yours; the organization's with members: full)",
        responses=TokenSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        return self.paginated(selectors.tokens_for(actor=self.actor), TokenSerializer)

    @extend_schema(
        tags=["tenancy"],
        summary="Create an API token, optionally narrowed (the secret is in this response only)",
        request=TokenCreateSerializer,
        responses={201: TokenCreatedSerializer},
    )
    def create(self, request: Request) -> Response:
        data = self.validated(TokenCreateSerializer)
        actor = self.actor
        membership = actor.membership
        assert membership is not None
        if data.get("member") not in (None, membership.pk):  # your own id needs no lookup
            membership = selectors.member_get(actor=actor, member_id=data["member"])
        assert membership is not None
        token, secret = services.token_create(
            actor=actor,
            membership=membership,
            name=data.get("name") or "token",
            expires_days=data.get("expires_days"),
            role_name=data.get("role"),
            read_only=data.get("read_only", False),
        )
        token.token = secret  # type: ignore[attr-defined]
        return Response(TokenCreatedSerializer(token).data, status=201)

    @extend_schema(
        tags=["tenancy"],
        summary="Revoke an API token (yours, or with members: full one of a member at or below you)",
        responses={204: None},
    )
    def destroy(self, request: Request, pk: Any) -> Response:
        token = selectors.token_get(
            actor=self.actor, token_id=parse_int_id(pk, "Token"), whole_org=True
        )
        services.token_revoke(actor=self.actor, token=token)
        return Response(status=204)


def invite(view: ApiView, request: Request) -> Response:
    """Create an invitation; the answer is the same whether the address has an account."""
    data = view.validated(InvitationCreateSerializer)
    invitation, link = invitations.invitation_create(
        actor=view.actor,
        org=view.org,
        email=data["email"],
        role_name=data["role"],
        link_for=lambda secret: request.build_absolute_uri(invitations.invitation_path(secret)),
    )
    invitation.link = link  # type: ignore[attr-defined]
    return Response(InvitationCreatedSerializer(invitation).data, status=201)


class InvitationViewSet(ApiViewSet):
    @extend_schema(
        tags=["tenancy"],
        summary="List open invitations (members: read)",
        responses=InvitationSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        return self.paginated(invitations.invitations_for(actor=self.actor), InvitationSerializer)

    @extend_schema(
        tags=["tenancy"],
        summary="Invite someone by email (members: full; a role at or below your own)",
        request=InvitationCreateSerializer,
        responses={201: InvitationCreatedSerializer},
    )
    def create(self, request: Request) -> Response:
        return invite(self, request)

    @extend_schema(
        tags=["tenancy"],
        summary="Withdraw an open invitation (members: full; its role at or below yours)",
        responses={204: None},
    )
    def destroy(self, request: Request, pk: Any) -> Response:
        invitation = invitations.invitation_get_for(
            actor=self.actor, invitation_id=parse_int_id(pk, "Invitation")
        )
        invitations.invitation_revoke(actor=self.actor, invitation=invitation)
        return Response(status=204)


class ServiceAccountView(ApiView):
    @extend_schema(
        tags=["tenancy"],
        operation_id="service_account_create",
        summary="Create a service account for automation (members: full; a role at or below "
        "yours); make its tokens with POST /tokens and its member id",
        request=ServiceAccountCreateSerializer,
        responses={201: MemberSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(ServiceAccountCreateSerializer)
        membership = service_accounts.service_account_create(
            actor=self.actor, org=self.org, name=data["name"], role_name=data["role"]
        )
        return Response(MemberSerializer(membership).data, status=201)


class InvitationAcceptView(ApiView):
    """Accepting needs only to be signed in as the invited address: no membership yet."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["tenancy"],
        operation_id="invitation_accept",
        summary="Accept an invitation sent to your address (you join its organization)",
        request=InvitationAcceptSerializer,
        responses={201: MemberSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(InvitationAcceptSerializer)
        secret = data["token"].strip().rstrip("/").rsplit("/", 1)[-1]
        membership = invitations.invitation_accept(user=request.user, secret=secret)
        return Response(MemberSerializer(membership).data, status=201)
