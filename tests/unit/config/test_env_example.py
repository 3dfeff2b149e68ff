""".env.example names every environment variable the project reads, and only those, and sets nothing."""

import re

from tests.support.processes import ROOT

# Set by the container or the shell, not by the project's operator.
NOT_CONFIGURATION = {"HOSTNAME", "PATH", "DJANGO_SETTINGS_MODULE"}


def variables_read() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "config/settings").glob("*.py"):
        names |= set(re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", path.read_text()))
    for path in [
        ROOT / "compose/web/gunicorn.conf.py",
        *ROOT.glob("config/*.py"),
        *ROOT.glob("*/management/commands/*.py"),
    ]:
        names |= set(re.findall(r"os\.environ(?:\.get\(|\[)\"([A-Z][A-Z0-9_]*)\"", path.read_text()))
    for path in (ROOT / "compose").glob("*/start"):
        names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", path.read_text()))
    return names - NOT_CONFIGURATION


def documented() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=(.*)$", "\n".join(lines), re.MULTILINE))


def test_every_variable_read_is_documented_and_every_documented_one_is_read() -> None:
    read, listed = variables_read(), set(documented())
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CELERY_VISIBILITY_TIMEOUT"} <= read
    assert not read - listed, f"missing from .env.example: {sorted(read - listed)}"
    assert not listed - read, f".env.example lists variables nothing reads: {sorted(listed - read)}"


def test_copied_as_is_it_sets_nothing_and_ships_no_secret() -> None:
    active = [line for line in (ROOT / ".env.example").read_text().splitlines() if line and not line.startswith("#")]
    assert active == []
    assert documented()["DJANGO_SECRET_KEY"] == ""
