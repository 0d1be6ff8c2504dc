"""Tideover settings, read from the environment. Every name is documented in
docs/configuration.md (a test checks that)."""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url

from tideover import datadir
from tideover.env import envbool, envfloat, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = datadir.data_dir()


def _secret_key() -> str:
    """SECRET_KEY when given; otherwise the one kept in the data folder (tideover.datadir)."""
    configured = envstr("SECRET_KEY") or datadir.read_key()
    if configured:
        return configured
    # Not prepared (tests, a bare import): a key for this process only. Every real entry point
    # (the tideover command, wsgi.py) prepares the folder first, so its processes share one.
    return secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()
# Given by the deployment (not made by this machine): `check --deploy` requires it as soon as
# machines share a database or Redis (tideover/core/checks.py).
SECRET_KEY_GIVEN = bool(envstr("SECRET_KEY"))
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])
# Behind a load balancer the client's address is read from this header (e.g. X-Forwarded-For),
# counting TRUSTED_PROXY_COUNT addresses from its right end; empty: the socket's address.
TRUSTED_PROXY_HEADER = envstr("TRUSTED_PROXY_HEADER")
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 1)
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SITE_NAME = envstr("SITE_NAME", "Tideover Demo Stores")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",  # its templates and static files: /api/v1/docs serves Swagger UI itself, no CDN
    "django_tasks",
    "django_tasks_db",
    "axes",  # login throttling: failed log-ins per account and per address, in the database
    "tideover.core",
    "tideover.incidents",
    "tideover.statuspage",
    "tideover.notifications",
    "tideover.sales",
    "tideover.loyalty",
    "tideover.storelink",
    "tideover.recovery",
    "tideover.detect",
    "tideover.runbooks",
    "tideover.frontline",
    "tideover.storeview",
    "tideover.postmortems",
    "tideover.demo",
    "tideover.scenarios",
]

MIDDLEWARE = [
    "tideover.core.middleware.HealthCheck",  # the load balancer's probe, whatever its Host
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # CONTENT_SECURITY_POLICY below
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "tideover.core.middleware.RejectNulCharacters",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # answers a locked-out log-in with the lockout page
]

ROOT_URLCONF = "tideover.urls"
WSGI_APPLICATION = "tideover.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tideover" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tideover.core.context.site",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------------------
DATABASE_URL = envstr("DATABASE_URL", f"sqlite:///{DATA_DIR / 'tideover.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 0))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the status page read while a worker writes; IMMEDIATE takes the write lock at
    # BEGIN so two writers queue on busy_timeout instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
            "PRAGMA busy_timeout=20000;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file (not :memory:) so tests can open several connections; one per process so two test
    # runs on one machine never share it. The test runner deletes it afterwards.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache (the status page is served from here; every change invalidates it) -------------
REDIS_URL = envstr("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # File based: shared by every web and worker process on the machine, needs no server.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# --- background tasks (docs/deploy.md) ----------------------------------------------------------
# The database backend needs no other server (the embedded default); the RQ backend carries the
# tasks on Redis for many workers. `tideover worker` runs whichever is configured.
TASKS_BACKEND = {
    "database": "django_tasks_db.DatabaseBackend",
    "rq": "django_tasks_rq.RQBackend",
}.get(envstr("TASKS_BACKEND", "database"), envstr("TASKS_BACKEND", "database"))
TASKS = {"default": {"BACKEND": TASKS_BACKEND}}
if TASKS_BACKEND == "django_tasks_rq.RQBackend":
    if not REDIS_URL:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("TASKS_BACKEND=rq needs REDIS_URL (redis://host:6379/0)")
    INSTALLED_APPS.append("django_rq")
    # One RQ queue per task queue name; the tasks here all use "default".
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600}}

# --- auth and security ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Repeated wrong passwords for one account, or from one address, lock that account / address
# out of logging in for a while (django-axes, counted in the database; see docs/configuration.md).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", 15))
# Before the lockout, log-ins slow down: after this many wrong passwords the next try waits
# LOGIN_SLOWDOWN_SECONDS, doubling with each further one (tideover.core.lockout).
LOGIN_SLOWDOWN_AFTER = envint("LOGIN_SLOWDOWN_AFTER", 3)
LOGIN_SLOWDOWN_SECONDS = envint("LOGIN_SLOWDOWN_SECONDS", 5)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks
AXES_CLIENT_IP_CALLABLE = "tideover.core.clientip.client_ip"
AXES_RESET_ON_SUCCESS = True  # the account's own failures only (OwnFailuresHandler)
AXES_HANDLER = "tideover.core.lockout.OwnFailuresHandler"
AXES_DISABLE_ACCESS_LOG = True  # no table row per successful log-in (it would grow forever)
AXES_LOCKOUT_CALLABLE = "tideover.core.lockout.locked_out"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "incidents:dashboard"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_HTTPONLY = True
# Served over HTTPS (SITE_URL says so): cookies only over HTTPS unless told otherwise.
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", SITE_URL.startswith("https://"))
# Behind a TLS-terminating proxy, the header it sets to say the request came over HTTPS (e.g.
# X-Forwarded-Proto): then request.is_secure() is true, and redirects after log-in and the
# HTTPS redirect below know it. Set it only when every request comes through your proxy.
if _proto_header := envstr("TRUSTED_PROTO_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proto_header.upper().replace("-", "_"), "https")
SECURE_SSL_REDIRECT = envbool("HTTPS_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer's health check speaks plain HTTP
SECURE_HSTS_SECONDS = envint("HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("HSTS_INCLUDE_SUBDOMAINS", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy on every page (django-csp; the status page's fast path sends the same,
# statuspage/fastpath.py). No page runs a script of its own; only the admin's and the API docs'
# files from this server may run, so markup that slipped past escaping cannot run a script.
# Styles: our pages carry small <style> blocks, so inline styles are allowed. Images: this
# server's and data: URLs (the favicon, the store's QR code). Forms post to this server only,
# and no other site may frame a page (as X-Frame-Options says).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- status page ----------------------------------------------------------------------------
STATUS_EXPORT_DIR = envstr("STATUS_EXPORT_DIR", str(DATA_DIR / "status-export"))
STATUS_CACHE_SECONDS = envint("STATUS_CACHE_SECONDS", 300)
# A burst of updates within this many seconds re-renders the export once (statuspage/services.py).
STATUS_PUBLISH_DELAY_SECONDS = envfloat("STATUS_PUBLISH_DELAY_SECONDS", 1.0)
# The served page follows every publish; the static export (nginx or a CDN's copy, read while
# HQ is down) is rewritten at most once per this many seconds, the last change always included.
STATUS_EXPORT_INTERVAL_SECONDS = envfloat("STATUS_EXPORT_INTERVAL_SECONDS", 5.0)

# --- sales and loyalty (docs/loyalty.md) -----------------------------------------------------
SALES_MAX_BATCH = envint("SALES_MAX_BATCH", 1000)
# Room for a full batch of SALES_MAX_BATCH sales (a test posts one); larger bodies get a JSON 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("MAX_REQUEST_BYTES", 10 * 1024 * 1024)
SALES_FUTURE_TOLERANCE_SECONDS = envint("SALES_FUTURE_TOLERANCE_SECONDS", 300)
SALES_MAX_AGE_DAYS = envint("SALES_MAX_AGE_DAYS", 400)
# Per-sale limits: a sale (or return) beyond them is rejected with the limit named.
SALES_MAX_AMOUNT_CENTS = envint("SALES_MAX_AMOUNT_CENTS", 5_000_000)
SALES_MAX_LINES = envint("SALES_MAX_LINES", 200)
SALES_MAX_LINE_QUANTITY = envint("SALES_MAX_LINE_QUANTITY", 1000)
LOYALTY_POINTS_PER_DOLLAR = envint("LOYALTY_POINTS_PER_DOLLAR", 1)
LOYALTY_TIERS = envlist("LOYALTY_TIERS", ["member:100", "cardholder:150"])
LOYALTY_REWARD_THRESHOLD_POINTS = envint("LOYALTY_REWARD_THRESHOLD_POINTS", 500)
LOYALTY_REWARD_VALUE_CENTS = envint("LOYALTY_REWARD_VALUE_CENTS", 500)
LOYALTY_REWARD_VALID_DAYS = envint("LOYALTY_REWARD_VALID_DAYS", 60)
LOYALTY_POINTS_VALID_MONTHS = envint("LOYALTY_POINTS_VALID_MONTHS", 12)
LOYALTY_EXPIRY_REMINDER_DAYS = envint("LOYALTY_EXPIRY_REMINDER_DAYS", 30)
LOYALTY_ADJUSTMENT_APPROVAL_POINTS = envint("LOYALTY_ADJUSTMENT_APPROVAL_POINTS", 1000)
LOYALTY_ADJUSTMENT_WINDOW_HOURS = envint("LOYALTY_ADJUSTMENT_WINDOW_HOURS", 24)
# Points from one sale: never more than the cap; above the review size, held for a person.
LOYALTY_SALE_POINTS_CAP = envint("LOYALTY_SALE_POINTS_CAP", 20_000)
LOYALTY_SALE_POINTS_REVIEW = envint("LOYALTY_SALE_POINTS_REVIEW", 5_000)

# --- store agents (docs/agent.md) -----------------------------------------------------------
STORELINK_OFFLINE_AFTER_SECONDS = envint("STORELINK_OFFLINE_AFTER_SECONDS", 30)
STORELINK_SILENT_AFTER_SECONDS = envint("STORELINK_SILENT_AFTER_SECONDS", 900)
STORELINK_DRAINING_AFTER_SECONDS = envint("STORELINK_DRAINING_AFTER_SECONDS", 60)
STORELINK_CARD_PER_SALE_CENTS = envint("STORELINK_CARD_PER_SALE_CENTS", 20_000)
STORELINK_CARD_TOTAL_CENTS = envint("STORELINK_CARD_TOTAL_CENTS", 500_000)
STORELINK_CARD_MAX_COUNT = envint("STORELINK_CARD_MAX_COUNT", 100)
STORELINK_CARD_MAX_AGE_MINUTES = envint("STORELINK_CARD_MAX_AGE_MINUTES", 240)
# --- respond: runbooks, store view, the front line's reports (docs/respond.md) --------------
RESPOND_SILENT_AFTER_MINUTES = envint("RESPOND_SILENT_AFTER_MINUTES", 5)
FRONTLINE_UPLOAD_DIR = envstr("FRONTLINE_UPLOAD_DIR", str(DATA_DIR / "uploads"))
FRONTLINE_PHOTO_MAX_BYTES = envint("FRONTLINE_PHOTO_MAX_BYTES", 5_000_000)
FRONTLINE_REPORTS_PER_HOUR = envint("FRONTLINE_REPORTS_PER_HOUR", 30)
DRILL_FINISH_TARGET_MINUTES = envint("DRILL_FINISH_TARGET_MINUTES", 30)
DRILL_READINESS_WINDOW = envint("DRILL_READINESS_WINDOW", 5)

# --- recovery (goodwill after an incident) --------------------------------------------------
RECOVERY_WINDOW_DAYS = envint("RECOVERY_WINDOW_DAYS", 7)
RECOVERY_OFFLINE_LAG_SECONDS = envint("RECOVERY_OFFLINE_LAG_SECONDS", 120)
# A goodwill campaign's transaction: bigger chunks rewrite the random code index's pages less
# often (at 200,000 customers, 20,000 a chunk took 20% less CPU than 5,000 on SQLite and a third
# less time on PostgreSQL); on SQLite a chunk holds the write lock for about a second.
RECOVERY_CHUNK_SIZE = envint("RECOVERY_CHUNK_SIZE", 20000)

# --- e-mail ---------------------------------------------------------------------------------
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = envstr("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = envint("EMAIL_PORT", 2525)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10)
# EMAIL_TIMEOUT bounds each read; this bounds a whole exchange (connect and log in, or one
# message), so a server trickling a byte at a time cannot hold a worker.
SMTP_DEADLINE_SECONDS = envfloat("SMTP_DEADLINE_SECONDS", 30.0)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "status@tideover.invalid")

# --- SMS (Twilio) ---------------------------------------------------------------------------
TWILIO_ACCOUNT_SID = envstr("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = envstr("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = envstr("TWILIO_FROM_NUMBER")
TWILIO_API_BASE = envstr("TWILIO_API_BASE")  # empty: Twilio's own; tests point it at loopback
SMS_ALLOWED_COUNTRIES = envlist("SMS_ALLOWED_COUNTRIES", ["US", "CA"])
SMS_RATE_PER_SECOND = envfloat("SMS_RATE_PER_SECOND", 1.0)

# --- outbound HTTP --------------------------------------------------------------------------
HTTP_TIMEOUT_SECONDS = envfloat("HTTP_TIMEOUT_SECONDS", 10.0)
HTTP_DEADLINE_SECONDS = envfloat("HTTP_DEADLINE_SECONDS", 20.0)
HTTP_MAX_RESPONSE_BYTES = envint("HTTP_MAX_RESPONSE_BYTES", 1_000_000)

# --- notifications: outbox, webhooks, sign-up limits (docs/notifications.md) ----------------
NOTIFY_BATCH_SIZE = envint("NOTIFY_BATCH_SIZE", 200)
NOTIFY_LEASE_SECONDS = envint("NOTIFY_LEASE_SECONDS", 60)
NOTIFY_MAX_ATTEMPTS = envint("NOTIFY_MAX_ATTEMPTS", 8)
NOTIFY_BACKOFF_SECONDS = envfloat("NOTIFY_BACKOFF_SECONDS", 30.0)
NOTIFY_QUIET_HOURS = envstr("NOTIFY_QUIET_HOURS", "21:00-08:00")
NOTIFY_ENQUEUE_TASKS = envbool("NOTIFY_ENQUEUE_TASKS", True)
NOTIFY_WAKE_TASKS = envint("NOTIFY_WAKE_TASKS", 4)
# PostgreSQL: delivery marks commit without waiting for the WAL flush (docs/notifications.md).
NOTIFY_MARKS_WAIT_FOR_FLUSH = envbool("NOTIFY_MARKS_WAIT_FOR_FLUSH", False)
EMAIL_RATE_PER_SECOND = envfloat("EMAIL_RATE_PER_SECOND", 0.0)
WEBHOOK_TOLERANCE_SECONDS = envint("WEBHOOK_TOLERANCE_SECONDS", 300)
WEBHOOK_ALLOW_PRIVATE = envbool("WEBHOOK_ALLOW_PRIVATE", False)
WEBHOOK_PRIVATE_ALLOWLIST = envlist("WEBHOOK_PRIVATE_ALLOWLIST", [])
SIGNUP_PER_IP_PER_HOUR = envint("SIGNUP_PER_IP_PER_HOUR", 20)
SIGNUP_PER_NUMBER_PER_DAY = envint("SIGNUP_PER_NUMBER_PER_DAY", 3)
SIGNUP_PER_COUNTRY_PER_HOUR = envint("SIGNUP_PER_COUNTRY_PER_HOUR", 200)
SIGNUP_PER_EMAIL_PER_DAY = envint("SIGNUP_PER_EMAIL_PER_DAY", 5)
SMS_CODE_ATTEMPTS_PER_IP_PER_HOUR = envint("SMS_CODE_ATTEMPTS_PER_IP_PER_HOUR", 30)
# A pending e-mail sign-up gets no second confirmation e-mail within this many minutes.
SIGNUP_CONFIRMATION_RESEND_MINUTES = envint("SIGNUP_CONFIRMATION_RESEND_MINUTES", 15)

# --- retention: nothing grows forever (core/, notifications/, detect/ and storelink/pruning.py)
PRUNE_MESSAGES_DAYS = envint("PRUNE_MESSAGES_DAYS", 90)
PRUNE_SIGNALS_DAYS = envint("PRUNE_SIGNALS_DAYS", 90)
PRUNE_STORELINK_DAYS = envint("PRUNE_STORELINK_DAYS", 90)  # storelink/pruning.py
PRUNE_TASK_RESULTS_DAYS = envint("PRUNE_TASK_RESULTS_DAYS", 7)

# --- logging: never personal data; see tideover.core.logging ----------------------------------
LOG_LEVEL = envstr("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "tideover.core.logging.RedactPersonalData"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "stream": sys.stderr, "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # httpx logs every request URL at INFO; URLs can carry personal data and flood the console.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # One line per task run and per chat post would bury what matters in the worker's output.
        "django_tasks": {"level": "WARNING"},
        "django_tasks_db": {"level": "WARNING"},
        "apprise": {"level": "WARNING"},
        # Failed log-ins and lockouts are WARNINGs (username and address masked); its INFO lines
        # (a banner at every start, one line per step) are noise.
        "axes": {"level": "WARNING"},
    },
}

# Detect: brand terms that make a social post "about us" (used while no brand term is set in
# the admin's social terms).
SOCIAL_BRAND_TERMS = envlist("SOCIAL_BRAND_TERMS", ["tideover"])
# Detect: who an opened alert pages (every incident commander, and this staff team's channel),
# and how often it pages again until someone acknowledges it.
DETECT_PAGE_TEAM = envstr("DETECT_PAGE_TEAM", "")
DETECT_PAGE_REPEAT_MINUTES = envint("DETECT_PAGE_REPEAT_MINUTES", 5)
DETECT_PAGE_REPEATS = envint("DETECT_PAGE_REPEATS", 3)
