"""Django settings, read only from the environment (see .env.example)."""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

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
]

INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "organizations.Organization"
TENANT_DOMAIN_MODEL = "organizations.Domain"
PUBLIC_SCHEMA_URLCONF = "saas.urls_public"
ROOT_URLCONF = "saas.urls_tenants"
DEFAULT_NOT_FOUND_TENANT_VIEW = "saas.api.views.tenant_not_found"
# Send `SET search_path` only when the schema changes, not on every cursor.
TENANT_LIMIT_SET_CALLS = True

MIDDLEWARE = [
    "saas.middleware.HealthCheckMiddleware",  # answers probes on any host, before routing
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
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # Keys carry the schema name so one organization never reads another's entries.
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
            "OPTIONS": {
                # A dead Redis must degrade to cache misses, not stall every request.
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_FUNCTION": "django_tenants.cache.make_key",
        }
    }

# --- Auth ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
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
        "shared_apps.accounts.authentication.BearerTokenAuthentication",
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
}

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
    "ENUM_NAME_OVERRIDES": {},
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
STATIC_ROOT = BASE_DIR / ".data" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # No manifest: pages render before (or without) collectstatic, e.g. in tests.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders when collectstatic has not run (dev, tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security (production behind a TLS-terminating proxy) ---------------------------------
# Trust X-Forwarded-Proto only when a proxy we control sets it (it strips clients' copies).
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
# /healthz is probed over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SESSION_COOKIE_SECURE = env.bool(
    "SESSION_COOKIE_SECURE", default=not DEBUG and SITE_SCHEME == "https"
)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Logging ------------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
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
