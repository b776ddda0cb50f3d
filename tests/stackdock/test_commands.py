"""Management commands: happy paths and bad input (non-zero exit, one-line message)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from stackdock.models import ApiToken, Membership, Organization, Role
from stackdock.services import token_authenticate


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_create_org_creates_roles_owner_and_audits():
    run("create_org", "acme", "--owner", "Boss@Acme.test", "--password", "pw-Long-enough-1")
    org = Organization.objects.get(slug="acme")
    assert set(Role.objects.filter(org=org).values_list("name", flat=True)) == {
        "owner",
        "admin",
        "developer",
        "viewer",
    }
    m = Membership.objects.get(org=org)
    assert m.user.username == "boss@acme.test" and m.role.name == "owner"
    assert m.user.check_password("pw-Long-enough-1")
    assert set(AuditEvent.objects.filter(org=org).values_list("operation", flat=True)) == {
        "org.create",
        "member.add",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create_org", "Bad Slug!", "--owner", "a@b.test"], "not a valid organization slug"),
        (["create_org", "ok", "--owner", "not-an-email"], "not a valid email"),
        (["create_org", "ok", "--owner", "a@b.test", "--password", "123"], "Password rejected"),
    ],
)
def test_create_org_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Organization.objects.exists()


@pytest.mark.django_db
def test_create_org_twice_is_a_conflict():
    run("create_org", "acme", "--owner", "a@acme.test")
    with pytest.raises(CommandError, match="already exists"):
        run("create_org", "acme", "--owner", "a@acme.test")


@pytest.mark.django_db
def test_add_member_and_bad_role():
    run("create_org", "acme", "--owner", "a@acme.test")
    run("add_member", "--org", "acme", "--user", "dev@acme.test", "--role", "developer")
    assert Membership.objects.get(user__username="dev@acme.test").role.name == "developer"
    assert AuditEvent.objects.filter(operation="member.add", metadata__role="developer").exists()
    with pytest.raises(CommandError, match="Unknown role 'wizard'; valid: admin, developer"):
        run("add_member", "--org", "acme", "--user", "x@acme.test", "--role", "wizard")
    with pytest.raises(CommandError, match="organization 'nope' does not exist"):
        run("add_member", "--org", "nope", "--user", "x@acme.test", "--role", "viewer")
    with pytest.raises(CommandError, match="already a member"):
        run("add_member", "--org", "acme", "--user", "dev@acme.test", "--role", "viewer")


@pytest.mark.django_db
def test_create_token_prints_the_token_alone_on_the_last_line():
    run("create_org", "acme", "--owner", "a@acme.test")
    out = run(
        "create_token",
        "--org",
        "acme",
        "--user",
        "a@acme.test",
        "--name",
        "ci",
        "--expires-days",
        "30",
    )
    secret = out.strip().splitlines()[-1]
    token = token_authenticate(secret)
    assert token is not None and token.name == "ci" and token.expires_at is not None
    stored = ApiToken.objects.get()
    assert secret not in str(stored.__dict__)  # only the hash is stored
    assert AuditEvent.objects.filter(operation="token.create").exists()


@pytest.mark.django_db
def test_create_token_bad_input():
    run("create_org", "acme", "--owner", "a@acme.test")
    with pytest.raises(CommandError, match="not a member"):
        run("create_token", "--org", "acme", "--user", "ghost@acme.test")
    with pytest.raises(CommandError, match="expires_days must be between"):
        run("create_token", "--org", "acme", "--user", "a@acme.test", "--expires-days", "0")


@pytest.mark.django_db
def test_audit_verify_unknown_org():
    with pytest.raises(CommandError, match="does not exist"):
        run("audit_verify", "--org", "nope")


@pytest.mark.django_db
def test_migrations_are_complete():
    run("makemigrations", "--check", "--dry-run")
