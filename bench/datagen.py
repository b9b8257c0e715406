"""Deterministic bulk data for the inventory benchmarks: S sources, K stocks, N SKUs.

Every generated source holds one item per SKU (so S × N source items), written with one
``INSERT … SELECT`` over a generated series per source (SQLite: a recursive CTE, PostgreSQL:
``generate_series``; other backends fall back to executemany in batches of 50,000). Each stock
is linked to a fixed, seeded subset of the sources; quantities and statuses are functions of
(seed, source, SKU number), so two runs with the same arguments produce the same database.

The index is left empty: run ``openmsi reindex`` (or ``indexer.service.rebuild_stock``) after.

    .venv/bin/python bench/datagen.py --url sqlite:///bench.db --sources 10 --stocks 3 --skus 100000
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, create_engine, insert, select, text
from sqlalchemy.engine import make_url

SOURCE_PREFIX = "gen_src_"
STOCK_PREFIX = "Generated Stock "
SKU_PREFIX = "SKU-"
BATCH = 50_000


@dataclass(frozen=True)
class Generated:
    """What was generated: codes, stock ids and each stock's linked sources (in priority order)."""

    source_codes: list[str]
    stock_ids: list[int]
    links: dict[int, list[str]] = field(default_factory=dict)
    skus: int = 0
    seed: int = 0

    @property
    def source_items(self) -> int:
        return len(self.source_codes) * self.skus


def sku(number: int) -> str:
    return f"{SKU_PREFIX}{number:07d}"


# The same formulas in Python (for callers that need expected values) and in SQL (below):
# quantity in 0..999, status 0 for one item in ten.
def quantity(seed: int, source_index: int, number: int) -> int:
    return (number * 7919 + source_index * 104_729 + seed * 31) % 1000


def status(seed: int, source_index: int, number: int) -> int:
    return 0 if (number * 31 + source_index * 17 + seed) % 10 == 0 else 1


def _series_insert(backend: str) -> str | None:
    columns = "INSERT INTO inventory_source_item (source_code, sku, quantity, status) "
    values = (
        "SELECT :source_code, {sku}, (i * 7919 + :source_index * 104729 + :seed * 31) % 1000, "
        "CASE WHEN (i * 31 + :source_index * 17 + :seed) % 10 = 0 THEN 0 ELSE 1 END "
    )
    if backend == "sqlite":
        return (
            columns
            + "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :skus) "
            + values.format(sku=f"'{SKU_PREFIX}' || printf('%07d', i)")
            + "FROM n"
        )
    if backend == "postgresql":
        return (
            columns
            + values.format(sku=f"'{SKU_PREFIX}' || lpad(i::text, 7, '0')")
            + "FROM generate_series(0, :skus - 1) AS n(i)"
        )
    return None


def generate(
    engine: Engine, *, sources: int = 10, stocks: int = 3, skus: int = 100_000, seed: int = 42
) -> Generated:
    """Add the generated sources, stocks, links and source items to a migrated database."""
    from openmsi.models import Source, SourceItem, Stock, StockSourceLink, table_of

    if sources < 1 or stocks < 1 or skus < 1:
        raise ValueError("sources, stocks and skus must be ≥ 1")
    rng = random.Random(seed)
    codes = [f"{SOURCE_PREFIX}{index:02d}" for index in range(sources)]
    # Each stock gets a seeded subset of about 60 % of the sources, never all of them when there
    # are two or more, so that every stock has a source left to link later.
    per_stock = max(1, min(sources - 1, round(sources * 0.6))) if sources > 1 else 1
    backend = engine.dialect.name
    statement = _series_insert(backend)
    with engine.begin() as connection:
        connection.execute(
            insert(table_of(Source)),
            [
                {
                    "source_code": code,
                    "name": f"Generated source {code}",
                    "enabled": True,
                    "country_id": "US",
                    "postcode": "10001",
                }
                for code in codes
            ],
        )
        stock_table = table_of(Stock)
        stock_ids = []
        for number in range(stocks):
            result = connection.execute(insert(stock_table).values(name=f"{STOCK_PREFIX}{number + 1}"))
            stock_ids.append(int(result.inserted_primary_key[0]))
        links: dict[int, list[str]] = {}
        link_rows = []
        for stock_id in stock_ids:
            chosen = sorted(rng.sample(codes, per_stock))
            links[stock_id] = chosen
            link_rows += [
                {"stock_id": stock_id, "source_code": code, "priority": priority}
                for priority, code in enumerate(chosen, start=1)
            ]
        connection.execute(insert(table_of(StockSourceLink)), link_rows)
        item_table = table_of(SourceItem)
        for index, code in enumerate(codes):
            if statement is not None:
                connection.execute(
                    text(statement), {"source_code": code, "source_index": index, "seed": seed, "skus": skus}
                )
                continue
            for start in range(0, skus, BATCH):
                connection.execute(
                    insert(item_table),
                    [
                        {
                            "source_code": code,
                            "sku": sku(number),
                            "quantity": quantity(seed, index, number),
                            "status": status(seed, index, number),
                        }
                        for number in range(start, min(skus, start + BATCH))
                    ],
                )
    if backend == "postgresql":
        # What autovacuum would do shortly after a bulk load; plans on empty statistics mislead.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    return Generated(codes, stock_ids, links, skus, seed)


def count_items(engine: Engine) -> int:
    from sqlalchemy import func

    from openmsi.models import SourceItem, table_of

    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(table_of(SourceItem))) or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of the database (migrated first)")
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--stocks", type=int, default=3)
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    from openmsi import schema

    url = make_url(args.url)
    engine = create_engine(url)
    try:
        schema.upgrade(engine)
        started = time.perf_counter()
        generated = generate(engine, sources=args.sources, stocks=args.stocks, skus=args.skus, seed=args.seed)
        elapsed = time.perf_counter() - started
        print(
            f"{generated.source_items} source items on {len(generated.source_codes)} sources "
            f"in {elapsed:.1f}s"
        )
        for stock_id, codes in generated.links.items():
            print(f"stock {stock_id}: {', '.join(codes)}")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
