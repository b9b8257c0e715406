"""The verified-token window (OPENMSI_TOKEN_CACHE_SECONDS): a process may remember a verified
token for a few seconds, so a deactivated user or a deleted token is refused within that window,
an expired token at once, and a window of 0 checks every request."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from factories import assert_envelope
from openmsi import auth, db
from openmsi.app import create_app
from openmsi.models import AdminToken, AdminUser
from openmsi.settings import Settings

MakeClient = Callable[..., TestClient]
WEBSITES = "/rest/V1/store/websites"
SOURCE = "/rest/V1/inventory/sources/default"
USERNAME = "cached-user"
PASSWORD = "cached-password-1"
NOT_AUTHORIZED = {
    "message": "The consumer isn't authorized to access %resources.",
    "parameters": {"resources": "Magento_Backend::stores"},
}


@pytest.fixture
def make_client(database: db.Database, database_url: str) -> Iterator[MakeClient]:
    """A client of an app of its own with the given settings, on the shared test database."""
    databases: list[db.Database] = []

    def make(**overrides: float) -> TestClient:
        settings = Settings(database_url=database_url, embedded_worker=False, _env_file=None, **overrides)  # type: ignore[call-arg]
        own = db.Database(db.make_engine(settings))
        databases.append(own)
        return TestClient(create_app(settings, own))

    with database.write_sessions.begin() as session:
        auth.create_admin(session, USERNAME, PASSWORD)
    auth.forget_verified_tokens()
    try:
        yield make
    finally:
        auth.forget_verified_tokens()
        for own in databases:
            own.dispose()


def login(client: TestClient) -> dict[str, str]:
    response = client.post(
        "/rest/V1/integration/admin/token", json={"username": USERNAME, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()}"}


def deactivate(database: db.Database) -> None:
    with database.write_sessions.begin() as session:
        session.execute(update(AdminUser).where(AdminUser.username == USERNAME).values(is_active=False))


def test_a_verified_token_is_remembered_for_the_window(
    make_client: MakeClient, database: db.Database
) -> None:
    client = make_client(token_cache_seconds=60)
    headers = login(client)
    assert client.get(WEBSITES, headers=headers).status_code == 200
    deactivate(database)
    # Within the window the process does not ask the database again (on every lane).
    assert client.get(WEBSITES, headers=headers).status_code == 200
    assert client.get(SOURCE, headers=headers).status_code == 200


def test_a_deactivated_user_is_refused_once_the_window_has_passed(
    make_client: MakeClient, database: db.Database
) -> None:
    client = make_client(token_cache_seconds=0.5)
    headers = login(client)
    assert client.get(WEBSITES, headers=headers).status_code == 200
    deactivate(database)
    time.sleep(0.6)
    assert_envelope(client.get(WEBSITES, headers=headers), 401, NOT_AUTHORIZED)


def test_a_deleted_token_is_refused_once_the_window_has_passed(
    make_client: MakeClient, database: db.Database
) -> None:
    client = make_client(token_cache_seconds=0.5)
    headers = login(client)
    assert client.get(SOURCE, headers=headers).status_code == 200
    with database.write_sessions.begin() as session:
        user_id = select(AdminUser.user_id).where(AdminUser.username == USERNAME).scalar_subquery()
        session.execute(delete(AdminToken).where(AdminToken.user_id == user_id))
    time.sleep(0.6)
    assert_envelope(client.get(WEBSITES, headers=headers), 401, NOT_AUTHORIZED)


def test_an_expired_token_is_refused_at_once_whatever_the_window(make_client: MakeClient) -> None:
    # Tokens live 1.5 s here, the window is a minute: expiry must not wait for the window.
    client = make_client(token_cache_seconds=60, admin_token_lifetime_hours=1.5 / 3600)
    headers = login(client)
    assert client.get(WEBSITES, headers=headers).status_code == 200
    time.sleep(1.6)
    assert_envelope(client.get(WEBSITES, headers=headers), 401, NOT_AUTHORIZED)


def test_a_window_of_zero_checks_every_request(make_client: MakeClient, database: db.Database) -> None:
    client = make_client(token_cache_seconds=0)
    headers = login(client)
    assert client.get(WEBSITES, headers=headers).status_code == 200
    deactivate(database)
    assert_envelope(client.get(WEBSITES, headers=headers), 401, NOT_AUTHORIZED)


def test_the_window_is_per_process_memory_that_can_be_dropped(
    make_client: MakeClient, database: db.Database
) -> None:
    client = make_client(token_cache_seconds=60)
    headers = login(client)
    assert client.get(WEBSITES, headers=headers).status_code == 200
    deactivate(database)
    auth.forget_verified_tokens()
    assert_envelope(client.get(WEBSITES, headers=headers), 401, NOT_AUTHORIZED)


NEW_SOURCE = {"source": {"source_code": "window_wh", "name": "W", "country_id": "US", "postcode": "1"}}
SOURCE_NOT_AUTHORIZED = {
    "message": "The consumer isn't authorized to access %resources.",
    "parameters": {"resources": "Magento_InventoryApi::source_edit"},
}


def test_a_write_checks_its_token_from_memory_within_the_window(
    make_client: MakeClient, database: db.Database
) -> None:
    client = make_client(token_cache_seconds=60)
    headers = login(client)
    assert client.get(WEBSITES, headers=headers).status_code == 200
    deactivate(database)
    # Checked before the write's transaction, from the process's memory: no connection taken.
    response = client.post("/rest/V1/inventory/sources", json=NEW_SOURCE, headers=headers)
    assert response.status_code == 200, response.text


def test_a_window_of_zero_checks_every_write_whatever_the_process_remembers(
    make_client: MakeClient, database: db.Database
) -> None:
    remembering = make_client(token_cache_seconds=60)
    strict = make_client(token_cache_seconds=0)
    headers = login(strict)
    # Another application of the same process remembers the token...
    assert remembering.get(WEBSITES, headers=headers).status_code == 200
    deactivate(database)
    # ... which the one configured with a window of 0 must not use, for writes and reads.
    response = strict.post("/rest/V1/inventory/sources", json=NEW_SOURCE, headers=headers)
    assert_envelope(response, 401, SOURCE_NOT_AUTHORIZED)
    assert_envelope(strict.get(WEBSITES, headers=headers), 401, NOT_AUTHORIZED)
