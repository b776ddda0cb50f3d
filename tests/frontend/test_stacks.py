"""Stacks: the YAML editor's errors, the plan, deploy/destroy with confirmation, lock, unlock."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from provisioning.models import Operation, Stack, StackLock
from provisioning.runner import operation_run

pytestmark = pytest.mark.django_db

GOOD = """name: web
resources:
  db:
    dock: sandbox
    type: database
    properties: {name: app-db}
  site:
    dock: sandbox
    type: web-service
    properties: {name: "${db.name}-site"}
"""

BAD = """name: web
resources:
  db:
    dock: sandbox
    type: database
    properties:
      name: Bad Name!
  site:
    dock: nowhere
    type: web-service
"""


def save(client, text=GOOD):
    return client.post("/dashboard/stacks/new/", {"spec": text, "on_failure": "stop"})


def test_editor_points_each_error_at_its_line_and_path(login, owner, sandbox_dock):
    response = save(login(owner), BAD)
    html = response.content.decode()
    assert response.status_code == 400 and not Stack.objects.exists()
    assert "<code>spec.resources.db.properties.name</code>" in html
    assert '<a href="#L7">line 7</a>' in html and '<li id="L7" class="bad">' in html
    assert "unknown dock" in html and '<li id="L9" class="bad">' in html
    assert "Bad Name!" in html  # the text stays in the editor


def test_invalid_yaml_is_reported_with_its_line(login, owner, sandbox_dock):
    html = save(login(owner), "name: web\nresources:\n  db: [unclosed\n").content.decode()
    assert "invalid YAML at line 4" in html and '<li id="L3" class="bad">' in html


def test_save_then_plan_shows_colour_coded_creates(login, owner, sandbox_dock):
    client = login(owner)
    response = save(client)
    assert response["Location"] == "/dashboard/stacks/web/plan/"
    plan = client.get(response["Location"]).content.decode()
    assert plan.count('class="change change-create"') == 2
    assert "2 to create" in plan and 'id="deploy-button"' in plan


def test_deploy_runs_and_the_stack_page_shows_state_and_a_version(
    login, owner, sandbox_dock, django_capture_on_commit_callbacks
):
    client = login(owner)
    save(client)
    plan = client.get("/dashboard/stacks/web/deploy/").content.decode()
    key = plan.split('name="idempotency_key" value="')[1].split('"')[0]
    with django_capture_on_commit_callbacks():
        response = client.post("/dashboard/stacks/web/deploy/", {"idempotency_key": key})
    op = Operation.objects.get(kind="deploy")
    assert response["Location"] == f"/dashboard/operations/{op.pk}/"
    assert operation_run(op.pk, worker="test") == "succeeded"
    page = client.get("/dashboard/stacks/web/").content.decode()
    assert "<strong>v1</strong>" in page and page.count('class="badge badge-ok">created') == 2
    assert "db</td>" in page and "site</td>" in page
    replan = client.get("/dashboard/stacks/web/plan/").content.decode()
    assert replan.count('class="change change-no-op"') == 2
    assert "2 unchanged" in replan and "Nothing to change" in replan
    assert 'id="deploy-button"' not in replan  # a plan with no change offers no deploy


def test_second_deploy_while_locked_is_refused_on_the_plan_page(login, owner, sandbox_dock):
    client = login(owner)
    save(client)
    first = client.post("/dashboard/stacks/web/deploy/", {"idempotency_key": "a"})
    assert first.status_code == 303
    again = client.post("/dashboard/stacks/web/deploy/", {"idempotency_key": "b"})
    assert again.status_code == 409 and "stack locked by operation" in again.content.decode()


def test_destroy_needs_the_typed_stack_name(login, owner, sandbox_dock):
    client = login(owner)
    save(client)
    assert (
        client.post("/dashboard/stacks/web/destroy/", {"confirm_name": "nope"}).status_code == 400
    )
    assert not Operation.objects.filter(kind="destroy").exists()
    response = client.post("/dashboard/stacks/web/destroy/", {"confirm_name": "web"})
    assert response.status_code == 303 and Operation.objects.filter(kind="destroy").exists()


def test_viewer_can_plan_but_not_deploy(login, owner, viewer, sandbox_dock):
    save(login(owner))
    client = login(viewer)
    plan = client.get("/dashboard/stacks/web/plan/").content.decode()
    assert "change-create" in plan and "deploy-button" not in plan
    assert client.post("/dashboard/stacks/web/deploy/", {"idempotency_key": "k"}).status_code == 403
    assert client.post("/dashboard/stacks/web/refresh/").status_code == 403
    assert not Operation.objects.exists()


def test_lock_holder_is_shown_and_an_admin_can_force_unlock(login, owner, admin, sandbox_dock):
    save(login(owner))
    stack = Stack.objects.get()
    now = timezone.now()
    StackLock.objects.create(
        stack=stack, holder="4242", since=now, expires_at=now + timedelta(minutes=5)
    )
    page = login(admin).get("/dashboard/stacks/web/").content.decode()
    assert "Locked by operation" in page and "#4242" in page and "Force-unlock" in page
    assert "locked by operation 4242" in login(admin).get("/dashboard/stacks/").content.decode()
    assert login(admin).post("/dashboard/stacks/web/unlock/").status_code == 303
    assert not StackLock.objects.exists()
    assert AuditEvent.objects.filter(operation="stack.unlock").exists()


def test_empty_stack_list_invites_to_write_one(login, owner, viewer):
    assert "Write your first stack" in login(owner).get("/dashboard/stacks/").content.decode()
    assert "Write your first stack" not in login(viewer).get("/dashboard/stacks/").content.decode()


@pytest.mark.parametrize("provider", ["sandbox", "aws", "cloudflare"])
def test_new_stack_example_saves_as_is_with_the_orgs_own_dock(login, owner, sandbox, provider):
    """The editor's example names a dock the member has (``make run`` seeds "Sandbox")."""
    from tests.factories import DockFactory

    DockFactory(
        org=owner.org,
        name="Sandbox" if provider == "sandbox" else "My Dock: prod",
        provider=provider,
    )
    client = login(owner)
    html = client.get("/dashboard/stacks/new/").content.decode()
    example = re.search(r"<textarea[^>]*>(.*?)</textarea>", html, re.S).group(1)
    response = save(client, unescape(example).lstrip("\n"))
    assert response.status_code == 303, response.content.decode()
    assert response["Location"].endswith("/plan/")


def test_new_stack_example_without_any_dock_says_to_add_one(login, owner):
    html = login(owner).get("/dashboard/stacks/new/").content.decode()
    assert "no dock to deploy on yet" in html and 'href="/dashboard/docks/add/"' in html


def test_unknown_dock_names_the_docks_there_are_and_the_closest(login, owner, sandbox):
    from tests.factories import DockFactory

    DockFactory(org=owner.org, name="Sandbox", provider="sandbox")
    DockFactory(org=owner.org, name="AWS (emulated)", provider="aws")
    html = unescape(save(login(owner)).content.decode())
    assert "unknown dock 'sandbox': did you mean 'Sandbox'?" in html
    assert "The docks here: 'AWS (emulated)', 'Sandbox'." in html


def test_planning_an_edit_saves_nothing_and_deploy_applies_that_plan(
    login, owner, sandbox_dock, django_capture_on_commit_callbacks
):
    client = login(owner)
    save(client)
    stored = Stack.objects.get(name="web").spec_text
    draft = GOOD.replace("app-db", "app-db-2")
    response = client.post(
        "/dashboard/stacks/web/edit/", {"spec": draft, "on_failure": "stop", "action": "plan"}
    )
    assert response.status_code == 303
    assert Stack.objects.get(name="web").spec_text == stored  # planning saved nothing
    page = client.get(response["Location"]).content.decode()
    plan_id = page.split('name="plan" value="')[1].split('"')[0]
    assert response["Location"].endswith(f"?plan={plan_id}")
    assert "app-db-2" in page
    key = page.split('name="idempotency_key" value="')[1].split('"')[0]
    with django_capture_on_commit_callbacks():
        done = client.post(
            "/dashboard/stacks/web/deploy/", {"idempotency_key": key, "plan": plan_id}
        )
    op = Operation.objects.get(kind="deploy")
    assert done["Location"] == f"/dashboard/operations/{op.pk}/"
    assert op.plan["id"] == int(plan_id)
    assert Stack.objects.get(name="web").spec_text == draft  # the reviewed draft is the spec
    assert operation_run(op.pk, worker="test") == "succeeded"


def test_deploying_a_plan_made_stale_by_a_save_asks_to_plan_again(login, owner, sandbox_dock):
    client = login(owner)
    save(client)
    page = client.get("/dashboard/stacks/web/plan/").content.decode()
    plan_id = page.split('name="plan" value="')[1].split('"')[0]
    client.post(
        "/dashboard/stacks/web/edit/",
        {"spec": GOOD.replace("app-db", "other"), "on_failure": "stop", "action": "save"},
    )
    stale = client.post("/dashboard/stacks/web/deploy/", {"idempotency_key": "k", "plan": plan_id})
    assert stale.status_code == 409 and "Plan again" in stale.content.decode()
    assert not Operation.objects.filter(kind="deploy").exists()


CYCLE = """name: loop
resources:
  db:
    dock: sandbox
    type: database
    properties: {name: "${web.name}"}
  web:
    dock: sandbox
    type: server
    properties: {name: "${db.name}"}
"""


def _errors(html):
    return re.findall(r"<li>(.*?)</li>", html.split('class="spec-errors"')[1].split("</ul>")[0])


def test_editor_errors_show_their_line_once_and_in_order(login, owner, sandbox_dock):
    html = unescape(save(login(owner), BAD).content.decode())
    errors = _errors(html)
    lines = [int(m) for e in errors for m in re.findall(r'href="#L(\d+)"', e)]
    assert lines == sorted(lines) and len(lines) == len(errors)
    assert not any("(line " in e for e in errors), errors


def test_a_cycle_points_at_the_resource_that_starts_it(login, owner, sandbox_dock):
    html = unescape(save(login(owner), CYCLE).content.decode())
    assert "dependency cycle: db -&gt; web -&gt; db" in html or "dependency cycle" in html
    assert '<a href="#L3">line 3</a>' in html and '<li id="L3" class="bad">' in html


def test_a_tab_in_the_indentation_is_said_in_words(login, owner, sandbox_dock):
    html = unescape(save(login(owner), "name: web\nresources:\n\tdb: {}\n").content.decode())
    assert "tabs are not allowed in YAML indentation" in html
    assert "cannot start any token" not in html


def test_the_destroy_page_has_a_way_back(login, owner, sandbox_dock):
    client = login(owner)
    save(client)
    html = client.get("/dashboard/stacks/web/destroy/").content.decode()
    assert '<nav class="crumbs"' in html and 'href="/dashboard/stacks/web/"' in html


def test_stack_page_shows_outputs_versions_and_drift_of_its_resources(
    login, owner, sandbox_dock, django_capture_on_commit_callbacks
):
    from docks.models import Database

    client = login(owner)
    save(client)
    from conftest import actor_of
    from provisioning.services import stack_deploy

    deploy = stack_deploy(actor=actor_of(owner), stack=Stack.objects.get())
    assert operation_run(deploy.pk, worker="test") == "succeeded"
    Database.objects.filter(name="app-db").update(drift={"size": {"old": "s", "new": "m"}})
    html = unescape(client.get("/dashboard/stacks/web/").content.decode())
    assert "<code>name</code> app-db" in html  # the outputs
    assert "<details><summary><strong>v1</strong>" in html and '<pre class="code">' in html
    assert "Needs a look" in html and "changed outside StackDock: size" in html


def test_the_destroy_page_lists_every_resource_it_deletes(
    login, owner, sandbox_dock, django_capture_on_commit_callbacks
):
    client = login(owner)
    save(client)
    with django_capture_on_commit_callbacks():
        client.post("/dashboard/stacks/web/deploy/", {"idempotency_key": "d"})
    assert operation_run(Operation.objects.get(kind="deploy").pk, worker="test") == "succeeded"
    page = client.get("/dashboard/stacks/web/destroy/").content.decode()
    items = re.findall(r"<li>(.*?)</li>", page.split('class="confirm-items"')[1].split("</ul>")[0])
    assert [i.split(" ")[0] for i in items] == ["db", "site"]
    assert "(database, db-" in items[0] and "(web-service, web-" in items[1]
    assert "Type <code>web</code> to confirm." in page
