"""How requests reach PostgreSQL and MariaDB: pooled connections are not pinged before use, so
a connection the server closed must be replaced without the client seeing an error."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from openmsi import db

WEBSITES = "/rest/V1/store/websites"
SOURCES = "/rest/V1/inventory/sources"


def _close_server_side(database: db.Database, database_url: str) -> int:
    """Have the server end every connection to the test database but the one asking, and wait
    until they are gone (the server ends them shortly after it is asked to)."""
    admin = create_engine(make_url(database_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if database.engine.dialect.name == "postgresql":
                query = (
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                return len(connection.execute(text(query)).all())
            ids = connection.execute(
                text(
                    "SELECT ID FROM information_schema.PROCESSLIST "
                    "WHERE DB = DATABASE() AND ID <> CONNECTION_ID()"
                )
            ).scalars()
            killed = 0
            for connection_id in ids:
                connection.execute(text(f"KILL CONNECTION {int(connection_id)}"))
                killed += 1
            return killed
    finally:
        admin.dispose()


@pytest.fixture
def server_database(database: db.Database) -> db.Database:
    if database.inline:
        pytest.skip("SQLite has no server to close connections")
    return database


def _warm_pool(client: TestClient, headers: dict[str, str]) -> None:
    for _ in range(3):
        assert client.get(WEBSITES, headers=headers).status_code == 200


def test_a_read_after_the_server_closed_the_pooled_connections_succeeds(
    server_database: db.Database, database_url: str, client: TestClient, auth_headers: dict[str, str]
) -> None:
    _warm_pool(client, auth_headers)
    assert _close_server_side(server_database, database_url) > 0
    response = client.get(WEBSITES, headers=auth_headers)
    assert response.status_code == 200, response.text


def test_a_write_after_the_server_closed_the_pooled_connections_succeeds(
    server_database: db.Database, database_url: str, client: TestClient, auth_headers: dict[str, str]
) -> None:
    _warm_pool(client, auth_headers)
    assert _close_server_side(server_database, database_url) > 0
    source = {"source_code": "after_restart", "name": "After restart", "country_id": "US", "postcode": "1"}
    response = client.post(SOURCES, json={"source": source}, headers=auth_headers)
    assert response.status_code == 200, response.text
    assert client.get(f"{SOURCES}/after_restart", headers=auth_headers).json()["name"] == "After restart"


def test_pooled_connections_are_not_pinged(server_database: db.Database) -> None:
    # The ping was a round trip on every checkout; the closed-socket check replaces it.
    assert server_database.engine.pool._pre_ping is False


SALABLE = "/rest/V1/inventory/get-product-salable-quantity/no-such-sku/1"


def test_a_quick_read_after_the_server_closed_its_held_connections_succeeds(
    server_database: db.Database, database_url: str, client: TestClient, auth_headers: dict[str, str]
) -> None:
    # Quick reads run on threads that each hold a connection (db.Database.quick_reader).
    for _ in range(3 * db.QUICK_READ_THREADS):
        assert client.get(SALABLE, headers=auth_headers).status_code == 404
    assert _close_server_side(server_database, database_url) > 0
    for _ in range(3 * db.QUICK_READ_THREADS):
        response = client.get(SALABLE, headers=auth_headers)
        assert response.status_code == 404, response.text
        assert response.json()["message"].startswith("Following products with requested skus were not found")
