"""Django settings, read only from the environment (see .env.example)."""

import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from saas.api.rates import parse_rate
from saas.db.pooling import ENGINES as POOL_ENGINES
from saas.db.pooling import SESSION, pool_mode

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A developer's own .env is optional; real environment variables always win.
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (only DEBUG=true runs without one).")
    SECRET_KEY = "insecure-development-only-key"  # noqa: S105 - DEBUG only

# Organizations live at <slug>.<BASE_DOMAIN>; the bare BASE_DOMAIN is the public site.
BASE_DOMAIN = env("BASE_DOMAIN", default="localhost").lower()
# Other hosts that serve the public site: in development http://127.0.0.1:8000/ works too.
PUBLIC_HOST_ALIASES = [
    host.lower()
    for host in env.list("PUBLIC_HOST_ALIASES", default=["localhost", "127.0.0.1"] if DEBUG else [])
]
# ".example.com" matches example.com and every subdomain of it.
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}", *PUBLIC_HOST_ALIASES]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_SCHEME = env("SITE_SCHEME", default="http")
# Port shown in printed URLs (empty for 80/443 behind a proxy).
SITE_PORT = env("SITE_PORT", default="8000")

# --- Applications -------------------------------------------------------------------------
# Public schema: users, organizations, domains, memberships, tokens, admin.
# contenttypes/auth/sessions/admin live only in public: the admin is served on the public
# host only, and tenant models get their ContentType rows in public too (one id per model
# across every organization), so nothing per-tenant depends on a per-schema content type.
SHARED_APPS = [
    "django_tenants",  # must come first
    # Django
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.admin",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # OpClass in index expressions (the tasks' trigram index)
    # Third party
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Local
    "shared_apps.accounts",
    "shared_apps.organizations",
]

# One PostgreSQL schema per organization.
TENANT_APPS = [
    "tenant_apps.activity",  # below projects and tasks: both record their changes there
    "tenant_apps.projects",
    "tenant_apps.tasks",
    "tenant_apps.exports",  # CSV exports of tasks, written by background jobs
]

INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "organizations.Organization"
TENANT_DOMAIN_MODEL = "organizations.Domain"
PUBLIC_SCHEMA_URLCONF = "saas.urls_public"
ROOT_URLCONF = "saas.urls_tenants"
DEFAULT_NOT_FOUND_TENANT_VIEW = "saas.api.views.tenant_not_found"
# Send `SET search_path` only when the schema changes, not on every cursor.
TENANT_LIMIT_SET_CALLS = True
# Seconds each process remembers which active organization a host name routes to
# (shared_apps/organizations/middleware.py): a deactivated organization, or a renamed or removed
# domain, stops routing in every process within this time (at once in the process that saved
# the change); 0 looks the host up on every request.
TENANT_CACHE_SECONDS = env.float("TENANT_CACHE_SECONDS", default=5)
# `migrate_schemas` executor (`--executor` picks another for one run): "fast" skips the
# schemas already up to date after one read of every schema's django_migrations and applies
# pending migrations in TENANT_MIGRATION_PROCESSES processes, a transaction per schema, going
# on past a failed one (shared_apps/organizations/migration_executor/); django-tenants'
# "standard" runs Django's migrate in every schema, one after another.
TENANT_MIGRATION_EXECUTOR = env("TENANT_MIGRATION_EXECUTOR", default="fast")
# More processes than cores pays: each new index waits for an fsync of its file, and four
# processes overlap those waits (measured on 2 cores: 4 beat 2 and 6).
TENANT_MIGRATION_PROCESSES = env.int("TENANT_MIGRATION_PROCESSES", default=4)
GET_EXECUTOR_FUNCTION = "shared_apps.organizations.migration_executor.get_executor"

MIDDLEWARE = [
    "saas.middleware.HealthCheckMiddleware",  # answers probes on any host, before routing
    "saas.db.recycle.RecycleConnectionsMiddleware",  # after the response: CONN_MAX_SCHEMAS
    "shared_apps.organizations.middleware.OrganizationMiddleware",
    "saas.api.middleware.ApiTrailingSlashMiddleware",  # needs the host's URLconf
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "saas.api.throttling.RateLimitHeadersMiddleware",  # X-RateLimit-* of the throttled
    "saas.api.middleware.ApiServerErrorMiddleware",  # last: JSON 500s under /api/, any mode
]

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
            ],
        },
    },
]

WSGI_APPLICATION = "saas.wsgi.application"

# --- Database -----------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
# Persistent connections: ~4x the throughput of reconnecting per request on a small box.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A connection is also closed once it has served this many organizations (0: never): its
# PostgreSQL backend caches every schema it touched for its whole life, ~0.25 MB each
# (saas/db/recycle.py, docs/SCALING.md). Behind PgBouncer the server connection outlives
# ours: PgBouncer's server_lifetime bounds it instead.
CONN_MAX_SCHEMAS = env.int("CONN_MAX_SCHEMAS", default=100)
# How DATABASE_URL reaches PostgreSQL: `session` (directly, or a pooler in session mode) or
# `transaction` (PgBouncer pool_mode=transaction), where the backend sends the schema inside
# every transaction instead of django-tenants' session-level search_path, which would leak
# between organizations there (saas/db/pooling.py, docs/OPERATIONS.md). Statement pooling
# and unknown values stop the start with a message.
DATABASE_POOL_MODE = pool_mode(env("DATABASE_POOL_MODE", default=SESSION))
DATABASES["default"]["ENGINE"] = POOL_ENGINES[DATABASE_POOL_MODE]
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------------------
# Redis (`make run`/`make test` start an embedded one when REDIS_URL is unset: saas/devredis.py).
REDIS_URL = env("REDIS_URL", default="")
# Seconds a Redis connect or reply may take before the request goes on without the cache.
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=0.25)
# After a cache error, this process answers from the database for this many seconds before
# trying Redis again (saas.api.outage.CircuitBreaker).
CACHE_RETRY_SECONDS = env.float("CACHE_RETRY_SECONDS", default=5)
# Safety net only: dashboard entries are keyed by the organization's change version, so a
# write makes them unreachable at once; this bounds what a write outside the services leaves.
DASHBOARD_CACHE_TTL = env.int("DASHBOARD_CACHE_TTL", default=600)
# Dashboard entries each process also keeps in memory (tenant_apps/tasks/cache.py), the most
# recently used: a few kB each (0: none). Every write makes new ones, so a busy process fills
# them; a small number bounds what that costs its memory.
DASHBOARD_LOCAL_ENTRIES = env.int("DASHBOARD_LOCAL_ENTRIES", default=64)
# Several deployments sharing one Redis need a prefix each.
CACHE_KEY_PREFIX = env("CACHE_KEY_PREFIX", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            # Keys carry the schema name so one organization never reads another's entries.
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
            "OPTIONS": {
                # A dead or slow Redis must cost a request a fraction of a second, not stall it.
                "SOCKET_CONNECT_TIMEOUT": REDIS_TIMEOUT,
                "SOCKET_TIMEOUT": REDIS_TIMEOUT,
                # Errors reach the callers, which go on without the cache and stop asking for
                # a while (tenant_apps/tasks/cache.py, saas/api/throttling.py); swallowing them
                # here would leave every request to pay the timeout, and nobody would hear of
                # the outage.
                "IGNORE_EXCEPTIONS": False,
            },
        }
    }
else:
    # Only when the embedded Redis cannot start (saas/devredis.py says why): one cache per
    # process, so entries are not shared between server processes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "KEY_FUNCTION": "django_tenants.cache.make_key",
        }
    }
# Rate-limit counters (saas/api/throttling.py): the same store, but keys without the schema
# name, so a user or a client address has one count on every organization's host.
CACHES["throttle"] = {
    name: value
    for name, value in CACHES["default"].items()
    if name not in ("KEY_FUNCTION", "REVERSE_KEY_FUNCTION")
}

# --- Background jobs (Celery, saas/celery.py) ---------------------------------------------


def _broker_url(redis_url: str) -> str:
    """Kombu's spelling of REDIS_URL: it names a Unix socket (the embedded Redis's
    `unix:///path?db=0`) `redis+socket:///path`."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://").split("?", 1)[0]
    return redis_url


def _daily_at(name: str, default: str):
    """A crontab for every day at the time (HH:MM, in TIME_ZONE) the variable `name` gives."""
    from celery.schedules import crontab

    value = env(name, default=default)
    try:
        hour, minute = (int(part) for part in value.split(":"))
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a time of day, HH:MM: not {value!r}.") from None
    return crontab(hour=hour, minute=minute)


# The broker is Redis (the embedded one under `make run`/`make test`), the cache's server.
_broker = env("CELERY_BROKER_URL", default=_broker_url(REDIS_URL))
# No broker at all (only when the embedded Redis cannot start, or tests without REDIS_URL):
# jobs run in the process that queues them, so development still works. Production always
# has REDIS_URL.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not _broker)
# Eager jobs are never sent, but Celery still builds a producer (never connected) for them.
CELERY_BROKER_URL = _broker or "memory://"
# Deployments (or test runs) sharing one Redis need a queue each.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", default="celery")
# Seconds a request may wait for the broker when it queues a job: past that it answers 503
# (saas.api.jobs) instead of hanging on a dead or unreachable Redis.
JOB_QUEUE_TIMEOUT = env.float("JOB_QUEUE_TIMEOUT", default=1.0)
CELERY_BROKER_CONNECTION_TIMEOUT = JOB_QUEUE_TIMEOUT
_visibility = env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": JOB_QUEUE_TIMEOUT,
    "socket_timeout": JOB_QUEUE_TIMEOUT,
    # Kombu retries a broken connection forever unless told otherwise: once, then give up.
    "max_retries": 1,
    # Seconds before Redis hands an unacknowledged job (acks_late) to another worker: longer
    # than any job may run (the exports' hard time limit), so a slow job is never run twice
    # at once.
    "visibility_timeout": _visibility,
    # Workers sweep for jobs whose worker died (a lost container) every this many seconds.
    # Kombu's default scans only every 10th sweep of 10 s (~100 s): one ZRANGE per 10 s is
    # cheap, and a short visibility timeout (tests) is swept at its own pace.
    "unacked_restore_interval": min(10, max(1, _visibility)),
    "unacked_restore_throttle": 1,
}
# One retry (a pooled connection Redis dropped since), at once; then the error surfaces.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0,
    "interval_max": 0,
}
# A worker started before Redis waits for it (the workers' own loop; requests never do).
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# What jobs produce is in the database (an export's status); nobody reads Celery results.
CELERY_TASK_IGNORE_RESULT = True
# A worker takes one job at a time: a long export must not hold queued jobs it cannot start.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Logging stays Django's (LOGGING below), in workers too; what jobs print (the console email
# backend in development) is logged at INFO, not as warnings.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
CELERY_TIMEZONE = env("TIME_ZONE", default="UTC")  # TIME_ZONE, set below
# beat remembers each entry's last run in this file (a missing file only means "from now").
CELERY_BEAT_SCHEDULE_FILENAME = env(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(Path(tempfile.gettempdir()) / "saas-celerybeat")
)
# Periodic jobs start in the public schema and queue one job per active organization, each
# in that organization's schema (shared_apps.organizations.jobs). Times are TIME_ZONE's.
CELERY_BEAT_SCHEDULE = {
    "overdue-digest": {
        "task": "tenant_apps.tasks.jobs.overdue_digest_all",
        "schedule": _daily_at("OVERDUE_DIGEST_TIME", "07:00"),
    },
    "purge-trash": {
        "task": "tenant_apps.tasks.jobs.trash_purge_all",
        "schedule": _daily_at("PURGE_TRASH_TIME", "03:00"),
    },
    "export-cleanup": {
        "task": "tenant_apps.exports.jobs.export_cleanup_all",
        "schedule": _daily_at("EXPORT_CLEANUP_TIME", "03:30"),
    },
}

# Onboarding claims a spare schema, fully migrated, from a pool of this many (0: no pool,
# every organization's schema is migrated when it is created). Each onboarding queues a
# refill, and beat refills every SCHEMA_POOL_REFILL_SECONDS (and drops spares a deploy's
# new migrations left behind); `manage.py refill_schema_pool` does it by hand.
SCHEMA_POOL_SIZE = env.int("SCHEMA_POOL_SIZE", default=10)
SCHEMA_POOL_REFILL_SECONDS = env.int("SCHEMA_POOL_REFILL_SECONDS", default=60)
if SCHEMA_POOL_SIZE > 0:
    CELERY_BEAT_SCHEDULE["schema-pool-refill"] = {
        "task": "shared_apps.organizations.jobs.schema_pool_refill",
        "schedule": SCHEMA_POOL_REFILL_SECONDS,
    }

# CSV exports of tasks: EXPORT_ROOT/<schema name>/<export id>.csv, kept this many days.
EXPORT_ROOT = Path(env("EXPORT_ROOT", default=str(BASE_DIR / ".data" / "exports")))
EXPORT_RETENTION_DAYS = env.int("EXPORT_RETENTION_DAYS", default=7)

# --- Auth ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    # Argon2id sized for 20 concurrent logins in a 512 MB worker (docs/SECURITY.md).
    "shared_apps.accounts.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# User.email is unique through a constraint on lower(email), which Django's check cannot see;
# UserManager.get_by_natural_key looks users up case-insensitively to match.
SILENCED_SYSTEM_CHECKS = ["auth.E003"]

# Emailed account links (verification, password set/reset) expire after this many seconds.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)
# Organization invitations expire after this many hours.
INVITATION_TTL_HOURS = env.int("INVITATION_TTL_HOURS", default=72)
# Deleted projects and tasks stay in the trash (restorable) this many days; then the daily
# purge job (CELERY_BEAT_SCHEDULE) or `manage.py purge_trash` removes them for good.
SOFT_DELETE_RETENTION_DAYS = env.int("SOFT_DELETE_RETENTION_DAYS", default=30)
# Emailed links open this front-end when set (e.g. https://app.example.com); empty: the small
# pages this project serves under /accounts/ on the base host.
FRONTEND_URL = env("FRONTEND_URL", default="").rstrip("/")

REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Bearer",
    "TOKEN_TTL": timedelta(seconds=env.int("TOKEN_TTL_SECONDS", default=7 * 24 * 3600)),
    "AUTO_REFRESH": False,
}

# --- REST framework -----------------------------------------------------------------------
# Larger request bodies are refused with a 413 naming this limit (Django's default, 2.5 MiB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Bearer tokens; on an organization's host the user's role there comes in the same query.
        "shared_apps.organizations.authentication.MemberBearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["saas.api.parsers.JSONParser"],
    "DEFAULT_METADATA_CLASS": "saas.api.metadata.ActionMetadata",
    "DEFAULT_PAGINATION_CLASS": "saas.api.pagination.KeysetPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "saas.api.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "saas.api.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Rate limits (saas/api/throttling.py; README "Rate limits"): these three apply to every
    # request, and endpoints add stricter ones.
    "DEFAULT_THROTTLE_CLASSES": [
        "saas.api.throttling.AnonRateThrottle",
        "saas.api.throttling.UserRateThrottle",
        "saas.api.throttling.OrganizationRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {},  # below, from the environment
    # The client's address is the socket's unless our own proxies append this many
    # X-Forwarded-For entries; DRF's default (None) would believe whatever the client sends.
    "NUM_PROXIES": env.int("TRUSTED_PROXY_COUNT", default=0),
}
# "<requests>/<period>" (period s, min, h or day, optionally with a count: "10/15min"); an
# empty value turns the scope off. Login and sign-up are strict: each costs an Argon2 hash
# (~0.2 s, 12 MiB), so a burst from one address or at one account must stay small.
THROTTLE_DEFAULT_RATES = {
    "anon": "120/min",  # per client address
    "user": "600/min",  # per user
    "organization": "1800/min",  # per organization: keep it below what the servers can serve
    "login_ip": "10/min",  # login and password change, per client address
    "login_email": "10/15min",  # the same, per account address (a lockout that follows it)
    "register_ip": "10/h",
    "register_email": "3/h",  # each sign-up emails the address
    "password_reset_ip": "10/h",
    "password_reset_email": "3/h",  # each request emails the address
    "email_link_ip": "30/h",  # verify-email, password-reset/confirm, invitations/accept
    "org_create": "10/h",  # POST /api/orgs/, per user
    "exports": "20/h",  # POST /api/exports/, per user
}
for _scope, _default in THROTTLE_DEFAULT_RATES.items():
    _variable = f"THROTTLE_{_scope.upper()}"
    _rate = env(_variable, default=_default).strip() or None
    try:
        parse_rate(_rate)
    except ValueError as _error:
        raise ImproperlyConfigured(f"{_variable}: {_error}") from None
    REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][_scope] = _rate
del _scope, _default, _variable, _rate
# Self-service organizations (POST /api/orgs/) one user may create; each costs a schema and
# its catalogue rows. Staff onboarding (admin, create_org) is not limited.
MAX_ORGS_PER_USER = env.int("MAX_ORGS_PER_USER", default=10)

SPECTACULAR_SETTINGS = {
    "TITLE": "Task management API",
    "DESCRIPTION": (
        "Multi-tenant task management. The base host serves accounts and organizations; "
        "each organization's API is served on its own subdomain."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two choice sets are called `status`: the tasks' keeps its name, the exports' gets one.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "tenant_apps.tasks.models.Status",
        "ExportStatusEnum": "tenant_apps.exports.models.ExportStatus",
    },
}

# --- Email -------------------------------------------------------------------------------
# smtp://user:password@host:587 (add ?ssl=true / ?tls=true) in production; consolemail:// prints
# emails to the server's output in development; filemail:///dir writes one file per email.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
if EMAIL_CONFIG["EMAIL_FILE_PATH"] and not EMAIL_CONFIG["EMAIL_FILE_PATH"].startswith("/"):
    # django-environ drops the leading "/" of filemail:///dir; the folder is meant absolute.
    EMAIL_CONFIG["EMAIL_FILE_PATH"] = "/" + EMAIL_CONFIG["EMAIL_FILE_PATH"]
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default=f"Task management <noreply@{BASE_DOMAIN}>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# Send emails on a background thread, off the request (tests turn it off to read the outbox).
EMAIL_IN_BACKGROUND = env.bool("EMAIL_IN_BACKGROUND", default=True)

# --- Internationalisation -----------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
# collectstatic writes here (the Docker image fills it at build time; tests point it elsewhere).
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / ".data" / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # No manifest: pages render before (or without) collectstatic, e.g. in tests.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders when collectstatic has not run (dev, tests).
# The image turns it off: files found there replace the collected ones, and with them their
# precompressed .gz copies.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security (production behind a TLS-terminating proxy) ---------------------------------
# Trust X-Forwarded-Proto only when a proxy we control sets it (it strips clients' copies).
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
# Ask browsers' HSTS preload lists to include the domain: a commitment that takes months to
# undo, so the operator opts in (`check --deploy` warns until then).
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# /healthz is probed over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SESSION_COOKIE_SECURE = env.bool(
    "SESSION_COOKIE_SECURE", default=not DEBUG and SITE_SCHEME == "https"
)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Logging ------------------------------------------------------------------------------
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Any case (gunicorn's own --log-level takes lower case): logging itself knows upper case only.
LOG_LEVEL = env("LOG_LEVEL", default="INFO").strip().upper()
if LOG_LEVEL not in LOG_LEVELS:
    raise ImproperlyConfigured(
        f"LOG_LEVEL={env('LOG_LEVEL')!r} is not a log level: use one of {', '.join(LOG_LEVELS)}."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django's default config gives the "django" logger a console handler of its own (DEBUG
    # only) that also propagates here: every warning was printed twice. Root prints it once.
    "loggers": {"django": {"handlers": [], "level": LOG_LEVEL, "propagate": True}},
}
