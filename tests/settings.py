"""Settings for the test suite: the app's own settings in ``test`` mode."""

from __future__ import annotations

import os

os.environ.setdefault("STACKDOCK_ENV", "test")

from stackdock.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast in tests only

# When the test run has Redis (make test provides it), the broker is Redis, as in
# production, and worker processes started by tests/integration consume from it.
_redis = os.environ.get("STACKDOCK_TEST_REDIS_URL")
if _redis:
    CELERY_BROKER_URL = _redis
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
