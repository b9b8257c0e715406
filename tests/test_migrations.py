"""The migrations build exactly the schema the models describe, both ways, on every engine."""

from __future__ import annotations

import json

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from openmsi import db, schema
from openmsi.models import (
    Base,
    Job,
    SalesChannel,
    Source,
    Stock,
    StockIndexRow,
    StockSourceLink,
    StoreView,
    Website,
    utcnow,
)
from openmsi.settings import Settings


def _database(url: str) -> db.Database:
    return db.Database(db.make_engine(Settings(database_url=url, _env_file=None)))  # type: ignore[call-arg]


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    database = _database(empty_database_url)
    try:
        schema.upgrade(database.engine)
        assert schema.is_up_to_date(database.engine)
        schema.downgrade(database.engine, "base")
        assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
        schema.upgrade(database.engine)
        assert schema.current_revision(database.engine) == schema.head_revision()
    finally:
        database.dispose()


def test_models_match_migrations(empty_database_url: str) -> None:
    database = _database(empty_database_url)
    try:
        schema.upgrade(database.engine)
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        database.dispose()


def test_seed_is_magento_install(empty_database_url: str) -> None:
    database = _database(empty_database_url)
    try:
        schema.upgrade(database.engine)
        with database.read_sessions() as session:
            source = session.get(Source, "default")
            assert source is not None
            assert (source.name, source.enabled, source.country_id, source.postcode) == (
                "Default Source", True, "US", "00000",
            )  # fmt: skip
            stock = session.get(Stock, 1)
            assert stock is not None and stock.name == "Default Stock"
            links = session.execute(select(StockSourceLink.stock_id, StockSourceLink.source_code,
                                           StockSourceLink.priority)).all()  # fmt: skip
            assert [tuple(link) for link in links] == [(1, "default", 1)]
            channels = session.execute(
                select(SalesChannel.type, SalesChannel.code, SalesChannel.stock_id)
            ).all()
            assert [tuple(c) for c in channels] == [("website", "base", 1)]
            assert sorted(session.scalars(select(Website.code))) == ["admin", "base"]
            assert sorted(session.scalars(select(StoreView.code))) == ["admin", "default"]
        # The next generated stock id follows the seeded one on every engine.
        with database.write_sessions.begin() as session:
            session.add(Stock(name="Next"))
            session.flush()
            assert session.scalar(select(func.max(Stock.stock_id))) == 2
    finally:
        database.dispose()


def test_0003_names_the_subject_of_existing_jobs_and_counts_index_rows(empty_database_url: str) -> None:
    database = _database(empty_database_url)
    try:
        schema.upgrade(database.engine, "0002")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO inventory_source (source_code, name, enabled, country_id, postcode, "
                    "use_default_carrier_config, is_pickup_location_active) VALUES "
                    "('eu-1', 'eu-1', :on, 'FR', '1', :on, :off), "
                    "('eu-2', 'eu-2', :on, 'FR', '1', :on, :off), ('off', 'off', :off, 'FR', '1', :on, :off)"
                ),
                {"on": True, "off": False},
            )
            connection.execute(text("INSERT INTO inventory_stock (stock_id, name) VALUES (10, 'EU')"))
            connection.execute(
                text(
                    "INSERT INTO inventory_source_stock_link (stock_id, source_code, priority) VALUES "
                    "(10, 'eu-1', 1), (10, 'eu-2', 2), (10, 'off', 3)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO inventory_source_item (source_code, sku, quantity, status) VALUES "
                    "('eu-1', 'a', 5, 1), ('eu-2', 'A', 3, 0), ('off', 'a', 9, 1), ('eu-2', 'b', 1, 1)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO inventory_stock_index (stock_id, sku, quantity, is_salable) VALUES "
                    "(10, 'a', 5, :on), (10, 'b', 1, :on)"
                ),
                {"on": True},
            )
            now = utcnow().replace(tzinfo=None)
            for stock_id, kind in ((10, "reindex.stock"), (2, "reindex.stock"), (None, "other")):
                payload = json.dumps({"stock_id": stock_id, "reason": "x"} if stock_id else {"x": 1})
                connection.execute(
                    text(
                        "INSERT INTO job (kind, payload, status, run_after, attempts, max_attempts, "
                        "created_at) VALUES (:kind, :payload, 'queued', :now, 0, 10, :now)"
                    ),
                    {"kind": kind, "payload": payload, "now": now},
                )
        schema.upgrade(database.engine)
        with database.read_sessions() as session:
            assert list(session.execute(select(Job.kind, Job.subject).order_by(Job.id))) == [
                ("reindex.stock", "stock:10"),
                ("reindex.stock", "stock:2"),
                ("other", None),
            ]
            counts = session.execute(
                select(StockIndexRow.sku, StockIndexRow.item_count, StockIndexRow.in_stock_count).order_by(
                    StockIndexRow.sku
                )
            )
            assert [tuple(row) for row in counts] == [("a", 2, 1), ("b", 1, 1)]
    finally:
        database.dispose()
