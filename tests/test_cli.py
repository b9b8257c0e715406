"""`openmsi migrate` and the start-up rule of `openmsi serve` (SQLite migrates itself, shared
servers must be migrated on purpose)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from openmsi import db, schema
from openmsi.app import PendingMigrations, prepare_database
from openmsi.cli import app
from openmsi.settings import Settings, get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _database(url: str) -> db.Database:
    return db.Database(db.make_engine(Settings(database_url=url, _env_file=None)))  # type: ignore[call-arg]


def test_migrate_brings_an_empty_database_to_head(empty_database_url: str) -> None:
    result = runner.invoke(app, ["migrate"], env={"OPENMSI_DATABASE_URL": empty_database_url})
    assert result.exit_code == 0, result.output
    assert f"revision {schema.head_revision()}" in result.output
    database = _database(empty_database_url)
    try:
        assert schema.is_up_to_date(database.engine)
    finally:
        database.dispose()


def test_serve_refuses_a_server_database_with_pending_migrations(
    engine_name: str, empty_database_url: str
) -> None:
    if engine_name == "sqlite":
        pytest.skip("SQLite is migrated by `serve` itself")
    result = runner.invoke(app, ["serve", "--port", "1"], env={"OPENMSI_DATABASE_URL": empty_database_url})
    assert result.exit_code == 1
    assert "openmsi migrate" in result.output
    database = _database(empty_database_url)
    try:
        assert schema.current_revision(database.engine) is None
    finally:
        database.dispose()


def test_prepare_database_migrates_sqlite_only(engine_name: str, empty_database_url: str) -> None:
    database = _database(empty_database_url)
    try:
        if engine_name == "sqlite":
            prepare_database(database)
            assert schema.is_up_to_date(database.engine)
        else:
            with pytest.raises(PendingMigrations):
                prepare_database(database)
            schema.upgrade(database.engine)
            prepare_database(database)
    finally:
        database.dispose()
