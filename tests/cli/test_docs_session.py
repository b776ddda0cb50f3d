"""docs/CLI.md's example session, run as written against a live server (tests/cli/docsession.py).

The installed ``stackdock`` script, pytest-django's live server on PostgreSQL, a Celery
worker process on Redis, a moto server as the AWS endpoint and the sandbox provider:
what the doc shows is what a person gets. A change to the CLI's output fails here
until the doc shows it (``STACKDOCK_WRITE_DOCS=1`` rewrites the block from the run).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from conftest import actor_of
from stackdock.services import token_create
from tests.cli import docsession

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(400),
    pytest.mark.django_db(transaction=True, reset_sequences=True),
]

DOCS = Path(__file__).resolve().parents[2] / "docs"
SHOWN_URL = "http://127.0.0.1:8000"
SHOWN_MOTO = "http://127.0.0.1:5000"
SHOWN_HOME = "/home/ana"


def _stack_yaml(doc: str) -> str:
    """The stack document CLI.md shows under "Stacks" (the session deploys it)."""
    at = doc.index("### Stacks")
    start = doc.index("```yaml\n", at) + len("```yaml\n")
    return doc[start : doc.index("```", start)]


def test_the_cli_example_session_prints_what_the_doc_shows(
    live_server, worker_env, owner, moto, start_worker, tmp_path
):
    doc = DOCS / "CLI.md"
    session, start, end = docsession.block(doc, "## An example session")
    steps = docsession.parse(session)
    assert any(s.command.startswith("stackdock deploy") for s in steps)

    _, token = token_create(actor=actor_of(owner), membership=owner, name="cli-live")
    home, work = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    work.mkdir()
    (work / "token.txt").write_text(token + "\n")
    (work / "stackdock.yaml").write_text(_stack_yaml(doc.read_text()))
    start_worker(beat=False)
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "STACKDOCK_POLL_INTERVAL": "0.2",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
        "LANG": "C.UTF-8",
    }
    docsession.run(
        steps, cwd=work, env=env, commands={SHOWN_URL: live_server.url, SHOWN_MOTO: moto}
    )
    for step in steps:
        assert token not in step.actual, f"the token was printed by {step.command}"
    shown = {live_server.url: SHOWN_URL, moto: SHOWN_MOTO, str(home): SHOWN_HOME}
    problems = docsession.check_or_write(doc, start, end, steps, shown)
    assert not problems, "docs/CLI.md's session differs from a real run:\n\n" + "\n\n".join(
        problems
    )
    assert re.search(r"Logged in to \S+ as owner@acme.test", steps[0].actual), steps[0].actual
