"""Accounts belong to their owners: members join by invitation (issue 15, rule 4).

Through the real API, dashboard pages and Django's password-reset flow, with the
locmem mail backend standing in for SMTP: the link is shown once and mailed; only
its hash is stored; the inviter never sets a password and learns nothing about
whether the address has an account; only the invited address accepts, once, before
expiry, while the inviter still ranks; joining moves no other session.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from conftest import actor_of
from stackdock.invitations import invitation_create
from stackdock.models import Invitation, Membership
from stackdock.services import member_change_role, token_create
from tests.factories import PASSWORD, MembershipFactory, UserFactory

User = get_user_model()
CSRF = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]*')
LINK = re.compile(r"http://testserver/accounts/invitation/(sdi_[\w-]+)/")


def api_as(membership: Membership) -> APIClient:
    _, secret = token_create(actor=actor_of(membership), membership=membership)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture(autouse=True)
def _mail_on_commit(monkeypatch):
    """Invitations are mailed once their transaction commits; a test's transaction never
    does, so here the mail goes when the invitation's own block ends."""
    from stackdock import invitations

    monkeypatch.setattr(invitations.transaction, "on_commit", lambda fn, **kw: fn())


def invite(client: APIClient, email: str, role: str = "developer") -> dict:
    response = client.post("/api/v1/invitations", {"email": email, "role": role}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def secret_of(link: str) -> str:
    match = LINK.fullmatch(link)
    assert match, link
    return match[1]


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_link_is_shown_once_mailed_and_stored_only_as_a_hash(owner):
    body = invite(api_as(owner), "New@Example.COM")
    secret = secret_of(body["link"])
    assert body["email"] == "new@example.com" and body["status"] == "pending"
    assert [m.to for m in mail.outbox] == [["new@example.com"]]
    assert body["link"] in mail.outbox[0].body
    listed = api_as(owner).get("/api/v1/invitations").json()["results"]
    assert [i["email"] for i in listed] == ["new@example.com"] and "link" not in listed[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM stackdock_invitation")
        assert secret not in json.dumps(cursor.fetchall(), default=str)
    event = AuditEvent.objects.get(operation="member.invite")
    assert secret not in json.dumps(event.metadata, default=str)


@pytest.mark.django_db
def test_the_answer_is_the_same_whether_the_address_has_an_account(owner, outsider):
    """Inviting a user of another organization changes nothing of theirs and answers like
    inviting an address nobody has."""
    victim = outsider.user
    password_before = victim.password
    client = api_as(owner)
    known, unknown = invite(client, victim.username), invite(client, "nobody@example.com")
    volatile = {"id", "email", "created_at", "expires_at", "link"}
    assert {k: v for k, v in known.items() if k not in volatile} == {
        k: v for k, v in unknown.items() if k not in volatile
    }
    assert known.keys() == unknown.keys()
    victim.refresh_from_db()
    assert victim.password == password_before
    assert not Membership.objects.filter(user=victim, org=owner.org).exists()
    assert not User.objects.filter(username="nobody@example.com").exists()
    pages = [
        CSRF.sub(
            "", Client().get(f"/accounts/invitation/{secret_of(b['link'])}/").content.decode()
        ).replace(secret_of(b["link"]), "SECRET")
        for b in (known, unknown)
    ]
    assert pages[0].replace(victim.username, "X") == pages[1].replace("nobody@example.com", "X")


@pytest.mark.django_db
def test_the_inviter_never_sets_a_password(owner):
    response = api_as(owner).post(
        "/api/v1/members",
        {"email": "x@example.com", "role": "viewer", "password": "chosen-by-the-inviter-1"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"password": ["Unknown field."]}
    assert not User.objects.filter(username="x@example.com").exists()


@pytest.mark.django_db
def test_post_members_invites_too(owner):
    response = api_as(owner).post(
        "/api/v1/members", {"email": "x@example.com", "role": "viewer"}, format="json"
    )
    assert response.status_code == 201 and response.json()["status"] == "pending"
    assert not Membership.objects.filter(user__username="x@example.com").exists()


@pytest.mark.django_db
def test_only_the_invited_address_accepts_and_only_once(owner, outsider):
    secret = secret_of(invite(api_as(owner), outsider.user.username)["link"])
    stranger = UserFactory(username="stranger@example.com")
    page = signed_in(stranger).post(f"/accounts/invitation/{secret}/", {"action": "accept"})
    assert page.status_code == 403
    assert not Membership.objects.filter(user=stranger, org=owner.org).exists()

    accepted = api_as(outsider).post(
        "/api/v1/invitations/accept", {"token": f"http://x/accounts/invitation/{secret}/"}
    )
    assert accepted.status_code == 201, accepted.content
    membership = Membership.objects.get(user=outsider.user, org=owner.org)
    assert membership.role.name == "developer"
    event = AuditEvent.objects.filter(operation="member.add").latest("id")
    assert event.metadata["invited_by"] == owner.user.username
    again = api_as(outsider).post("/api/v1/invitations/accept", {"token": secret})
    assert again.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["expired", "withdrawn", "replaced", "unknown"])
def test_a_dead_invitation_is_refused_like_an_unknown_one(owner, outsider, how):
    client = api_as(owner)
    body = invite(client, outsider.user.username)
    secret = secret_of(body["link"])
    if how == "expired":
        Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif how == "withdrawn":
        assert client.delete(f"/api/v1/invitations/{body['id']}").status_code == 204
    elif how == "replaced":  # a new invitation to the same address withdraws the old one
        invite(client, outsider.user.username)
    else:
        secret = "sdi_" + "x" * 43
    response = api_as(outsider).post("/api/v1/invitations/accept", {"token": secret})
    assert response.status_code == 404
    assert "not valid" in response.json()["error"]["message"]
    assert Client().get(f"/accounts/invitation/{secret}/").status_code == 404


@pytest.mark.django_db
def test_the_inviter_must_still_rank_when_it_is_accepted(owner, admin, outsider):
    secret = secret_of(invite(api_as(admin), outsider.user.username, role="admin")["link"])
    member_change_role(actor=actor_of(owner), membership=admin, role_name="viewer")
    response = api_as(outsider).post("/api/v1/invitations/accept", {"token": secret})
    assert response.status_code == 404
    assert not Membership.objects.filter(user=outsider.user, org=owner.org).exists()


@pytest.mark.django_db
def test_a_new_person_sets_their_own_password_through_the_mailbox(owner):
    link = invite(api_as(owner), "newhire@example.com")["link"]
    path = f"/accounts/invitation/{secret_of(link)}/"
    browser = Client()
    assert b"Sign in as newhire@example.com" in browser.get(path).content
    mail.outbox.clear()
    sent = browser.post(path, {"action": "send_link"})
    assert sent.status_code == 200 and b"We mailed newhire@example.com" in sent.content
    user = User.objects.get(username="newhire@example.com")
    assert not user.has_usable_password()  # nobody chose one yet
    (message,) = mail.outbox
    reset = re.search(r"http://testserver(/accounts/reset/[^\s]+/)", message.body)[1]

    form = browser.get(reset, follow=True)  # Django moves the token into the session
    set_url = form.redirect_chain[-1][0]
    done = browser.post(
        set_url, {"new_password1": PASSWORD + "-x", "new_password2": PASSWORD + "-x"}
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    assert browser.login(username="newhire@example.com", password=PASSWORD + "-x")
    joined = browser.post(path, {"action": "accept"})
    assert joined.status_code == 302
    assert Membership.objects.get(user__username="newhire@example.com").org == owner.org


@pytest.mark.django_db
def test_asking_for_a_password_link_does_not_touch_an_existing_password(owner, outsider):
    before = outsider.user.password
    path = (
        f"/accounts/invitation/{secret_of(invite(api_as(owner), outsider.user.username)['link'])}/"
    )
    mail.outbox.clear()
    assert Client().post(path, {"action": "send_link"}).status_code == 200
    assert Client().post(path, {"action": "send_link"}).status_code == 200  # at most one a minute
    outsider.user.refresh_from_db()
    assert outsider.user.password == before
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [outsider.user.username]


@pytest.mark.django_db
def test_joining_never_moves_another_session(owner, other_org):
    """The victim's session works in globex; accepting an invitation to acme (first by
    slug) in another session leaves it there."""
    victim = MembershipFactory(
        org=other_org, role_name="owner", user=UserFactory(username="v@globex.test")
    )
    first = signed_in(victim.user)
    assert b"Globex" in first.get("/dashboard/").content
    secret = secret_of(invite(api_as(owner), victim.user.username)["link"])
    second = signed_in(victim.user)
    assert second.post(f"/accounts/invitation/{secret}/", {"action": "accept"}).status_code == 302
    assert second.get("/api/v1/whoami").json()["org"]["slug"] == "acme"  # the one just chosen
    assert first.get("/api/v1/whoami").json()["org"]["slug"] == "globex"
    page = first.get("/dashboard/").content.decode()
    assert "Globex" in page.split("<main", 1)[-1][:2000]


@pytest.mark.django_db
def test_members_invite_from_the_dashboard_and_see_the_link_once(owner):
    page = signed_in(owner.user).post(
        "/dashboard/settings/members/", {"email": "dash@example.com", "role": "viewer"}
    )
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    (link,) = LINK.findall(page.content.decode())
    again = signed_in(owner.user).get("/dashboard/settings/members/").content.decode()
    assert link not in again and "dash@example.com" in again  # listed, without the link
    assert mail.outbox[-1].to == ["dash@example.com"]


@pytest.mark.django_db
def test_the_operator_still_adds_members_from_the_shell(org, capsys):
    from django.core.management import call_command

    call_command("add_member", org="acme", user="ops@example.com", role="viewer", password=PASSWORD)
    assert Membership.objects.filter(user__username="ops@example.com", org=org).exists()


@pytest.mark.django_db
def test_members_cannot_use_the_operators_path(org, owner):
    from stackdock.exceptions import PermissionDenied
    from stackdock.services import member_add

    with pytest.raises(PermissionDenied, match="invitation"):
        member_add(actor=actor_of(owner), org=org, email="x@example.com", role_name="viewer")


@pytest.mark.django_db
def test_a_failed_mail_does_not_lose_the_invitation(owner, settings, caplog):
    settings.EMAIL_BACKEND = "tests.stackdock.test_invitations.BrokenBackend"
    inv, link = invitation_create(
        actor=actor_of(owner),
        org=owner.org,
        email="z@example.com",
        role_name="viewer",
        link_for=lambda s: f"http://testserver/accounts/invitation/{s}/",
    )
    assert Invitation.objects.filter(pk=inv.pk).exists()
    assert secret_of(link) not in caplog.text


class BrokenBackend:
    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def send_messages(self, messages: object) -> int:
        raise OSError("smtp down")
