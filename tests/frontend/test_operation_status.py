"""The live status panel says what happened (frontend/progress.py), run for real in-process.

Scenarios: a deploy, a destroy of a stack whose spec names more resources than it
manages, a failure with rollback, a failure that stops, a cancel. In each, the bar's
colour and line follow the operation's status and summary, and no chip shows a raw
value.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.models import AuditEvent
from conftest import actor_of
from frontend.progress import SUMMARY_WORDS, progress_of, summary_words
from frontend.templatetags.dashboard import badge_words
from provisioning.engine.results import ACTIONS, EVENT_STATUSES, SUMMARY_KEYS
from provisioning.engine.state import ResourceStatus
from provisioning.models import Operation, OperationStatus, Stack
from provisioning.runner import operation_run
from provisioning.services import operation_cancel, stack_deploy, stack_destroy, stack_save

pytestmark = pytest.mark.django_db

THREE = """name: app
resources:
  db: {dock: sandbox, type: database, properties: {name: app-db}}
  web: {dock: sandbox, type: server, properties: {name: "${db.name}-web"}}
  files: {dock: sandbox, type: bucket, properties: {name: "${web.name}-files"}}
"""
FOURTH_FAILS = (
    THREE
    + """  bad:
    dock: sandbox
    type: bucket
    properties: {name: bad, fail: permanent}
    depends_on: [files]
"""
)


def _panel(client, op):
    html = unescape(client.get(f"/dashboard/operations/{op.pk}/").content.decode())
    bar = re.search(r'<progress class="tone-(\w+)" max="(\d+)" value="(\d+)"', html)
    label = re.search(r'<span class="muted small" id="op-progress-text">([^<]*)</span>', html)
    return html, bar.groups(), label.group(1)


def _run(actor, stack, action):
    op = action(actor=actor, stack=stack)
    operation_run(op.pk, worker="test")
    op.refresh_from_db()
    return op


def test_a_deploy_that_succeeds_is_full_green_and_says_what_it_created(login, owner, sandbox_dock):
    actor = actor_of(owner)
    op = _run(actor, stack_save(actor=actor, org=owner.org, doc=THREE), stack_deploy)
    _, (tone, maximum, value), label = _panel(login(owner), op)
    assert (tone, maximum, value) == ("ok", "1", "1") and label == "3 created"


def test_a_destroy_says_how_many_it_deleted_not_how_many_the_spec_names(login, owner, sandbox_dock):
    actor = actor_of(owner)
    stack = stack_save(actor=actor, org=owner.org, doc=FOURTH_FAILS, on_failure="stop")
    assert _run(actor, stack, stack_deploy).status == "failed"  # 3 made, the 4th failed
    op = _run(actor, stack, stack_destroy)
    html, (tone, _, _), label = _panel(login(owner), op)
    assert op.status == "succeeded" and label == "3 deleted" and tone == "ok"
    assert " of 4" not in html


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        ("rollback", "3 created, 1 failed, 3 rolled back"),
        ("stop", "3 created, 1 failed"),
    ],
)
def test_a_failed_deploy_is_red_and_not_full(login, owner, sandbox_dock, policy, words):
    actor = actor_of(owner)
    stack = stack_save(actor=actor, org=owner.org, doc=FOURTH_FAILS, on_failure=policy)
    op = _run(actor, stack, stack_deploy)
    html, (tone, _, _), label = _panel(login(owner), op)
    assert op.status == "failed" and tone == "error" and label == words
    assert "rolled_back" not in html  # the chips say "rolled back"
    if policy == "rollback":
        assert '<span class="badge badge-warn">rolled back</span>' in html


def test_while_rolling_back_the_bar_is_amber_and_says_so(login, owner, sandbox_dock):
    actor = actor_of(owner)
    stack = stack_save(actor=actor, org=owner.org, doc=FOURTH_FAILS, on_failure="rollback")
    op = _run(actor, stack, stack_deploy)
    # the same events, seen while the last undo had not been written and the op still ran
    Operation.objects.filter(pk=op.pk).update(status=OperationStatus.RUNNING, finished_at=None)
    op.events.filter(resource="", status="failed").delete()
    _, (tone, _, _), label = _panel(login(owner), op)
    assert tone == "warn" and label == "A step failed: rolling back (3 undone)."


def test_a_cancel_is_amber_and_audited_with_a_target_that_does_not_say_running(
    login, owner, sandbox_dock
):
    actor = actor_of(owner)
    stack = stack_save(actor=actor, org=owner.org, doc=THREE)
    op = operation_cancel(actor=actor, operation=stack_deploy(actor=actor, stack=stack))
    _, (tone, _, _), label = _panel(login(owner), op)
    assert tone == "warn" and label == "Cancelled before any change."
    done = _run(actor, stack, stack_deploy)
    targets = AuditEvent.objects.filter(target_id=str(done.pk)).values_list(
        "target_repr", flat=True
    )
    assert targets and all(t == f"operation {done.pk} (deploy)" for t in targets), list(targets)


class _Op:
    def __init__(self, status, summary, done, total):
        self.status, self.summary = status, summary
        self.progress_done, self.progress_total = done, total
        self.stack = None


SUMMARIES = st.fixed_dictionaries({k: st.integers(0, 5) for k in SUMMARY_KEYS})


@given(st.sampled_from(OperationStatus.values), SUMMARIES, st.integers(0, 9), st.integers(0, 9))
def test_the_line_is_the_summary_once_ended_and_the_bar_full_only_for_a_success(
    status, summary, done, total
):
    progress = progress_of(_Op(status, summary, done, total), [])
    assert 0 <= progress.value <= progress.max
    assert (progress.value == progress.max and progress.tone == "ok") or status != "succeeded"
    if status in ("succeeded", "failed", "cancelled"):
        assert " of " not in progress.label
        words = summary_words(summary)
        assert progress.label == words or (not words and progress.label.endswith("."))
    tones = {"succeeded": "ok", "failed": "error", "cancelled": "warn", "queued": "muted"}
    assert progress.tone == tones.get(status, "run")


def test_every_status_state_and_action_reads_as_words():
    values = {*EVENT_STATUSES, *ACTIONS, *(s.value for s in ResourceStatus), *SUMMARY_KEYS}
    values |= set(OperationStatus.values)
    for value in values:
        assert "_" not in badge_words(value) and badge_words(value).strip(), value
    assert set(SUMMARY_WORDS) == set(SUMMARY_KEYS)
    assert Stack  # the model the scenarios use
