"""``invite``, ``invitations``, ``accept`` and ``members`` against the fake API."""

from __future__ import annotations

import json

from tests.cli.conftest import error, page

INVITATION = {
    "id": 3,
    "email": "new@example.com",
    "role": "developer",
    "status": "pending",
    "invited_by": "owner@acme.test",
    "created_at": "2025-11-24T05:02:11Z",
    "expires_at": "2025-12-01T05:02:11Z",
}
LINK = "http://stackdock.test/accounts/invitation/sdi_abc/"


def test_invite_posts_the_address_and_role_and_prints_the_link_once(cli, api):
    api.on("POST", "/invitations", json={**INVITATION, "link": LINK}, status=201)
    result = cli("invite", "new@example.com", "--role", "developer")
    assert result.exit_code == 0, result.stderr
    (sent,) = api.sent("POST", "/invitations")
    assert json.loads(sent.content) == {"email": "new@example.com", "role": "developer"}
    assert result.stdout.count(LINK) == 1


def test_invite_above_your_rank_is_a_permission_error(cli, api):
    api.on(
        "POST",
        "/invitations",
        response=error(403, "permission_denied", "You cannot give that: only an owner may."),
    )
    result = cli("invite", "x@example.com", "--role", "owner")
    assert result.exit_code == 3
    assert "only an owner" in result.stderr


def test_invitations_lists_the_open_ones(cli, api):
    api.on("GET", "/invitations", json=page([INVITATION]))
    result = cli("invitations")
    assert result.exit_code == 0
    assert "new@example.com" in result.stdout and "developer" in result.stdout


def test_accept_sends_the_link(cli, api):
    member = {"id": 9, "user": {"id": 1, "username": "me@x", "email": "me@x"}, "role": "viewer"}
    api.on("POST", "/invitations/accept", json=member, status=201)
    result = cli("accept", LINK)
    assert result.exit_code == 0, result.stderr
    assert json.loads(api.sent("POST", "/invitations/accept")[0].content) == {"token": LINK}
    assert "Joined as viewer" in result.stdout


def test_service_account_posts_its_name_and_role(cli, api):
    member = {"id": 11, "user": {"id": 5, "username": "ci@acme.service.invalid"}, "role": "viewer"}
    api.on("POST", "/service-accounts", json=member, status=201)
    result = cli("service-account", "ci", "--role", "viewer")
    assert result.exit_code == 0, result.stderr
    sent = json.loads(api.sent("POST", "/service-accounts")[0].content)
    assert sent == {"name": "ci", "role": "viewer"}
    assert "ci@acme.service.invalid" in result.stdout


def test_members_lists_members(cli, api):
    member = {"id": 9, "user": {"id": 1, "username": "me@x", "email": "me@x"}, "role": "viewer"}
    api.on("GET", "/members", json=page([member]))
    result = cli("members", "--json")
    assert json.loads(result.stdout)["results"][0]["role"] == "viewer"
