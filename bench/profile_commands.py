"""Profile: each command's Python cost on the server, and where it goes.

Why: bench/commands.py says how fast an order is over HTTP; this says what each of the
eight commands costs the web worker's CPU (the share a gunicorn process cannot give to
another request) and which functions take it, so a change to the write path can be
weighed before the HTTP benchmark is run. Every command goes through the whole Django
stack (middleware, token auth, DRF, the bus, the store) in process with Django's test
client, on PostgreSQL with the production settings and a Redis broker (no worker: the
projection trigger is paid, the projections are not run).

Prints, per command, CPU and wall milliseconds per request (medians of rounds) and the
functions with the most own CPU time under cProfile; last, one JSON object.
Runs in a scratch database (`bench_profile`) that it creates, migrates and drops.
Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python bench/profile_commands.py [--quick]
"""

import argparse
import cProfile
import json
import os
import pstats
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from commands import server_env
from scratch_db import recreate, scratch_urls

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "bench_profile"
BROKER = "redis://127.0.0.1:6379/14"
ADDRESS = {"name": "Bench", "street": "1 Load St", "city": "Oslo"}
PRODUCTS = 50

Request = tuple[str, str, dict[str, Any] | None]
"""(method, path, JSON body) of one command."""


def requests_of(command: str, skus: list[str], place: Callable[[], str]) -> Iterator[Request]:
    """An endless supply of valid requests for `command` (orders to cancel or ship are placed beforehand)."""
    n = 0
    while True:
        n += 1
        sku = skus[n % len(skus)]
        if command == "RegisterProduct":
            yield "POST", "/api/products/", {"sku": f"NEW-{uuid.uuid4().hex[:12]}", "name": "New", "price": "1.00"}
        elif command == "ReceiveStock":
            yield "POST", f"/api/products/{sku}/stock/", {"quantity": 5}
        elif command == "ChangePrice":
            yield "POST", f"/api/products/{sku}/price/", {"price": f"{n % 90 + 10}.00"}
        elif command == "CreateOrder":
            lines = [{"product_id": skus[(n + i * 7) % len(skus)], "quantity": 1} for i in range(n % 3 + 1)]
            yield "POST", "/api/orders/", {"items": lines, "shipping_address": ADDRESS}
        elif command == "AddOrderItem":
            yield "POST", f"/api/orders/{place()}/items/", {"product_id": sku, "quantity": 1}
        elif command == "CancelOrder":
            yield "POST", f"/api/orders/{place()}/cancel/", {"reason": "profiling"}
        elif command == "CancelOrder (DELETE)":
            yield "DELETE", f"/api/orders/{place()}/?reason=profiling", None
        elif command == "ShipOrder":
            yield "POST", f"/api/orders/{place()}/ship/", {}


COMMANDS = (
    "RegisterProduct",
    "ReceiveStock",
    "ChangePrice",
    "CreateOrder",
    "AddOrderItem",
    "CancelOrder",
    "CancelOrder (DELETE)",
    "ShipOrder",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--top", type=int, default=6, help="functions listed per command")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/profile_commands.py needs DATABASE_URL pointing at PostgreSQL")
    per_round, rounds = (100, 3) if args.quick else (300, 5)
    scratch_url, admin_url = scratch_urls(url, SCRATCH_DB)
    recreate(admin_url, SCRATCH_DB)
    env = {**server_env(scratch_url), "CELERY_BROKER_URL": BROKER, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}
    figures: dict[str, Any] = {}
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        figures = profile_all(env, per_round, rounds, args.top)
    finally:
        from django.db import connections

        connections.close_all()
        recreate(admin_url, SCRATCH_DB, drop_only=True)
        subprocess.run(["redis-cli", "-n", BROKER.rsplit("/", 1)[1], "flushdb"], capture_output=True, check=False)
    print(
        json.dumps(
            {"bench": "profile_commands", "quick": args.quick, "requests_per_command": per_round * rounds, **figures}
        )
    )


def profile_all(env: dict[str, str], per_round: int, rounds: int, top: int) -> dict[str, Any]:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    staff = get_user_model().objects.create_user("profiler", password="x", is_staff=True)
    # Token auth, as API clients send it: the token lookup is part of every request's cost.
    client = Client(SERVER_NAME="127.0.0.1", HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    skus = [f"SKU-{i:03d}" for i in range(PRODUCTS)]
    for sku in skus:
        body = {"sku": sku, "name": sku, "price": "9.99", "initial_stock": 1_000_000}
        answer(client, ("POST", "/api/products/", body))

    def place() -> str:
        body = {"items": [{"product_id": skus[0], "quantity": 1}], "shipping_address": ADDRESS}
        return answer(client, ("POST", "/api/orders/", body))["id"]

    figures: dict[str, Any] = {}
    for command in COMMANDS:
        supply = requests_of(command, skus, place)
        for _ in range(20):  # warm-up: imports, prepared statements, caches
            answer(client, next(supply))
        cpu, wall = [], []
        for _ in range(rounds):
            batch = [next(supply) for _ in range(per_round)]  # set up (orders placed) outside the timing
            started_cpu, started_wall = time.process_time(), time.perf_counter()
            for request in batch:
                answer(client, request)
            cpu.append((time.process_time() - started_cpu) / per_round * 1000)
            wall.append((time.perf_counter() - started_wall) / per_round * 1000)
        batch = [next(supply) for _ in range(per_round)]
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for request in batch:
            answer(client, request)
        profiler.disable()
        key = command.split(" ")[0] if "DELETE" not in command else "CancelOrderDelete"
        figures[f"{key}_cpu_ms"] = round(statistics.median(cpu), 3)
        figures[f"{key}_wall_ms"] = round(statistics.median(wall), 3)
        print(f"{command}: {figures[f'{key}_cpu_ms']:.2f} ms CPU, {figures[f'{key}_wall_ms']:.2f} ms wall per request")
        for line in top_functions(profiler, per_round, top):
            print(f"    {line}")
    return figures


def answer(client: Any, request: Request) -> dict[str, Any]:
    method, path, body = request
    payload = json.dumps(body) if body is not None else ""
    response = getattr(client, method.lower())(path, payload, content_type="application/json")
    if response.status_code not in (200, 201, 204):
        raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.content[:300]!r}")
    return response.json() if response.content else {}


def top_functions(profiler: cProfile.Profile, requests: int, top: int) -> list[str]:
    """Where the CPU goes, in microseconds per request (cProfile's own overhead included).

    First the functions with the most own time anywhere, then the project's own functions
    with the most time under them, leaving out the chain that holds most of a request
    (middleware, the view, the bus, the handler): what a change to the write path can move.
    """
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    own_top = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    ours = [item for item in stats.items() if item[0][0].startswith(str(ROOT)) and "/bench/" not in item[0][0]]
    outermost = max(cumulative for _, (_, _, _, cumulative, _) in ours)
    project = [item for item in ours if item[1][3] < 0.4 * outermost]  # not the chain every request runs through
    project_top = sorted(project, key=lambda item: item[1][3], reverse=True)[:top]
    lines = []
    for (filename, line, name), (_, calls, own, cumulative, _) in [*own_top, *project_top]:
        where = filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        lines.append(
            f"{own / requests * 1e6:7.0f} µs own {cumulative / requests * 1e6:7.0f} µs cum"
            f"  {calls / requests:5.1f}x  {where}:{line}({name})"
        )
    return lines


if __name__ == "__main__":
    main()
