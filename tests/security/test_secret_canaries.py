"""Secret canaries: credentials that carry a unique string go through everything StackDock
does with them, and the string is then looked for everywhere it must not be.

The real parts run: the web process (pytest-django's ``live_server``, in this
process, so its log is ``caplog`` at DEBUG), a Celery worker process on Redis and
PostgreSQL (its log goes to a file), the moto server and the Cloudflare emulator.
An AWS dock (API and provisioning credentials) and a Cloudflare dock get secrets
holding the canary; then: provision (one success and one failure on purpose per
provider), sync, a refused rotation, a rotation to new credentials (a new canary),
a sync with those, and audit exports (CSV and JSON Lines, API and dashboard).

Searched afterwards, for the canary and its base64 and hex forms: every column of
every table except the three ciphertext columns, the audit events and exports,
the operation events, the web and worker logs, every Celery message this process
published (and everything left in Redis), every API response body and every
dashboard page of the organization. The same search is run for the master
password AWS generated for an RDS instance (read from moto's Secrets Manager).
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import redis
from celery.signals import before_task_publish
from django.db import connection
from django.test import Client

from docks.models import UNIVERSAL_MODELS, Dock
from docks.services import dock_credentials
from provisioning.models import Operation, Stack
from provisioning.registry import get_registry
from stackdock.models import ApiToken, Invitation, Membership, Role
from stackdock.permissions import Actor
from tests.fakes.cloudflare.fixtures import CF_ACCOUNT_ID
from tests.fixtures.moto_server import moto_iam_auth
from tests.fixtures.workers import ROOT, wait_until
from tests.security.conftest import token_secret
from tests.security.test_isolation_matrix import _PARAM, _literal, url_routes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

CANARY = f"canary{secrets.token_hex(10)}"  # in every secret at first
ROTATED = f"canary{secrets.token_hex(10)}"  # in the credentials rotated to
REFUSED = f"canary{secrets.token_hex(10)}"  # in a rotation the provider refuses
CANARIES = (CANARY, ROTATED, REFUSED)
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
TERMINAL = ("succeeded", "failed", "cancelled")

#: the only columns a secret may be in (encrypted)
CIPHERTEXT = {
    (Dock._meta.db_table, "api_credentials"),
    (Dock._meta.db_table, "provisioning_credentials"),
    (Dock._meta.db_table, "previous_provisioning_credentials"),
}


def aws_credentials(canary: str, which: str) -> dict[str, Any]:
    return {
        "access_key_id": AWS_KEY_ID,
        "secret_access_key": f"{canary}/{which}+aws",
        "region": "us-east-1",
        "sync_regions": ["us-east-1"],
    }


def cf_credentials(canary: str) -> dict[str, str]:
    return {"api_token": f"{canary}-cf-token", "account_id": CF_ACCOUNT_ID}


# --- looking for a needle ------------------------------------------------------------------


def needles(secret: str) -> list[bytes]:
    """The secret as text, and base64 (each alignment) and hex encodings of it."""
    raw = secret.encode()
    out = [raw, raw.hex().encode()]
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw)
        for codec in (encoded, encoded.replace(b"+", b"-").replace(b"/", b"_")):
            out.append(codec[4 if pad else 0 : -4])  # the part that only the secret decides
    return out


def leaks(secret: str, haystacks: dict[str, list[str | bytes]]) -> list[str]:
    """Where ``secret`` (in any encoding of ``needles``) appears: "source: excerpt"."""
    found = []
    for source, items in haystacks.items():
        for item in items:
            data = item.encode() if isinstance(item, str) else item
            for needle in needles(secret):
                at = data.find(needle)
                if at >= 0:
                    excerpt = data[max(0, at - 80) : at + 80].decode("utf-8", "replace")
                    found.append(f"{source}: ...{excerpt}...")
                    break
    return found


def test_the_search_finds_a_planted_canary_in_any_encoding():
    secret = f"{CANARY}/x+aws"
    planted = {
        "plain": [f"prefix {secret} suffix"],
        "base64": [base64.b64encode(f'{{"secret_access_key": "{secret}"}}'.encode())],
        "urlsafe": [base64.urlsafe_b64encode(f"ab{secret}".encode()).decode()],
        "hex": [f"zz{secret.encode().hex()}"],
        "clean": ["nothing to see", b"\x00\x01"],
    }
    assert [hit.split(":")[0] for hit in leaks(CANARY, planted)] == [
        "plain",
        "base64",
        "urlsafe",
        "hex",
    ]


# --- what was seen -------------------------------------------------------------------------


@dataclass
class Seen:
    """Everything collected on the way, by source."""

    api: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)

    def keep_api(self, response: httpx.Response) -> httpx.Response:
        self.api.append(response.text)
        return response


class Api:
    """httpx against the live server with an owner token; every body is kept."""

    def __init__(self, base_url: str, secret: str, seen: Seen) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=60
        )
        self.seen = seen

    def __call__(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.seen.keep_api(self.http.request(method, url, **kwargs))

    def finished(self, receipt: httpx.Response, timeout: float = 120) -> dict[str, Any]:
        assert receipt.status_code == 202, receipt.text
        url = receipt.json()["status_url"]

        def done() -> dict[str, Any] | None:
            body = self("GET", url).json()
            return body if body["status"] in TERMINAL else None

        return wait_until(done, f"operation {url}", timeout=timeout)  # type: ignore[return-value]


@pytest.fixture
def published() -> Iterator[list[dict[str, Any]]]:
    """Every Celery message this process (the web side) publishes, as sent."""
    messages: list[dict[str, Any]] = []

    def record(sender: Any = None, body: Any = None, headers: Any = None, **_: Any) -> None:
        messages.append({"task": sender, "body": body, "headers": headers})

    before_task_publish.connect(record, weak=False)
    yield messages
    before_task_publish.disconnect(record)


@dataclass
class Stage:
    api: Api
    page: Client
    seen: Seen
    worker_logs: list[Path]
    published: list[dict[str, Any]]
    owner: Membership
    redis_url: str


def start_debug_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A Celery worker (with beat) logging at DEBUG to ``log``: the level where libraries
    say the most. Like tests/fixtures/workers.py's, which logs at INFO."""
    args = [
        str(Path(sys.executable).parent / "celery"),
        *("-A", "stackdock", "worker", "--beat", "--loglevel", "DEBUG", "--concurrency", "2"),
        *("--hostname", "canary@%h", "--without-gossip", "--without-mingle"),
        *("--schedule", str(log.with_suffix(".beat"))),
    ]
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env={**env, "LOG_LEVEL": "DEBUG"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_until(
        lambda: b"ready." in log.read_bytes() or proc.poll() is not None,
        "the celery worker",
        timeout=60,
    )
    assert proc.poll() is None, log.read_text()[-3000:]
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


#: loggers the settings keep quiet; here they speak at DEBUG too
CHATTY = ("botocore", "boto3", "urllib3", "s3transfer", "cloudflare", "httpx", "httpcore")


@pytest.fixture
def stage(
    owner, live_server, worker_env, redis_url, published, caplog, loopback_only, tmp_path
) -> Iterator[Stage]:
    caplog.set_level(logging.DEBUG)
    for name in CHATTY:
        caplog.set_level(logging.DEBUG, logger=name)
    log = tmp_path / "worker.log"
    worker = start_debug_worker(worker_env, log)
    seen = Seen()
    api = Api(live_server.url, token_secret(owner, name="canary-run"), seen)
    page = Client()
    page.force_login(owner.user)
    try:
        yield Stage(api, page, seen, [log], published, owner, redis_url)
    finally:
        api.http.close()
        stop(worker)


# --- the haystacks -------------------------------------------------------------------------


def _text(value: Any) -> str | bytes:
    if isinstance(value, memoryview | bytes):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def database_rows() -> dict[str, list[str | bytes]]:
    """Every column of every table (bar the ciphertext), one entry per value."""
    out: dict[str, list[str | bytes]] = {}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [
                c.name
                for c in connection.introspection.get_table_description(cursor, table)
                if (table, c.name) not in CIPHERTEXT
            ]
            cursor.execute(f"SELECT {', '.join(map(quote, columns))} FROM {quote(table)}")  # noqa: S608
            out[f"db:{table}"] = [_text(v) for row in cursor.fetchall() for v in row]
    return out


def redis_contents(url: str) -> list[bytes]:
    """Every value in the test's Redis database (queues, unacked messages, results)."""
    client = redis.Redis.from_url(url)
    out: list[bytes] = []
    try:
        for key in client.scan_iter(count=500):
            kind = client.type(key)
            if kind == b"string":
                out.append(client.get(key) or b"")
            elif kind == b"list":
                out += client.lrange(key, 0, -1)
            elif kind == b"hash":
                out += [k + b"=" + v for k, v in client.hgetall(key).items()]
            elif kind == b"set":
                out += list(client.smembers(key))
            elif kind == b"zset":
                out += client.zrange(key, 0, -1)
    finally:
        client.close()
    return out


def _log_text(caplog: Any) -> list[str]:
    out = [caplog.text]
    for record in caplog.records:
        out.append(f"{record.getMessage()} {record.args!r} {record.exc_text or ''}")
        out.append(repr(record.__dict__))
    return out


def haystacks(stage: Stage, caplog: Any) -> dict[str, list[str | bytes]]:
    """Everything to search, after crawling every API endpoint and dashboard page."""
    crawl_api(stage)
    crawl_dashboard(stage)
    found = {
        **database_rows(),
        "api responses": list(stage.seen.api),
        "dashboard pages": list(stage.seen.pages),
        "audit exports": list(stage.seen.exports),
        "web log (caplog)": _log_text(caplog),
        "worker log": [path.read_bytes() for path in stage.worker_logs],
        "celery messages": [repr(m) for m in stage.published],
        "redis": redis_contents(stage.redis_url),
    }
    # the search really covers it all: not empty where things happened
    for table in ("audit_auditevent", "provisioning_operationevent", "docks_dock"):
        assert found[f"db:{table}"], table
    assert len([k for k in found if k.startswith("db:")]) >= 30
    assert len(found["api responses"]) >= 30 and len(found["dashboard pages"]) >= 50
    assert len(found["audit exports"]) == 4 and all(found["audit exports"])
    assert b"credential.decrypt" in b"".join(s.encode() for s in found["audit exports"])
    assert b"provisioning.run_operation" in found["worker log"][0]
    assert b"DEBUG" in found["worker log"][0] and "DEBUG" in caplog.text
    return found


# --- crawling every page and endpoint of the organization ----------------------------------


def _param_values(route: str, before: str, name: str, regex: str | None, org: Any) -> list[str]:
    """Every value of a URL parameter that names something of ``org``."""
    registry = get_registry()
    if regex and re.fullmatch(r"[\w-]+(\|[\w-]+)*", regex):
        return regex.split("|")
    segment = before.rstrip("/").split("/")[-1]
    if name in ("dock_id",) or (name == "pk" and segment == "docks"):
        return [str(pk) for pk in Dock.objects.filter(org=org).values_list("pk", flat=True)]
    if name == "provision_id" or (name == "pk" and segment == "operations"):
        return [str(pk) for pk in Operation.objects.filter(org=org).values_list("pk", flat=True)]
    if name == "name":
        return list(Stack.objects.filter(org=org).values_list("name", flat=True))
    if name == "pk" and segment in UNIVERSAL_MODELS:
        return [
            str(pk)
            for pk in UNIVERSAL_MODELS[segment].objects.filter(org=org).values_list("pk", flat=True)
        ]
    if name == "pk" and segment == "members":
        return [str(pk) for pk in Membership.objects.filter(org=org).values_list("pk", flat=True)]
    if name == "pk" and segment == "roles":
        return [str(pk) for pk in Role.objects.filter(org=org).values_list("pk", flat=True)]
    if name == "pk" and segment == "tokens":
        return [
            str(pk)
            for pk in ApiToken.objects.filter(membership__org=org).values_list("pk", flat=True)
        ]
    if name == "pk" and segment == "invitations":
        return [str(pk) for pk in Invitation.objects.filter(org=org).values_list("pk", flat=True)]
    if name == "provider":
        return list(registry.providers())
    if name == "resource_type":
        return sorted(
            {t for p in registry.providers() for t in registry.adapter_class(p).resource_types}
        )
    raise AssertionError(f"no values for {name!r} in {route!r}")


def _consistent(binding: dict[str, str], org: Any) -> bool:
    """Leave out combinations no page shows: a resource type of another provider, an
    operation that is not a provision of that provider and type."""
    provider, rtype = binding.get("provider"), binding.get("resource_type")
    if provider is not None and rtype is not None:
        types = get_registry().adapter_class(provider).resource_types
        if rtype not in types or types[rtype].table is None:
            return False
    if "provision_id" in binding:
        op = Operation.objects.select_related("dock").get(pk=binding["provision_id"])
        return op.dock is not None and (op.dock.provider, op.resource_type) == (provider, rtype)
    return True


def urls_of(route: str, org: Any) -> Iterator[str]:
    """Every concrete URL of ``route`` naming the organization's objects (for the
    universal tables, ``pk`` ranges over the rows of the ``table`` chosen)."""
    template, names, choices = "", [], []
    pos = 0
    for m in _PARAM.finditer(route):
        name = m["name"] or m["rname"]
        template += _literal(route[pos : m.start()]) + "{" + name + "}"
        names.append(name)
        if name == "pk" and "(?P<table>" in route:
            choices.append([""])  # filled per table below
        else:
            choices.append(_param_values(route, route[: m.start()], name, m["regex"], org))
        pos = m.end()
    template = "/" + template + _literal(route[pos:])
    for combo in itertools.product(*choices):
        binding = dict(zip(names, combo, strict=True))
        if not _consistent(binding, org):
            continue
        if "table" in binding and "pk" in binding:
            rows = UNIVERSAL_MODELS[binding["table"]].objects.filter(org=org)
            for pk in rows.values_list("pk", flat=True):
                yield template.format(**{**binding, "pk": pk})
        else:
            yield template.format(**binding)


def crawl_api(stage: Stage) -> None:
    """GET every API endpoint for every object of the organization (exports too)."""
    org = stage.owner.org
    for route in url_routes():
        if route.surface != "api" or "GET" not in route.methods() or route.name is None:
            continue
        for url in urls_of(route.route, org):
            response = stage.api("GET", url)
            assert response.status_code < 500, (url, response.text[:300])
    for fmt in ("csv", "jsonl"):
        response = stage.api("GET", "/api/v1/audit/export", params={"format": fmt})
        assert response.status_code == 200
        stage.seen.exports.append(response.text)


def crawl_dashboard(stage: Stage) -> None:
    """GET every dashboard page of the organization, for every object it can name."""
    org = stage.owner.org
    for route in url_routes():
        if route.surface != "dashboard":
            continue
        for url in urls_of(route.route, org):
            response = stage.page.get(url)
            body = (
                b"".join(response.streaming_content)
                if getattr(response, "streaming", False)
                else response.content
            )
            assert response.status_code < 500, url
            (stage.seen.exports if "/audit/export." in url else stage.seen.pages).append(
                body.decode("utf-8", "replace")
            )
    assert len(stage.seen.pages) > 40


def assert_nowhere(secret: str, stacks: dict[str, list[str | bytes]]) -> None:
    found = leaks(secret, stacks)
    assert found == [], f"{len(found)} leak(s) of a secret:\n" + "\n".join(found[:20])


def assert_messages_carry_ids_only(published: list[dict[str, Any]]) -> None:
    """Each task message: its positional arguments are ids (ints or UUIDs), nothing else."""
    assert published, "no Celery message was published"
    for message in published:
        args, kwargs, _ = message["body"]
        assert kwargs == {}, message
        for arg in args:
            assert isinstance(arg, int) or uuid.UUID(str(arg)), message


# --- the runs ------------------------------------------------------------------------------


def connect_docks(stage: Stage, moto: str, cf_emulator: Any) -> tuple[str, str]:
    api = stage.api
    aws = api(
        "POST",
        "/api/v1/docks",
        json={
            "name": "aws",
            "provider": "aws",
            "credentials": aws_credentials(CANARY, "api"),
            "provisioning_credentials": aws_credentials(CANARY, "prov"),
            "endpoint_url": moto,
        },
    )
    assert aws.status_code == 201, aws.text
    cf_emulator.add_token(cf_credentials(CANARY)["api_token"], CF_ACCOUNT_ID)
    cf_emulator.add_token(cf_credentials(ROTATED)["api_token"], CF_ACCOUNT_ID)
    cf = api(
        "POST",
        "/api/v1/docks",
        json={
            "name": "cf",
            "provider": "cloudflare",
            "credentials": cf_credentials(CANARY),
            "endpoint_url": cf_emulator.base_url,
        },
    )
    assert cf.status_code == 201, cf.text
    return aws.json()["id"], cf.json()["id"]


def provision(stage: Stage, dock: str, resource_type: str, spec: dict[str, Any]) -> dict:
    body = {"dock": dock, "resource_type": resource_type, "spec": spec}
    return stage.api.finished(stage.api("POST", "/api/v1/provision", json=body))


def test_credentials_appear_nowhere_but_in_their_ciphertext(stage, moto, cf_emulator, caplog):
    api = stage.api
    aws_id, cf_id = connect_docks(stage, moto, cf_emulator)

    # provision: a success and a failure on purpose with each provider
    assert provision(stage, "aws", "s3-bucket", {"name": "canary-ok"})["status"] == "succeeded"
    with moto_iam_auth(moto):  # moto now checks keys: ours are unknown to it, so refused
        failed = provision(stage, "aws", "s3-bucket", {"name": "canary-refused"})
    assert failed["status"] == "failed", failed
    assert provision(stage, "cf", "r2-bucket", {"name": "canary-r2"})["status"] == "succeeded"
    cf_emulator.inject(r"/r2/buckets", method="POST", status=403, code=10000, times=1)
    failed = provision(stage, "cf", "r2-bucket", {"name": "canary-denied"})
    assert failed["status"] == "failed", failed

    # sync both docks
    for dock in (aws_id, cf_id):
        assert api.finished(api("POST", f"/api/v1/docks/{dock}/sync"))["status"] == "succeeded"

    # a rotation the provider refuses, then one it accepts
    refused = api(
        "POST",
        f"/api/v1/docks/{cf_id}/rotate-credentials",
        json={"credentials": cf_credentials(REFUSED)},
    )
    assert refused.status_code == 400, refused.text
    for dock, credentials in (
        (cf_id, cf_credentials(ROTATED)),
        (aws_id, aws_credentials(ROTATED, "prov")),
    ):
        body = {"credentials": credentials, "grace_seconds": 600}
        rotated = api("POST", f"/api/v1/docks/{dock}/rotate-credentials", json=body)
        assert rotated.status_code == 200, rotated.text
    # from now on the emulator knows only the new token: a sync that works used it
    cf_emulator.state.clear_tokens()
    cf_emulator.add_token(cf_credentials(ROTATED)["api_token"], CF_ACCOUNT_ID)
    for dock in (aws_id, cf_id):
        assert api.finished(api("POST", f"/api/v1/docks/{dock}/sync"))["status"] == "succeeded"
    assert provision(stage, "cf", "r2-bucket", {"name": "canary-r2-new"})["status"] == "succeeded"

    # the canaries did their work: stored encrypted, rotated, the old one kept for its window
    cf_dock = Dock.objects.get(pk=cf_id)
    system = Actor.system("tests", cf_dock.org)
    current = dock_credentials(dock=cf_dock, actor=system, purpose="admin")
    assert current["api_token"].startswith(ROTATED)
    assert cf_dock.previous_provisioning_credentials
    assert CANARY not in cf_dock.previous_provisioning_credentials  # encrypted

    stacks = haystacks(stage, caplog)
    assert_messages_carry_ids_only(stage.published)
    for canary in CANARIES:
        assert_nowhere(canary, stacks)


def test_rds_master_password_generated_by_aws_appears_nowhere(stage, moto, cf_emulator, caplog):
    aws_id, _ = connect_docks(stage, moto, cf_emulator)
    spec = {
        "name": "canary-db",
        "engine": "postgres",
        "instance_class": "db.t3.micro",
        "allocated_storage": 20,
        "master_username": "app",
    }
    done = provision(stage, "aws", "rds-instance", spec)
    assert done["status"] == "succeeded", done
    assert (
        stage.api.finished(stage.api("POST", f"/api/v1/docks/{aws_id}/sync"))["status"]
        == "succeeded"
    )
    rds = boto3.client(
        "rds",
        endpoint_url=moto,
        region_name="us-east-1",
        aws_access_key_id=AWS_KEY_ID,
        aws_secret_access_key="x",
    )
    instance = rds.describe_db_instances(DBInstanceIdentifier="canary-db")["DBInstances"][0]
    arn = instance["MasterUserSecret"]["SecretArn"]
    manager = boto3.client(
        "secretsmanager",
        endpoint_url=moto,
        region_name="us-east-1",
        aws_access_key_id=AWS_KEY_ID,
        aws_secret_access_key="x",
    )
    # the test's own read of the secret is kept out of the log it searches (botocore
    # logs response bodies at DEBUG)
    with caplog.at_level(logging.WARNING, logger="botocore"):
        secret = manager.get_secret_value(SecretId=arn)["SecretString"]
    password = json.loads(secret)["password"]
    assert len(password) >= 8

    stacks = haystacks(stage, caplog)
    assert_messages_carry_ids_only(stage.published)
    assert_nowhere(password, stacks)
    assert_nowhere(CANARY, stacks)
