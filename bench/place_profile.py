"""In-process cost of one order placement next to one salable-quantity GET: SQL statements,
process CPU ms and wall ms per request, and optionally a cProfile of the placements.

Builds a fresh database (SQLite in a temporary directory, or ``--url`` for an existing empty
PostgreSQL/MariaDB database), loads the MSI tutorial data and ``--skus`` SKUs as
orders_bench.py does, then sends ``--requests`` salable GETs and as many single-line
placements (SKUs cycling) through the ASGI app with Starlette's TestClient, one at a time.
CPU per request is much steadier than requests/s on a shared machine; the TestClient's own
cost is in both columns.

    .venv/bin/python bench/place_profile.py --requests 2000
    .venv/bin/python bench/place_profile.py --profile 25      # + the top 25 cumulative entries
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))

import links_bench as lb
import orders_bench as ob
from openmsi import runtime
from openmsi.app import create_app
from openmsi.settings import Settings

SALABLE_PATH = ob.SALABLE_PATH


def _prepare(url: str, workdir: Path) -> None:
    env = {**os.environ, "OPENMSI_DATABASE_URL": url}
    openmsi = str(Path(sys.executable).with_name("openmsi"))
    for args in (
        ["migrate"],
        ["admin", "create", "--username", lb.ADMIN_USERNAME, "--password", lb.ADMIN_PASSWORD],
        *(["website", "create", "--code", code, "--name", name] for code, name in lb.WEBSITES),
    ):
        subprocess.run([openmsi, *args], env=env, cwd=workdir, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an empty database (default: SQLite in a temporary directory)")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--skus", type=int, default=64)
    parser.add_argument("--profile", type=int, default=0, help="print this many cProfile entries")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="place-profile-") as tmp:
        workdir = Path(tmp)
        url = args.url or f"sqlite:///{workdir / 'openmsi.db'}"
        _prepare(url, workdir)
        app = create_app(Settings(database_url=url))
        statements: Counter[str] = Counter()
        counting = [False]

        @event.listens_for(app.state.database.engine, "before_cursor_execute")
        def _count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            if counting[0]:
                statements[" ".join(statement.split())[:110]] += 1

        with TestClient(app, base_url="http://testserver") as client:
            token = _tutorial(client)
            headers = {"Authorization": f"Bearer {token}"}
            skus = [f"bench-spread-{n}" for n in range(1, args.skus + 1)]
            items = [{"sku": s, "source_code": "baltimore_wh", "quantity": 10**6, "status": 1} for s in skus]
            lb._expect(
                client.post("/rest/V1/inventory/source-items", json={"sourceItems": items}, headers=headers),
                "items",
            )

            def salable_get(n: int) -> None:
                response = client.get(SALABLE_PATH, headers=headers)
                assert response.status_code == 200, response.text

            def place(n: int) -> None:
                order = {
                    "increment_id": f"profile-{n}",
                    "sales_channel": {"type": "website", "code": "na_site"},
                    "items": [{"sku": skus[n % len(skus)], "qty": 1}],
                }
                response = client.post("/rest/V1/openmsi/orders", json={"order": order}, headers=headers)
                assert response.status_code == 200, response.text

            write = runtime._write
            for name, call in (("salable-get", salable_get), ("place", place)):
                for n in range(50):  # warm-up: caches, compiled statements
                    call(-n - 1)
                statements.clear()
                counting[0] = True
                profiler = cProfile.Profile() if args.profile and name == "place" else None
                if profiler:
                    runtime._write = _profiled(profiler, write)  # type: ignore[assignment]
                cpu, wall = time.process_time(), time.perf_counter()
                for n in range(args.requests):
                    call(n)
                runtime._write = write  # type: ignore[assignment]
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                counting[0] = False
                per = args.requests
                print(
                    f"{name:12} {1000 * cpu / per:6.2f} CPU ms/request {1000 * wall / per:6.2f} wall ms"
                    f"  {sum(statements.values()) / per:5.2f} statements/request"
                )
                for statement, count in statements.most_common():
                    print(f"    {count / per:5.2f}× {statement}")
                if profiler:
                    pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)


def _profiled(profiler: cProfile.Profile, function: Any) -> Any:
    """``function`` profiled in the thread it runs in (the writer lane's thread)."""

    def profiled(*args: Any) -> Any:
        profiler.enable()
        try:
            return function(*args)
        finally:
            profiler.disable()

    return profiled


def _tutorial(client: TestClient) -> str:
    """links_bench.create_tutorial_data's requests, through the in-process client."""
    response = client.post(
        "/rest/V1/integration/admin/token",
        json={"username": lb.ADMIN_USERNAME, "password": lb.ADMIN_PASSWORD},
    )
    lb._expect(response, "admin token")
    token: str = response.json()
    headers = {"Authorization": f"Bearer {token}"}
    for code, name, country, postcode in lb.SOURCES:
        source = {
            "source_code": code,
            "name": name,
            "enabled": True,
            "country_id": country,
            "postcode": postcode,
        }
        lb._expect(client.post("/rest/V1/inventory/sources", json={"source": source}, headers=headers), code)
    for name, website, _ in lb.STOCKS:
        stock = {
            "name": name,
            "extension_attributes": {"sales_channels": [{"type": "website", "code": website}]},
        }
        lb._expect(client.post("/rest/V1/inventory/stocks", json={"stock": stock}, headers=headers), name)
    response = client.post(
        "/rest/V1/inventory/stock-source-links",
        content=lb.LINKS_BODY,
        headers={**headers, "Content-Type": "application/json"},
    )
    lb._expect(response, "links")
    items = [
        {"sku": lb.SALABLE_SKU, "source_code": code, "quantity": 10 * (n + 1), "status": 1}
        for n, code in enumerate(("baltimore_wh", "austin_wh", "reno_wh"))
    ]
    lb._expect(
        client.post("/rest/V1/inventory/source-items", json={"sourceItems": items}, headers=headers), "items"
    )
    return token


if __name__ == "__main__":
    main()
