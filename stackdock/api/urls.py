"""``/api/v1/``: every endpoint, no trailing slashes; anything else is a JSON 404."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from audit.api.views import AuditExportViewSet, AuditViewSet
from docks.api.views import RESOURCE_VIEWSETS, DockViewSet, ProviderViewSet
from provisioning.api.views import OperationViewSet, ProvisionViewSet, StackViewSet
from stackdock.api.exceptions import error_body
from stackdock.api.views import (
    InvitationAcceptView,
    InvitationViewSet,
    MemberViewSet,
    RoleViewSet,
    ServiceAccountView,
    TokenViewSet,
    WhoamiView,
)

app_name = "api"


def acts(**mapping: str) -> dict[str, Any]:
    """HTTP method -> viewset action."""
    return mapping


LIST = acts(get="list")
LIST_CREATE = acts(get="list", post="create")


@csrf_exempt  # it changes nothing; without this a POST to an unknown URL gets an HTML 403
def not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Unknown URLs (and malformed ids, which match no route) under /api/v1/."""
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def _resource_routes() -> list:
    routes = []
    for table, viewset in RESOURCE_VIEWSETS.items():
        routes += [
            path(table, viewset.as_view(LIST), name=f"{table}-list"),
            path(
                f"{table}/<int:pk>",
                viewset.as_view(acts(get="retrieve", patch="partial_update", delete="destroy")),
                name=f"{table}-detail",
            ),
            path(
                f"{table}/<int:pk>/import",
                viewset.as_view(acts(post="import_resource")),
                name=f"{table}-import",
            ),
        ]
    return routes


def _stack_action(action: str, name: str | None = None) -> object:
    return path(
        f"stacks/<str:name>/{name or action}",
        StackViewSet.as_view(acts(post=action)),
        name=f"stack-{name or action}",
    )


urlpatterns = [
    path("whoami", WhoamiView.as_view(), name="whoami"),
    path("providers", ProviderViewSet.as_view(LIST), name="provider-list"),
    # docks
    path("docks", DockViewSet.as_view(LIST_CREATE), name="dock-list"),
    path(
        "docks/<uuid:pk>",
        DockViewSet.as_view(acts(get="retrieve", patch="partial_update", delete="destroy")),
        name="dock-detail",
    ),
    path("docks/<uuid:pk>/sync", DockViewSet.as_view(acts(post="sync")), name="dock-sync"),
    path(
        "docks/<uuid:pk>/rotate-credentials",
        DockViewSet.as_view(acts(post="rotate_credentials")),
        name="dock-rotate-credentials",
    ),
    # resources
    *_resource_routes(),
    # provisioning
    path("provision", ProvisionViewSet.as_view(acts(post="create")), name="provision"),
    path("operations", OperationViewSet.as_view(LIST), name="operation-list"),
    path(
        "operations/<int:pk>",
        OperationViewSet.as_view(acts(get="retrieve")),
        name="operation-detail",
    ),
    path(
        "operations/<int:pk>/cancel",
        OperationViewSet.as_view(acts(post="cancel")),
        name="operation-cancel",
    ),
    # stacks
    path("stacks", StackViewSet.as_view(LIST_CREATE), name="stack-list"),
    path(
        "stacks/<str:name>",
        StackViewSet.as_view(acts(get="retrieve", put="update", delete="destroy")),
        name="stack-detail",
    ),
    _stack_action("plan"),
    _stack_action("deploy"),
    _stack_action("destroy_resources", "destroy"),
    _stack_action("refresh"),
    _stack_action("unlock"),
    _stack_action("import_resource", "import"),
    path(
        "stacks/<str:name>/versions",
        StackViewSet.as_view(acts(get="versions")),
        name="stack-versions",
    ),
    # audit
    path("audit", AuditViewSet.as_view(LIST), name="audit-list"),
    path("audit/export", AuditExportViewSet.as_view(acts(get="export")), name="audit-export"),
    # members, roles, tokens
    path("members", MemberViewSet.as_view(LIST_CREATE), name="member-list"),
    path(
        "members/<int:pk>",
        MemberViewSet.as_view(acts(patch="partial_update", delete="destroy")),
        name="member-detail",
    ),
    path("invitations", InvitationViewSet.as_view(LIST_CREATE), name="invitation-list"),
    path(
        "invitations/<int:pk>",
        InvitationViewSet.as_view(acts(delete="destroy")),
        name="invitation-detail",
    ),
    path("invitations/accept", InvitationAcceptView.as_view(), name="invitation-accept"),
    path("service-accounts", ServiceAccountView.as_view(), name="service-account-create"),
    path("roles", RoleViewSet.as_view(LIST_CREATE), name="role-list"),
    path(
        "roles/<int:pk>",
        RoleViewSet.as_view(acts(patch="partial_update", delete="destroy")),
        name="role-detail",
    ),
    path("tokens", TokenViewSet.as_view(LIST_CREATE), name="token-list"),
    path("tokens/<int:pk>", TokenViewSet.as_view(acts(delete="destroy")), name="token-detail"),
    re_path(r"^[\s\S]*$", not_found),  # [\s\S], not ".": a path holding a newline too
]
