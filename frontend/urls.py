from __future__ import annotations

from django.urls import path, re_path

from frontend.views import audit, docks, org_settings, overview, provision, resources, stacks

app_name = "frontend"

TABLES = r"(?P<table>servers|web-services|domains|databases|buckets)"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("switch-org/", overview.switch_org, name="switch-org"),
    # docks
    path("docks/", docks.dock_list, name="docks"),
    path("docks/add/", docks.dock_add, name="dock-add"),
    path("docks/add/<slug:provider>/", docks.dock_add_provider, name="dock-add-provider"),
    path("docks/<uuid:dock_id>/", docks.dock_detail, name="dock"),
    path("docks/<uuid:dock_id>/sync/", docks.dock_sync, name="dock-sync"),
    path("docks/<uuid:dock_id>/rotate/", docks.dock_rotate, name="dock-rotate"),
    path("docks/<uuid:dock_id>/delete/", docks.dock_delete, name="dock-delete"),
    path("docks/<uuid:dock_id>/grants/", docks.dock_grants, name="dock-grants"),
    # the provisioning wizard and live status
    path("provision/", provision.provision_start, name="provision"),
    path("provision/<slug:provider>/", provision.provision_provider, name="provision-provider"),
    path(
        "provision/<slug:provider>/<slug:resource_type>/",
        provision.provision_form,
        name="provision-form",
    ),
    path(
        "provision/<slug:provider>/<slug:resource_type>/<int:provision_id>/",
        provision.provision_status,
        name="provision-status",
    ),
    path("operations/", provision.operation_list, name="operations"),
    path("operations/<int:pk>/", provision.operation_detail, name="operation"),
    path("operations/<int:pk>/cancel/", provision.operation_cancel_view, name="operation-cancel"),
    # stacks
    path("stacks/", stacks.stack_list, name="stacks"),
    path("stacks/new/", stacks.stack_new, name="stack-new"),
    path("stacks/<slug:name>/", stacks.stack_detail, name="stack"),
    path("stacks/<slug:name>/edit/", stacks.stack_edit, name="stack-edit"),
    path("stacks/<slug:name>/plan/", stacks.stack_plan_view, name="stack-plan"),
    path("stacks/<slug:name>/deploy/", stacks.stack_deploy_view, name="stack-deploy"),
    path("stacks/<slug:name>/destroy/", stacks.stack_destroy_view, name="stack-destroy"),
    path("stacks/<slug:name>/refresh/", stacks.stack_refresh_view, name="stack-refresh"),
    path("stacks/<slug:name>/unlock/", stacks.stack_unlock_view, name="stack-unlock"),
    path("stacks/<slug:name>/delete/", stacks.stack_delete_view, name="stack-delete"),
    # audit
    path("audit/", audit.audit_list, name="audit"),
    re_path(r"^audit/export\.(?P<fmt>csv|jsonl)$", audit.audit_export, name="audit-export"),
    # organization settings
    path("settings/members/", org_settings.members, name="members"),
    path("settings/members/<int:pk>/role/", org_settings.member_role, name="member-role"),
    path("settings/members/<int:pk>/remove/", org_settings.member_remove, name="member-remove"),
    path(
        "settings/invitations/<int:pk>/withdraw/",
        org_settings.invitation_withdraw,
        name="invitation-withdraw",
    ),
    path("settings/roles/", org_settings.roles, name="roles"),
    path("settings/roles/<int:pk>/", org_settings.role_change, name="role"),
    path("settings/tokens/", org_settings.tokens, name="tokens"),
    path("settings/tokens/<int:pk>/revoke/", org_settings.token_revoke, name="token-revoke"),
    # the universal tables (last: their names are a pattern)
    re_path(rf"^{TABLES}/$", resources.resource_list, name="resources"),
    re_path(rf"^{TABLES}/(?P<pk>\d+)/$", resources.resource_detail, name="resource"),
    re_path(rf"^{TABLES}/(?P<pk>\d+)/edit/$", resources.resource_edit, name="resource-edit"),
    re_path(
        rf"^{TABLES}/(?P<pk>\d+)/import/$",
        resources.resource_import_view,
        name="resource-import",
    ),
    re_path(
        rf"^{TABLES}/(?P<pk>\d+)/destroy/$", resources.resource_destroy, name="resource-destroy"
    ),
]
