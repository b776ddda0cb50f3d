"""Settings for the test suite: the app's own settings in ``test`` mode."""

from __future__ import annotations

import os

os.environ.setdefault("STACKDOCK_ENV", "test")

from stackdock.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast in tests only
