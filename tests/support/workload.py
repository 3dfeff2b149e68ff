"""Bounded command workloads for the fault and scale-out tests, and what they saw.

A workload is a fixed number of commands (never "until time runs out"), drawn from a
seeded RNG so a failing run can be replayed. Each thread uses its own ApiClient and
its own customer, so the log can be checked per customer afterwards.
"""

import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests

from tests.support.api import ApiClient, add_item, cancel, place, ship

T = TypeVar("T")


@dataclass
class Outcome:
    """What one workload thread saw: accepted commands, refusals by status, and anything unexpected."""

    created: list[str] = field(default_factory=list)
    accepted: int = 0
    refused: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def command_burst(
    api: ApiClient,
    *,
    customer: str,
    skus: list[str],
    commands: int,
    seed: int,
    on_accepted: Callable[[], None] | None = None,
) -> Outcome:
    """Create orders, add items, cancel and ship them: `commands` requests in all.

    Refusals the contract allows under concurrency (409 after the bus's retries, 422
    when an order moved on) are counted, not failed; a 5xx or a dropped connection is
    recorded as an error.
    """
    rng = random.Random(seed)
    outcome = Outcome()
    pending: list[str] = []
    for _ in range(commands):
        order_id = rng.choice(pending) if pending and rng.random() < 0.5 else None
        try:
            if order_id is None:
                items = [(sku, rng.randint(1, 3)) for sku in rng.sample(skus, rng.randint(1, 2))]
                response = place(api, *items, customer_id=customer, expect=None)
            else:
                action = rng.random()
                if action < 0.4:
                    response = add_item(api, order_id, rng.choice(skus), rng.randint(1, 2), expect=None)
                elif action < 0.7:
                    response = cancel(api, order_id, expect=None)
                else:
                    response = ship(api, order_id, expect=None)
        except requests.RequestException as exc:
            outcome.errors.append(f"{type(exc).__name__}: {exc}")
            continue
        if response.status_code >= 500:
            outcome.errors.append(
                f"{response.status_code} {response.request.method} {response.request.path_url}: {response.text[:300]}"
            )
        elif response.status_code >= 400:
            outcome.refused[response.status_code] += 1
        else:
            outcome.accepted += 1
            if order_id is None:
                created = response.json()["id"]
                outcome.created.append(created)
                pending.append(created)
            elif response.request.path_url.endswith(("/cancel/", "/ship/")):
                pending.remove(order_id)
            if on_accepted is not None:
                on_accepted()
    return outcome


def run_threads(targets: list[Callable[[], T]], *, timeout: float = 120.0) -> list[T]:
    """Run each target in its own thread and return their results in order (a hung thread fails the test)."""
    results: list[Any] = [None] * len(targets)
    failures: list[BaseException] = []

    def runner(index: int, target: Callable[[], T]) -> None:
        try:
            results[index] = target()
        except BaseException as exc:  # surfaced below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=runner, args=(i, t), daemon=True) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        if thread.is_alive():
            raise AssertionError(f"a workload thread did not finish within {timeout}s")
    if failures:
        raise failures[0]
    return results


class Milestone:
    """A thread-safe counter that fires an event once it reaches a threshold."""

    def __init__(self, threshold: int) -> None:
        self.value = 0
        self.threshold = threshold
        self.reached = threading.Event()
        self._lock = threading.Lock()

    def increment(self) -> None:
        with self._lock:
            self.value += 1
            if self.value >= self.threshold:
                self.reached.set()
