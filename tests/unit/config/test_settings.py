"""Settings are read from the environment: each case runs a fresh interpreter with its own environment.

Settings are evaluated once per process, so the only honest way to test how they parse
the environment is to start a process with that environment and print what it got.
Most cases read config.settings.production (what a deployment runs) with a key set.
"""

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
VARIABLES = (
    "DATABASE_URL",
    "READ_DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_LOG_LEVEL",
    "DJANGO_CONN_MAX_AGE",
    "EVENTSTORE_SNAPSHOT_EVERY",
    "DJANGO_SECURE_SSL_REDIRECT",
    "DJANGO_SECURE_HSTS_SECONDS",
    "DJANGO_SESSION_COOKIE_SECURE",
    "DJANGO_CSRF_COOKIE_SECURE",
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "DJANGO_SECURE_HSTS_PRELOAD",
)
PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "databases": {alias: {k: db[k] for k in ("ENGINE", "NAME", "HOST", "PORT", "USER", "OPTIONS", "CONN_MAX_AGE")}
                  for alias, db in s.DATABASES.items()},
    "routers": s.DATABASE_ROUTERS, "eager": s.CELERY_TASK_ALWAYS_EAGER, "broker": s.CELERY_BROKER_URL,
    "cache": s.CACHES["default"]["BACKEND"], "debug": s.DEBUG, "secret": s.SECRET_KEY,
    "formatter": s.LOGGING["handlers"]["console"]["formatter"],
    "hosts": s.ALLOWED_HOSTS, "log_level": s.LOG_LEVEL, "atomic_requests": [db["ATOMIC_REQUESTS"]
    for db in s.DATABASES.values()], "snapshot_every": s.EVENTSTORE_SNAPSHOT_EVERY,
    "ssl_redirect": s.SECURE_SSL_REDIRECT, "hsts": s.SECURE_HSTS_SECONDS,
    "hsts_subdomains": s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "session_secure": s.SESSION_COOKIE_SECURE,
    "csrf_secure": s.CSRF_COOKIE_SECURE, "proxy_header": s.SECURE_PROXY_SSL_HEADER,
    "csrf_origins": s.CSRF_TRUSTED_ORIGINS, "redirect_exempt": s.SECURE_REDIRECT_EXEMPT,
}, default=str))
"""


KEY = "production-like-" + "k" * 50


def print_settings(module: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """Start `module` in a process whose environment has exactly `variables` of those the project reads."""
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update(variables, DJANGO_SETTINGS_MODULE=module)
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@cache
def settings_with(module: str = "config.settings.production", **variables: str) -> dict[str, Any]:
    """The settings a process started with `variables` sees (production's get a key unless one is given)."""
    if module == "config.settings.production":
        variables = {"DJANGO_SECRET_KEY": KEY, **variables}
    done = print_settings(module, **variables)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


PG = "postgres://writer:s3cret@db.internal:5433/orders"
PG_READ = "postgres://reader@replica.internal:5432/orders_read"


def test_with_only_a_key_set_production_runs_embedded_on_sqlite_with_eager_tasks() -> None:
    s = settings_with()
    assert list(s["databases"]) == ["default"]  # no "read" alias
    default = s["databases"]["default"]
    assert default["ENGINE"] == "django.db.backends.sqlite3"
    assert default["NAME"] == str(ROOT / "db.sqlite3")
    assert default["OPTIONS"]["transaction_mode"] == "IMMEDIATE"  # one writer: position order is commit order
    assert s["eager"] is True and s["broker"].startswith("memory://")
    assert s["cache"].endswith("LocMemCache")
    assert s["debug"] is False  # production-safe default
    assert s["atomic_requests"] == [False]  # commands own their transactions


def test_database_url_selects_postgresql_with_timeouts_and_no_read_alias() -> None:
    s = settings_with(DATABASE_URL=PG)
    assert list(s["databases"]) == ["default"]
    default = s["databases"]["default"]
    assert (default["ENGINE"], default["NAME"], default["HOST"], default["PORT"], default["USER"]) == (
        "django.db.backends.postgresql",
        "orders",
        "db.internal",
        5433,
        "writer",
    )
    options = default["OPTIONS"]["options"]
    assert "statement_timeout=" in options and "idle_in_transaction_session_timeout=" in options
    assert s["eager"] is True


def test_read_database_url_adds_a_read_alias_and_the_router_sends_views_there() -> None:
    s = settings_with(DATABASE_URL=PG, READ_DATABASE_URL=PG_READ)
    assert list(s["databases"]) == ["default", "read"]
    read = s["databases"]["read"]
    assert (read["NAME"], read["HOST"], read["USER"]) == ("orders_read", "replica.internal", "reader")
    assert "statement_timeout=" in read["OPTIONS"]["options"]
    assert s["routers"] == ["eventstore.routers.ReadModelRouter"]


def test_a_broker_url_turns_eager_tasks_off_and_caches_in_redis() -> None:
    s = settings_with(CELERY_BROKER_URL="redis://127.0.0.1:6379/3")
    assert s["eager"] is False
    assert s["broker"] == "redis://127.0.0.1:6379/3"
    assert s["cache"].endswith("RedisCache")


def test_debug_hosts_secret_and_log_level_come_from_the_environment() -> None:
    s = settings_with(
        DJANGO_DEBUG="1",
        DJANGO_ALLOWED_HOSTS="shop.example,api.example",
        DJANGO_SECRET_KEY="k" * 50,
        DJANGO_LOG_LEVEL="WARNING",
        EVENTSTORE_SNAPSHOT_EVERY="25",
    )
    assert s["debug"] is True
    assert s["hosts"] == ["shop.example", "api.example"]
    assert s["secret"] == "k" * 50
    assert s["log_level"] == "WARNING"
    assert s["snapshot_every"] == 25


@pytest.mark.parametrize("url", [PG, "sqlite:////tmp/elsewhere.sqlite3"])
def test_the_test_settings_open_no_purge_hatch_on_any_connection(url: str) -> None:
    s = settings_with("config.settings.test", DATABASE_URL=url)
    options = s["databases"]["default"]["OPTIONS"]
    if url.startswith("postgres"):
        assert "allow_purge" not in options["options"]
    else:
        assert options["transaction_mode"] == "IMMEDIATE"


def test_a_rabbitmq_broker_caches_in_the_redis_of_redis_url_and_refuses_to_start_without_one() -> None:
    s = settings_with(CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//", REDIS_URL="redis://127.0.0.1:6379/4")
    assert (s["eager"], s["cache"].endswith("RedisCache")) == (False, True)
    done = print_settings(
        "config.settings.production", DJANGO_SECRET_KEY=KEY, CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//"
    )
    assert done.returncode != 0 and "needs REDIS_URL" in done.stderr


def test_https_is_enforced_by_default_with_debug_off() -> None:
    s = settings_with()
    assert s["ssl_redirect"] is True
    assert s["session_secure"] is True and s["csrf_secure"] is True
    assert s["hsts"] == 60 and s["hsts_subdomains"] is True
    assert s["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert s["csrf_origins"] == []
    assert {"^healthz$", "^readyz$", "^metrics$"} <= set(s["redirect_exempt"])  # probes speak plain HTTP


def test_production_with_debug_on_neither_redirects_nor_sends_hsts() -> None:
    s = settings_with(DJANGO_DEBUG="1")
    assert (s["ssl_redirect"], s["session_secure"], s["csrf_secure"], s["hsts"]) == (False, False, False, 0)


def test_local_settings_for_make_run_debug_over_plain_http_with_an_obviously_local_key() -> None:
    s = settings_with("config.settings.local")
    assert s["debug"] is True and s["formatter"] == "plain"
    assert (s["ssl_redirect"], s["session_secure"], s["csrf_secure"], s["hsts"]) == (False, False, False, 0)
    assert s["secret"].startswith("django-insecure-local")  # Django's own check flags such keys as unsafe
    assert settings_with("config.settings.local", DJANGO_SECRET_KEY=KEY)["secret"] == KEY


def test_local_settings_keep_no_database_connection_past_its_request() -> None:
    """runserver's request threads end with their requests: a kept connection would leak."""
    s = settings_with("config.settings.local", DATABASE_URL=PG, READ_DATABASE_URL=PG_READ)
    assert {alias: db["CONN_MAX_AGE"] for alias, db in s["databases"].items()} == {"default": 0, "read": 0}
    assert settings_with(DATABASE_URL=PG)["databases"]["default"]["CONN_MAX_AGE"] > 0  # production keeps them


@pytest.mark.parametrize(
    ("module", "variables"),
    [
        ("config.settings.production", {}),
        ("config.settings.production", {"DJANGO_SECRET_KEY": ""}),
        ("config.settings.production", {"DJANGO_DEBUG": "1"}),
        ("config.settings.local", {"DJANGO_DEBUG": "0"}),
    ],
)
def test_with_debug_off_or_in_production_no_key_means_no_start(module: str, variables: dict[str, str]) -> None:
    done = print_settings(module, **variables)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and "Set DJANGO_SECRET_KEY" in done.stderr


def test_production_uses_the_environments_key_and_logs_json() -> None:
    s = settings_with()
    assert s["secret"] == KEY and s["debug"] is False and s["formatter"] == "json"


def test_https_settings_come_from_cookiecutter_djangos_variables() -> None:
    s = settings_with(
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_HSTS_SECONDS="31536000",
        DJANGO_SESSION_COOKIE_SECURE="0",
        DJANGO_CSRF_COOKIE_SECURE="0",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://shop.example,https://admin.shop.example",
    )
    assert (s["ssl_redirect"], s["hsts"], s["session_secure"], s["csrf_secure"]) == (False, 31536000, False, False)
    assert s["csrf_origins"] == ["https://shop.example", "https://admin.shop.example"]


@pytest.mark.parametrize("url", [PG, "sqlite:////tmp/elsewhere.sqlite3"])
def test_the_test_settings_never_redirect_the_suites_plain_http(url: str) -> None:
    """The suite's gunicorn, Celery and soak processes run config.settings.test over plain HTTP."""
    s = settings_with("config.settings.test", DATABASE_URL=url)
    assert (s["ssl_redirect"], s["session_secure"], s["csrf_secure"]) == (False, False, False)
