"""Settings every environment shares, read from the environment by django-environ.

Not a settings module of its own: `production.py` (the default of manage.py, wsgi,
asgi and Celery), `local.py` (`make run`) and `test.py` start from it and add what
their environment needs, the secret key first. With no URLs set the project runs
embedded: a SQLite file beside manage.py and eager Celery tasks. Long because every
setting a deployment can change is read here, in one place, each with its default
(.env.example lists the same names; a test keeps the two in step).
"""

from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)


def secret_key(*, dev_key: str = "") -> str:
    """DJANGO_SECRET_KEY, else `dev_key` (which only debug and test settings pass), else refuse to start.

    There is no built-in default key: one in the source signs every deployment's
    sessions and password-reset links with a key anyone can read.
    """
    key = env.str("DJANGO_SECRET_KEY", default="") or dev_key
    if not key:
        raise ImproperlyConfigured(
            "Set DJANGO_SECRET_KEY (50 or more random characters, e.g. from "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`): these settings have no default key."
        )
    return key


ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
TIME_ZONE = "UTC"
USE_TZ = True
USE_I18N = False
LANGUAGE_CODE = "en-us"
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# DATABASES
# ------------------------------------------------------------------------------
# Commands own their transactions, so no ATOMIC_REQUESTS. PostgreSQL connections get
# statement and idle-in-transaction timeouts: a transaction holding an xid holds back
# every projection reader in the cluster (DESIGN.md, "The event log").
PG_OPTIONS = "-c statement_timeout=30000 -c idle_in_transaction_session_timeout=30000"


def _database(url: str) -> dict:
    config = env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # One writer at a time, taken when the transaction starts, so the position
        # order of the log is its commit order; WAL lets readers run beside it.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    elif config["ENGINE"] == "django.db.backends.postgresql":
        config["OPTIONS"] = {"options": PG_OPTIONS}
        config["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {"default": _database(env.str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}
if env.str("READ_DATABASE_URL", default=""):
    DATABASES["read"] = _database(env.str("READ_DATABASE_URL"))
DATABASE_ROUTERS = ["eventstore.routers.ReadModelRouter"]
# `migrate` and `grant_runtime_role` connect as the tables' owner; everything else as a runtime
# role that owns nothing on the log (README, "Two database roles"). Unset, the owner is the app's role.
MIGRATE_DATABASES = {
    alias: _database(url)
    for alias, url in (
        ("default", env.str("MIGRATE_DATABASE_URL", default="")),
        ("read", env.str("MIGRATE_READ_DATABASE_URL", default="")),
    )
    if url and alias in DATABASES
}
for _alias, _owner in MIGRATE_DATABASES.items():
    if (_owner["ENGINE"], _owner["NAME"]) != (DATABASES[_alias]["ENGINE"], DATABASES[_alias]["NAME"]):
        raise ImproperlyConfigured(f"the migrate URL of {_alias!r} must name the same database as the app's URL")

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "eventstore",
    "orders_write",
    "orders_read",
]

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "config.middleware.JsonNotFoundMiddleware",
    "config.metrics.MetricsMiddleware",  # inside the request id (its command log lines carry it), outside the rest
    "config.middleware.BodySizeLimitMiddleware",
    "config.middleware.UnstorableTextMiddleware",
    "config.login_throttle.LoginThrottleMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],  # the operations page (config/ops_page.py)
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

# All four of Django's: `createsuperuser`, `changepassword` and the admin's password forms
# refuse a password like the username, short, common or all digits.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# STATIC (WhiteNoise serves admin and Swagger UI under gunicorn with debug off)
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# REQUEST LIMITS
# ------------------------------------------------------------------------------
MAX_REQUEST_BODY_BYTES = 1024 * 1024  # larger bodies are 413 (API.md)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

# /metrics wants `Authorization: Bearer <METRICS_TOKEN>` when set; unset, it is open.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Session login for the browsable API (/api/auth/login/) lands on the API root.
LOGIN_REDIRECT_URL = "/api/"

# Failed logins per (username, client address) before 429, and the window (API.md, Auth).
LOGIN_THROTTLE_FAILURES = env.int("LOGIN_THROTTLE_FAILURES", default=10)
LOGIN_THROTTLE_WINDOW_SECONDS = env.int("LOGIN_THROTTLE_WINDOW_SECONDS", default=15 * 60)
LOGIN_THROTTLE_PATHS = ["/api/auth/token/", "/admin/login/"]

# DJANGO REST FRAMEWORK
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first, so a request with no credentials is 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.StandardPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "config.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    # Off unless configured (e.g. DRF_THROTTLE_ANON=100/minute): a rate of None lets everything through.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("DRF_THROTTLE_ANON", default="") or None,
        "user": env.str("DRF_THROTTLE_USER", default="") or None,
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Event-sourced orders API",
    "DESCRIPTION": "Commands append events to a log; queries read projections of it.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_URLCONF": "config.schema_urls",
    # The error shapes and protocol headers every endpoint shares (API.md), added once.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "config.openapi.postprocess"],
}

# CELERY
# ------------------------------------------------------------------------------
# No broker configured: tasks run eagerly in the calling process, so views are up to
# date when a command returns (the embedded default).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# Catch-ups go to a queue of their own, consumed by a worker with a pool of threads
# (README, compose's `projections`): a catch-up under steady appends reads on for seconds,
# and the views' lag then depends on a free slot at each commit, which a rebuild or a
# log verification must not take. A threads pool also wakes a catch-up held back by
# another projection's open batch at that batch's commit (`runner.commits_heard`), and
# hands a task over without a process hop. It enforces no time limits, so every other
# task (rebuilds clean up at their soft limit) stays on the default queue's prefork
# worker. Unset, catch-ups share the default queue (one worker does everything).
PROJECTION_QUEUE = env.str("PROJECTION_QUEUE", default="")
CELERY_TASK_ROUTES = {"eventstore.tasks.catch_up_projection": {"queue": PROJECTION_QUEUE}} if PROJECTION_QUEUE else {}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection of the task's thread before and
# after each task unless this is set: each catch-up would then open its connections
# anew (a server process forked, its session set up) before reading a single event,
# all of it in the views' lag. Set, the fixup recycles them only after this many tasks,
# and the project's own receivers (`config.celery_app.drop_unusable_connections`) do
# what Django does around a request: drop a broken connection or one past CONN_MAX_AGE.
CELERY_DB_REUSE_MAX = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith("redis://"):
    # Kombu's own Redis transport, except that a worker survives Redis dying under it.
    CELERY_BROKER_TRANSPORT = "config.redis_transport:Transport"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A publish runs after a command's commit: with the broker down or hung it must cost a
# bounded moment, not Celery's default of retrying for seconds (API.md, Idempotency).
BROKER_TIMEOUT_SECONDS = env.float("BROKER_TIMEOUT_SECONDS", default=0.25)
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=1.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": BROKER_TIMEOUT_SECONDS,
    "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
    "max_retries": 1,
}
CELERY_BEAT_SCHEDULE = {
    "catch-up-projections": {
        "task": "eventstore.tasks.catch_up_all_projections",
        "schedule": env.float("PROJECTION_BEAT_SECONDS", default=5.0),
        # A stalled worker must not come back to a pile of identical beat tasks.
        "options": {"expires": 10},
    },
    # Tamper evidence: a seal a minute while the log grows (the task skips when it has not).
    "seal-log": {
        "task": "eventstore.tasks.seal_log",
        "schedule": env.float("SEAL_BEAT_SECONDS", default=60.0),
        "options": {"expires": 60},
    },
}

# IDEMPOTENCY (API.md): a key replays its first answer for IDEMPOTENCY_TTL_HOURS hours; beat
# then deletes the record (orders_write/tasks.py), IDEMPOTENCY_PURGE_BATCH rows per statement.
IDEMPOTENCY_TTL_HOURS = env.int("IDEMPOTENCY_TTL_HOURS", default=24)
IDEMPOTENCY_PURGE_BATCH = env.int("IDEMPOTENCY_PURGE_BATCH", default=5000)
CELERY_BEAT_SCHEDULE["purge-idempotency-records"] = {
    "task": "orders_write.tasks.purge_expired_idempotency_records",
    "schedule": env.float("IDEMPOTENCY_PURGE_BEAT_SECONDS", default=15 * 60.0),
    "options": {"expires": 600},
}

# CELERY TIME LIMITS
# ------------------------------------------------------------------------------
# At the soft limit a task gets SoftTimeLimitExceeded (a rebuild then cleans its shadow tables
# up and reports failed); at the hard limit the worker kills the process running it. Catch-ups
# commit batch by batch, so one cut short leaves the rest to the next. Rebuilds read the whole
# log and get their own, longer limits; the Redis broker's visibility timeout (after which an
# unacknowledged message is delivered again) must exceed them, or a rebuild still running
# would be handed to a second worker.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=5 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=6 * 60)
REBUILD_SOFT_TIME_LIMIT = env.int("CELERY_REBUILD_SOFT_TIME_LIMIT", default=4 * 3600)
REBUILD_TIME_LIMIT = env.int("CELERY_REBUILD_TIME_LIMIT", default=4 * 3600 + 5 * 60)
CELERY_TASK_ANNOTATIONS = {
    # Both read the whole log.
    "eventstore.tasks.rebuild_projections": {
        "soft_time_limit": REBUILD_SOFT_TIME_LIMIT,
        "time_limit": REBUILD_TIME_LIMIT,
    },
    "eventstore.tamper.tasks.verify_whole_log": {
        "soft_time_limit": REBUILD_SOFT_TIME_LIMIT,
        "time_limit": REBUILD_TIME_LIMIT,
    },
}
CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = env.int(
    "CELERY_VISIBILITY_TIMEOUT", default=REBUILD_TIME_LIMIT + 10 * 60
)
_time_limits = [(CELERY_TASK_SOFT_TIME_LIMIT, CELERY_TASK_TIME_LIMIT), (REBUILD_SOFT_TIME_LIMIT, REBUILD_TIME_LIMIT)]
for _soft, _hard in _time_limits:
    if not 0 < _soft < _hard:
        raise ImproperlyConfigured(f"A Celery soft time limit ({_soft} s) must be positive and below its hard one.")
if CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= max(CELERY_TASK_TIME_LIMIT, REBUILD_TIME_LIMIT):
    raise ImproperlyConfigured("CELERY_VISIBILITY_TIMEOUT must exceed every task's hard time limit (a rebuild's).")
# Beat writes its schedule file after every task it sends: the file's age is its health check (compose).
CELERY_BEAT_SYNC_EVERY = 1
# OPERATIONS PAGE (/admin/operations/): beat samples every projection's lag for its chart.
LAG_SAMPLE_KEEP_SECONDS = env.int("LAG_SAMPLE_KEEP_SECONDS", default=2 * 3600)
CELERY_BEAT_SCHEDULE["sample-projection-lag"] = {
    "task": "eventstore.lag_history.sample_projection_lag",
    "schedule": env.float("LAG_SAMPLE_BEAT_SECONDS", default=20.0),
    "options": {"expires": 30},
}

# CACHES (Redis when a Redis broker is configured: coalesces projection triggers)
# ------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "")
if not REDIS_URL and not CELERY_TASK_ALWAYS_EAGER:
    # Web and workers coordinate through the cache (catch-up flags, rebuild progress): a
    # per-process cache would hold every web process's triggers back until beat.
    raise ImproperlyConfigured("A RabbitMQ CELERY_BROKER_URL needs REDIS_URL: web and workers must share a cache.")
# Every command touches the cache after its commit: its socket timeouts bound what a
# paused or unreachable Redis can cost, and a failed call is not retried in place.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.25)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
                "retry_on_timeout": False,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# EVENT STORE
# ------------------------------------------------------------------------------
EVENTSTORE_SNAPSHOT_EVERY = env.int("EVENTSTORE_SNAPSHOT_EVERY", default=100)
EVENTSTORE_NOTIFY_CHANNEL = "eventstore_events"
# NOTIFY after each append wakes `run_projector`; a deployment that runs projections
# only through Celery may turn it off and save a round trip and a transaction per append.
EVENTSTORE_NOTIFY = env.bool("EVENTSTORE_NOTIFY", default=True)
# A process sends at most one NOTIFY per window; listeners look again once the window
# has passed after a wake-up, so an append whose NOTIFY was folded in is still seen.
EVENTSTORE_NOTIFY_COALESCE_MS = env.float("EVENTSTORE_NOTIFY_COALESCE_MS", default=10.0)
PROJECTION_BATCH_SIZE = env.int("PROJECTION_BATCH_SIZE", default=1000)
PROJECTION_MAX_RETRIES = env.int("PROJECTION_MAX_RETRIES", default=3)
# A blue/green rebuild's swap waits at most this long for running queries, then retries.
PROJECTION_SWAP_LOCK_TIMEOUT_MS = env.int("PROJECTION_SWAP_LOCK_TIMEOUT_MS", default=5000)
# Processes that rebuild projections side by side (PostgreSQL); 0: one per core.
PROJECTION_REBUILD_PROCESSES = env.int("PROJECTION_REBUILD_PROCESSES", default=0)
# Read-your-writes waits one process runs at once; more answer stale at once. Keep it
# below the web server's threads per process (compose: GUNICORN_THREADS=8).
CONSISTENCY_MAX_WAITERS = env.int("CONSISTENCY_MAX_WAITERS", default=6)

# LOGGING (one JSON object per line unless debug)
# ------------------------------------------------------------------------------
LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "config.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "plain" if DEBUG else "json",
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Eager tasks run inside requests; one INFO line per projection catch-up is noise there.
        "celery.app.trace": {"level": "WARNING" if CELERY_TASK_ALWAYS_EAGER else LOG_LEVEL},
    },
}
