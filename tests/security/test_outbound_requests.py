"""Rule 3: outbound requests go only where the operator allows, in the web process and in
the worker, decided on resolved addresses; an endpoint's failure is told in classified
words, never with what it answered.

Real parts: a loopback listener stands in for the attacker's host (tests/fixtures/
listener.py), moto server and the Cloudflare emulator stand in for the providers, and
boto3 / the Cloudflare SDK make the connections. DNS answers the policy sees come from
``fake_dns`` (the resolver seam); the SDKs still resolve through the system.
"""

from __future__ import annotations

import pytest

from docks.adapters.aws import AwsAdapter
from docks.adapters.base import ProviderError
from docks.adapters.cloudflare import CloudflareAdapter
from docks.models import Dock
from docks.services import dock_create
from docks.sync import dock_sync
from stackdock.outbound import REASONS
from stackdock.permissions import Actor
from tests.api.conftest import client_with, secret_for
from tests.fakes.cloudflare.fixtures import CF_ACCOUNT_ID, CF_TOKEN
from tests.fixtures.listener import MARKER, Listener

pytestmark = pytest.mark.django_db

AWS = {
    "access_key_id": "AKIATESTTESTTEST0001",
    "secret_access_key": "outbound-secret-9f1e",
    "region": "us-east-1",
    "sync_regions": ["us-east-1"],
}
CF = {"api_token": CF_TOKEN, "account_id": CF_ACCOUNT_ID}
CREDS = {"aws": AWS, "cloudflare": CF}


def post_dock(owner, provider: str, endpoint_url: str):
    client = client_with(secret_for(owner))
    body = {
        "name": "probe",
        "provider": provider,
        "credentials": CREDS[provider],
        "endpoint_url": endpoint_url,
    }
    return client.post("/api/v1/docks", body, format="json")


# --- the web process refuses before it connects ------------------------------------------
#: (allow-list, how the listener's host is written, the fake DNS answer for it)
REFUSED = [
    ([], "127.0.0.1", None),  # production's default: overrides off
    (["localhost"], "127.0.0.1", None),  # loopback not listed
    (["*"], "127.0.0.1", None),  # * is public hosts only
    (["*"], "evil.test", "127.0.0.1"),  # a public-looking name resolving to loopback
    (["*.test"], "evil.test", "127.0.0.1"),  # a wildcard never opens private addresses
    (["localhost", "127.0.0.0/8"], "localhost", "169.254.169.254"),  # metadata by DNS
    (["localhost", "0.0.0.0/0"], "localhost", "fd00:ec2::254"),
]


@pytest.mark.parametrize("provider", ["aws", "cloudflare"])
@pytest.mark.parametrize(("entries", "host", "answer"), REFUSED)
def test_the_web_process_never_connects_where_the_policy_refuses(
    owner, settings, fake_dns, listener, provider, entries, host, answer
):
    settings.STACKDOCK_ENDPOINT_ALLOWLIST = entries
    if answer:
        fake_dns.answer(host, answer)
    response = post_dock(owner, provider, f"http://{host}:{listener.port}")
    assert response.status_code == 400, response.json()
    assert "endpoint_url" in response.json()["error"]["fields"]
    assert listener.connections == 0 and listener.received == b""
    assert not Dock.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999",
        "http://127.0.0.1:0",
        "http://127.0.0.1:port",
        "http://admin:hunter2@127.0.0.1:4566",
        "http://token@127.0.0.1:4566",
        "gopher://127.0.0.1:70",
    ],
)
def test_a_malformed_endpoint_is_a_400_naming_the_field(owner, url):
    response = post_dock(owner, "aws", url)
    assert response.status_code == 400, response.content
    fields = response.json()["error"]["fields"]
    assert list(fields) == ["endpoint_url"]
    assert "hunter2" not in response.content.decode()


def test_the_dashboard_puts_the_policy_beside_the_endpoint_field(owner, client, settings):
    settings.STACKDOCK_ENDPOINT_ALLOWLIST = []
    client.force_login(owner.user)
    response = client.post(
        "/dashboard/docks/add/aws/",
        {
            "name": "probe",
            "endpoint_url": "http://127.0.0.1:4566",
            "access_key_id": AWS["access_key_id"],
            "secret_access_key": AWS["secret_access_key"],
            "region": "us-east-1",
        },
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert "endpoint overrides are off" in " ".join(form.errors["endpoint_url"])
    assert not Dock.objects.exists()


# --- what an allowed endpoint answered is never echoed -----------------------------------
#: listener mode -> the classified outcome each provider's check reports
ANSWERS = {
    "html": {"aws": "not_api", "cloudflare": "not_api"},
    "html404": {"aws": "not_api", "cloudflare": "not_api"},
    "aws-error": {"aws": "error", "cloudflare": "not_api"},
    "cf-error": {"aws": "not_api", "cloudflare": "rejected"},
    "banner": {"aws": "closed", "cloudflare": "closed"},
    "hangup": {"aws": "closed", "cloudflare": "closed"},
}


@pytest.mark.parametrize("provider", ["aws", "cloudflare"])
@pytest.mark.parametrize("mode", sorted(ANSWERS))
def test_an_endpoints_answer_is_classified_never_echoed(owner, provider, mode):
    with Listener(mode) as spy:
        response = post_dock(owner, provider, spy.url)
    assert spy.connections >= 1  # allowed (loopback in test settings): it was reached
    assert response.status_code == 400, response.json()
    text = response.content.decode()
    assert MARKER not in text
    message = response.json()["error"]["message"]
    assert _classified(message, ANSWERS[mode][provider]), message


def _classified(message: str, kind: str) -> bool:
    if kind == "rejected":
        return "rejected the API token" in message or "rejected the credentials" in message
    return REASONS[kind] in message


@pytest.mark.parametrize("provider", ["aws", "cloudflare"])
def test_a_closed_port_and_a_tls_mismatch_are_classified(owner, provider):
    with Listener("hangup") as spy:
        port = spy.port
    closed = post_dock(owner, provider, f"http://127.0.0.1:{port}")
    assert REASONS["unreachable"] in closed.json()["error"]["message"], closed.json()
    with Listener("html") as spy:
        tls = post_dock(owner, provider, f"https://127.0.0.1:{spy.port}")
    assert REASONS["tls"] in tls.json()["error"]["message"], tls.json()
    assert MARKER not in tls.content.decode()


# --- the worker checks again: a changed DNS answer does not get through ------------------
def _stored_dock(owner, provider: str, url: str) -> Dock:
    """A dock saved while its endpoint's name resolved to an allowed address."""
    return dock_create(
        actor=Actor.system("tests", owner.org),
        org=owner.org,
        name=f"{provider}-dock",
        provider=provider,
        credentials=CREDS[provider],
        endpoint_url=url,
    )


@pytest.mark.parametrize("provider", ["aws", "cloudflare"])
def test_sync_refuses_an_endpoint_whose_name_now_resolves_to_metadata(
    owner, settings, fake_dns, listener, provider
):
    settings.STACKDOCK_ENDPOINT_ALLOWLIST = ["localhost"]
    fake_dns.answer("localhost", "127.0.0.1")
    dock = _stored_dock(owner, provider, f"http://localhost:{listener.port}")
    fake_dns.answer("localhost", "169.254.169.254")  # the attacker's DNS changed its answer

    with pytest.raises(ProviderError) as refused:
        dock_sync(dock=dock)

    assert refused.value.permanent and refused.value.code == "endpoint_refused"
    assert listener.connections == 0
    dock.refresh_from_db()
    assert dock.sync_status == "error" and "refused" in dock.sync_error


@pytest.mark.parametrize("provider", ["aws", "cloudflare"])
def test_control_with_the_same_answer_sync_does_reach_the_host(
    owner, settings, fake_dns, listener, provider
):
    """The test above can fail: with the answer unchanged, the worker connects."""
    settings.STACKDOCK_ENDPOINT_ALLOWLIST = ["localhost"]
    fake_dns.answer("localhost", "127.0.0.1")
    dock = _stored_dock(owner, provider, f"http://localhost:{listener.port}")
    with pytest.raises(ProviderError):
        dock_sync(dock=dock)  # the listener is no API
    assert listener.connections >= 1


def test_sync_refuses_an_endpoint_the_operator_took_off_the_list(owner, settings, listener):
    dock = _stored_dock(owner, "aws", listener.url)
    settings.STACKDOCK_ENDPOINT_ALLOWLIST = []  # the operator turned overrides off
    with pytest.raises(ProviderError) as refused:
        dock_sync(dock=dock)
    assert refused.value.code == "endpoint_refused"
    assert listener.connections == 0


def _adapter(provider: str, url: str):
    if provider == "aws":
        return AwsAdapter(AWS, url)
    return CloudflareAdapter(CF, url, max_retries=0)


@pytest.mark.parametrize("provider", ["aws", "cloudflare"])
def test_clients_already_built_check_every_request_again(settings, fake_dns, provider):
    """The AWS adapter keeps clients across operations (SharedClients) and the Cloudflare
    adapter its SDK client for its life: each request resolves and checks again."""
    settings.STACKDOCK_ENDPOINT_ALLOWLIST = ["localhost"]
    fake_dns.answer("localhost", "127.0.0.1")
    with Listener("html") as spy:
        adapter = _adapter(provider, f"http://localhost:{spy.port}")
        try:
            check = adapter.validate_credentials()  # reached: the listener is no API
            assert not check.ok
        except ProviderError as exc:
            assert exc.code != "endpoint_refused"
        reached = spy.connections
        assert reached >= 1
        fake_dns.answer("localhost", "169.254.169.254")
        with pytest.raises(ProviderError) as refused:
            adapter.validate_credentials()
        assert refused.value.code == "endpoint_refused"
        assert spy.connections == reached


@pytest.mark.parametrize("provider", ["aws", "cloudflare"])
def test_emulated_loopback_endpoints_work_in_test_settings(owner, provider, moto, cf_emulator):
    url = moto if provider == "aws" else cf_emulator.base_url
    response = post_dock(owner, provider, url)
    assert response.status_code == 201, response.json()


# --- one validator: user:password@ is refused everywhere --------------------------------------
USERINFO = "http://admin:hunter2@127.0.0.1:4566"


def test_user_and_password_in_an_endpoint_are_refused_everywhere(owner, client, settings):
    from django.core.exceptions import ValidationError as DjangoValidationError

    from tests.factories import DockFactory

    # the model (admin forms and full_clean)
    with pytest.raises(DjangoValidationError) as model:
        Dock(org=owner.org, name="m", provider="aws", endpoint_url=USERINFO).full_clean()
    assert "endpoint_url" in model.value.message_dict
    # the service
    with pytest.raises(Exception) as service:
        dock_create(
            actor=Actor.system("t", owner.org),
            org=owner.org,
            name="s",
            provider="aws",
            credentials=AWS,
            endpoint_url=USERINFO,
        )
    assert "endpoint_url" in getattr(service.value, "fields", {})
    # the API: create and change
    api = client_with(secret_for(owner))
    assert post_dock(owner, "aws", USERINFO).json()["error"]["fields"].keys() == {"endpoint_url"}
    dock = DockFactory(org=owner.org, provider="aws")
    patched = api.patch(
        f"/api/v1/docks/{dock.pk}", {"endpoint_url": USERINFO, "credentials": AWS}, format="json"
    )
    assert patched.status_code == 400 and "endpoint_url" in patched.json()["error"]["fields"]
    # the dashboard
    client.force_login(owner.user)
    page = client.post(
        "/dashboard/docks/add/aws/",
        {"name": "d", "endpoint_url": USERINFO, "access_key_id": AWS["access_key_id"]},
    )
    assert "user:password@" in " ".join(page.context["form"].errors["endpoint_url"])
    assert "hunter2" not in page.content.decode()
    assert not Dock.objects.exclude(pk=dock.pk).exists()
