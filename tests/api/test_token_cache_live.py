"""Two web processes sharing PostgreSQL and Redis: a change made through one is in force
on the other's very next request, although each keeps the tokens it verified."""

from __future__ import annotations

import httpx
import pytest

from stackdock.models import ApiToken
from tests.api.conftest import secret_for

pytestmark = [pytest.mark.integration]


def _whoami(server, secret):
    return httpx.get(
        f"{server.url}/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )


def test_role_change_and_revocation_reach_the_other_process_at_once(start_web, owner, developer):
    first, second = start_web(), start_web()
    owner_secret, dev_secret = secret_for(owner), secret_for(developer)
    for _ in range(3):  # the second process verifies the token once, then reuses it
        assert _whoami(second, dev_secret).json()["role"] == "developer"

    changed = httpx.patch(
        f"{first.url}/api/v1/members/{developer.pk}",
        json={"role": "admin"},
        headers={"Authorization": f"Bearer {owner_secret}"},
        timeout=10,
    )
    assert changed.status_code == 200, changed.text
    assert _whoami(second, dev_secret).json()["role"] == "admin"

    token = ApiToken.objects.get(membership=developer)
    revoked = httpx.delete(
        f"{first.url}/api/v1/tokens/{token.pk}",
        headers={"Authorization": f"Bearer {owner_secret}"},
        timeout=10,
    )
    assert revoked.status_code == 204, revoked.text
    assert _whoami(second, dev_secret).status_code == 401
    assert _whoami(second, owner_secret).status_code == 200  # other tokens keep working
