"""In-process profile of a 10,000-item source-item save right after a rebuild (PostgreSQL).

The first run with ``--fresh`` creates the database (``--database``, default
``openmsi_save_profile``; dropped first if it exists), migrates it and fills it with
``bench/datagen.py``'s default data; later runs reuse it. Each run rebuilds every stock
(leaving the index table as a rebuild leaves it, not analysed), saves 10,000 new items on the
first source of the first stock, then the same items with other quantities, each in its own
transaction as a request would, prints items/s and the slowest statements
(``before_cursor_execute`` timings), and deletes the items again.

To compare two versions of the code on the same database, run it alternately with
``PYTHONPATH=<a copy of the other version's src>``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text

import datagen
from openmsi import db
from openmsi.indexer import service
from openmsi.inventory import source_items
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.settings import Settings

NAME = "openmsi_save_profile"
ITEMS = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default=NAME)
    parser.add_argument("--fresh", action="store_true", help="create and fill the database first")
    args = parser.parse_args()
    name = args.database
    url = args.server.rsplit("/", 1)[0] + f"/{name}"
    if args.fresh:
        admin = create_engine(args.server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        admin.dispose()
        openmsi = Path(sys.executable).with_name("openmsi")
        subprocess.run([str(openmsi), "migrate"], env={**os.environ, "OPENMSI_DATABASE_URL": url}, check=True)
    settings = Settings(database_url=url)
    database = db.Database(db.make_engine(settings))
    indexing = service.Indexing.from_settings(settings)
    config = StockItemConfiguration.from_settings(settings)
    if args.fresh:
        datagen.generate(database.engine)
    timings: list[tuple[float, str]] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def _started(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        conn.info["started"] = time.perf_counter()

    @event.listens_for(database.engine, "after_cursor_execute")
    def _ended(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        timings.append((time.perf_counter() - conn.info["started"], " ".join(statement.split())[:90]))

    with database.read_sessions() as session:
        stock_ids = service.all_stock_ids(session)
    for stock_id in stock_ids:
        with database.write_sessions.begin() as session:
            service.rebuild_stock(session, config, stock_id)
    with database.read_sessions() as session:
        source_code = session.execute(
            text("SELECT source_code FROM inventory_source_stock_link WHERE stock_id = :s ORDER BY priority"),
            {"s": min(s for s in stock_ids if s != 1)},
        ).scalar()
    for what, offset in (("new", 1), ("update", 7)):
        items = [
            {"sku": f"PROFILE-{n:06d}", "source_code": source_code, "quantity": n % 100 + offset, "status": 1}
            for n in range(ITEMS)
        ]
        timings.clear()
        started = time.perf_counter()
        with database.write_sessions.begin() as session:
            source_items.save_source_items(session, indexing, items)
        seconds = time.perf_counter() - started
        print(f"{what}: {seconds:.3f}s {ITEMS / seconds:,.0f} items/s")
        for duration, statement in sorted(timings, reverse=True)[:5]:
            print(f"   {duration:.3f}s {statement}")
    with database.write_sessions.begin() as session:
        items = [{"sku": f"PROFILE-{n:06d}", "source_code": source_code} for n in range(ITEMS)]
        source_items.delete_source_items(session, indexing, items)
    database.dispose()


if __name__ == "__main__":
    main()
