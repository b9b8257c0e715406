"""How long `openmsi reservations inconsistencies` and the reservation cleanup take on large
tables, per engine: N orders of one line each in one stock, of which 90 % were shipped (two
reservations that sum to 0) and 10 % are open (one reservation), plus 10 wrong orders.

    .venv/bin/python bench/reservations_bench.py       # sqlite,postgresql,mariadb, 100,000 orders
    .venv/bin/python bench/reservations_bench.py --engines postgresql --orders 500000

Each engine gets a fresh database (a temporary file; `openmsi_bench_<random>` on the servers,
dropped at the end). Printed per engine: the rows, then the seconds of the first
`inconsistencies` (finds the 10), of the cleanup (deletes the shipped orders' rows) and of
`inconsistencies` again on what is left.
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from openmsi import db, schema
from openmsi.models import Order, OrderItem, Reservation, table_of
from openmsi.sales import consistency, consistency_repository
from openmsi.settings import Settings

SERVERS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/mysql",
}
BATCH = 5000


def _metadata(event: str, increment_id: str) -> str:
    document = {"event_type": event, "object_type": "order", "object_id": increment_id,
                "object_increment_id": increment_id}  # fmt: skip
    return json.dumps(document, separators=(",", ":"))


def fill(database: db.Database, orders: int) -> int:
    """Orders, lines and reservations straight into the tables; returns the reservation rows."""
    wrong = {n * (orders // 10) + 1 for n in range(10)}
    rows = 0
    for start in range(0, orders, BATCH):
        numbers = range(start, min(start + BATCH, orders))
        with database.write_sessions.begin() as session:
            session.execute(
                table_of(Order).insert(),
                [{"increment_id": f"{n:09d}", "stock_id": 1, "sales_channel_type": "website",
                  "sales_channel_code": "base", "status": "placed" if n % 10 == 0 else "complete"}
                 for n in numbers],
            )  # fmt: skip
            chosen = select(Order.increment_id, Order.order_id).where(
                Order.increment_id.in_([f"{n:09d}" for n in numbers])
            )
            ids = {increment_id: order_id for increment_id, order_id in session.execute(chosen)}
            session.execute(
                table_of(OrderItem).insert(),
                [{"order_id": ids[f"{n:09d}"], "sku": f"SKU-{n % 1000:04d}", "line_number": 1,
                  "qty_ordered": Decimal(1), "qty_shipped": Decimal(0 if n % 10 == 0 else 1)}
                 for n in numbers],
            )  # fmt: skip
            reservations = []
            for n in numbers:
                sku = f"SKU-{n % 1000:04d}"
                if n not in wrong:
                    reservations.append({"stock_id": 1, "sku": sku, "quantity": Decimal(-1),
                                         "metadata": _metadata("order_placed", f"{n:09d}")})  # fmt: skip
                if n % 10:
                    reservations.append({"stock_id": 1, "sku": sku, "quantity": Decimal(1),
                                         "metadata": _metadata("shipment_created", f"{n:09d}")})  # fmt: skip
            session.execute(table_of(Reservation).insert(), reservations)
            rows += len(reservations)
    return rows


def timed(work: object) -> tuple[float, object]:
    started = time.perf_counter()
    result = work()  # type: ignore[operator]
    return time.perf_counter() - started, result


def run(engine_name: str, orders: int) -> None:
    drop = None
    if engine_name == "sqlite":
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    else:
        server = make_url(SERVERS[engine_name])
        name = f"openmsi_bench_{secrets.token_hex(4)}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        quote = '"' if engine_name == "postgresql" else "`"
        with admin.connect() as connection:
            extra = "" if engine_name == "postgresql" else " CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
            connection.execute(text(f"CREATE DATABASE {quote}{name}{quote}{extra}"))
        url = server.set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            force = " WITH (FORCE)" if engine_name == "postgresql" else ""
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {quote}{name}{quote}{force}"))
            admin.dispose()

    database = db.Database(db.make_engine(Settings(database_url=url, _env_file=None)))  # type: ignore[call-arg]
    try:
        schema.upgrade(database.engine)
        rows = fill(database, orders)
        if engine_name == "postgresql":
            with database.engine.connect() as connection:
                connection.execute(text("ANALYZE"))
                connection.commit()
        with database.read_sessions() as session:
            first, found = timed(lambda: consistency.inconsistencies(session))
        with database.write_sessions.begin() as session:
            finding, _ = timed(lambda: consistency_repository.deletable_reservation_ids(session))
            session.rollback()
        with database.write_sessions.begin() as session:
            cleanup, deleted = timed(lambda: consistency.cleanup(session))
        with database.read_sessions() as session:
            again, left = timed(lambda: consistency.inconsistencies(session))
            remaining = session.scalar(select(func.count()).select_from(table_of(Reservation)))
        print(
            f"{engine_name:<10} {orders:>9,} orders {rows:>9,} reservations | inconsistencies "
            f"{first:6.2f} s ({len(found)}) | cleanup {cleanup:6.2f} s ({deleted:,} deleted; "
            f"finding them {finding:.2f} s) | "  # type: ignore[arg-type]
            f"inconsistencies again {again:6.2f} s ({len(left)}, {remaining:,} rows left)"  # type: ignore[arg-type]
        )
    finally:
        database.dispose()
        if drop is not None:
            drop()


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--engines", default="sqlite,postgresql,mariadb")
    parser.add_argument("--orders", type=int, default=100_000)
    options = parser.parse_args()
    for engine_name in options.engines.split(","):
        run(engine_name.strip(), options.orders)


if __name__ == "__main__":
    main()
