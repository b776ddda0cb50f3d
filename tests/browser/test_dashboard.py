"""The dashboard in a real browser: log in, add a dock, the provisioning wizard with live
status, a form error, a viewer's limits, a stack plan and deploy, the audit log.

Each test saves a screenshot under test-results/browser/ for a human to look at.
"""

from __future__ import annotations

import boto3
import pytest
from playwright.sync_api import expect

from conftest import actor_of
from docks.models import Dock
from docks.services import dock_connect
from provisioning.models import Operation
from tests.factories import DockFactory

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

CANARY = "CANARY-browser-secret-0d5e"
AWS_KEY = "AKIATESTTESTTEST0001"

#: Records every status the live panel shows (the panel is replaced on each poll).
RECORD_STATUSES = """() => {
  window.__reloadMarker = 'still-here';
  window.__statuses = [];
  const note = () => {
    const el = document.querySelector('#op-status');
    const s = el && el.dataset.status;
    if (s && window.__statuses[window.__statuses.length - 1] !== s) window.__statuses.push(s);
  };
  note();
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true, attributes: true});
}"""


def aws_dock(owner, moto: str) -> Dock:
    return dock_connect(
        actor=actor_of(owner),
        org=owner.org,
        name="aws-emulated",
        provider="aws",
        credentials={
            "access_key_id": AWS_KEY,
            "secret_access_key": CANARY,
            "region": "us-east-1",
            "sync_regions": ["us-east-1"],
        },
        endpoint_url=moto,
    )


def watch_until_finished(page, timeout_ms: int = 90_000) -> list[str]:
    """Wait, without reloading, until the live panel shows a terminal status."""
    page.evaluate(RECORD_STATUSES)
    try:
        page.wait_for_selector(
            '#op-status[data-status="succeeded"], #op-status[data-status="failed"], '
            '#op-status[data-status="cancelled"]',
            timeout=timeout_ms,
        )
    except Exception:
        rows = list(Operation.objects.values("pk", "kind", "status", "attempts", "error", "worker"))
        raise AssertionError(f"no terminal status; operations: {rows}") from None
    assert page.evaluate("window.__reloadMarker") == "still-here", "the page was reloaded"
    return page.evaluate("window.__statuses")


def test_log_in_and_see_the_overview(page, owner, login, shot):
    page.goto("/dashboard/")
    page.wait_for_url("**/accounts/login/**")
    page.get_by_label("Email").fill(owner.user.username)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    # The form posts and the page is replaced: expect() waits for the new page's alert.
    expect(page.get_by_role("alert")).to_be_visible()
    shot(page, "01-login-error")
    login(page, owner)
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme")
    expect(page.get_by_text("No docks yet")).to_be_visible()
    shot(page, "01-overview")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "01-overview-mobile")


def test_add_the_emulated_aws_dock(page, owner, login, shot, moto):
    login(page, owner)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Docks").click()
    page.get_by_role("link", name="Add a dock").first.click()
    page.get_by_role("link", name="Amazon Web Services").click()
    page.get_by_label("Dock name").fill("aws-emulated")
    page.get_by_label("Endpoint override").fill(moto)
    page.get_by_label("Access Key Id").fill(AWS_KEY)
    page.get_by_label("Secret Access Key").fill(CANARY)
    page.get_by_label("Sync Regions").fill("us-east-1")
    shot(page, "02-add-dock-form")
    page.get_by_role("button", name="Check and connect").click()
    page.wait_for_url("**/dashboard/docks/*-*/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("aws-emulated")
    assert CANARY not in page.content()
    dock = Dock.objects.get()
    assert dock.endpoint_url == moto and dock.provider == "aws"
    shot(page, "02-dock-detail")


def test_wizard_provisions_an_s3_bucket_and_the_status_updates_live(
    page, owner, login, shot, moto, start_worker
):
    aws_dock(owner, moto)
    login(page, owner)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="+ Provision").click()
    page.get_by_role("link", name="Amazon Web Services").click()
    page.get_by_role("link", name="s3-bucket").click()
    page.get_by_label("Name").fill("dash-photos")
    page.get_by_label("Versioning").check()
    page.get_by_label("Tags").fill("team=web\nenv=test")
    shot(page, "03-wizard-form")
    page.get_by_role("button", name="Provision").click()
    page.wait_for_url("**/dashboard/provision/aws/s3-bucket/*/")
    assert page.locator("#op-status").get_attribute("hx-trigger") == "every 500ms"
    assert page.locator("#op-status").get_attribute("data-status") in ("queued", "running")
    shot(page, "03-status-waiting")
    start_worker()  # the page keeps polling while the worker starts and runs it
    statuses = watch_until_finished(page)
    assert statuses[0] in ("queued", "running") and statuses[-1] == "succeeded", statuses
    assert page.locator("#op-status").get_attribute("hx-trigger") is None  # polling stopped
    assert page.locator("progress").first.get_attribute("value") == "1"
    shot(page, "03-status-succeeded")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "03-status-succeeded-mobile")
    page.set_viewport_size({"width": 1280, "height": 860})
    s3 = boto3.client(
        "s3",
        endpoint_url=moto,
        region_name="us-east-1",
        aws_access_key_id=AWS_KEY,
        aws_secret_access_key="x",
    )
    assert "dash-photos" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    page.get_by_role("link", name="Open dash-photos").click()
    page.wait_for_url("**/dashboard/buckets/*/")
    expect(page.get_by_text("Provisioned", exact=True).first).to_be_visible()
    shot(page, "03-bucket-detail")


def test_bad_bucket_name_shows_the_error_beside_the_field(page, owner, login, shot, moto):
    aws_dock(owner, moto)
    login(page, owner)
    page.goto("/dashboard/provision/aws/s3-bucket/")
    page.get_by_label("Name").fill("Bad_Bucket")
    page.get_by_role("button", name="Provision").click()
    error = page.locator('[data-field="name"] .field-error')
    expect(error).to_contain_text("lowercase letters, digits, hyphens and dots")
    assert page.get_by_label("Name").input_value() == "Bad_Bucket"
    assert not Operation.objects.exists()
    shot(page, "04-form-error")


def test_viewer_sees_no_provision_button_and_gets_403(
    page, owner, viewer, login, shot, sandbox_dock
):
    login(page, viewer)
    assert page.get_by_role("link", name="Provision").count() == 0
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Buckets").click()
    page.wait_for_url("**/dashboard/buckets/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert page.get_by_role("link", name="Provision").count() == 0
    shot(page, "05-viewer-buckets")
    response = page.goto("/dashboard/provision/sandbox/bucket/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="You can't do that")).to_be_visible()
    shot(page, "05-viewer-403")


STACK = """name: shop
resources:
  db:
    dock: sandbox
    type: database
    properties: {name: shop-db, latency_ms: 1500}
  web:
    dock: sandbox
    type: web-service
    properties: {name: "${db.name}-web", size: small, latency_ms: 1500}
"""


def test_stack_plan_and_deploy_on_the_sandbox(page, owner, login, shot, start_worker):
    DockFactory(org=owner.org, name="sandbox", provider="sandbox")
    start_worker()
    login(page, owner)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Stacks").click()
    page.get_by_role("link", name="Write your first stack").click()
    page.get_by_label("Stack spec (YAML or JSON)").fill(STACK)
    page.get_by_role("button", name="Save and plan").click()
    page.wait_for_url("**/dashboard/stacks/shop/plan/")
    assert page.locator(".change-create").count() == 2
    shot(page, "06-stack-plan")
    page.get_by_role("button", name="Deploy these changes").click()
    page.wait_for_url("**/dashboard/operations/*/")
    statuses = watch_until_finished(page)
    assert "running" in statuses and statuses[-1] == "succeeded", statuses
    assert page.locator(".events .ev").count() >= 4
    shot(page, "06-deploy-succeeded")
    page.get_by_role("link", name="shop", exact=True).click()
    page.wait_for_url("**/dashboard/stacks/shop/")
    expect(page.get_by_text("v1", exact=True)).to_be_visible()
    shot(page, "06-stack-detail")


def test_audit_page_shows_the_provision(page, owner, login, shot, sandbox_dock):
    login(page, owner)
    page.goto("/dashboard/provision/sandbox/bucket/")
    page.get_by_label("Name").fill("audited-bucket")
    page.get_by_role("button", name="Provision").click()
    page.wait_for_url("**/dashboard/provision/sandbox/bucket/*/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    page.get_by_label("Operation").fill("resource.*")
    page.get_by_label("Operation").press("Enter")
    page.wait_for_url(lambda url: "operation=resource.*" in url or "resource.%2A" in url)
    row = page.locator("tr", has_text="resource.provision")
    assert row.count() == 1
    assert "audited-bucket" in row.inner_text() and owner.user.username in row.inner_text()
    shot(page, "07-audit")
