"""The locks, the Dockerfile and .dockerignore, checked without a Docker engine.

What the production image installs is requirements/base.txt alone; development and CI
install requirements.txt. Both are compiled by `make lock` from requirements/*.in, so
these tests hold the invariants a hand edit would break: every package pinned exactly
and hashed, the production pins identical in both locks, no test tool in production.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.processes import ROOT

DEV_ONLY = {"pytest", "pytest-django", "hypothesis", "factory-boy", "selenium", "schemathesis", "ruff", "mypy"}


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """{package: (version, hashes)} from a pip-compile lock (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    entries = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split(" --hash=")
        req = Requirement(requirement.strip())
        (spec,) = req.specifier
        assert spec.operator == "==", f"{path.name}: {requirement} is not pinned exactly"
        entries[canonicalize_name(req.name)] = (spec.version, options)
    return entries


def pinned_inputs(path: Path) -> dict[str, str]:
    """{package: version} of a requirements/*.in file's own lines (not its -r/-c includes)."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"{path.name}: {line} is not an exact pin"
            pins[canonicalize_name(req.name)] = spec.version
    return pins


@pytest.fixture(scope="module")
def base_lock() -> dict[str, tuple[str, list[str]]]:
    return locked(ROOT / "requirements/base.txt")


@pytest.fixture(scope="module")
def dev_lock() -> dict[str, tuple[str, list[str]]]:
    return locked(ROOT / "requirements.txt")


def test_every_locked_package_is_pinned_and_hashed(base_lock, dev_lock) -> None:
    for lock in (base_lock, dev_lock):
        assert lock
        for name, (_version, hashes) in lock.items():
            assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h.strip()) for h in hashes), name


def test_the_locks_hold_the_inputs_at_their_exact_versions(base_lock, dev_lock) -> None:
    base_in = pinned_inputs(ROOT / "requirements/base.in")
    dev_in = pinned_inputs(ROOT / "requirements/dev.in")
    assert base_in["django"] == "5.2.19" and base_in["djangorestframework"] == "3.18.3"
    for name, version in base_in.items():
        assert base_lock[name][0] == version, name
    for name, version in {**base_in, **dev_in}.items():
        assert dev_lock[name][0] == version, name
    # The type checker and its stubs, and the lock's own compiler, are part of the development lock.
    assert {"mypy", "django-stubs", "djangorestframework-stubs", "pip-tools"} <= set(dev_in)


def test_production_lock_is_the_development_locks_subset_without_the_tools(base_lock, dev_lock) -> None:
    for name, (version, _hashes) in base_lock.items():
        assert dev_lock[name][0] == version, f"{name}: production {version}, development {dev_lock[name][0]}"
    assert not DEV_ONLY & set(base_lock)
    assert set(dev_lock) >= DEV_ONLY
    # Transitive dependencies are locked too, not only what the .in files name.
    assert {"kombu", "redis", "asgiref", "sqlparse", "psycopg-binary"} <= set(base_lock)


def test_make_install_and_lock_use_the_locks() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet -r requirements.txt" in makefile
    assert "--generate-hashes" in makefile
    assert "--output-file requirements/base.txt requirements/base.in" in makefile
    assert "--output-file requirements.txt requirements/dev.in" in makefile
    assert "-r base.in" in (ROOT / "requirements/dev.in").read_text()
    assert "-c base.txt" in (ROOT / "requirements/dev.in").read_text()


def test_dockerfile_builds_in_two_stages_and_runs_unprivileged_with_a_health_check() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)$", dockerfile, re.MULTILINE)
    assert stages == ["builder", "runtime"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in dockerfile
    builder, runtime = dockerfile.split("AS runtime")
    assert "pip install --require-hashes --no-deps -r /tmp/base.txt" in builder
    assert "requirements.txt" not in dockerfile, "the image installs only the production lock"
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime
    assert "collectstatic --noinput" in runtime
    users = re.findall(r"^USER (\S+)$", runtime, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    healthcheck = re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])$", runtime, re.MULTILINE | re.DOTALL)
    assert healthcheck and "/healthz" in healthcheck.group(1) and "curl" not in healthcheck.group(1)


def test_dockerignore_keeps_tests_benchmarks_and_local_files_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"}
    assert {".git", ".venv", "tests", "bench", ".env", "*.sqlite3", "staticfiles", "**/__pycache__"} <= ignored
    # What the image needs must not be ignored.
    for needed in ("requirements", "config", "compose", "manage.py", "eventstore", "orders_read", "orders_write"):
        assert needed not in ignored, needed


def test_pre_commit_runs_the_projects_own_tools_from_its_venv() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    repos = {repo["repo"]: repo["hooks"] for repo in config["repos"]}
    assert set(repos) <= {"local", "meta"}, "a remote hook repository would be fetched, at a version of its own"
    hooks = {hook["id"]: hook for hook in repos["local"]}
    assert hooks["ruff-format"]["entry"] == ".venv/bin/ruff format"
    assert hooks["ruff-check"]["entry"].startswith(".venv/bin/ruff check --fix")
    assert "makemigrations --check" in hooks["migrations-in-step"]["entry"]
    for hook in hooks.values():
        assert hook["language"] == "system" and hook["entry"].startswith(".venv/bin/"), hook["id"]
    pre_commit = Path(sys.executable).with_name("pre-commit")
    assert pre_commit.exists(), "pre-commit is in the development lock: `make install` brings it"
    done = subprocess.run([str(pre_commit), "validate-config"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
