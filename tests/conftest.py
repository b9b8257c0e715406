"""Test fixtures: every database test runs once per engine, on a fresh database built by the
real migrations.

- SQLite always runs (a file in a temporary folder).
- PostgreSQL and MariaDB run when their servers answer (defaults: the local servers of this
  project's machines, see README); each run creates its own database and drops it afterwards.
  Unreachable servers are skipped, unless ``OPENMSI_TEST_REQUIRE_ENGINES=1`` (CI) makes them
  an error.
- Between tests the data is put back to Magento's install seed, so tests never see each
  other's rows; the admin user and its token survive (argon2 is slow on purpose).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from openmsi import db, schema
from openmsi.app import create_app
from openmsi.models import (
    AdminToken,
    AdminUser,
    Geoname,
    IdempotencyKey,
    Job,
    LoginFailure,
    LowQuantityNotification,
    Order,
    OrderItem,
    Reservation,
    SalesChannel,
    Source,
    SourceItem,
    Stock,
    StockIndexRow,
    StockSourceLink,
    StoreGroup,
    StoreView,
    Website,
)
from openmsi.settings import Settings

ENGINES = [e.strip() for e in os.environ.get("OPENMSI_TEST_ENGINES", "sqlite,postgresql,mariadb").split(",")]
REQUIRE_ENGINES = os.environ.get("OPENMSI_TEST_REQUIRE_ENGINES") == "1"
SERVER_URLS = {
    "postgresql": os.environ.get(
        "OPENMSI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    ),
    "mariadb": os.environ.get("OPENMSI_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/"),
}
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-password-1"


def _server_unavailable(engine_name: str, error: Exception) -> None:
    message = f"{engine_name} server not reachable ({error.__class__.__name__}: {error})"
    if REQUIRE_ENGINES:
        pytest.fail(message + " and OPENMSI_TEST_REQUIRE_ENGINES=1", pytrace=False)
    pytest.skip(message)


def _create_server_database(engine_name: str) -> tuple[str, Any]:
    """Create an empty database on the server; returns its URL and a function that drops it."""
    server_url = make_url(SERVER_URLS[engine_name])
    name = f"openmsi_test_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if engine_name == "postgresql":
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                connection.execute(
                    text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
                )
    except Exception as error:
        admin.dispose()
        _server_unavailable(engine_name, error)

    def drop() -> None:
        with admin.connect() as connection:
            if engine_name == "postgresql":
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()

    return server_url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session", params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def database_url(engine_name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if engine_name == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'openmsi.db'}"
        return
    url, drop = _create_server_database(engine_name)
    try:
        yield url
    finally:
        drop()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # No worker thread in the shared app: tests that need one run it themselves, so no test
    # sees jobs vanish behind its back.
    # No remembered tokens either: tests that change a token's row expect the next request to see
    # it; tests/test_token_cache.py covers the window.
    return Settings(database_url=database_url, embedded_worker=False, token_cache_seconds=0, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[db.Database]:
    database = db.Database(db.make_engine(settings))
    schema.upgrade(database.engine)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture(scope="session")
def seed_snapshot(database: db.Database) -> dict[type[Any], list[dict[str, Any]]]:
    """The rows the migration seeded, to put back after each test."""
    tables = (Website, StoreGroup, StoreView, Source, Stock, StockSourceLink, SalesChannel)
    snapshot: dict[type[Any], list[dict[str, Any]]] = {}
    with database.read_sessions() as session:
        for model in tables:
            table = model.__table__
            snapshot[model] = [dict(row._mapping) for row in session.execute(table.select())]
    return snapshot


@pytest.fixture(scope="session")
def app(settings: Settings, database: db.Database) -> FastAPI:
    return create_app(settings, database)


@pytest.fixture(scope="session")
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


@pytest.fixture(scope="session")
def admin_token(client: TestClient, database: db.Database) -> str:
    from openmsi import auth

    with database.write_sessions.begin() as session:
        auth.create_admin(session, ADMIN_USERNAME, ADMIN_PASSWORD)
    response = client.post(
        "/rest/V1/integration/admin/token", json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()
    return token


@pytest.fixture
def auth_headers(admin_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture(autouse=True)
def _reset_data(request: pytest.FixtureRequest) -> Iterator[None]:
    """Put every table back to the install seed after a database test."""
    if "database" not in request.fixturenames:
        yield
        return
    database: db.Database = request.getfixturevalue("database")
    seed: dict[type[Any], list[dict[str, Any]]] = request.getfixturevalue("seed_snapshot")
    yield
    with database.write_sessions.begin() as session:
        reset_to_seed(session, seed)


def reset_to_seed(session: Session, seed: dict[type[Any], list[dict[str, Any]]]) -> None:
    session.execute(delete(Job))
    for model in (IdempotencyKey, OrderItem, Order):
        session.execute(delete(model))
    for model in (StockIndexRow, SourceItem, Reservation, LowQuantityNotification, Geoname):
        session.execute(delete(model))
    session.execute(delete(LoginFailure))
    session.execute(delete(AdminToken).where(AdminToken.user_id.not_in(_fixture_user_ids(session))))
    session.execute(delete(AdminUser).where(AdminUser.username != ADMIN_USERNAME))
    session.execute(delete(SalesChannel))
    session.execute(delete(StockSourceLink))
    session.execute(delete(Stock).where(Stock.stock_id != 1))
    session.execute(delete(Source).where(Source.source_code != "default"))
    session.execute(delete(StoreView).where(StoreView.store_id > 1))
    session.execute(delete(StoreGroup).where(StoreGroup.group_id > 1))
    session.execute(delete(Website).where(Website.website_id > 1))
    for row in seed[Source]:
        session.execute(update(Source).where(Source.source_code == row["source_code"]).values(row))
    for row in seed[Stock]:
        session.execute(update(Stock).where(Stock.stock_id == row["stock_id"]).values(row))
    for model in (StockSourceLink, SalesChannel):
        session.execute(model.__table__.insert(), seed[model])
    _restart_stock_ids(session)


def _restart_stock_ids(session: Session) -> None:
    """The next generated stock id is 2 again, as on a fresh install (Magento's tutorial relies
    on it)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.execute(text("UPDATE sqlite_sequence SET seq = 1 WHERE name = 'inventory_stock'"))
    elif dialect == "postgresql":
        session.execute(text("SELECT setval(pg_get_serial_sequence('inventory_stock', 'stock_id'), 1)"))
    else:
        # InnoDB lowers AUTO_INCREMENT to MAX(id) + 1 when asked for less.
        session.execute(text("ALTER TABLE inventory_stock AUTO_INCREMENT = 1"))


def _fixture_user_ids(session: Session) -> list[int]:
    return list(
        session.scalars(
            AdminUser.__table__.select()
            .with_only_columns(AdminUser.user_id)
            .where(AdminUser.username == ADMIN_USERNAME)
        )
    )


@pytest.fixture
def session(database: db.Database) -> Iterator[Session]:
    """A read session for asserting what the database holds."""
    with database.read_sessions() as session:
        yield session


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def live_server(app: FastAPI) -> Iterator[str]:
    """The app behind a real uvicorn on a loopback port, for tests with concurrent clients."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def tmp_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("work")


@pytest.fixture
def empty_database_url(engine_name: str, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, on the same engine as the rest of the run."""
    if engine_name == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url, drop = _create_server_database(engine_name)
    try:
        yield url
    finally:
        drop()
