"""Every dashboard page, generated from the URL configuration, in Chromium, as an owner,
a viewer and the owner of an empty organization, in the states that matter (empty,
populated, running, failed, rolled back, cancelled, drifted, discovered).

Each page fails the test on a console error, a JavaScript error, a CSP violation, a
failed request for a static file, the text ``PydanticUndefined``, a Python ``None`` /
``True`` / ``False`` shown as a value, or a raw status value (``rolled_back``,
``pending_create``...) where a person reads (code, spec and form inputs excepted). A
screenshot of each page lands in test-results/browser/pages/ - look at them.

``PAGES`` says how to fill each URL pattern's arguments from the world; a dashboard URL
name that is in neither ``PAGES`` nor ``NOT_PAGES`` fails the test, so a new page
cannot be left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from conftest import actor_of
from docks.models import UNIVERSAL_MODELS, Bucket, ProvisioningSource
from provisioning.engine.state import ResourceStatus
from provisioning.models import Operation, OperationEvent, OperationStatus, Stack
from provisioning.registry import get_registry
from provisioning.runner import operation_run
from provisioning.services import (
    operation_cancel,
    resource_provision,
    stack_deploy,
    stack_save,
)
from stackdock.models import Role
from stackdock.services import token_create
from tests.factories import BucketFactory, DockFactory

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "browser" / "pages"

#: dashboard URL names that are not pages: POST-only actions and file downloads
NOT_PAGES = frozenset(
    {
        "switch-org",
        "dock-sync",
        "dock-grants",
        "operation-cancel",
        "stack-refresh",
        "audit-export",
        "member-role",
        "member-remove",
        "invitation-withdraw",
        "role",
        "token-revoke",
    }
)
#: raw values that have words (frontend.templatetags.dashboard.badge_words)
RAW = re.compile(
    r"\b(rolled_back|pending_create|pending_update|pending_delete|no-op|"
    + "|".join(s.value for s in ResourceStatus if "_" in s.value)
    + r")\b"
)
PYTHON_WORDS = re.compile(r"PydanticUndefined|\b(None|True|False)\b")
#: the text a person reads: no code, spec, JSON, or form controls (their values are data)
READ_TEXT = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('pre, code, textarea, input, select, script, .mono').forEach(e => e.remove());
  return copy.innerText;
}"""

SHOP = """name: shop
resources:
  db: {dock: sandbox, type: database, properties: {name: shop-db}}
  web: {dock: sandbox, type: web-service, properties: {name: "${db.name}-web"}}
  srv: {dock: sandbox, type: server, properties: {name: shop-srv}}
  site: {dock: sandbox, type: domain, properties: {name: shop.example}}
  files: {dock: sandbox, type: bucket, properties: {name: shop-files, size: large}}
"""
BROKEN = """name: {name}
resources:
  db: {{dock: sandbox, type: database, properties: {{name: {name}-db}}}}
  bad:
    dock: sandbox
    type: bucket
    properties: {{name: {name}-bad, fail: permanent}}
    depends_on: [db]
"""


def _deploy(actor, org, doc, **kwargs):
    stack = stack_save(actor=actor, org=org, doc=doc, **kwargs)
    op = stack_deploy(actor=actor, stack=stack)
    operation_run(op.pk, worker="pages")
    return stack, Operation.objects.get(pk=op.pk)


@pytest.fixture
def world(owner, viewer, outsider, settings, tmp_path) -> dict[str, Any]:
    """acme in every state that matters; globex (the outsider's) empty."""
    settings.STACKDOCK_SANDBOX_DB = str(tmp_path / "sandbox.sqlite3")
    org, actor = owner.org, actor_of(owner)
    sandbox = DockFactory(org=org, name="sandbox", provider="sandbox")
    docks = {"sandbox": sandbox}
    for provider in get_registry().providers():
        if provider not in docks:
            docks[provider] = DockFactory(org=org, name=f"{provider}-main", provider=provider)
    shop, deployed = _deploy(actor, org, SHOP)
    rolled, rolled_back = _deploy(actor, org, BROKEN.format(name="rolled"), on_failure="rollback")
    halted, stopped = _deploy(actor, org, BROKEN.format(name="halted"), on_failure="stop")
    single = resource_provision(
        actor=actor, dock=sandbox, resource_type="bucket", spec={"name": "photos"}
    )
    operation_run(single.pk, worker="pages")
    queued = resource_provision(
        actor=actor, dock=sandbox, resource_type="server", spec={"name": "later"}
    )
    cancelled = operation_cancel(actor=actor, operation=queued)
    busy_stack = stack_save(actor=actor, org=org, doc=SHOP.replace("shop", "busy"))
    running = Operation.objects.create(
        org=org,
        kind="deploy",
        stack=busy_stack,
        stack_name=busy_stack.name,
        actor_repr=str(owner.user.username),
        status=OperationStatus.RUNNING,
        progress_total=5,
        progress_done=2,
    )
    for seq, (resource, action, status) in enumerate(
        [("", "apply", "started"), ("db", "create", "started"), ("db", "create", "succeeded")],
        start=1,
    ):
        OperationEvent.objects.create(
            operation=running,
            seq=seq,
            resource=resource,
            action=action,
            status=status,
            at=timezone.now(),
        )
    Bucket.objects.filter(name="shop-files").update(
        drift={"versioning": {"old": True, "new": False}}
    )
    discovered = BucketFactory(
        dock=sandbox, name="found-at-provider", provisioning_source=ProvisioningSource.MANUAL
    )
    Role.objects.create(org=org, name="auditor", permissions={"audit": "read"})
    token_create(actor=actor, membership=owner, name="ci")
    rows = {
        table: model.objects.filter(org=org).order_by("pk").first()
        for table, model in UNIVERSAL_MODELS.items()
    }
    return {
        "docks": docks,
        "stacks": [shop, rolled, halted, busy_stack],
        "operations": [deployed, rolled_back, stopped, cancelled, running],
        "single": Operation.objects.get(pk=single.pk),
        "rows": {**rows, "discovered": discovered},
        "stack_objects": Stack.objects.filter(org=org),
    }


def _provision_forms(w):
    for provider in get_registry().providers():
        for name, rtype in get_registry().adapter_class(provider).resource_types.items():
            if rtype.table is not None:
                yield {"provider": provider, "resource_type": name}


def _resources(w, suffix=""):
    for row in w["rows"].values():
        table = next(t for t, m in UNIVERSAL_MODELS.items() if isinstance(row, m))
        yield {"table": table, "pk": row.pk}


#: URL name -> the keyword arguments of each page to visit
PAGES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "overview": lambda w: [{}],
    "docks": lambda w: [{}],
    "dock-add": lambda w: [{}],
    "dock-add-provider": lambda w: [{"provider": p} for p in get_registry().providers()],
    "dock": lambda w: [{"dock_id": d.pk} for d in w["docks"].values()],
    "dock-rotate": lambda w: [{"dock_id": w["docks"]["aws"].pk}],
    "dock-delete": lambda w: [{"dock_id": w["docks"]["sandbox"].pk}],
    "provision": lambda w: [{}],
    "provision-provider": lambda w: [{"provider": p} for p in get_registry().providers()],
    "provision-form": lambda w: list(_provision_forms(w)),
    "provision-status": lambda w: [
        {"provider": "sandbox", "resource_type": "bucket", "provision_id": w["single"].pk}
    ],
    "operations": lambda w: [{}],
    "operation": lambda w: [{"pk": op.pk} for op in w["operations"]],
    "stacks": lambda w: [{}],
    "stack-new": lambda w: [{}],
    "stack": lambda w: [{"name": s.name} for s in w["stacks"]],
    "stack-edit": lambda w: [{"name": w["stacks"][0].name}],
    "stack-plan": lambda w: [{"name": s.name} for s in w["stacks"]],
    "stack-deploy": lambda w: [{"name": w["stacks"][1].name}],
    "stack-destroy": lambda w: [{"name": w["stacks"][0].name}],
    "stack-unlock": lambda w: [{"name": w["stacks"][0].name}],
    "stack-delete": lambda w: [{"name": w["stacks"][0].name}],
    "audit": lambda w: [{}, {"query": "who=all"}],
    "members": lambda w: [{}],
    "roles": lambda w: [{}],
    "tokens": lambda w: [{}],
    "resources": lambda w: [{"table": t} for t in UNIVERSAL_MODELS],
    "resource": lambda w: list(_resources(w)),
    "resource-edit": lambda w: [{"table": "buckets", "pk": w["single"].resource_id}],
    "resource-destroy": lambda w: [{"table": "buckets", "pk": w["single"].resource_id}],
    "resource-import": lambda w: [{"table": "buckets", "pk": w["rows"]["discovered"].pk}],
}


def _dashboard_names() -> set[str]:
    def walk(patterns) -> Iterator[str]:
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.namespace == "frontend":
                    yield from (q.name for q in p.url_patterns if isinstance(q, URLPattern))
                else:
                    yield from walk(p.url_patterns)

    return set(walk(get_resolver().url_patterns))


def _urls(w: dict[str, Any]) -> list[str]:
    out = []
    for name, fill in PAGES.items():
        for kwargs in fill(w):
            kwargs = dict(kwargs)
            query = kwargs.pop("query", "")
            url = reverse(f"frontend:{name}", kwargs=kwargs)
            out.append(f"{url}?{query}" if query else url)
    return out


def test_every_dashboard_url_is_a_page_here_or_known_not_to_be_one():
    names = _dashboard_names()
    assert names, "no dashboard URL found"
    assert names == set(PAGES) | NOT_PAGES, (
        f"missing: {sorted(names - set(PAGES) - NOT_PAGES)}, "
        f"gone: {sorted((set(PAGES) | NOT_PAGES) - names)}"
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "overview"


def _visit_all(browser, live_server, login, membership, urls, label) -> list[str]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    current = {"url": ""}

    def note(kind: str, text: str) -> None:
        problems.append(f"{label} {current['url']}: {kind}: {text}")

    def console(message) -> None:
        # a 403 or 404 page is itself a "failed" load: only other resources count
        document = message.location.get("url", "").removeprefix(live_server.url)
        if message.type == "error" and not (
            "Failed to load resource" in message.text and document == current["url"]
        ):
            note("console", message.text)

    page.on("console", console)
    page.on("pageerror", lambda exc: note("javascript", str(exc)))
    page.on(
        "requestfailed", lambda r: note("request failed", r.url) if "/static/" in r.url else None
    )
    page.on(
        "response",
        lambda r: (
            note(f"static {r.status}", r.url) if "/static/" in r.url and r.status >= 400 else None
        ),
    )
    login(page, membership)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for url in urls:
        current["url"] = url
        response = page.goto(url, wait_until="load")
        assert response is not None
        status = response.status
        assert status < 500, f"{label} {url}: {status}"
        text = page.evaluate(READ_TEXT)
        for pattern, what in ((PYTHON_WORDS, "a Python value"), (RAW, "a raw status value")):
            found = pattern.search(text)
            if found:
                start = max(0, found.start() - 60)
                note(what, repr(text[start : found.end() + 60]))
        page.screenshot(path=str(SHOTS / f"{label}-{_slug(url)}.png"), full_page=True)
    context.close()
    return problems


@pytest.mark.django_db(transaction=True)
def test_every_page_is_clean_for_every_member_in_every_state(
    browser, live_server, login, world, owner, viewer, outsider
):
    urls = _urls(world)
    problems = []
    problems += _visit_all(browser, live_server, login, owner, urls, "owner")
    problems += _visit_all(browser, live_server, login, viewer, urls, "viewer")
    # the empty organization: the same pages with no dock, stack, resource or operation
    empty = [u for u in urls if not re.search(r"/\d+/|/[0-9a-f-]{36}/|/stacks/[a-z]", u)]
    problems += _visit_all(browser, live_server, login, outsider, empty, "empty")
    assert not problems, "\n".join(problems)
