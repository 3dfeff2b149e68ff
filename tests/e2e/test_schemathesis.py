"""Schemathesis against the published OpenAPI schema: no input makes the server fail or write when it refuses.

Generated requests, valid and deliberately invalid, go to a live gunicorn (debug off,
as in production) authenticated as staff, so every endpoint is reachable. For every
one of them: never a 5xx; a refused request (4xx) appends nothing to the log; and the
answer is one the schema documents (its status code, content type, headers and body
schema), so clients generated from the schema can trust it. Examples are few and
derandomized so the test is repeatable and bounded in time.
"""

import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from eventstore.models import Event
from tests.support.api import ApiClient, place, register
from tests.support.gunicorn import GunicornProcess
from tests.support.processes import WorkerProcess

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

EXAMPLES_PER_MODE = 10
SERVER_REFUSALS = {414, 431}
"""Request line or headers over gunicorn's limits: gunicorn answers them itself, in plain text."""
CONFORMANCE = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TIME_BUDGET_SECONDS = 50.0


def test_generated_requests_never_fail_the_server_and_refusals_append_nothing(
    start_gunicorn: Callable[..., GunicornProcess],
    running_worker: WorkerProcess,
    staff_token: str,
    api_for: Callable[..., ApiClient],
) -> None:
    node = start_gunicorn(workers=1)
    auth = {"Authorization": f"Token {staff_token}"}
    existing = _seed(api_for(node.url, staff_token))
    schema = schemathesis.openapi.from_url(f"{node.url}/api/schema/?format=json", headers=auth, timeout=30)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, "the schema should document every command and query endpoint"

    findings = Findings()
    session = requests.Session()
    budget = time.monotonic() + TIME_BUDGET_SECONDS
    for operation in operations:
        # Random path parameters mostly name nothing (404); the seeded ones let the fuzzed
        # bodies reach the aggregates' rules, where a refusal must still append nothing.
        fixed = {name: value for name, value in existing.items() if f"{{{name}}}" in operation.path}
        for path_parameters in ({}, fixed) if fixed else ({},):
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
                if time.monotonic() < budget:
                    _fuzz(
                        operation,
                        mode,
                        path_parameters,
                        base_url=node.url,
                        session=session,
                        headers=auth,
                        findings=findings,
                    )
    session.close()

    assert findings.server_errors == [], "\n".join(findings.server_errors)
    assert findings.refused_but_appended == [], "\n".join(findings.refused_but_appended)
    assert findings.off_schema == [], "\n".join(findings.off_schema)
    assert len(findings.exercised) >= len(operations) // 2, sorted(findings.exercised)
    assert findings.statuses.keys() & {200, 201}, findings.statuses  # some generated requests were accepted


@dataclass
class Findings:
    server_errors: list[str] = field(default_factory=list)
    refused_but_appended: list[str] = field(default_factory=list)
    off_schema: list[str] = field(default_factory=list)
    exercised: set[str] = field(default_factory=set)
    statuses: Counter = field(default_factory=Counter)


def _seed(api: ApiClient) -> dict[str, str]:
    """A product in stock and a pending order of it, for the path parameters of the generated requests."""
    sku = f"fz-{uuid.uuid4().hex[:8]}"
    assert register(api, sku, stock=1000, expect=None).status_code == 201
    order = place(api, (sku, 1), expect=None, customer_id="fuzz-customer")
    assert order.status_code == 201, order.text
    return {"sku": sku, "order_id": order.json()["id"], "customer_id": "fuzz-customer"}


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    path_parameters: dict[str, str],
    *,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str],
    findings: Findings,
) -> None:
    """Send a few generated requests for one operation and record what breaks the two properties."""

    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None))
    def check(case: schemathesis.Case) -> None:
        before = Event.objects.count()
        try:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, ValueError):
            return  # a request `requests` refuses to send never reached the server
        findings.exercised.add(operation.label)
        findings.statuses[response.status_code] += 1
        where = f"{case.method} {case.formatted_path} ({mode.value})"
        if response.status_code >= 500:
            findings.server_errors.append(f"{where}: {response.status_code} {response.text[:300]}")
        elif response.status_code >= 400 and Event.objects.count() != before:
            findings.refused_but_appended.append(f"{where}: {response.status_code} appended events")
        if response.status_code in SERVER_REFUSALS:
            return  # answered by gunicorn before the request reached the app: not the API's to document
        try:
            case.validate_response(response, checks=CONFORMANCE)
        except FailureGroup as failures:
            reasons = "; ".join(str(failure).splitlines()[0] for failure in failures.exceptions)
            findings.off_schema.append(f"{where}: {response.status_code}: {reasons[:400]}")

    with contextlib.suppress(Unsatisfiable):  # nothing to make invalid once the path is fixed (a bare GET)
        check()
