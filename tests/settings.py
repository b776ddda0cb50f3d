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

# django-axes refuses authenticate() calls without a request (the test client's login());
# tests that check login throttling put it back with the `settings` fixture.
AUTHENTICATION_BACKENDS = [b for b in AUTHENTICATION_BACKENDS if not b.startswith("axes.")]  # noqa: F405

# One Celery queue per test session, so several test runs sharing one Redis never take
# each other's tasks; worker processes started by the tests get the same name.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("STACKDOCK_TEST_QUEUE") or (
    f"stackdock-test-{os.getpid()}"
)
os.environ["STACKDOCK_TEST_QUEUE"] = CELERY_TASK_DEFAULT_QUEUE

# SQLite test databases are files (WAL lets a reader thread and a writer work together,
# which shared-cache in-memory databases do not), one per test process.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405
