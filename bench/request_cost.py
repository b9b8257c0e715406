"""What one request costs openmsi itself: the whole ASGI application called in-process (no
server, no network, no load generator), one request after the other, wall and CPU time per
request, optionally with a cProfile of the calls.

For each engine: a fresh database with Magento's MSI tutorial data (``links_bench``'s
``openmsi_server`` and ``create_tutorial_data``, over HTTP), then the server is stopped and the
application is built in this process on the same database and called directly with ASGI
messages: the salability read, the assigned-sources read and the seven-link POST of
``links_bench.py``. Because nothing else shares the measurement, these figures move far less
than requests/s under load; compare two versions of the code by running this script with
``PYTHONPATH=<other checkout>/src`` in the same session. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import links_bench as lb

SCENARIOS: dict[str, tuple[str, str, bytes]] = {
    "salable-get": ("GET", f"/rest/V1/inventory/get-product-salable-quantity/{lb.SALABLE_SKU}/2", b""),
    "assigned-get": ("GET", "/rest/V1/inventory/get-sources-assigned-to-stock-ordered-by-priority/2", b""),
    "links-post": ("POST", "/rest/V1/inventory/stock-source-links", lb.LINKS_BODY.encode()),
}


def asgi_caller(app: Any, token: str, method: str, path: str, body: bytes) -> Any:
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": (lb.HOST, 1), "server": (lb.HOST, 2),
    }  # fmt: skip

    async def call() -> int:
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(dict(scope), receive, send)
        return status

    return call


async def measure(app: Any, token: str, args: argparse.Namespace) -> list[tuple[str, float, float]]:
    results = []
    async with app.router.lifespan_context(app):
        for name in args.scenarios.split(","):
            method, path, body = SCENARIOS[name]
            call = asgi_caller(app, token, method, path, body)
            status = await call()
            if status != 200:
                raise lb.BenchError(f"{name}: HTTP {status}")
            for _ in range(args.warmup):
                await call()
            walls, cpus = [], []
            for _ in range(args.repeat):
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(args.requests):
                    await call()
                walls.append((time.perf_counter() - wall) / args.requests * 1e6)
                cpus.append((time.process_time() - cpu) / args.requests * 1e6)
            results.append((name, statistics.median(walls), statistics.median(cpus)))
            if args.profile:
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(args.requests):
                    await call()
                profile.disable()
                print(f"\n--- {name}: cProfile, {args.requests} requests, by internal time")
                pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    return results


def run_engine(engine: str, args: argparse.Namespace) -> list[tuple[str, float, float]]:
    workdir = Path(tempfile.mkdtemp(prefix="openmsi_cost_"))
    with lb.openmsi_server(engine, args.pg_url, args.mariadb_url, workdir) as (server, url):
        token = lb.create_tutorial_data(f"http://{lb.HOST}:{server.port}")
        server.stop()
        from openmsi.app import create_app
        from openmsi.settings import Settings

        app = create_app(Settings(database_url=url))
        try:
            import uvloop

            return uvloop.run(measure(app, token, args))
        except ImportError:
            return asyncio.run(measure(app, token, args))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--requests", type=int, default=3000, help="requests per round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (median)")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="print a cProfile per scenario")
    parser.add_argument("--pg-url", default=os.environ.get("OPENMSI_BENCH_POSTGRES_URL", lb.DEFAULT_PG_URL))
    parser.add_argument(
        "--mariadb-url", default=os.environ.get("OPENMSI_BENCH_MARIADB_URL", lb.DEFAULT_MARIADB_URL)
    )
    args = parser.parse_args()
    rows = []
    for engine in args.engines.split(","):
        try:
            rows += [(engine, *row) for row in run_engine(engine, args)]
        except lb.BenchError as error:
            print(f"{engine}: {error}", file=sys.stderr)
            return 1
    print(f"\n{'engine':<11} {'scenario':<13} {'wall us/request':>16} {'CPU us/request':>15}")
    for engine, name, wall, cpu in rows:
        print(f"{engine:<11} {name:<13} {wall:>16.1f} {cpu:>15.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
