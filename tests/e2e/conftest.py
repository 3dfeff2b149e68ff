"""End-to-end fixtures: the live-process harness from tests/support."""

from tests.support.fixtures import api_for, beat, running_worker, staff_token, start_extra_worker, start_gunicorn

__all__ = ["api_for", "beat", "running_worker", "staff_token", "start_extra_worker", "start_gunicorn"]
