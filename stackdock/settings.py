"""StackDock settings, read from the environment (django-environ).

Three modes, chosen by ``STACKDOCK_ENV``:

- ``dev`` (default): embedded defaults - SQLite under ``var/``, a broker that
  needs no server (kombu's filesystem transport), a secret key and an
  encryption key generated under ``var/`` on first start, the audit log's key
  derived from the secret key.
- ``test``: like dev, used by the test suite.
- ``production``: nothing is generated; a missing ``SECRET_KEY``,
  ``STACKDOCK_ENCRYPTION_KEYS``, ``STACKDOCK_AUDIT_KEYS``, ``DATABASE_URL`` or
  ``ALLOWED_HOSTS`` stops the process with an ``ImproperlyConfigured`` naming
  the variable.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from audit.keys import derived_dev_keys

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

STACKDOCK_ENV = env.str("STACKDOCK_ENV", default="dev")
if STACKDOCK_ENV not in ("dev", "test", "production"):
    raise ImproperlyConfigured(
        f"STACKDOCK_ENV must be one of dev, test, production (got {STACKDOCK_ENV!r})"
    )
PRODUCTION = STACKDOCK_ENV == "production"
VAR_DIR = Path(env.str("STACKDOCK_VAR_DIR", default=str(BASE_DIR / "var")))


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(
            f"{name} must be set when STACKDOCK_ENV=production (see docs/architecture/SECURITY.md)"
        )
    return value


def _local_secret(filename: str, make: Callable[[], str], what: str) -> str:
    """Dev only: a secret kept in var/, generated (and announced) on first use."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / filename
    if not path.exists():
        value = make()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        print(f"StackDock (dev): generated a local {what} in {path}", file=sys.stderr)
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = _required("SECRET_KEY")
    STACKDOCK_ENCRYPTION_KEYS = _required("STACKDOCK_ENCRYPTION_KEYS")
    STACKDOCK_AUDIT_KEYS = _required("STACKDOCK_AUDIT_KEYS")
    _required("DATABASE_URL")
    ALLOWED_HOSTS = [h.strip() for h in _required("ALLOWED_HOSTS").split(",") if h.strip()]
    DEBUG = env.bool("DEBUG", default=False)
else:
    SECRET_KEY = os.environ.get("SECRET_KEY") or _local_secret(
        "secret_key", lambda: secrets.token_urlsafe(50), "Django SECRET_KEY"
    )
    STACKDOCK_ENCRYPTION_KEYS = os.environ.get("STACKDOCK_ENCRYPTION_KEYS") or _local_secret(
        "encryption_keys",
        lambda: "dev1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "credential encryption key",
    )
    #: dev/test: the audit log's signing key is derived from SECRET_KEY (audit/keys.py)
    STACKDOCK_AUDIT_KEYS = os.environ.get("STACKDOCK_AUDIT_KEYS") or derived_dev_keys(SECRET_KEY)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
    DEBUG = env.bool("DEBUG", default=STACKDOCK_ENV == "dev")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_htmx",
    "csp",
    "axes",
    "stackdock",
    "audit",
    "docks",
    "provisioning",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # the project's 404 page in development too (STACKDOCK_DEBUG_404=1: Django's)
    "frontend.views.errors.ProjectNotFoundMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "audit.middleware.RequestContextMiddleware",
    # last: django-axes locks out repeated failed logins
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "stackdock.urls"
WSGI_APPLICATION = "stackdock.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "frontend.context_processors.tenancy",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------
_default_db = f"sqlite:///{VAR_DIR / 'stackdock.sqlite3'}"
DATABASES = {"default": env.db_url("DATABASE_URL", default=_default_db)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE transactions + a busy timeout: the web process and a
    # worker can both write without "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth ------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out logins
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=False)
SESSION_COOKIE_SAMESITE = "Lax"
# Login throttling (django-axes): lock a username+IP pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("STACKDOCK_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("STACKDOCK_LOGIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
CSRF_COOKIE_HTTPONLY = False  # htmx reads it via hx-headers rendered server-side
#: how long an invitation's link works (stackdock.invitations)
STACKDOCK_INVITATION_DAYS = env.int("STACKDOCK_INVITATION_DAYS", default=7)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)

# --- email (invitations, password reset) ------------------------------------------
# dev: mails are written to the console of the web process (or, with
# STACKDOCK_EMAIL_BACKEND=file, as files under var/mail/); production: SMTP, from
# EMAIL_URL (smtp://user:password@host:587 or submission://... for STARTTLS).
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="StackDock <stackdock@localhost>")
if PRODUCTION:
    _email = env.email_url("EMAIL_URL", default="smtp://localhost:25")
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email["EMAIL_HOST"]
    EMAIL_PORT = _email["EMAIL_PORT"]
    EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
    EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
    EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
    EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
    # mails are sent by the web process once the request's transaction commits: bounded
    EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
else:
    _mail = env.str("STACKDOCK_EMAIL_BACKEND", default="console")
    if _mail not in ("console", "file", "locmem"):
        raise ImproperlyConfigured(f"STACKDOCK_EMAIL_BACKEND: console, file or locmem ({_mail!r})")
    EMAIL_BACKEND = f"django.core.mail.backends.{_mail}.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
ANONYMOUS_USER_NAME = None  # django-guardian: no anonymous object permissions
GUARDIAN_RAISE_403 = False

# --- i18n / static --------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"


# --- REST framework -------------------------------------------------------------
def _throttle_rate(name: str, default: str) -> str:
    """A DRF rate, ``<requests>/<s|min|hour|day>``; a bad value stops the process."""
    import re

    value = env.str(name, default=default).strip()
    if not re.fullmatch(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(f"{name} must look like 600/min (got {value!r})")
    return value


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "stackdock.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_RENDERER_CLASSES": ["stackdock.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["stackdock.api.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "stackdock.api.exceptions.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "stackdock.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    # throttles live in the default cache (Redis when REDIS_URL is set)
    "DEFAULT_THROTTLE_CLASSES": ["stackdock.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": _throttle_rate("STACKDOCK_THROTTLE_TOKEN", "1200/min"),
        "ip": _throttle_rate("STACKDOCK_THROTTLE_IP", "2400/min"),
    },
    # how many reverse proxies append to X-Forwarded-For (0: trust REMOTE_ADDR only)
    "NUM_PROXIES": env.int("STACKDOCK_NUM_PROXIES", default=0),
    "URL_FORMAT_OVERRIDE": None,  # ?format= is the audit export's own parameter
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "StackDock API",
    "DESCRIPTION": "Docks, universal resource tables, provisioning, stacks, audit. "
    "See docs/API.md for authentication, errors, pagination, idempotency and throttling.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_PATCH": False,  # PATCH bodies are validated whole, not as partials
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "OperationStatusEnum": "provisioning.models.OperationStatus",
        "OperationKindEnum": "provisioning.models.OperationKind",
        "AuditStatusEnum": "audit.models.AuditStatus",
        "ActorTypeEnum": "audit.models.ActorType",
        "ProvisioningStateEnum": "docks.models.ProvisioningState",
        "ProvisioningSourceEnum": "docks.models.ProvisioningSource",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "stackdock.api.schema.add_common_responses",
    ],
}

# --- cache, broker, Celery ------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "stackdock.utils.cache.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    for _d in ("out", "processed", "control"):
        (_broker_dir / _d).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Celery's Django fixup otherwise closes the database connection before and after
# every task: a new PostgreSQL connection (a server process forked) costs each
# operation ~8 ms. Connections are instead closed the way Django closes them
# between requests (CONN_MAX_AGE, health checks: stackdock/celery.py), and
# recycled by Celery after this many tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)

# --- StackDock ------------------------------------------------------------------------
STACKDOCK_LEASE_SECONDS = env.int("STACKDOCK_LEASE_SECONDS", default=60)
STACKDOCK_REAPER_SECONDS = env.int("STACKDOCK_REAPER_SECONDS", default=30)
STACKDOCK_PARALLELISM = env.int("STACKDOCK_PARALLELISM", default=10)
STACKDOCK_MAX_ATTEMPTS = env.int("STACKDOCK_MAX_ATTEMPTS", default=5)
#: how long a web process may reuse an API token it verified (0: look it up every
#: request); changes made through Django take effect at once (stackdock.authentication)
STACKDOCK_TOKEN_CACHE_SECONDS = env.int("STACKDOCK_TOKEN_CACHE_SECONDS", default=30)
#: how long a universal-table list page may be served from the shared cache; every write to
#: the table replaces its change marker first (docks.changes), so this is a backstop only.
#: 0 turns the page cache off. Off by default without Redis: each process's local-memory
#: cache would not see the markers a worker process replaces.
STACKDOCK_LIST_CACHE_SECONDS = env.int(
    "STACKDOCK_LIST_CACHE_SECONDS", default=30 if REDIS_URL else 0
)
#: the sandbox provider exists outside production only
STACKDOCK_SANDBOX = not PRODUCTION
#: in development, an unknown URL shows Django's debug page (every URL pattern) only on request
STACKDOCK_DEBUG_404 = env.bool("STACKDOCK_DEBUG_404", default=False)
#: where a dock's endpoint override may point (stackdock/outbound.py): host names,
#: ``*.suffix``, ``*`` (any public host), addresses and networks. Empty turns endpoint
#: overrides off, the production default; dev and test allow the loopback emulators.
STACKDOCK_ENDPOINT_ALLOWLIST = env.list(
    "STACKDOCK_ENDPOINT_ALLOWLIST",
    default=[] if PRODUCTION else ["localhost", "127.0.0.0/8", "::1"],
)


def _check_allowlist(entries: list[str]) -> None:
    from stackdock.outbound import AllowList

    try:
        AllowList.parse(entries)
    except ValueError as exc:
        raise ImproperlyConfigured(f"STACKDOCK_ENDPOINT_ALLOWLIST: {exc}") from None


_check_allowlist(STACKDOCK_ENDPOINT_ALLOWLIST)

# --- security -------------------------------------------------------------------------
# Content Security Policy (django-csp): no inline script anywhere; htmx is served
# from our own static files and configured by a meta tag.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"botocore": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}
#: the sandbox provider's "cloud" (an SQLite file shared by every process)
STACKDOCK_SANDBOX_DB = env.str("STACKDOCK_SANDBOX_DB", default=str(VAR_DIR / "sandbox.sqlite3"))
#: a stack document (and the API request carrying it) may be at most this many bytes and
#: declare at most this many resources; both are checked before it is parsed, after the
#: actor's permission (provisioning/limits.py)
STACKDOCK_STACK_MAX_BYTES = env.int("STACKDOCK_STACK_MAX_BYTES", default=1024 * 1024)
STACKDOCK_STACK_MAX_RESOURCES = env.int("STACKDOCK_STACK_MAX_RESOURCES", default=500)
#: how often an operation whose worker died is handed to another before it fails
STACKDOCK_REAP_MAX_ATTEMPTS = env.int("STACKDOCK_REAP_MAX_ATTEMPTS", default=3)
#: how often every scope's lane lengths are recorded in its audit lane register: events
#: older than the last checkpoint cannot be cut off even by someone who kept old rows
STACKDOCK_AUDIT_CHECKPOINT_SECONDS = env.int("STACKDOCK_AUDIT_CHECKPOINT_SECONDS", default=300)
CELERY_BEAT_SCHEDULE = {
    "reap-operations": {
        "task": "provisioning.reap_operations",
        "schedule": float(STACKDOCK_REAPER_SECONDS),
    },
    "sync-due-docks": {"task": "docks.sync_due", "schedule": 30.0},
    "erase-expired-credentials": {"task": "docks.erase_expired_credentials", "schedule": 60.0},
    "audit-checkpoint": {
        "task": "audit.checkpoint",
        "schedule": float(STACKDOCK_AUDIT_CHECKPOINT_SECONDS),
    },
}
