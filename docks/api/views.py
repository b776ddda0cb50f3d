"""``/providers``, ``/docks`` and the universal tables (``/servers``, ``/buckets``...)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from docks import selectors, services
from docks.api.list_cache import list_response
from docks.api.serializers import (
    RESOURCE_ROWS,
    RESOURCE_SERIALIZERS,
    DockCreateSerializer,
    DockDeleteQuerySerializer,
    DockSerializer,
    DockUpdateSerializer,
    ProviderSerializer,
    ResourceFilterSerializer,
    ResourceUpdateSerializer,
    RotateCredentialsSerializer,
)
from docks.models import UNIVERSAL_MODELS, Dock
from provisioning import services as provisioning_services
from provisioning.api.serializers import ImportedSerializer, ResourceImportSerializer
from provisioning.registry import get_registry
from stackdock.api.base import ApiViewSet, parse_int_id, parse_uuid
from stackdock.api.serializers import ReceiptSerializer
from stackdock.models import Area

IDEMPOTENCY_PARAM = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Replays of the same key and body return the first response; "
    "the same key with another body is a 409.",
)


def provider_descriptions() -> list[dict[str, Any]]:
    """Every provider of this installation, with JSON Schemas of its credentials and specs."""
    registry = get_registry()
    out = []
    for name in registry.providers():
        cls = registry.adapter_class(name)
        out.append(
            {
                "name": name,
                "label": cls.label,
                "credentialless": cls.credentialless,
                "credentials": cls.credentials_model.model_json_schema(),
                "resource_types": [
                    {
                        "name": rtype.name,
                        "table": rtype.table,
                        "description": rtype.description,
                        "replace_fields": sorted(rtype.replace_fields),
                        "outputs": list(rtype.outputs),
                        "schema": registry.json_schema(name, rtype.name),
                    }
                    for rtype in cls.resource_types.values()
                ],
            }
        )
    return out


class ProviderViewSet(ApiViewSet):
    @extend_schema(
        tags=["providers"],
        summary="Providers, their credentials and resource spec JSON Schemas",
        responses=ProviderSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        return self.paginated(provider_descriptions(), ProviderSerializer)


class DockViewSet(ApiViewSet):
    def get_dock(self, pk: Any) -> Dock:
        dock_id = parse_uuid(pk, "Dock")
        return self.visible_or_denied(
            lambda: selectors.dock_get(actor=self.actor, dock_id=dock_id),
            Dock,
            Area.DOCKS,
            pk=dock_id,
        )

    @extend_schema(tags=["docks"], summary="List docks", responses=DockSerializer(many=True))
    def list(self, request: Request) -> Response:
        return self.paginated(selectors.docks_for(actor=self.actor), DockSerializer)

    @extend_schema(
        tags=["docks"],
        summary="Connect a provider account (credentials are checked live first)",
        request=DockCreateSerializer,
        responses={201: DockSerializer},
    )
    def create(self, request: Request) -> Response:
        data = self.validated(DockCreateSerializer)
        actor = self.actor
        dock = services.dock_connect(
            actor=actor,
            org=self.org,
            name=data["name"],
            provider=data["provider"],
            credentials=data.get("credentials") or {},
            provisioning_credentials=data.get("provisioning_credentials") or None,
            endpoint_url=data.get("endpoint_url") or "",
        )
        return Response(DockSerializer(dock).data, status=201)

    @extend_schema(tags=["docks"], summary="One dock", responses=DockSerializer)
    def retrieve(self, request: Request, pk: Any) -> Response:
        return Response(DockSerializer(self.get_dock(pk)).data)

    @extend_schema(
        tags=["docks"],
        summary="Rename a dock, change its endpoint or sync interval",
        request=DockUpdateSerializer,
        responses=DockSerializer,
    )
    def partial_update(self, request: Request, pk: Any) -> Response:
        data = self.validated(DockUpdateSerializer)
        dock = services.dock_update(actor=self.actor, dock=self.get_dock(pk), **data)
        return Response(DockSerializer(dock).data)

    @extend_schema(
        tags=["docks"],
        summary="Delete a dock (409 while StackDock-provisioned resources exist, "
        "unless orphan=true)",
        parameters=[DockDeleteQuerySerializer],
        responses={204: None},
    )
    def destroy(self, request: Request, pk: Any) -> Response:
        query = self.query(DockDeleteQuerySerializer)
        services.dock_delete(
            actor=self.actor, dock=self.get_dock(pk), orphan=bool(query.get("orphan"))
        )
        return Response(status=204)

    @extend_schema(
        tags=["docks"],
        operation_id="docks_sync",
        summary="Sync the dock now (queues an operation)",
        request=None,
        parameters=[IDEMPOTENCY_PARAM],
        responses={202: ReceiptSerializer},
    )
    def sync(self, request: Request, pk: Any) -> Response:
        replay = self.replay()
        if replay is not None:
            return replay
        key, fingerprint = self.idempotency()
        op = provisioning_services.dock_sync_request(
            actor=self.actor,
            dock=self.get_dock(pk),
            idempotency_key=key,
            request_hash=fingerprint,
        )
        return self.accepted(op)

    @extend_schema(
        tags=["docks"],
        operation_id="docks_rotate_credentials",
        summary="Rotate the dock's provisioning credentials (checked live first; "
        "the previous ones are erased after the grace window)",
        request=RotateCredentialsSerializer,
        responses=DockSerializer,
    )
    def rotate_credentials(self, request: Request, pk: Any) -> Response:
        data = self.validated(RotateCredentialsSerializer)
        dock = services.credentials_rotate(
            actor=self.actor,
            dock=self.get_dock(pk),
            credentials=data["credentials"],
            grace_seconds=data["grace_seconds"],
        )
        return Response(DockSerializer(dock).data)


class ResourceViewSet(ApiViewSet):
    """One universal table; subclassed per table by ``resource_viewset``."""

    table: str = ""
    #: serve list pages from the shared cache (docks.api.list_cache) when allowed
    list_cache: bool = True

    def get_row(self, pk: Any) -> Any:
        row_id = parse_int_id(pk, "Resource")
        return self.visible_or_denied(
            lambda: selectors.resource_get(actor=self.actor, table=self.table, resource_id=row_id),
            UNIVERSAL_MODELS[self.table],
            Area.RESOURCES,
            pk=row_id,
        )

    def list(self, request: Request) -> Response:
        filters = self.query(ResourceFilterSerializer)
        qs = selectors.resources_for(actor=self.actor, table=self.table, filters=filters)
        return list_response(
            self,
            table=self.table,
            queryset=qs,
            rows=RESOURCE_ROWS[self.table],
            filters=filters,
            cached=self.list_cache,
        )

    def retrieve(self, request: Request, pk: Any) -> Response:
        return Response(RESOURCE_SERIALIZERS[self.table](self.get_row(pk)).data)

    def partial_update(self, request: Request, pk: Any) -> Response:
        replay = self.replay()
        if replay is not None:
            return replay
        data = self.validated(ResourceUpdateSerializer)
        key, fingerprint = self.idempotency()
        op = provisioning_services.resource_update(
            actor=self.actor,
            table=self.table,
            row=self.get_row(pk),
            changes=data["spec"],
            confirm=data.get("confirm", ""),
            idempotency_key=key,
            request_hash=fingerprint,
        )
        return self.accepted(op)

    def import_resource(self, request: Request, pk: Any) -> Response:
        self.validated(ResourceImportSerializer)
        imported = provisioning_services.resource_import(
            actor=self.actor, table=self.table, row=self.get_row(pk)
        )
        return Response(ImportedSerializer(imported).data)

    def destroy(self, request: Request, pk: Any) -> Response:
        replay = self.replay()
        if replay is not None:
            return replay
        key, fingerprint = self.idempotency()
        op = provisioning_services.resource_delete(
            actor=self.actor,
            table=self.table,
            row=self.get_row(pk),
            idempotency_key=key,
            request_hash=fingerprint,
        )
        return self.accepted(op)


def resource_viewset(table: str) -> type[ResourceViewSet]:
    """The viewset of one table, with its own schema (its columns, its tag)."""
    output = RESOURCE_SERIALIZERS[table]
    label = table.replace("-", " ")
    tag = ["resources"]
    schemas = {
        "list": extend_schema(
            tags=tag,
            summary=f"List {label}",
            parameters=[ResourceFilterSerializer],
            responses=output(many=True),
        ),
        "retrieve": extend_schema(tags=tag, summary=f"One of the {label}", responses=output),
        "partial_update": extend_schema(
            tags=tag,
            summary="Change a StackDock-provisioned resource's spec (queues an update; "
            "400 confirmation_required with the plan when it would replace the resource "
            'and confirm is not "replace"; 409 for discovered resources)',
            request=ResourceUpdateSerializer,
            parameters=[IDEMPOTENCY_PARAM],
            responses={202: ReceiptSerializer},
        ),
        "destroy": extend_schema(
            tags=tag,
            summary="Deprovision a StackDock-provisioned resource (queues a delete; "
            "409 for discovered resources)",
            parameters=[IDEMPOTENCY_PARAM],
            responses={202: ReceiptSerializer},
        ),
        "import_resource": extend_schema(
            tags=tag,
            operation_id=f"{table.replace('-', '_')}_import",
            summary="Bring a discovered resource under management as a single resource: "
            "read from its provider (nothing there changes), its state written; 409 when "
            "it is already managed or cannot be described by its type's spec",
            request=None,
            responses=ImportedSerializer,
        ),
    }
    name = "".join(part.title() for part in table.split("-")) + "ViewSet"
    attrs: dict[str, Any] = {"table": table, "__module__": __name__}
    for action, decorator in schemas.items():
        base = getattr(ResourceViewSet, action)

        def method(self: ResourceViewSet, *args: Any, _base: Any = base, **kwargs: Any) -> Any:
            return _base(self, *args, **kwargs)

        method.__name__ = action
        attrs[action] = decorator(method)
    return type(name, (ResourceViewSet,), attrs)


RESOURCE_VIEWSETS: dict[str, type[ResourceViewSet]] = {
    table: resource_viewset(table) for table in UNIVERSAL_MODELS
}
