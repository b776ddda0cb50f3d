"""The ``stackdock`` console script as a real process against a live server.

Real HTTP to pytest-django's live server (a web thread on the PostgreSQL test
database), a real Celery worker process on Redis (``start_worker``), a real
moto server process and the Cloudflare emulator on loopback. Each CLI call is
``subprocess.run`` of the installed ``stackdock`` script; every output is
checked for the token and the provider credentials.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from conftest import actor_of
from docks.sandbox_store import sandbox_backend
from provisioning.models import Operation
from stackdock.services import token_create
from tests.fakes.cloudflare.fixtures import CF_ACCOUNT_ID, CF_TOKEN

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

STACKDOCK = Path(sys.executable).with_name("stackdock")
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY-live-test-secret"
WORKER_JS = "export default { async fetch() { return new Response('hello from my-worker') } };\n"
STACK_YAML = textwrap.dedent(
    """\
    # three resources; web and files refer to the ones before them
    name: app
    resources:
      db:
        dock: sandbox
        type: database
        properties: {name: app-db}
      web:
        dock: sandbox
        type: server
        properties: {name: "${db.name}-web", size: small}
      files:
        dock: sandbox
        type: bucket
        properties: {name: "${web.name}-files"}
    """
)


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


class Cli:
    """Runs the installed ``stackdock`` script; no output may hold a secret."""

    def __init__(self, home: Path, cwd: Path, url: str, token: str, secrets: list[str]) -> None:
        self.home, self.cwd, self.url, self.token = home, cwd, url, token
        self.secrets = [token, *secrets]

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "STACKDOCK_URL": self.url,
            "STACKDOCK_TOKEN": self.token,
            "STACKDOCK_POLL_INTERVAL": "0.2",
            "PYTHONUNBUFFERED": "1",
        }
        env.update(extra)
        return {k: v for k, v in env.items() if v}

    def __call__(self, *args: str, stdin: str = "", timeout: float = 150, **env: str) -> Run:
        proc = subprocess.run(
            [str(STACKDOCK), *args],
            cwd=self.cwd,
            env=self.env(**env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        for secret in self.secrets:
            assert secret not in proc.stdout and secret not in proc.stderr, (
                f"a secret was printed by stackdock {' '.join(args)}"
            )
        return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def server(live_server, worker_env, owner):
    """The live server's URL and an owner's API token (worker_env: committed rows,
    the sandbox file shared with worker processes)."""
    _, secret = token_create(actor=actor_of(owner), membership=owner, name="cli-live")
    return live_server.url, secret


@pytest.fixture
def cli(request, server, tmp_path) -> Iterator[Cli]:
    url, token = server
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "project"
    work.mkdir()
    failed_before = request.session.testsfailed
    yield Cli(home, work, url, token, [AWS_SECRET, CF_TOKEN])
    if request.session.testsfailed > failed_before:  # say what the server and workers did
        for op in Operation.objects.order_by("pk"):
            print(f"operation {op.pk} {op.kind} {op.status} {op.error!r}")
        for log in sorted(tmp_path.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}")


def test_login_then_the_seed_examples_on_moto_and_the_cloudflare_emulator(
    cli, moto, cf_emulator, start_worker
):
    # login stores URL and token (0600); later commands use the file
    login = cli(
        "login", "--url", cli.url, stdin=cli.token + "\n", STACKDOCK_TOKEN="", STACKDOCK_URL=""
    )
    assert login.code == 0, login.err
    config = cli.home / ".config" / "stackdock" / "config.toml"
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    me = cli("whoami", "--json", STACKDOCK_TOKEN="", STACKDOCK_URL="")
    assert me.code == 0, me.err
    assert me.json()["role"] == "owner"

    start_worker()
    # a dock on the moto server; the secret comes from the environment, never a flag
    added = cli(
        "docks",
        "add",
        "aws-emulated",
        "aws",
        "--access-key-id",
        AWS_KEY_ID,
        "--region",
        "us-east-1",
        "--endpoint-url",
        moto,
        STACKDOCK_CREDENTIAL_SECRET_ACCESS_KEY=AWS_SECRET,
    )
    assert added.code == 0, added.err

    # seed example 1, exactly as written
    s3 = cli("provision", "aws", "s3-bucket", "--name", "my-bucket", "--region", "us-east-1")
    assert s3.code == 0, s3.out + s3.err
    assert "succeeded" in s3.out
    aws = boto3.client(
        "s3",
        endpoint_url=moto,
        region_name="us-east-1",
        aws_access_key_id=AWS_KEY_ID,
        aws_secret_access_key=AWS_SECRET,
    )
    assert "my-bucket" in [b["Name"] for b in aws.list_buckets()["Buckets"]]

    # seed example 2, exactly as written, with ./worker.js in the current directory
    (cli.cwd / "worker.js").write_text(WORKER_JS)
    added = cli(
        "docks",
        "add",
        "cf",
        "cloudflare",
        "--account-id",
        CF_ACCOUNT_ID,
        "--endpoint-url",
        cf_emulator.base_url,
        STACKDOCK_CREDENTIAL_API_TOKEN=CF_TOKEN,
    )
    assert added.code == 0, added.err
    worker = cli(
        "provision", "cloudflare", "worker", "--name", "my-worker", "--script", "./worker.js"
    )
    assert worker.code == 0, worker.out + worker.err
    with cf_emulator.state.lock:
        script = cf_emulator.state.scripts[CF_ACCOUNT_ID]["my-worker"]
        sources = [content for content, _ in script.modules.values()]
    assert WORKER_JS.strip().encode() in sources  # specs strip surrounding whitespace

    listing = cli("resources", "--json")
    assert listing.code == 0, listing.err
    names = {(row["table"], row["name"]) for row in listing.json()}
    assert {("buckets", "my-bucket"), ("web-services", "my-worker")} <= names
    docks = cli("docks", "--json")
    assert sorted(d["name"] for d in docks.json()) == ["aws-emulated", "cf"]


def test_deploy_of_a_three_resource_stack_with_references_and_json_output(cli, start_worker):
    assert cli("docks", "add", "sandbox", "sandbox").code == 0
    (cli.cwd / "stackdock.yaml").write_text(STACK_YAML)
    start_worker()

    plan = cli("plan")
    assert plan.code == 0, plan.err
    assert "Plan: 3 to create" in plan.out

    deploy = cli("deploy", "app", "--yes")
    assert deploy.code == 0, deploy.out + deploy.err
    for resource in ("db", "web", "files"):
        assert any(
            line.split()[1:3] == [resource, "create"]
            for line in deploy.out.splitlines()
            if len(line.split()) > 2
        ), deploy.out
    assert sorted(r.name for r in sandbox_backend().all()) == [
        "app-db",
        "app-db-web",
        "app-db-web-files",
    ]

    again = cli("plan", "--json")
    assert again.code == 0
    assert again.json()["summary"]["no-op"] == 3

    # --json: one document, parsed
    single = cli("provision", "sandbox", "server", "--name", "json-one", "--json")
    assert single.code == 0, single.err
    doc = single.json()
    assert doc["status"] == "succeeded"
    assert doc["resource"]["table"] == "servers"
    ops = cli("ops", "--kind", "deploy", "--json").json()
    assert [op["status"] for op in ops] == ["succeeded"]

    destroyed = cli("destroy-stack", "--yes")
    assert destroyed.code == 0, destroyed.out + destroyed.err
    assert sorted(r.name for r in sandbox_backend().all()) == ["json-one"]


def test_validation_errors_exit_2_and_name_the_field(cli):
    assert cli("docks", "add", "sandbox", "sandbox").code == 0
    local = cli("provision", "sandbox", "server", "--name", "Not A Valid Name")
    assert local.code == 2
    assert "--name" in local.err

    unknown = cli("provision", "sandbox", "vm", "--name", "x")
    assert unknown.code == 2
    assert "valid types: bucket, database, domain, server, web-service" in unknown.err

    # the server's own validation: a reference to a resource the stack does not have
    (cli.cwd / "stackdock.yaml").write_text(
        "name: broken\nresources:\n  web:\n    dock: sandbox\n    type: server\n"
        '    properties: {name: "${nothing.name}"}\n'
    )
    server_side = cli("deploy")
    assert server_side.code == 2, server_side.out + server_side.err
    assert "resources.web" in server_side.err


def test_viewer_token_gets_exit_3(cli, viewer):
    assert cli("docks", "add", "sandbox", "sandbox").code == 0
    _, viewer_token = token_create(actor=actor_of(viewer), membership=viewer, name="ro")
    cli.secrets.append(viewer_token)
    denied = cli("provision", "sandbox", "server", "--name", "nope", STACKDOCK_TOKEN=viewer_token)
    assert denied.code == 3, denied.out + denied.err
    reading = cli("resources", "servers", STACKDOCK_TOKEN=viewer_token)
    assert reading.code == 0


def test_bad_token_exits_3(cli):
    result = cli("whoami", STACKDOCK_TOKEN="sdk_00000000_not-a-real-token")
    assert result.code == 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_exits_5(tmp_path):
    run = Cli(tmp_path, tmp_path, f"http://127.0.0.1:{_free_port()}", "sdk_x_y", [])
    result = run("ops", STACKDOCK_RETRIES="1")
    assert result.code == 5
    assert "Cannot reach the StackDock server" in result.err
