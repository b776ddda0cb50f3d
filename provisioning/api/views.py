"""``/provision``, ``/operations`` and ``/stacks``."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from docks.api.views import IDEMPOTENCY_PARAM
from docks.models import Dock
from docks.selectors import resource_get
from provisioning import limits, selectors, services
from provisioning.api.parsers import YAML_PARSERS
from provisioning.api.serializers import (
    DeployRequestSerializer,
    EventsQuerySerializer,
    ImportedSerializer,
    OperationDetailSerializer,
    OperationFilterSerializer,
    OperationSerializer,
    PlanRequestSerializer,
    PlanSerializer,
    ProvisionSerializer,
    StackCreateSerializer,
    StackDetailSerializer,
    StackImportSerializer,
    StackSerializer,
    StackUpdateSerializer,
    TargetsSerializer,
    UnlockSerializer,
    VersionSerializer,
)
from provisioning.models import Operation, OperationEvent, Stack, StackKind, StateVersion
from stackdock.api.base import ApiViewSet, org_scope, parse_int_id
from stackdock.api.parsers import BoundedJSONParser
from stackdock.api.serializers import ReceiptSerializer
from stackdock.exceptions import Conflict, NotFound
from stackdock.models import Area
from stackdock.utils.ids import is_uuid

PAGINATION_PARAMS = [
    OpenApiParameter("limit", int, description="Page size (default 50, at most 200)."),
    OpenApiParameter("offset", int, description="Index of the first result."),
]
YAML_BODY = {"application/yaml": OpenApiTypes.STR}


class ProvisionViewSet(ApiViewSet):
    def dock_ref(self, ref: str) -> Dock:
        """The dock a body names (id or name), in the actor's organization. Whether the
        actor may provision on it is the service's decision (403)."""
        lookup = {"pk": ref} if is_uuid(ref) else {"name": ref}
        try:
            return Dock.objects.select_related("org").get_visible(
                org_scope(self.actor), Area.DOCKS, **lookup
            )
        except NotFound:
            raise NotFound(f"Dock {ref!r} not found.", fields={"dock": ["not found"]}) from None

    @extend_schema(
        tags=["provisioning"],
        operation_id="provision",
        summary="Provision one resource (provisioning: full, or a provision grant on the dock)",
        request=ProvisionSerializer,
        parameters=[IDEMPOTENCY_PARAM],
        responses={202: ReceiptSerializer},
    )
    def create(self, request: Request) -> Response:
        replay = self.replay()
        if replay is not None:
            return replay
        data = self.validated(ProvisionSerializer)
        key, fingerprint = self.idempotency()
        op = services.resource_provision(
            actor=self.actor,
            dock=self.dock_ref(data["dock"]),
            resource_type=data["resource_type"],
            spec=data["spec"],
            idempotency_key=key,
            request_hash=fingerprint,
        )
        return self.accepted(op)


class OperationViewSet(ApiViewSet):
    def get_operation(self, pk: Any) -> Operation:
        op_id = parse_int_id(pk, "Operation")
        return self.visible_or_denied(
            lambda: selectors.operation_get(actor=self.actor, operation_id=op_id),
            Operation,
            Area.PROVISIONING,
            pk=op_id,
        )

    @extend_schema(
        tags=["operations"],
        summary="List operations (listProvisioningOperations)",
        parameters=[OperationFilterSerializer],
        responses=OperationSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        filters = self.query(OperationFilterSerializer)
        qs = selectors.operations_for(actor=self.actor, filters=filters)
        return self.paginated(qs, OperationSerializer)

    @extend_schema(
        tags=["operations"],
        summary="One operation with its events (getProvisionStatus; cheap to poll)",
        parameters=[EventsQuerySerializer],
        responses=OperationDetailSerializer,
    )
    def retrieve(self, request: Request, pk: Any) -> Response:
        after = self.query(EventsQuerySerializer).get("events_after", 0)
        op = self.get_operation(pk)
        events = list(OperationEvent.objects.filter(operation=op, seq__gt=after).order_by("seq"))
        return Response(OperationDetailSerializer(op, context={"events": events}).data)

    @extend_schema(
        tags=["operations"],
        operation_id="operations_cancel",
        summary="Cancel an operation (queued: at once; running: between steps)",
        request=None,
        responses=OperationSerializer,
    )
    def cancel(self, request: Request, pk: Any) -> Response:
        op = services.operation_cancel(actor=self.actor, operation=self.get_operation(pk))
        return Response(OperationSerializer(op).data)


#: the stack actions whose body is a stack document
DOCUMENT_ACTIONS = ("create", "update")


class StackViewSet(ApiViewSet):
    parser_classes = [BoundedJSONParser, *YAML_PARSERS]

    def check_permissions(self, request: Request) -> None:
        """Permission before cost (provisioning/limits.py): before a document's body is
        read, the actor must be one who may write stacks in the organization (else 403,
        whatever the body), and the body must be within the document limit (else 413)."""
        super().check_permissions(request)
        if self.action == "plan":  # a draft may ride along: its size is checked unread
            limits.check_document_size(int(request.META.get("CONTENT_LENGTH") or 0))
            return
        if self.action not in DOCUMENT_ACTIONS:
            return
        org = self.get_stack(self.kwargs["name"]).org if self.action == "update" else self.org
        services.require_stack_author(actor=self.actor, org=org)
        limits.check_document_size(int(request.META.get("CONTENT_LENGTH") or 0))

    def get_stack(self, name: str) -> Stack:
        return self.visible_or_denied(
            lambda: selectors.stack_get(actor=self.actor, name=name),
            Stack,
            Area.PROVISIONING,
            name=name,
            kind=StackKind.STACK,
        )

    def stack_response(self, stack: Stack, status: int = 200) -> Response:
        stack = selectors.stacks_with_state(actor=self.actor).get(pk=stack.pk)
        return Response(StackDetailSerializer(stack).data, status=status)

    @extend_schema(tags=["stacks"], summary="List stacks", responses=StackSerializer(many=True))
    def list(self, request: Request) -> Response:
        return self.paginated(selectors.stacks_with_state(actor=self.actor), StackSerializer)

    @extend_schema(
        tags=["stacks"],
        summary="Create a stack from a YAML or JSON document (nothing is applied)",
        request={"application/json": StackCreateSerializer, **YAML_BODY},
        responses={201: StackDetailSerializer},
    )
    def create(self, request: Request) -> Response:
        data = self.validated(StackCreateSerializer)
        actor = self.actor
        name = (
            data.get("name")
            or services.stack_parse(
                actor=actor, org=self.org, doc=data["spec"], max_resources=limits.max_resources()
            ).name
        )
        taken = Stack.objects.visible_to(org_scope(actor), Area.PROVISIONING).filter(name=name)
        if taken.exists():
            raise Conflict(f"A stack named {name!r} already exists.", fields={"name": ["taken"]})
        try:
            stack = services.stack_save(
                actor=actor,
                org=self.org,
                doc=data["spec"],
                name=data.get("name"),
                on_failure=data.get("on_failure"),
            )
        except IntegrityError:  # a concurrent create of the same name won the race
            raise Conflict(
                f"A stack named {name!r} already exists.", fields={"name": ["taken"]}
            ) from None
        return self.stack_response(stack, status=201)

    @extend_schema(
        tags=["stacks"], summary="One stack: spec, state, lock", responses=StackDetailSerializer
    )
    def retrieve(self, request: Request, name: str) -> Response:
        return self.stack_response(self.get_stack(name))

    @extend_schema(
        tags=["stacks"],
        summary="Replace a stack's spec (nothing is applied)",
        request={"application/json": StackUpdateSerializer, **YAML_BODY},
        responses=StackDetailSerializer,
    )
    def update(self, request: Request, name: str) -> Response:
        data = self.validated(StackUpdateSerializer)
        stack = self.get_stack(name)
        stack = services.stack_save(
            actor=self.actor,
            org=stack.org,
            doc=data["spec"],
            name=stack.name,
            on_failure=data.get("on_failure"),
        )
        return self.stack_response(stack)

    @extend_schema(
        tags=["stacks"], summary="Delete a stack that manages nothing", responses={204: None}
    )
    def destroy(self, request: Request, name: str) -> Response:
        services.stack_delete(actor=self.actor, stack=self.get_stack(name))
        return Response(status=204)

    @extend_schema(
        tags=["stacks"],
        operation_id="stacks_plan",
        summary="Plan a deploy and save the plan (no lock, no provider call; a draft spec "
        "in the request is planned, not saved)",
        request=PlanRequestSerializer,
        responses=PlanSerializer,
    )
    def plan(self, request: Request, name: str) -> Response:
        data = self.validated(PlanRequestSerializer)
        plan = services.stack_plan(
            actor=self.actor,
            stack=self.get_stack(name),
            targets=data.get("targets") or None,
            doc=data.get("spec"),
        )
        return Response(PlanSerializer(plan).data)

    def _queue(
        self,
        service: Any,
        name: str,
        with_targets: bool = True,
        serializer: type[TargetsSerializer] = TargetsSerializer,
    ) -> Response:
        replay = self.replay()
        if replay is not None:
            return replay
        data = self.validated(serializer) if with_targets else {}
        key, fingerprint = self.idempotency()
        extra = {"targets": data.get("targets") or None} if with_targets else {}
        if data.get("plan") is not None:
            extra["plan"] = data["plan"]
        op = service(
            actor=self.actor,
            stack=self.get_stack(name),
            idempotency_key=key,
            request_hash=fingerprint,
            **extra,
        )
        return self.accepted(op)

    @extend_schema(
        tags=["stacks"],
        operation_id="stacks_deploy",
        summary="Apply the stack (queues a deploy): exactly a saved plan, or the stored "
        "spec planned and applied in one; 409 while the stack is locked or the plan is stale",
        request=DeployRequestSerializer,
        parameters=[IDEMPOTENCY_PARAM],
        responses={202: ReceiptSerializer},
    )
    def deploy(self, request: Request, name: str) -> Response:
        return self._queue(services.stack_deploy, name, serializer=DeployRequestSerializer)

    @extend_schema(
        tags=["stacks"],
        operation_id="stacks_destroy_resources",
        summary="Destroy what the stack manages, in reverse order (queues a destroy)",
        request=TargetsSerializer,
        parameters=[IDEMPOTENCY_PARAM],
        responses={202: ReceiptSerializer},
    )
    def destroy_resources(self, request: Request, name: str) -> Response:
        return self._queue(services.stack_destroy, name)

    @extend_schema(
        tags=["stacks"],
        operation_id="stacks_refresh",
        summary="Read every resource back from its provider and record drift (queues a refresh)",
        request=None,
        parameters=[IDEMPOTENCY_PARAM],
        responses={202: ReceiptSerializer},
    )
    def refresh(self, request: Request, name: str) -> Response:
        return self._queue(services.stack_refresh, name, with_targets=False)

    @extend_schema(
        tags=["stacks"],
        operation_id="stacks_unlock",
        summary="Drop the stack's lock whoever holds it (admins; audited)",
        request=None,
        responses=UnlockSerializer,
    )
    def unlock(self, request: Request, name: str) -> Response:
        released = services.stack_unlock(actor=self.actor, stack=self.get_stack(name))
        return Response(UnlockSerializer({"released": released}).data)

    @extend_schema(
        tags=["stacks"],
        operation_id="stacks_import",
        summary="Add a discovered resource to the stack under a logical name: its spec "
        "gains the resource as read from its provider (nothing there changes) and its state "
        "is written; 409 when it is already managed, the name is taken or the stack locked",
        request=StackImportSerializer,
        responses=ImportedSerializer,
    )
    def import_resource(self, request: Request, name: str) -> Response:
        data = self.validated(StackImportSerializer)
        stack = self.get_stack(name)
        try:
            row = resource_get(actor=self.actor, table=data["table"], resource_id=data["id"])
        except NotFound:
            raise NotFound(
                f"No {data['table']} row {data['id']}.", fields={"id": ["not found"]}
            ) from None
        imported = services.stack_import(
            actor=self.actor,
            stack=stack,
            table=data["table"],
            row=row,
            resource=data["resource"],
        )
        return Response(ImportedSerializer(imported).data)

    @extend_schema(
        tags=["stacks"],
        operation_id="stacks_versions",
        summary="The stack's state versions (one per apply), newest first",
        parameters=PAGINATION_PARAMS,
        responses=VersionSerializer(many=True),
    )
    def versions(self, request: Request, name: str) -> Response:
        stack = self.get_stack(name)
        qs = StateVersion.objects.filter(stack=stack).order_by("-number")
        return self.paginated(qs, VersionSerializer)
