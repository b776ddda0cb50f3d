"""An invitation as people use it, in Chromium: the owner invites, the newcomer sets
their own password through the mailed link, signs in and joins (issue 15, rule 4).

A browser sends what the test client does not (an ``Origin`` on every form post, for
one), so the pages' forms are checked here for real.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from stackdock.models import Membership

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
NEW_PASSWORD = "a-newcomers-own-password-42"


def test_a_newcomer_joins_by_invitation_with_a_password_nobody_else_chose(
    page, browser, live_server, owner, login, shot
):
    login(page, owner)
    page.goto("/dashboard/settings/members/")
    page.locator("#id_email").fill("newhire@example.com")
    page.locator("#id_role").select_option("developer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("heading", name="Invitation sent")).to_be_visible()
    link = page.get_by_label("Invitation link").input_value()
    shot(page, "invitation-01-sent")
    assert mail.outbox[-1].to == ["newhire@example.com"] and link in mail.outbox[-1].body

    newcomer = browser.new_context(base_url=live_server.url).new_page()
    newcomer.goto(link)
    expect(newcomer.get_by_role("heading", name="Join Acme")).to_be_visible()
    shot(newcomer, "invitation-02-page")
    newcomer.get_by_role("button", name="Mail me a link to set my password").click()
    expect(newcomer.get_by_role("status")).to_contain_text("We mailed newhire@example.com")
    reset = re.search(r"Set it: (\S+)", mail.outbox[-1].body)[1]

    newcomer.goto(reset)
    newcomer.get_by_label("New password").fill(NEW_PASSWORD)
    newcomer.get_by_label("Again").fill(NEW_PASSWORD)
    newcomer.get_by_role("button", name="Set password").click()
    expect(newcomer.get_by_role("heading", name="Password set")).to_be_visible()

    newcomer.goto(link)
    newcomer.get_by_role("link", name="Sign in as newhire@example.com").click()
    newcomer.get_by_label("Email").fill("newhire@example.com")
    newcomer.get_by_label("Password").fill(NEW_PASSWORD)
    newcomer.get_by_role("button", name="Log in").click()
    newcomer.get_by_role("button", name="Accept and join").click()
    newcomer.wait_for_url("**/dashboard/")
    expect(newcomer.get_by_role("heading", level=1)).to_have_text("Acme")
    shot(newcomer, "invitation-03-joined")
    membership = Membership.objects.get(user__username="newhire@example.com")
    assert membership.org == owner.org and membership.role.name == "developer"
