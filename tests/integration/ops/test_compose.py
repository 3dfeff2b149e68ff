"""docker-compose.yml, the Dockerfile and the start scripts, checked without a Docker engine."""

import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import ROOT

APP_SERVICES = ("migrate", "web", "worker", "projections", "beat")


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
    assert "python:3.11-slim" in dockerfile and "collectstatic --noinput" in dockerfile


def test_services_start_in_order_behind_health_checks(compose) -> None:
    services = compose["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "projections", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert all(d["condition"] in ("service_healthy", "service_completed_successfully") for d in depends.values()), (
            name
        )
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_web_and_worker_can_scale_out(compose) -> None:
    services = compose["services"]
    for name in ("web", "worker", "projections"):
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
    projections = (ROOT / "compose/projections/start").read_text()
    assert 'worker -Q "${PROJECTION_QUEUE}" --pool=threads' in projections  # the default worker keeps prefork
    assert "--pool" not in (ROOT / "compose/worker/start").read_text()


def test_gunicorn_config_loads(monkeypatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    namespace: dict = {}
    exec(compile((ROOT / "compose/web/gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    assert namespace["workers"] == 3 and namespace["bind"] == "0.0.0.0:8000" and callable(namespace["child_exit"])
    assert callable(namespace["post_worker_init"])  # each worker connects to the broker before its first command


def test_the_secret_key_is_required_and_has_no_default_anywhere(compose) -> None:
    assert compose["x-app"]["environment"]["DJANGO_SECRET_KEY"] == "${DJANGO_SECRET_KEY:?set DJANGO_SECRET_KEY}"
    for name in APP_SERVICES:
        assert compose["services"][name]["environment"]["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?"), name
    text = (ROOT / "docker-compose.yml").read_text()
    assert "DJANGO_SECRET_KEY:-" not in text and "change-me" not in text


def test_worker_and_beat_have_health_checks_of_their_own(compose) -> None:
    services = compose["services"]
    worker = services["worker"]["healthcheck"]
    assert worker["test"][0] == "CMD-SHELL"
    # $$ is compose's escape: the container's shell expands $HOSTNAME, the worker's default node name.
    assert "celery -A config inspect ping --destination celery@$$HOSTNAME" in worker["test"][1]
    beat = services["beat"]["healthcheck"]
    assert "/tmp/celerybeat-schedule" in beat["test"][-1]
    assert "--schedule /tmp/celerybeat-schedule" in (ROOT / "compose/beat/start").read_text()
    for check in (worker, beat):
        assert {"interval", "timeout", "retries"} <= set(check)
    # The image's health check probes the web server: processes that serve none turn it off.
    for name in ("migrate", "projector"):
        assert services[name]["healthcheck"] == {"disable": True}, name


def test_the_beat_health_check_passes_on_a_fresh_schedule_file_and_fails_on_a_stale_or_missing_one(
    compose, tmp_path
) -> None:
    command = compose["services"]["beat"]["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"]
    script = command[3].replace("/tmp/celerybeat-schedule", str(tmp_path / "celerybeat-schedule"))

    def healthy() -> bool:
        return subprocess.run([sys.executable, "-c", script], timeout=30).returncode == 0

    assert not healthy()  # beat never wrote its schedule
    schedule = tmp_path / "celerybeat-schedule.db"  # dbm may add a suffix: the check globs
    schedule.write_bytes(b"")
    assert healthy()
    stale = time.time() - 121
    os.utime(schedule, (stale, stale))
    assert not healthy()


def test_the_observability_profile_runs_prometheus_and_grafana_with_the_shipped_config(compose) -> None:
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["observability"], name
        assert ":" in services[name]["image"] and not services[name]["image"].endswith(":latest"), name
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    # Nothing else needs the profile: a plain `up` is the app alone.
    assert all(
        "observability" not in s.get("profiles", []) for n, s in services.items() if n not in ("prometheus", "grafana")
    )

    prometheus = yaml.safe_load((ROOT / "compose/prometheus/prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == ["web"] and discovery["port"] == 8000

    datasources = yaml.safe_load((ROOT / "compose/grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["url"] == "http://prometheus:9090" and source["uid"] == "prometheus"
    providers = yaml.safe_load((ROOT / "compose/grafana/provisioning/dashboards/orders.yml").read_text())
    (provider,) = providers["providers"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"]}
    assert (ROOT / mounted[provider["options"]["path"]] / "orders.json").exists()


def test_the_web_start_script_accepts_its_own_address_as_a_host(tmp_path) -> None:
    fake = tmp_path / "gunicorn"  # stands in for gunicorn: prints what the script hands it
    fake.write_text('#!/bin/bash\necho "$DJANGO_ALLOWED_HOSTS"\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run(
        ["bash", str(ROOT / "compose/web/start")],
        env={**env, "DJANGO_ALLOWED_HOSTS": "localhost,web"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    own = socket.gethostbyname(socket.gethostname())
    assert done.stdout.strip() == f"localhost,web,{own}", done.stderr
    env.pop("DJANGO_ALLOWED_HOSTS", None)  # unset: the settings' defaults stay in force
    done = subprocess.run(["bash", str(ROOT / "compose/web/start")], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == ""


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless"}


def metric_names_in(expr: str) -> set[str]:
    """The series a PromQL expression selects: identifiers that are not functions, keywords or labels."""
    expr = re.sub(r'"(?:\\.|[^"\\])*"', "", expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expr))
    return {name for name in names if name not in PROMQL_WORDS}


def exported_series(text: str) -> set[str]:
    """Every series name a /metrics exposition can carry, from its families' names and types."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "gauge": ("",),
    }
    series = set()
    for family in text_string_to_metric_families(text):
        series.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        series.update(sample.name for sample in family.samples)
    return series


def test_metric_names_in_promql_are_told_from_functions_labels_and_keywords() -> None:
    expr = 'histogram_quantile(0.99, sum by (route, le) (rate(http_x_bucket{method=~"POST|x"}[5m]))) / on(a) up'
    assert metric_names_in(expr) == {"http_x_bucket", "up"}


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_every_series_the_dashboard_queries_is_one_metrics_exports(anon_client) -> None:
    dashboard = json.loads((ROOT / "compose/grafana/dashboards/orders.json").read_text())
    queried: dict[str, str] = {}
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "prometheus", panel["title"]
        for target in panel["targets"]:
            for name in metric_names_in(target["expr"]):
                queried[name] = panel["title"]
    # What the dashboard is for: commands, latency by route, the log, lag, rebuilds, post-commit failures.
    assert {
        "commands_total",
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "eventstore_events_appended_total",
        "projection_lag_events",
        "projection_lag_seconds",
        "projection_rebuild_progress_ratio",
        "eventstore_post_commit_failures_total",
    } <= set(queried)

    response = anon_client.get("/metrics")
    assert response.status_code == 200
    exported = exported_series(response.content.decode())
    missing = {name: panel for name, panel in queried.items() if name not in exported}
    assert not missing, f"the dashboard queries series /metrics does not export: {missing}"


def test_only_migrate_connects_as_the_owner_and_then_grants_the_app_role(compose) -> None:
    services = compose["services"]
    owner = services["postgres"]["environment"]["POSTGRES_USER"]
    migrate = services["migrate"]["environment"]
    assert migrate["MIGRATE_DATABASE_URL"].startswith(f"postgres://{owner}:")
    assert migrate["MIGRATE_READ_DATABASE_URL"].endswith("/orders_read")
    app_role = migrate["RUNTIME_DATABASE_USER"]
    for name in (*APP_SERVICES, "projector"):
        env = services[name]["environment"]
        for url in (env["DATABASE_URL"], env["READ_DATABASE_URL"]):
            assert url.startswith(f"postgres://{app_role}:") and app_role != owner, name
        if name != "migrate":
            assert not any(key.startswith("MIGRATE_") for key in env), name
    assert "grant_runtime_role" in (ROOT / "compose/migrate/start").read_text()


def test_catch_ups_have_a_queue_and_a_worker_of_their_own(compose) -> None:
    """Every process routes catch-ups to PROJECTION_QUEUE; the projections worker consumes it, pinged by its name."""
    services = compose["services"]
    assert compose["x-app"]["environment"]["PROJECTION_QUEUE"] == "projections"
    for name in APP_SERVICES:
        assert services[name]["environment"]["PROJECTION_QUEUE"] == "projections", name
    check = services["projections"]["healthcheck"]
    assert "celery -A config inspect ping --destination projections@$$HOSTNAME" in check["test"][1]
    assert '-n "projections@%h"' in (ROOT / "compose/projections/start").read_text()
