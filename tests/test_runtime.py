"""The request runtime's seam (``runtime.serve``): a deadlock victim runs again, a database
failure becomes the route's Magento error, and a route may be anonymous and made of several
units of work (the token route's shape)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, exc, func, select
from sqlalchemy.orm import Session

from conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from factories import assert_envelope, source_item
from openmsi import runtime
from openmsi.db import Database
from openmsi.indexer.service import Indexing
from openmsi.integration.router import ADMIN_TOKEN
from openmsi.models import LoginFailure, SourceItem
from openmsi.settings import Settings

SOURCE_ITEMS = "/rest/V1/inventory/source-items"
# MariaDB's deadlock error number: what db.is_retryable recognises on every driver.
DEADLOCK = (1213, "Deadlock found when trying to get lock; try restarting transaction")


@contextmanager
def failing(database: Database, table: str, times: int, args: tuple[Any, ...]) -> Iterator[list[int]]:
    """The first ``times`` statements writing ``table`` fail as the database would fail them."""
    dbapi_error = database.engine.dialect.loaded_dbapi.OperationalError
    failures: list[int] = []

    def fail(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        writes = statement.lstrip().upper().startswith("INSERT") and table in statement.lower()
        if writes and len(failures) < times:
            failures.append(1)
            raise exc.OperationalError(statement, parameters, dbapi_error(*args))

    event.listen(database.engine, "before_cursor_execute", fail)
    try:
        yield failures
    finally:
        event.remove(database.engine, "before_cursor_execute", fail)


def item_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(SourceItem)) or 0)


def test_a_deadlock_victim_runs_again(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    body = {"sourceItems": [source_item("SKU-1", "default", 5)]}
    with failing(database, "inventory_source_item", 2, DEADLOCK) as failures:
        response = client.post(SOURCE_ITEMS, json=body, headers=auth_headers)
    assert response.status_code == 200, response.text
    assert failures == [1, 1]
    assert item_count(session) == 1


def test_a_deadlock_every_time_is_the_routes_error(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    body = {"sourceItems": [source_item("SKU-1", "default", 5)]}
    with failing(database, "inventory_source_item", 100, DEADLOCK) as failures:
        response = client.post(SOURCE_ITEMS, json=body, headers=auth_headers)
    assert_envelope(response, 400, {"message": "Could not save Source Item"})
    assert len(failures) == runtime.WRITE_ATTEMPTS
    assert item_count(session) == 0


def test_another_database_failure_is_not_retried(
    client: TestClient, auth_headers: dict[str, str], database: Database
) -> None:
    body = {"sourceItems": [source_item("SKU-1", "default", 5)]}
    with failing(database, "inventory_source_item", 100, (2006, "server has gone away")) as failures:
        response = client.post(SOURCE_ITEMS, json=body, headers=auth_headers)
    assert_envelope(response, 400, {"message": "Could not save Source Item"})
    assert failures == [1]


def test_an_anonymous_route_of_several_steps(
    settings: Settings, database: Database, admin_token: str, session: Session
) -> None:
    """The token route, mounted alone: no ACL check, and the failed login's count is committed
    by its own write step although the answer is a 401."""
    app = FastAPI()
    app.state.settings, app.state.database = settings, database
    app.state.indexing = Indexing.from_settings(settings)
    runtime.mount(app, [ADMIN_TOKEN])
    runtime.install_handlers(app)
    client = TestClient(app)
    url = "/rest" + ADMIN_TOKEN.path
    response = client.post(url, json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), str) and response.json() != admin_token
    response = client.post(url, json={"username": ADMIN_USERNAME, "password": "wrong-password"})
    assert response.status_code == 401
    assert session.scalar(select(LoginFailure.failures_count)) == 1
    assert_envelope(client.post(url, json={"username": "admin"}), 400, {
        "message": '"%fieldName" is required. Enter and try again.', "parameters": {"fieldName": "password"}
    })  # fmt: skip


def test_a_read_whose_connection_the_server_closed_runs_again_once(
    client: TestClient, auth_headers: dict[str, str], database: Database
) -> None:
    """Pooled connections are not pinged: the first statement on one the server closed fails
    as a disconnect, and the read runs again on a fresh connection."""
    dbapi_error = database.engine.dialect.loaded_dbapi.OperationalError
    failures: list[int] = []

    def disconnect(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if "inventory_source" in statement and not failures:
            failures.append(1)
            raise exc.OperationalError(
                statement,
                parameters,
                dbapi_error("server closed the connection"),
                connection_invalidated=True,
            )

    event.listen(database.engine, "before_cursor_execute", disconnect)
    try:
        response = client.get("/rest/V1/inventory/sources/default", headers=auth_headers)
    finally:
        event.remove(database.engine, "before_cursor_execute", disconnect)
    assert response.status_code == 200, response.text
    assert response.json()["source_code"] == "default"
    assert failures == [1]


@contextmanager
def refusing_connections(database: Database) -> Iterator[None]:
    """Every new connection fails as a server that refuses clients makes it fail; the pool is
    emptied first, so that each request has to connect."""
    engine = database.engine

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise engine.dialect.loaded_dbapi.OperationalError("sorry, too many clients already")

    database.dispose()
    event.listen(engine, "do_connect", refuse)
    try:
        yield
    finally:
        event.remove(engine, "do_connect", refuse)
        database.dispose()


def test_a_database_that_refuses_connections_is_a_503_never_a_500(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    source = {"source_code": "unreachable_wh", "name": "U", "country_id": "US", "postcode": "1"}
    with refusing_connections(database):
        answers = [
            client.get("/rest/V1/inventory/stocks/1", headers=auth_headers),
            client.get("/rest/V1/inventory/sources?searchCriteria[pageSize]=5", headers=auth_headers),
            client.post("/rest/V1/inventory/sources", json={"source": source}, headers=auth_headers),
        ]
    for response in answers:
        assert_envelope(response, 503, {"message": runtime.DATABASE_UNAVAILABLE})
        assert response.headers["retry-after"] == "1"
    assert client.get("/rest/V1/inventory/sources/unreachable_wh", headers=auth_headers).status_code == 404
