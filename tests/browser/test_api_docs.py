"""The interactive API docs (/api/docs/) under the project's own CSP, in Chromium.

The ``page`` fixture fails the test on any CSP violation or JavaScript error; this
test also fails when Swagger UI renders nothing (the blank page an inline script
blocked by ``script-src 'self'`` gives) or when an asset is not served from here.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def test_swagger_ui_renders_every_endpoint_under_the_csp(page, live_server, shot):
    requests: list[str] = []
    failed: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    response = page.goto("/api/docs/")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("StackDock API")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/whoami").first).to_be_visible()
    assert page.locator(".opblock").count() > 20
    shot(page, "api-docs", full_page=False)
    whoami = page.locator(
        ".opblock", has=page.locator(".opblock-summary-path", has_text="/api/v1/whoami")
    )
    whoami.first.locator(".opblock-summary").click()  # expanding renders parameters and models
    expect(whoami.first.locator(".responses-wrapper")).to_be_visible()
    page.get_by_role("button", name="Try it out").first.click()
    shot(page, "api-docs-expanded", full_page=False)
    assert not failed, failed
    outside = [
        u for u in requests if not u.startswith(live_server.url) and not u.startswith("data:")
    ]
    assert not outside, f"assets from elsewhere: {outside}"
