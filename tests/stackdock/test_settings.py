"""Production mode refuses to start without its secrets; check --deploy is clean."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROD = {
    "STACKDOCK_ENV": "production",
    "SECRET_KEY": "x" * 60 + "production-secret-key-for-the-check",
    "STACKDOCK_ENCRYPTION_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
    "STACKDOCK_AUDIT_KEYS": "a1:" + base64.b64encode(os.urandom(32)).decode(),
    "DATABASE_URL": "sqlite:////tmp/stackdock-check.sqlite3",
    "ALLOWED_HOSTS": "stackdock.example.com",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PROD and k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_in_production():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PROD)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "missing",
    [
        "SECRET_KEY",
        "STACKDOCK_ENCRYPTION_KEYS",
        "STACKDOCK_AUDIT_KEYS",
        "DATABASE_URL",
        "ALLOWED_HOSTS",
    ],
)
def test_production_refuses_to_start_without(missing):
    env = {k: v for k, v in PROD.items() if k != missing}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} must be set" in result.stderr


def test_production_has_no_sandbox_provider():
    result = manage(
        "shell", "-c", "from django.conf import settings; print(settings.STACKDOCK_SANDBOX)", **PROD
    )
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr
