"""Milliseconds of a one-item source-item save in a stock that holds many reservations.

A save refreshes the index rows of its SKUs (``indexer.repository.refresh_skus``); this shows
what the stock's other reservations cost it. Builds a fresh database (SQLite in a temporary
directory, or ``--url`` for an existing empty PostgreSQL/MariaDB database), the MSI tutorial
data, ``--skus`` items on ``baltimore_wh`` and ``--reservations`` reservations spread over
them in stock 2, rebuilds the index, then times ``--saves`` saves of one item (``POST
/rest/V1/inventory/source-items`` through the ASGI app, each its own request) and prints the
median. To compare with another version of the code, run it with ``PYTHONPATH=<its src>``.

    .venv/bin/python bench/refresh_scope_bench.py
    .venv/bin/python bench/refresh_scope_bench.py --url postgresql+psycopg://postgres@127.0.0.1:5432/scope
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))

import links_bench as lb
import place_profile as pp
from openmsi.app import create_app
from openmsi.indexer import service
from openmsi.models import Reservation, SourceItem, table_of
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an empty database (default: SQLite in a temporary directory)")
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--reservations", type=int, default=200_000)
    parser.add_argument("--saves", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="refresh-scope-") as tmp:
        workdir = Path(tmp)
        url = args.url or f"sqlite:///{workdir / 'openmsi.db'}"
        pp._prepare(url, workdir)
        settings = Settings(database_url=url)
        app = create_app(settings)
        database = app.state.database
        with TestClient(app, base_url="http://testserver") as client:
            token = pp._tutorial(client)
            skus = [f"scope-{n}" for n in range(args.skus)]
            with database.write_sessions.begin() as session:
                session.execute(
                    insert(table_of(SourceItem)),
                    [{"source_code": "baltimore_wh", "sku": s, "quantity": 10**6, "status": 1} for s in skus],
                )
                for start in range(0, args.reservations, 10_000):
                    rows = [
                        {"stock_id": 2, "sku": skus[n % len(skus)], "quantity": -1, "metadata_": None}
                        for n in range(start, min(start + 10_000, args.reservations))
                    ]
                    session.execute(insert(table_of(Reservation)), rows)
            with database.write_sessions.begin() as session:
                service.rebuild_stock(session, StockItemConfiguration.from_settings(settings), 2)
            headers = {"Authorization": f"Bearer {token}"}
            timings = []
            for n in range(args.saves):
                item = {
                    "sku": skus[n % len(skus)],
                    "source_code": "baltimore_wh",
                    "quantity": 10**6 - n,
                    "status": 1,
                }
                started = time.perf_counter()
                response = client.post(
                    "/rest/V1/inventory/source-items", json={"sourceItems": [item]}, headers=headers
                )
                timings.append(time.perf_counter() - started)
                lb._expect(response, "save")
        engine = url.split(":", 1)[0]
        print(
            f"{engine}: {args.skus} SKUs, {args.reservations} reservations in stock 2: one-item save "
            f"median {1000 * statistics.median(timings):.2f} ms, p90 "
            f"{1000 * statistics.quantiles(timings, n=10)[-1]:.2f} ms over {args.saves}"
        )


if __name__ == "__main__":
    main()
