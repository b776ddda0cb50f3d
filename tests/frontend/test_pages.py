"""Every page as anonymous / viewer / developer / admin / outsider, and page-wide rules:
no inline script, CSRF through hx-headers, constant queries."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from conftest import actor_of
from provisioning.models import Operation
from provisioning.services import resource_provision, stack_save
from tests.factories import BucketFactory, DockFactory, MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

SPEC = "name: web\nresources:\n  db: {dock: sandbox, type: database, properties: {name: app-db}}\n"


@pytest.fixture
def world(owner, sandbox_dock, django_capture_on_commit_callbacks):
    """A dock, a bucket, an operation and a stack in acme."""
    actor = actor_of(owner)
    bucket = BucketFactory(dock=sandbox_dock, name="logs")
    with django_capture_on_commit_callbacks():
        op = resource_provision(
            actor=actor, dock=sandbox_dock, resource_type="server", spec={"name": "web-1"}
        )
    stack = stack_save(actor=actor, org=owner.org, doc=SPEC)
    return {"dock": sandbox_dock, "bucket": bucket, "op": op, "stack": stack}


# url template -> expected status for viewer, developer, admin, outsider
MATRIX = {
    "/dashboard/": (200, 200, 200, 200),
    "/dashboard/docks/": (200, 403, 200, 200),
    "/dashboard/docks/add/": (403, 403, 200, 200),
    "/dashboard/docks/add/sandbox/": (403, 403, 200, 200),
    "/dashboard/docks/{dock}/": (200, 404, 200, 404),
    "/dashboard/docks/{dock}/rotate/": (403, 404, 200, 404),
    "/dashboard/docks/{dock}/delete/": (403, 404, 200, 404),
    "/dashboard/buckets/": (200, 200, 200, 200),
    "/dashboard/buckets/{bucket}/": (200, 200, 200, 404),
    "/dashboard/provision/": (403, 403, 200, 200),
    "/dashboard/provision/sandbox/": (403, 403, 200, 200),
    "/dashboard/provision/sandbox/bucket/": (403, 403, 200, 200),
    "/dashboard/provision/sandbox/server/{op}/": (200, 200, 200, 404),
    "/dashboard/operations/": (200, 200, 200, 200),
    "/dashboard/operations/{op}/": (200, 200, 200, 404),
    "/dashboard/stacks/": (200, 200, 200, 200),
    "/dashboard/stacks/new/": (403, 403, 200, 200),
    "/dashboard/stacks/web/": (200, 200, 200, 404),
    "/dashboard/stacks/web/plan/": (200, 200, 200, 404),
    "/dashboard/stacks/web/edit/": (403, 403, 200, 404),
    "/dashboard/stacks/web/destroy/": (403, 403, 200, 404),
    "/dashboard/stacks/web/unlock/": (403, 403, 200, 404),
    "/dashboard/audit/": (403, 403, 200, 200),
    "/dashboard/audit/export.csv": (403, 403, 200, 200),
    "/dashboard/settings/members/": (403, 403, 200, 200),
    "/dashboard/settings/roles/": (403, 403, 200, 200),
    "/dashboard/settings/tokens/": (200, 200, 200, 200),
}
ROLES = ("viewer", "developer", "admin", "outsider")


@pytest.mark.parametrize("template", MATRIX)
def test_every_page_answers_each_role_as_its_permissions_say(template, world, request):
    url = template.format(dock=world["dock"].pk, bucket=world["bucket"].pk, op=world["op"].pk)
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    for role, expected in zip(ROLES, MATRIX[template], strict=True):
        client = Client()
        client.force_login(request.getfixturevalue(role).user)
        assert client.get(url).status_code == expected, f"{role} GET {url}"


def test_user_without_organization_is_told_what_to_do(db):
    from tests.factories import UserFactory

    client = Client()
    client.force_login(UserFactory(username="lonely@example.com"))
    response = client.get("/dashboard/")
    assert (
        response.status_code == 403
        and "not a member of any organization" in response.content.decode()
    )


def test_menu_offers_only_what_the_role_can_use(login, viewer, admin, sandbox_dock):
    viewer_page = login(viewer).get("/dashboard/").content.decode()
    assert 'href="/dashboard/provision/"' not in viewer_page
    assert 'href="/dashboard/audit/"' not in viewer_page
    assert 'href="/dashboard/settings/members/"' not in viewer_page
    admin_page = login(admin).get("/dashboard/").content.decode()
    for href in ("/dashboard/provision/", "/dashboard/audit/", "/dashboard/settings/members/"):
        assert f'href="{href}"' in admin_page


PAGES = (
    "/dashboard/",
    "/dashboard/docks/",
    "/dashboard/docks/{dock}/",
    "/dashboard/docks/add/aws/",
    "/dashboard/buckets/",
    "/dashboard/buckets/{bucket}/",
    "/dashboard/provision/sandbox/bucket/",
    "/dashboard/operations/{op}/",
    "/dashboard/stacks/web/",
    "/dashboard/stacks/web/plan/",
    "/dashboard/audit/",
    "/dashboard/settings/roles/",
    "/dashboard/settings/tokens/",
)


def test_pages_have_no_inline_script_and_send_csrf_through_hx_headers(login, owner, world):
    client = login(owner)
    for template in PAGES:
        url = template.format(dock=world["dock"].pk, bucket=world["bucket"].pk, op=world["op"].pk)
        html = client.get(url).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert " src=" in tag, f"inline <script> on {url}: {tag}"
        assert not re.search(r"\son[a-z]+\s*=", html), f"inline event handler on {url}"
        assert "javascript:" not in html and "style=" not in html, url
        assert re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"[^\"]+\"\}'>", html), url


def test_org_switcher_changes_the_organization_in_the_session(login, owner, other_org):
    MembershipFactory(org=other_org, user=owner.user, role_name="viewer")
    client = login(owner)
    page = client.get("/dashboard/").content.decode()
    assert 'id="org-switch"' in page and "<h1>Acme</h1>" in page
    client.post("/dashboard/switch-org/", {"org": str(other_org.pk)})
    assert "<h1>Globex</h1>" in client.get("/dashboard/").content.decode()
    stranger = OrganizationFactory(slug="initech")
    client.post("/dashboard/switch-org/", {"org": str(stranger.pk)})  # not a member: ignored
    assert "<h1>Globex</h1>" in client.get("/dashboard/").content.decode()


def _seed(org, dock, n):
    from docks.models import Server

    for i in range(n):
        BucketFactory(dock=dock, name=f"b-{dock.name}-{i}", drift={"size": {"old": 1, "new": 2}})
        Server.objects.create(
            org=org,
            dock=dock,
            provider="sandbox",
            name=f"s-{dock.name}-{i}",
            provider_resource_id=f"srv-{dock.name}-{i}",
        )
        Operation.objects.create(org=org, kind="sync", dock=dock, actor_repr="t", status="running")


@pytest.mark.parametrize(
    "url",
    [
        "/dashboard/",
        "/dashboard/buckets/",
        "/dashboard/operations/",
        "/dashboard/audit/",
        "/dashboard/docks/",
        "/dashboard/stacks/",
    ],
)
def test_pages_run_in_constant_queries(
    url, login, owner, org, sandbox, django_assert_max_num_queries
):
    client = login(owner)
    counts = []
    for n in (2, 15):
        dock = DockFactory(org=org, provider="sandbox")
        _seed(org, dock, n)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], f"{url}: {counts}"
    with django_assert_max_num_queries(20):
        client.get(url)


def test_overview_shows_drift_and_polls_only_while_something_runs(login, owner, sandbox_dock, htmx):
    BucketFactory(dock=sandbox_dock, name="drifty", drift={"size": {"old": "s", "new": "m"}})
    client = login(owner)
    quiet = client.get("/dashboard/").content.decode()
    assert "drifty" in quiet and "fields: size" in quiet
    assert 'id="overview-ops"' in quiet and 'hx-trigger="every 2s"' not in quiet
    op = Operation.objects.create(
        org=owner.org, kind="sync", dock=sandbox_dock, actor_repr="x", status="running"
    )
    busy = client.get("/dashboard/").content.decode()
    assert 'hx-trigger="every 2s"' in busy and f"#{op.pk} Sync" in busy
    panel = client.get("/dashboard/", **htmx).content.decode()
    assert panel.lstrip().startswith('<section class="card" id="overview-ops"')
    Operation.objects.filter(pk=op.pk).update(status="succeeded")
    assert "hx-trigger" not in client.get("/dashboard/", **htmx).content.decode()


def test_api_docs_page_has_no_inline_script_or_style(client):
    """/api/docs/ under ``script-src 'self'; style-src 'self'`` (Chromium: tests/browser)."""
    html = client.get("/api/docs/").content.decode()
    tags = re.findall(r"<script\b[^>]*>", html)
    assert tags and all(" src=" in tag for tag in tags), tags
    assert "<style" not in html and "style=" not in html
    script_url = re.findall(r'<script src="([^"]+\?[^"]*script[^"]*)"', html)
    assert script_url, "the start-up script is served as a file"
    script = client.get(script_url[0].replace("&amp;", "&"))
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


def test_an_unknown_url_gets_the_projects_404_page_even_in_development(
    login, owner, settings, client
):
    settings.DEBUG = True
    for who in (client, login(owner)):
        response = who.get(
            "/dashboard/no-such-page/", HTTP_REFERER="http://testserver/dashboard/docks/"
        )
        html = response.content.decode()
        assert response.status_code == 404
        assert "There is no page at <code>/dashboard/no-such-page/</code>" in html
        assert "URLconf" not in html and "DEBUG = True" not in html
    assert 'href="/dashboard/docks/">Back to where you were' in html  # the member's way out
    settings.STACKDOCK_DEBUG_404 = True
    assert "URLconf" in login(owner).get("/nowhere/").content.decode()  # opted in


def test_a_stale_object_url_leads_back_to_its_list(login, owner):
    html = login(owner).get("/dashboard/buckets/999999/").content.decode()
    assert 'href="/dashboard/buckets/">All buckets' in html


def test_login_speaks_of_an_email(client, owner):
    html = client.post("/accounts/login/", {"username": owner.user.username, "password": "x"})
    text = re.sub(r"<[^>]+>", " ", html.content.decode())  # what a person reads
    assert "That email and password do not match" in text and "username" not in text.lower()
