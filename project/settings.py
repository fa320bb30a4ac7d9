"""Django settings for Jobdeck, driven by the environment.

DATABASE_URL picks the job database (SQLite file under var/ by default); REDIS_URL, when set,
makes channels_redis the channel layer. JOBDECK_* variables override the engine's defaults
(see jobs/conf.py for the full list and their meaning).
"""

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("JOBDECK_VAR_DIR", BASE_DIR / "var"))

# The development key is public (it is in this file); its "django-insecure-" prefix makes
# `check --deploy` flag it, and production mode refuses it (the block at the end of this file).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-jobdeck-dev-only-secret-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
# Other origins (scheme://host[:port]) whose pages may post forms and open the dashboard's WebSockets,
# e.g. the public address of a proxy that rewrites Host (dashboard/origin.py).
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# daphne is run as a command (scripts/start.sh), not installed as an app: as an app it would import
# twisted into every worker process for nothing.
# SimpleAdminConfig: the admin modules are imported by project/urls.py (admin.autodiscover()), so
# only processes that serve URLs load them; a worker never does, and is 3 MB smaller for it.
INSTALLED_APPS = [
    "django.contrib.admin.apps.SimpleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "channels",
    "jobs",
    "dashboard",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost after security, so every response carries the policy: error pages (403, 404, 500) too.
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Outside everything that can answer with an HTML error page (CommonMiddleware's bad Host, a 404,
    # a 500), so every error under /api/ leaves as JSON.
    "jobs.api.errors.JsonErrorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "project.middleware.DatabaseUnavailableMiddleware",  # 503, not 500, when the database refuses a write
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Password guessing (django-axes). After JOBDECK_LOGIN_FAILURE_LIMIT failed sign-ins for one user
# name, or from one address, sign-ins for it are refused for JOBDECK_LOGIN_COOLOFF_MINUTES, on the
# dashboard's and the admin's login forms alike. The two are counted apart so an attacker guessing
# one operator's password from many addresses locks only that name, and only for the cool-off: the
# real user is never locked out for good. Every failure is logged (logger "axes", with the user
# name tried and the address) and kept for admins (Admin > Axes > Access failures).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("JOBDECK_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("JOBDECK_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # guesses during a lockout do not extend it
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_SENSITIVE_PARAMETERS: list[str] = []  # the log names the user name tried; passwords are never logged
AXES_LOCKOUT_CALLABLE = "dashboard.lockout.locked_out"

ROOT_URLCONF = "project.urls"

# A strict policy for every response: only our own files, no inline script or style, no framing.
# WebSockets to this origin are covered by 'self' (CSP level 3).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"


# The largest size the SQLite write-ahead log keeps on disk once a checkpoint has emptied it. While
# any reader holds a snapshot open (a backup, a long query) checkpoints cannot empty the log, so it
# grows with every write; without a limit the file then stays at its largest size for good.
SQLITE_WAL_LIMIT_BYTES = 8 * 1024 * 1024


def _database() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL")
    if url:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=600))
        if config["ENGINE"] == "django.db.backends.postgresql":
            # Test databases get their own name so a run never touches real data, and one per test
            # run (the process id) so two runs on one server never drop each other's database.
            test_name = os.environ.get("JOBDECK_TEST_DB_NAME") or f"test_jobdeck_{os.getpid()}"
            config.setdefault("TEST", {})["NAME"] = test_name
        return config
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("JOBDECK_SQLITE_PATH", str(VAR_DIR / "jobdeck.sqlite3")),
        # Keep connections: opening one runs the PRAGMAs below, far dearer than a job's own queries.
        "CONN_MAX_AGE": None,
        "OPTIONS": {
            # Writers take the lock at BEGIN, so a transaction never fails half-way on upgrade.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA busy_timeout=20000;"
                "PRAGMA temp_store=MEMORY;"
                "PRAGMA cache_size=-32000;"
                "PRAGMA mmap_size=134217728;"
                f"PRAGMA journal_size_limit={SQLITE_WAL_LIMIT_BYTES};"
            ),
        },
        "TEST": {"NAME": os.environ.get("JOBDECK_SQLITE_TEST_PATH", str(VAR_DIR / "test_jobdeck.sqlite3"))},
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

TASKS = {
    "default": {
        "BACKEND": "jobs.backend.DatabaseBackend",
        "QUEUES": [],  # empty: any queue name is accepted
    }
}

# Extra modules holding @task functions, beyond each installed app's tasks.py.
JOBDECK_TASK_MODULES = [m for m in os.environ.get("JOBDECK_TASK_MODULES", "").split(",") if m]

# Cron schedules defined in code, synced to the database at every worker start (docs/schedules.md).
# Each entry takes create_schedule()'s keywords, e.g.
# {"name": "nightly-report", "cron": "0 3 * * *", "task_name": "jobs.tasks.echo", "timezone": "Europe/Paris"}
JOBDECK_SCHEDULES: list[dict[str, Any]] = []

# Dashboard users in the viewer role see no job payloads or results (they may hold personal data).
JOBDECK_HIDE_PAYLOADS_FROM_VIEWERS = os.environ.get("JOBDECK_HIDE_PAYLOADS_FROM_VIEWERS", "").lower() in {
    "1",
    "true",
    "yes",
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

LOGIN_URL = "admin:login"

# JOBDECK_LOG_FORMAT: "plain" (default) for people, "json" for a log pipeline: one JSON object per
# line with timestamp, level, logger, message and, while a job runs, its job_id, task, queue,
# attempt and worker (jobs/logjson.py). Web and worker processes alike.
LOG_FORMAT = os.environ.get("JOBDECK_LOG_FORMAT", "plain").strip().lower() or "plain"
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"JOBDECK_LOG_FORMAT must be 'plain' or 'json', got {LOG_FORMAT!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"},
        "json": {"()": "jobs.logjson.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("JOBDECK_LOG_LEVEL", "INFO")},
    "loggers": {
        "huey": {"level": os.environ.get("JOBDECK_HUEY_LOG_LEVEL", "WARNING")},
        # Django logs two INFO lines per job (started, finished); at thousands of jobs a second that
        # costs workers a third of their throughput, and every state change is in JobEvent anyway.
        # Failures still log at ERROR. JOBDECK_TASK_LOG_LEVEL=INFO brings the per-job lines back.
        "django.tasks": {"level": os.environ.get("JOBDECK_TASK_LOG_LEVEL", "WARNING")},
        # django-axes logs each failed sign-in and lockout at WARNING; its INFO lines are noise.
        "axes": {"level": "WARNING"},
    },
}


# --- Production mode (JOBDECK_ENV=production; docs/deploy.md, "Production settings") ---------------
# Development is the default, so the quick start and the test suite need no environment at all.
# Production is asked for by name, and then what a public deployment needs is required or secure by
# default: a missing secret stops every process at start with one clear line, instead of signing
# sessions with the development key above. Kept apart from the rest so it reads as one checklist.
JOBDECK_ENV = os.environ.get("JOBDECK_ENV", "development")
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", STATIC_ROOT))


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in {"0", "1", "true", "false", "yes", "no"}:
        raise ImproperlyConfigured(f"{name}={value!r}: use 1 or 0")
    return value in {"1", "true", "yes"}


if JOBDECK_ENV not in {"development", "production"}:
    # A typo ("prod") must not quietly mean development.
    raise ImproperlyConfigured(f"JOBDECK_ENV={JOBDECK_ENV!r}: use 'production' or 'development'")
if JOBDECK_ENV == "production":
    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
    # Django's own rule for a strong key (security.W009), so `check --deploy` and this agree.
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-"):
        raise ImproperlyConfigured(
            "JOBDECK_ENV=production needs DJANGO_SECRET_KEY: 50 or more random characters, the same for "
            "every web and worker process (python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    if DEBUG:
        raise ImproperlyConfigured("JOBDECK_ENV=production refuses DJANGO_DEBUG=1 (it shows settings and code)")
    if not os.environ.get("DJANGO_ALLOWED_HOSTS"):
        raise ImproperlyConfigured(
            "JOBDECK_ENV=production needs DJANGO_ALLOWED_HOSTS: the public host names, comma-separated"
        )
    # Behind a TLS-terminating proxy (nginx, an Ingress) daphne sees plain HTTP; the proxy says
    # what the client used. Only set it where clients cannot reach daphne without the proxy, which
    # must overwrite (never pass on) a client's own X-Forwarded-Proto.
    if _flag("DJANGO_BEHIND_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _flag("DJANGO_SECURE_SSL_REDIRECT", True)
    # Probes (kubelet, compose, a load balancer) call the process directly over plain HTTP; a
    # redirect to https would make them pass without checking anything.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^api/v1/health$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _flag("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = _flag("DJANGO_SECURE_HSTS_PRELOAD", False)
    # Silenced on purpose, not forgotten: HSTS for every subdomain (W005) and the browsers' preload
    # list (W021) commit the whole domain, often shared with other sites; its owner opts in above.
    SILENCED_SYSTEM_CHECKS = [
        *(["security.W005"] if not SECURE_HSTS_INCLUDE_SUBDOMAINS else []),
        *(["security.W021"] if not SECURE_HSTS_PRELOAD else []),
    ]
