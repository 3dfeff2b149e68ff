"""Health, readiness, docs and metrics under gunicorn with DEBUG off, as docker-compose runs the web service."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.gunicorn import free_port
from tests.support.processes import ROOT, subprocess_env

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.postgres, pytest.mark.slow]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def web(tmp_path) -> Iterator[str]:
    """compose/web/start's gunicorn (its config file, 2 workers, multiprocess metrics) on a free port."""
    port = free_port()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = subprocess_env(
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        DJANGO_DEBUG="0",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        DJANGO_SETTINGS_MODULE="config.settings.test",
    )
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--config", str(ROOT / "compose/web/gunicorn.conf.py")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"{url}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / "gunicorn.log").read_text()[-3000:])
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def test_ops_endpoints_answer_under_gunicorn_and_metrics_add_up_over_worker_processes(web) -> None:
    for _ in range(20):
        assert _get(f"{web}/healthz")[0] == 200
    status, body = _get(f"{web}/readyz")
    assert status == 200, body
    assert json.loads(body)["checks"]["database"] == "ok"
    status, body = _get(f"{web}/api/docs/")
    assert status == 200 and b"swagger-ui" in body
    status, body = _get(f"{web}/api/schema/?format=json")
    assert status == 200 and "/api/orders/" in json.loads(body)["paths"]

    status, body = _get(f"{web}/metrics")
    assert status == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    healthz = (("method", "GET"), ("route", "healthz"), ("status", "200"))
    assert samples[("http_requests_total", healthz)] >= 21  # every worker's count, summed at scrape time
    assert ("eventstore_events_appended_total", ()) in samples
