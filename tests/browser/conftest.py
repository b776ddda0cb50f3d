"""Playwright + Debian's chromium against the live server, with a real Celery worker.

Nothing is downloaded: the browser is /usr/bin/chromium (``make test`` installs
it with apt-get). These tests need PostgreSQL and Redis (the worker process and
the live server share the PostgreSQL test database) and are marked ``browser``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.factories import PASSWORD

# The worker fixtures (``start_worker``, ``worker_env``, ``redis_url``) come from
# tests/fixtures/workers.py, which the root conftest registers for every package.

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RESULTS = Path(__file__).resolve().parents[2] / "test-results" / "browser"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"needs Debian's chromium at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the test code's ORM
    # calls are still plain synchronous calls, so Django's async guard is relaxed here
    # (only while this module's tests run).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    yield page
    context.close()
    blocked = [p for p in problems if "Content Security Policy" in p or "Refused to" in p]
    assert not blocked, f"the browser blocked something (CSP): {blocked}"
    scripts = [p for p in problems if "Failed to load resource" not in p]
    assert not scripts, f"JavaScript errors: {scripts}"


@pytest.fixture
def shot(request) -> Callable[..., Path]:
    """``shot(page, "name")`` saves a full-page screenshot under test-results/browser/."""
    RESULTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str, *, full_page: bool = True) -> Path:
        path = RESULTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
        page.evaluate("window.scrollTo(0, 0)")  # the sticky menu stays where it belongs
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return save


@pytest.fixture
def login() -> Callable[..., None]:
    """``login(page, membership)`` signs in through the login form."""

    def sign_in(page, membership) -> None:
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill(membership.user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/dashboard/")

    return sign_in


@pytest.fixture
def sandbox_dock(owner, settings, tmp_path):
    """A sandbox dock (with its own sandbox "cloud" file) in acme."""
    from tests.factories import DockFactory

    settings.STACKDOCK_SANDBOX_DB = str(tmp_path / "sandbox.sqlite3")
    return DockFactory(org=owner.org, name="sandbox", provider="sandbox")
