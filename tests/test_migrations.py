"""The migrations build exactly the schema the models describe, both ways, on every engine."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select

from openmsi import db, schema
from openmsi.models import Base, SalesChannel, Source, Stock, StockSourceLink, StoreView, Website
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
