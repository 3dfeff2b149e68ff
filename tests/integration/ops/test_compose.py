"""docker-compose.yml, the Dockerfile and the start scripts, checked without a Docker engine."""

import os
import subprocess

import pytest
import yaml

from tests.support.processes import ROOT

APP_SERVICES = ("migrate", "web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_process_runs_from_the_one_image_built_by_the_dockerfile(compose) -> None:
    services = compose["services"]
    assert {"postgres", "redis", *APP_SERVICES} <= set(services)
    for name in APP_SERVICES:
        assert services[name]["build"] == "." and services[name]["image"] == "orders-cqrs:latest", name
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["READ_DATABASE_URL"].endswith("/orders_read")
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "pip install -r requirements.txt" in dockerfile and "collectstatic --noinput" in dockerfile


def test_services_start_in_order_behind_health_checks(compose) -> None:
    services = compose["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert all(d["condition"] in ("service_healthy", "service_completed_successfully") for d in depends.values()), (
            name
        )
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_web_and_worker_can_scale_out(compose) -> None:
    services = compose["services"]
    for name in ("web", "worker"):
        assert "container_name" not in services[name], name
        for port in services[name].get("ports", []):
            assert ":" not in str(port), f"{name} publishes a fixed host port: {port}"
    assert services["web"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]


def test_start_scripts_are_strict_executable_and_exec_their_process(compose) -> None:
    commands = {
        name: service["command"][0]
        for name, service in compose["services"].items()
        if "command" in service and str(service["command"][0]).startswith("/app/")
    }
    assert set(APP_SERVICES) <= set(commands)
    for command in commands.values():
        script = ROOT / command.removeprefix("/app/")
        text = script.read_text()
        assert os.access(script, os.X_OK), script
        assert text.startswith("#!/bin/bash") and "set -o errexit" in text, script
        assert "\nexec " in text or "\n  exec " in text, script
        subprocess.run(["bash", "-n", str(script)], check=True)
    assert "gunicorn config.wsgi" in (ROOT / "compose/web/start").read_text()
    assert "celery -A config worker" in (ROOT / "compose/worker/start").read_text()
    assert "celery -A config beat" in (ROOT / "compose/beat/start").read_text()


def test_gunicorn_config_loads(monkeypatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    namespace: dict = {}
    exec(compile((ROOT / "compose/web/gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    assert namespace["workers"] == 3 and namespace["bind"] == "0.0.0.0:8000" and callable(namespace["child_exit"])
