"""A deployment that forgets to choose gets the production settings, and those pass Django's deploy checks.

Each case starts its own process: which module an entry point picks, and whether it
starts at all, is decided once per process from its environment.
"""

import os
import secrets
import subprocess
import sys

import pytest

from tests.unit.config.test_settings import ROOT, VARIABLES

SHOW_MODULE = "from django.conf import settings; print(settings.SETTINGS_MODULE, settings.SECURE_SSL_REDIRECT)"
ENTRY_POINTS = {
    "manage.py": [sys.executable, "manage.py", "shell", "-v", "0", "-c", SHOW_MODULE],
    "wsgi": [sys.executable, "-c", f"import config.wsgi; {SHOW_MODULE}"],
    "asgi": [sys.executable, "-c", f"import config.asgi; {SHOW_MODULE}"],
    "celery": [sys.executable, "-c", f"from config.celery_app import app; app.loader.init_worker(); {SHOW_MODULE}"],
}


def run(command: list[str], **variables: str) -> subprocess.CompletedProcess[str]:
    """`command` with no DJANGO_SETTINGS_MODULE and exactly `variables` of those the settings read."""
    env = {k: v for k, v in os.environ.items() if k not in (*VARIABLES, "DJANGO_SETTINGS_MODULE")}
    env.update(variables)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_every_entry_point_defaults_to_the_production_settings(entry_point: str) -> None:
    done = run(ENTRY_POINTS[entry_point], DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["config.settings.production", "True"]


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_every_entry_point_refuses_to_start_without_a_secret_key(entry_point: str) -> None:
    done = run(ENTRY_POINTS[entry_point])
    assert done.returncode != 0
    assert "Set DJANGO_SECRET_KEY" in done.stderr


def test_deploy_checks_pass_with_production_settings_and_a_real_secret() -> None:
    """What .ci/run runs: any warning (HSTS, cookies, SSL redirect, a weak key, DEBUG) fails it."""
    done = run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="shop.example",
    )
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout
    assert "WARNINGS" not in done.stderr


def test_deploy_checks_fail_when_https_is_turned_off() -> None:
    """The check really looks at the environment's settings: plain HTTP is reported."""
    done = run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_SECURE_SSL_REDIRECT="0",
    )
    assert done.returncode != 0
    assert "security.W008" in done.stderr
