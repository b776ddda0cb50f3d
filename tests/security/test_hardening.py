"""Hardening: security headers, login throttling, sessions, passwords."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from audit.models import AuditEvent

AXES_BACKENDS = ["axes.backends.AxesStandaloneBackend", *django_settings.AUTHENTICATION_BACKENDS]


@pytest.mark.django_db
def test_pages_send_a_strict_content_security_policy(client, owner):
    client.force_login(owner.user)
    response = client.get("/dashboard/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_login_page_has_no_inline_script(client):
    body = client.get("/accounts/login/").content.decode()
    import re

    for tag in re.findall(r"<script[^>]*>", body):
        assert "src=" in tag, f"inline script: {tag}"


@pytest.mark.django_db
def test_repeated_failed_logins_are_locked_out_and_audited(client, owner, settings):
    settings.AUTHENTICATION_BACKENDS = AXES_BACKENDS
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": owner.user.username, "password": "wrong"})
    response = client.post(
        "/accounts/login/",
        {"username": owner.user.username, "password": "correct-horse-battery-staple"},
    )
    assert response.status_code in (403, 429)
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(operation="auth.login_failed").count() >= 1


@pytest.mark.django_db
def test_successful_login_is_audited(client, owner):
    response = client.post(
        "/accounts/login/",
        {"username": owner.user.username, "password": "correct-horse-battery-staple"},
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(
        operation="auth.login", actor_repr=owner.user.username
    ).exists()


def test_sessions_expire_and_cookies_are_http_only():
    assert django_settings.SESSION_COOKIE_AGE <= 24 * 3600
    assert django_settings.SESSION_COOKIE_HTTPONLY
    assert "django.contrib.auth.password_validation.MinimumLengthValidator" in {
        v["NAME"] for v in django_settings.AUTH_PASSWORD_VALIDATORS
    }
