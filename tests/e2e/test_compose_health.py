"""docker-compose.yml's worker and beat health checks, run as written against a real worker and a real beat."""

import re
import subprocess
import sys
import time

import pytest
import yaml

from tests.support.processes import ROOT, subprocess_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True, databases="__all__")]


def healthcheck(service: str) -> list[str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose["services"][service]["healthcheck"]["test"]


def test_the_worker_check_passes_for_a_live_worker_and_fails_for_another_name(running_worker) -> None:
    kind, command = healthcheck("worker")
    assert kind == "CMD-SHELL"
    (node,) = re.findall(rb"([\w.-]+@[\w.-]+) ready\.", running_worker.log_path.read_bytes())[-1:]
    python = f"{sys.executable} -m celery"
    live = command.replace("celery@$$HOSTNAME", node.decode()).replace("celery -A", f"{python} -A", 1)
    env = subprocess_env()
    assert subprocess.run(["bash", "-c", live], env=env, timeout=60).returncode == 0
    gone = live.replace(node.decode(), "celery@no-such-host").replace("--timeout 10", "--timeout 2")
    assert subprocess.run(["bash", "-c", gone], env=env, capture_output=True, timeout=60).returncode != 0


def test_the_beat_check_passes_while_beat_runs_and_fails_once_it_stopped(beat) -> None:
    command = healthcheck("beat")
    script = command[-1].replace("/tmp/celerybeat-schedule", str(beat.schedule_path))
    time.sleep(2)  # a few sends, each followed by a sync of the schedule file (CELERY_BEAT_SYNC_EVERY=1)
    assert subprocess.run([sys.executable, "-c", script], timeout=30).returncode == 0
    beat.stop()
    written = max(path.stat().st_mtime for path in beat.schedule_path.parent.glob(beat.schedule_path.name + "*"))
    assert time.time() - written < 10  # written while beat ran, not only at its start
    aged = script.replace("< 120", "< 0")  # as if the 120 s had passed with no write
    assert subprocess.run([sys.executable, "-c", aged], timeout=30).returncode != 0
