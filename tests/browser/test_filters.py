"""Lists filter as you type: every text input of every list's filter form, in Chromium.

Typing (no Enter, no blur) must fetch the narrowed table and push the URL; the
lists are taken from the dashboard's URL configuration (every ``resources`` table,
the operations and the audit log), so a new list is covered too.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from docks.models import UNIVERSAL_MODELS
from tests.factories import BucketFactory, DockFactory

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

LISTS = [
    *[f"/dashboard/{table}/" for table in UNIVERSAL_MODELS],
    "/dashboard/operations/",
    "/dashboard/audit/",
]


@pytest.mark.parametrize("url", LISTS)
def test_typing_in_a_filter_narrows_the_list_without_enter_or_blur(page, owner, login, url):
    login(page, owner)
    page.goto(url)
    inputs = page.locator("form.filters input:not([type=hidden]):not([type=date])")
    assert inputs.count() >= 1, "a list without a text filter"
    for i in range(inputs.count()):
        field = inputs.nth(i)
        name = field.get_attribute("name")
        field.click()
        page.keyboard.type("zq")
        page.wait_for_url(f"**{name}=zq**", timeout=5_000)  # pushed by the htmx request
        assert page.evaluate("document.activeElement.name") == name  # still typing there
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")


def test_search_narrows_the_buckets_table_as_you_type(page, owner, login, shot):
    dock = DockFactory(org=owner.org, name="sandbox", provider="sandbox")
    BucketFactory(dock=dock, name="photos-eu")
    BucketFactory(dock=dock, name="logs-us")
    login(page, owner)
    page.goto("/dashboard/buckets/")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Search").press_sequentially("phot")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("photos-eu")
    shot(page, "filters-search-as-you-type")
