"""Idempotency-Key on every write (spec orders.md, "Idempotency-Key"; ``runtime.serve``'s keyed
path and ``idempotency.py``): replays that write nothing, 409 and 422, keys per admin user,
expiry and takeover of abandoned keys, the workers' purge, what a failed first request leaves,
and concurrent duplicates that run the work once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, exc, func, insert, select, update
from sqlalchemy.orm import Session

from conftest import ADMIN_USERNAME
from factories import (
    INVENTORY,
    JSON_UTF8,
    assert_envelope,
    create_source,
    create_stock,
    put_source_items,
    source_item,
    stored_source_items,
)
from openmsi import auth, idempotency
from openmsi.db import Database
from openmsi.indexer import service as indexer_service
from openmsi.inventory import service as inventory_service
from openmsi.models import AdminUser, IdempotencyKey, Stock, StockSourceLink, utcnow
from openmsi.settings import Settings

STOCKS = f"{INVENTORY}/stocks"
SOURCES = f"{INVENTORY}/sources"
LINKS = f"{INVENTORY}/stock-source-links"
REPLAYED = "Idempotent-Replayed"
WAREHOUSE = {"source_code": "wh", "name": "Warehouse", "country_id": "US", "postcode": "00000"}


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def in_progress(key: str) -> dict[str, Any]:
    return {"message": 'A request with Idempotency-Key "%1" is still in progress.', "parameters": [key]}


def used_for_another(key: str) -> dict[str, Any]:
    return {"message": 'Idempotency-Key "%1" was used for another request.', "parameters": [key]}


def key_rows(session: Session) -> list[tuple[str, str, int | None]]:
    """(username, key, response_status) of every stored key, in a new read transaction."""
    session.rollback()
    rows = session.execute(
        select(AdminUser.username, IdempotencyKey.idempotency_key, IdempotencyKey.response_status)
        .join(AdminUser, AdminUser.user_id == IdempotencyKey.user_id)
        .order_by(AdminUser.username, IdempotencyKey.idempotency_key)
    )
    return [(username, key, status) for username, key, status in rows]


def stocks(session: Session) -> dict[int, str]:
    session.rollback()
    return {stock_id: name for stock_id, name in session.execute(select(Stock.stock_id, Stock.name))}


def expire(database: Database, key: str, *, in_flight: bool = False) -> None:
    """Make the key's row expired: a finished answer past its TTL, or (``in_flight``) a claim
    whose process died, past its lease."""
    values: dict[str, Any] = {"expires_at": utcnow() - timedelta(seconds=1)}
    if in_flight:
        values |= {"response_status": None, "response_body": None}
    with database.write_sessions.begin() as session:
        session.execute(update(IdempotencyKey).where(IdempotencyKey.idempotency_key == key).values(values))


def assert_replay(first: Any, repeat: Any) -> None:
    assert REPLAYED not in first.headers
    assert repeat.headers[REPLAYED] == "true"
    assert (repeat.status_code, repeat.content) == (first.status_code, first.content)
    assert repeat.headers["content-type"] == first.headers["content-type"] == JSON_UTF8


# --- Replays of Magento routes ----------------------------------------------------------------
#
# Each case: what exists before, the keyed request and its answer, a change made after it
# without a key (which running the request again would undo, or fail on), and how that change
# shows in the database.


def _no_setup(client: TestClient, headers: dict[str, str]) -> None:
    pass


def _with_stock(client: TestClient, headers: dict[str, str]) -> None:
    assert create_stock(client, headers, "Before") == 2


def _with_item(client: TestClient, headers: dict[str, str]) -> None:
    create_source(client, headers, WAREHOUSE)
    put_source_items(client, headers, [source_item("SKU-1", "wh", 5)])


def _with_source_and_stock(client: TestClient, headers: dict[str, str]) -> None:
    create_source(client, headers, WAREHOUSE)
    _with_stock(client, headers)


def _rename_source(client: TestClient, headers: dict[str, str]) -> None:
    create_source(client, headers, {**WAREHOUSE, "name": "Changed"})


def _rename_stock(client: TestClient, headers: dict[str, str]) -> None:
    response = client.put(f"{STOCKS}/2", json={"stock": {"name": "Changed"}}, headers=headers)
    assert response.status_code == 200, response.text


def _recreate_stock(client: TestClient, headers: dict[str, str]) -> None:
    assert create_stock(client, headers, "Again", stock_id=2) == 2


def _put_item_back(client: TestClient, headers: dict[str, str]) -> None:
    put_source_items(client, headers, [source_item("SKU-1", "wh", 7)])


def _unlink(client: TestClient, headers: dict[str, str]) -> None:
    body = {"links": [{"source_code": "wh", "stock_id": 2, "priority": 1}]}
    response = client.post(f"{LINKS}-delete", json=body, headers=headers)
    assert response.status_code == 200, response.text


def _source_name(session: Session) -> Any:
    return inventory_service.get_source(session, "wh").name


def _links(session: Session) -> Any:
    session.rollback()
    return session.execute(select(StockSourceLink.stock_id, StockSourceLink.source_code)).all()


REPLAY_CASES = [
    pytest.param(
        _no_setup, "POST", SOURCES, {"source": WAREHOUSE}, b"[]", _rename_source,
        lambda session: _source_name(session) == "Changed", id="source-save",
    ),
    pytest.param(
        _no_setup, "POST", STOCKS, {"stock": {"name": "Keyed"}}, b"2", _no_setup,
        lambda session: stocks(session) == {1: "Default Stock", 2: "Keyed"}, id="stock-create-id",
    ),
    pytest.param(
        _with_stock, "PUT", f"{STOCKS}/2", {"stock": {"name": "Keyed"}}, b"2", _rename_stock,
        lambda session: stocks(session)[2] == "Changed", id="stock-put",
    ),
    pytest.param(
        _with_stock, "DELETE", f"{STOCKS}/2", None, b"[]", _recreate_stock,
        lambda session: stocks(session)[2] == "Again", id="stock-delete",
    ),
    pytest.param(
        _with_item, "POST", f"{INVENTORY}/source-items-delete",
        {"sourceItems": [source_item("SKU-1", "wh", 5)]}, b"[]", _put_item_back,
        lambda session: stored_source_items(session) == {("wh", "SKU-1"): (7.0, 1)}, id="source-items-delete",
    ),
    pytest.param(
        _with_source_and_stock, "POST", LINKS,
        {"links": [{"source_code": "wh", "stock_id": 2, "priority": 1}]}, b"[]", _unlink,
        lambda session: _links(session) == [(1, "default")], id="stock-source-links",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("setup", "method", "url", "body", "answer", "change", "changed"), REPLAY_CASES)
def test_a_repeat_gets_the_stored_answer_and_writes_nothing(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    setup: Callable[[TestClient, dict[str, str]], None],
    method: str,
    url: str,
    body: dict[str, Any] | None,
    answer: bytes,
    change: Callable[[TestClient, dict[str, str]], None],
    changed: Callable[[Session], bool],
) -> None:
    setup(client, auth_headers)
    headers = keyed(auth_headers, "retry-me-1")
    first = client.request(method, url, json=body, headers=headers)
    assert (first.status_code, first.content) == (200, answer)
    change(client, auth_headers)
    repeat = client.request(method, url, json=body, headers=headers)
    assert_replay(first, repeat)
    assert changed(session)
    assert key_rows(session) == [(ADMIN_USERNAME, "retry-me-1", 200)]


def test_a_key_with_every_visible_ascii_character(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    key = "".join(chr(code) for code in range(0x21, 0x7F)) + "a" * (255 - 94)
    first = client.post(STOCKS, json={"stock": {"name": "Long"}}, headers=keyed(auth_headers, key))
    repeat = client.post(STOCKS, json={"stock": {"name": "Long"}}, headers=keyed(auth_headers, key))
    assert_replay(first, repeat)
    assert key_rows(session) == [(ADMIN_USERNAME, key, 200)]
    # Compared byte for byte on every engine: another case is another key (not a 422).
    other = client.post(
        STOCKS, json={"stock": {"name": "Long 2"}}, headers=keyed(auth_headers, key.swapcase())
    )
    assert (other.status_code, REPLAYED in other.headers) == (200, False)
    assert sorted(stocks(session)) == [1, 2, 3]


# --- Another request with the same key ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        pytest.param("PUT", f"{STOCKS}/2", {"stock": {"name": "Other"}}, id="body"),
        pytest.param("PUT", f"{STOCKS}/3", {"stock": {"name": "First"}}, id="path"),
        pytest.param("DELETE", f"{STOCKS}/2", None, id="method"),
        pytest.param("PUT", "/rest/default/V1/inventory/stocks/2", {"stock": {"name": "First"}}, id="store"),
        pytest.param("PUT", f"{STOCKS}/2?x=1", {"stock": {"name": "First"}}, id="query"),
    ],
)
def test_the_key_of_another_request_is_422(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    method: str,
    url: str,
    body: dict[str, Any] | None,
) -> None:
    headers = keyed(auth_headers, "k-422")
    first = client.put(f"{STOCKS}/2", json={"stock": {"name": "First"}}, headers=headers)
    assert first.status_code == 200, first.text
    response = client.request(method, url, json=body, headers=headers)
    assert_envelope(response, 422, used_for_another("k-422"))
    assert REPLAYED not in response.headers
    assert stocks(session) == {1: "Default Stock", 2: "First"}
    # The key still answers its own request.
    assert_replay(first, client.put(f"{STOCKS}/2", json={"stock": {"name": "First"}}, headers=headers))


def test_json_spelled_differently_is_another_request(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    """The fingerprint is the body's bytes, not its meaning."""
    headers = {**keyed(auth_headers, "k-bytes"), "Content-Type": "application/json"}
    assert client.post(STOCKS, content=b'{"stock":{"name":"A"}}', headers=headers).status_code == 200
    response = client.post(STOCKS, content=b'{"stock": {"name": "A"}}', headers=headers)
    assert_envelope(response, 422, used_for_another("k-bytes"))
    assert sorted(stocks(session)) == [1, 2]


# --- Keys per admin user ---------------------------------------------------------------------


@pytest.fixture
def other_admin_headers(client: TestClient, database: Database) -> dict[str, str]:
    with database.write_sessions.begin() as session:
        auth.create_admin(session, "other-admin", "other-password-1")
    response = client.post(
        "/rest/V1/integration/admin/token", json={"username": "other-admin", "password": "other-password-1"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()}"}


def test_keys_belong_to_their_admin_user(
    client: TestClient, auth_headers: dict[str, str], other_admin_headers: dict[str, str], session: Session
) -> None:
    mine = client.post(STOCKS, json={"stock": {"name": "Mine"}}, headers=keyed(auth_headers, "shared"))
    theirs = client.post(
        STOCKS, json={"stock": {"name": "Theirs"}}, headers=keyed(other_admin_headers, "shared")
    )
    assert (mine.content, theirs.content) == (b"2", b"3")
    assert REPLAYED not in theirs.headers
    assert_replay(
        mine, client.post(STOCKS, json={"stock": {"name": "Mine"}}, headers=keyed(auth_headers, "shared"))
    )
    assert_replay(
        theirs,
        client.post(STOCKS, json={"stock": {"name": "Theirs"}}, headers=keyed(other_admin_headers, "shared")),
    )
    assert key_rows(session) == [(ADMIN_USERNAME, "shared", 200), ("other-admin", "shared", 200)]
    assert stocks(session) == {1: "Default Stock", 2: "Mine", 3: "Theirs"}


# --- Expiry -----------------------------------------------------------------------------------


def test_an_expired_key_runs_its_request_again(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    headers = keyed(auth_headers, "k-ttl")
    body = {"stock": {"name": "Keyed"}}
    first = client.put(f"{STOCKS}/2", json=body, headers=headers)
    assert first.content == b"2"
    _rename_stock(client, auth_headers)
    assert_replay(first, client.put(f"{STOCKS}/2", json=body, headers=headers))
    assert stocks(session)[2] == "Changed"
    expire(database, "k-ttl")
    again = client.put(f"{STOCKS}/2", json=body, headers=headers)
    assert (again.content, REPLAYED in again.headers) == (b"2", False)
    assert stocks(session)[2] == "Keyed"
    # Once expired, a key may serve another request too.
    expire(database, "k-ttl")
    other = client.post(STOCKS, json={"stock": {"name": "Another"}}, headers=headers)
    assert (other.content, REPLAYED in other.headers) == (b"3", False)
    assert_replay(other, client.post(STOCKS, json={"stock": {"name": "Another"}}, headers=headers))
    assert stocks(session) == {1: "Default Stock", 2: "Keyed", 3: "Another"}
    assert key_rows(session) == [(ADMIN_USERNAME, "k-ttl", 200)]


def test_the_answer_is_kept_for_the_ttl(
    settings: Settings, database: Database, auth_headers: dict[str, str], session: Session
) -> None:
    client = TestClient(_app(settings, database, idempotency_ttl=3600))
    before = utcnow()
    assert (
        client.post(STOCKS, json={"stock": {"name": "A"}}, headers=keyed(auth_headers, "k")).status_code
        == 200
    )
    session.rollback()
    expires_at = session.scalar(select(IdempotencyKey.expires_at))
    assert expires_at is not None
    assert before + timedelta(seconds=3600) <= expires_at <= utcnow() + timedelta(seconds=3600)


def _app(settings: Settings, database: Database, **changes: Any) -> FastAPI:
    from openmsi.app import create_app

    return create_app(settings.model_copy(update=changes), database)


# --- While the first request runs -------------------------------------------------------------


@contextmanager
def held_stock_saves(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Stock saves wait inside their unit of work until ``release`` is set."""
    entered, release = threading.Event(), threading.Event()
    original = inventory_service.save_stock

    def held(session: Session, data: dict[str, Any]) -> int:
        entered.set()
        assert release.wait(timeout=120)
        return original(session, data)

    monkeypatch.setattr(inventory_service, "save_stock", held)
    try:
        yield entered, release
    finally:
        release.set()


@pytest.mark.concurrency
def test_a_repeat_while_the_first_runs_is_409(
    monkeypatch: pytest.MonkeyPatch, auth_headers: dict[str, str], session: Session, live_server: str
) -> None:
    headers = keyed(auth_headers, "k-409")
    body = {"stock": {"name": "Held"}}
    url = live_server + STOCKS
    with held_stock_saves(monkeypatch) as (entered, release), ThreadPoolExecutor(1) as pool:
        first = pool.submit(httpx.post, url, json=body, headers=headers, timeout=120)
        assert entered.wait(timeout=60)
        repeat = httpx.post(url, json=body, headers=headers, timeout=60)
        other = httpx.post(url, json={"stock": {"name": "Other"}}, headers=headers, timeout=60)
        while_running = key_rows(session)
        release.set()
        answer = first.result(timeout=120)
    assert_envelope(repeat, 409, in_progress("k-409"))
    assert_envelope(other, 422, used_for_another("k-409"))
    assert while_running == [(ADMIN_USERNAME, "k-409", None)]
    assert (answer.status_code, answer.content) == (200, b"2")
    assert_replay(answer, httpx.post(url, json=body, headers=headers, timeout=60))
    assert stocks(session) == {1: "Default Stock", 2: "Held"}


@pytest.mark.concurrency
def test_concurrent_duplicates_run_the_work_once(
    auth_headers: dict[str, str], session: Session, live_server: str
) -> None:
    threads = 8
    barrier = threading.Barrier(threads)
    headers = keyed(auth_headers, "k-race")

    def send(_: int) -> tuple[int, bytes, str | None]:
        with httpx.Client(base_url=live_server, headers=headers, timeout=120) as http:
            barrier.wait(timeout=60)
            response = http.post(STOCKS, json={"stock": {"name": "Once"}})
            return response.status_code, response.content, response.headers.get(REPLAYED)

    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(send, range(threads)))
    assert [answer for answer in answers if answer[2] is None and answer[0] == 200] == [(200, b"2", None)]
    for status, content, replayed in answers:
        if status == 200:
            assert content == b"2"
        else:
            assert (status, json.loads(content), replayed) == (409, in_progress("k-race"), None)
    assert stocks(session) == {1: "Default Stock", 2: "Once"}
    assert key_rows(session) == [(ADMIN_USERNAME, "k-race", 200)]


def test_an_abandoned_key_is_taken_over_after_its_lease(
    monkeypatch: pytest.MonkeyPatch,
    app: FastAPI,
    auth_headers: dict[str, str],
    database: Database,
    session: Session,
) -> None:
    """A process killed during the work leaves its claim in flight: repeats get 409 until the
    claim's lease has passed, then one of them runs the request."""
    headers = keyed(auth_headers, "k-killed")
    body = {"stock": {"name": "Survivor"}}

    def killed(_session: Session, _data: dict[str, Any]) -> int:
        raise RuntimeError("the process died here")

    with monkeypatch.context() as patch:
        patch.setattr(inventory_service, "save_stock", killed)
        patch.setattr(idempotency, "release", lambda _session, _claim: None)  # it never got there
        response = TestClient(app, raise_server_exceptions=False).post(STOCKS, json=body, headers=headers)
    assert response.status_code == 500
    assert key_rows(session) == [(ADMIN_USERNAME, "k-killed", None)]
    assert_envelope(TestClient(app).post(STOCKS, json=body, headers=headers), 409, in_progress("k-killed"))
    expire(database, "k-killed", in_flight=True)
    taken_over = TestClient(app).post(STOCKS, json=body, headers=headers)
    assert (taken_over.status_code, taken_over.content, REPLAYED in taken_over.headers) == (200, b"2", False)
    assert stocks(session) == {1: "Default Stock", 2: "Survivor"}


def test_a_request_whose_key_was_taken_over_rolls_back(
    monkeypatch: pytest.MonkeyPatch, client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    """A request that outlived its lease and lost its key to a repeat must not commit too."""
    original = idempotency.claim

    def taken_over_after(session: Session, *args: Any) -> Any:
        claimed = original(session, *args)
        # Another request's takeover, committed while this one's work runs.
        session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.idempotency_key == claimed.key)
            .values(created_at=claimed.claimed_at + timedelta(seconds=1))
        )
        return claimed

    monkeypatch.setattr(idempotency, "claim", taken_over_after)
    response = client.post(STOCKS, json={"stock": {"name": "Late"}}, headers=keyed(auth_headers, "k-late"))
    assert_envelope(response, 409, in_progress("k-late"))
    assert stocks(session) == {1: "Default Stock"}
    assert key_rows(session) == [(ADMIN_USERNAME, "k-late", None)]  # the other request's claim


# --- What a failed first request leaves ----------------------------------------------------------


def test_a_magento_error_is_the_answer_and_is_replayed(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    """openmsi's choice (README, "Idempotency-Key"): a request that ran and was refused keeps its
    answer, as Stripe keeps every answer of a request that began to run."""
    headers = keyed(auth_headers, "k-404")
    first = client.delete(f"{STOCKS}/99", headers=headers)
    assert_envelope(first, 404, {
        "message": 'There is no stock with "%fieldValue" for "%fieldName". Verify and try again.',
        "parameters": {"fieldName": "stock_id", "fieldValue": 99},
    })  # fmt: skip
    assert create_stock(client, auth_headers, "Now it exists", stock_id=99) == 99
    assert_replay(first, client.delete(f"{STOCKS}/99", headers=headers))
    assert 99 in stocks(session)
    invalid = client.post(
        SOURCES, json={"source": {"source_code": "x"}}, headers=keyed(auth_headers, "k-400")
    )
    assert invalid.status_code == 400
    assert_replay(
        invalid,
        client.post(SOURCES, json={"source": {"source_code": "x"}}, headers=keyed(auth_headers, "k-400")),
    )
    assert key_rows(session) == [(ADMIN_USERNAME, "k-400", 400), (ADMIN_USERNAME, "k-404", 404)]


def test_an_unreadable_body_stores_nothing(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    """Refused before the key is claimed (the Content-Type is not in the fingerprint): a
    corrected repeat runs."""
    headers = keyed(auth_headers, "k-body")
    body = json.dumps({"stock": {"name": "Typed"}}).encode()
    response = client.post(STOCKS, content=body, headers={**headers, "Content-Type": "text/plain"})
    assert_envelope(
        response, 400, {"message": "Server cannot understand Content-Type HTTP header media type text/plain"}
    )
    assert key_rows(session) == []
    fixed = client.post(STOCKS, content=body, headers={**headers, "Content-Type": "application/json"})
    assert (fixed.status_code, fixed.content, REPLAYED in fixed.headers) == (200, b"2", False)


@contextmanager
def failing_statements(database: Database, prefix: str) -> Iterator[list[str]]:
    """Statements starting with ``prefix`` fail as a lost connection would (not a deadlock)."""
    dbapi_error = database.engine.dialect.loaded_dbapi.OperationalError
    failed: list[str] = []

    def fail(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if " ".join(statement.split()).upper().startswith(prefix):
            failed.append(statement)
            raise exc.OperationalError(statement, parameters, dbapi_error(2006, "server has gone away"))

    event.listen(database.engine, "before_cursor_execute", fail)
    try:
        yield failed
    finally:
        event.remove(database.engine, "before_cursor_execute", fail)


def test_a_database_failure_releases_the_key(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    create_source(client, auth_headers, WAREHOUSE)
    headers = keyed(auth_headers, "k-db")
    body = {"sourceItems": [source_item("SKU-1", "wh", 5)]}
    with failing_statements(database, "INSERT INTO INVENTORY_SOURCE_ITEM") as failed:
        response = client.post(f"{INVENTORY}/source-items", json=body, headers=headers)
    assert failed
    assert_envelope(response, 400, {"message": "Could not save Source Item"})
    assert key_rows(session) == []
    again = client.post(f"{INVENTORY}/source-items", json=body, headers=headers)
    assert (again.status_code, again.content, REPLAYED in again.headers) == (200, b"[]", False)
    assert stored_source_items(session) == {("wh", "SKU-1"): (5.0, 1)}


def test_the_answer_commits_with_the_work(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    """Storing the answer fails: the work it answers rolls back with it."""
    headers = keyed(auth_headers, "k-atomic")
    with failing_statements(database, "UPDATE OPENMSI_IDEMPOTENCY_KEY SET RESPONSE_STATUS") as failed:
        response = client.post(STOCKS, json={"stock": {"name": "Atomic"}}, headers=headers)
    assert failed
    assert_envelope(response, 400, {"message": "Could not save Stock"})
    assert stocks(session) == {1: "Default Stock"}
    assert key_rows(session) == []


def test_an_unexpected_error_releases_the_key(
    monkeypatch: pytest.MonkeyPatch, app: FastAPI, auth_headers: dict[str, str], session: Session
) -> None:
    headers = keyed(auth_headers, "k-500")
    with monkeypatch.context() as patch:
        patch.setattr(inventory_service, "save_stock", lambda _session, _data: 1 / 0)
        response = TestClient(app, raise_server_exceptions=False).post(
            STOCKS, json={"stock": {"name": "A"}}, headers=headers
        )
    assert response.status_code == 500
    assert key_rows(session) == []
    again = TestClient(app).post(STOCKS, json={"stock": {"name": "A"}}, headers=headers)
    assert (again.status_code, again.content, REPLAYED in again.headers) == (200, b"2", False)


# --- The header ---------------------------------------------------------------------------------


INVALID_KEY = {"message": "The Idempotency-Key header must be 1 to 255 visible ASCII characters."}


@pytest.mark.parametrize(
    "values",
    [
        pytest.param([b""], id="empty"),
        pytest.param([b"a" * 256], id="too-long"),
        pytest.param([b"two words"], id="space"),
        pytest.param([b"tab\there"], id="tab"),
        pytest.param(["clé".encode()], id="utf-8"),
        pytest.param([b"\xe9t\xe9"], id="latin-1"),
        pytest.param([b"one", b"two"], id="twice"),
        pytest.param([b"same", b"same"], id="same-twice"),
    ],
)
def test_a_bad_key_is_refused_before_anything_is_written(
    client: TestClient, admin_token: str, session: Session, values: list[bytes]
) -> None:
    headers = [(b"authorization", f"Bearer {admin_token}".encode())]
    headers += [(b"idempotency-key", value) for value in values]
    response = client.post(STOCKS, json={"stock": {"name": "Never"}}, headers=headers)
    assert_envelope(response, 400, INVALID_KEY)
    assert stocks(session) == {1: "Default Stock"}
    assert key_rows(session) == []


def test_the_token_is_checked_before_the_key(client: TestClient) -> None:
    response = client.post(STOCKS, json={"stock": {"name": "Never"}}, headers={"Idempotency-Key": ""})
    assert_envelope(response, 401, {
        "message": "The consumer isn't authorized to access %resources.",
        "parameters": {"resources": "Magento_InventoryApi::stock_edit"},
    })  # fmt: skip


# POSTs that take no key: the anonymous token route, and a read that Magento sends as a POST.
UNKEYED_POSTS = (
    "/rest/V1/integration/admin/token",
    "/rest/V1/inventory/source-selection-algorithm-result",
)


def test_a_post_that_only_reads_ignores_the_header(
    client: TestClient, session: Session, auth_headers: dict[str, str]
) -> None:
    body = {
        "inventoryRequest": {"stockId": 1, "items": [{"sku": "none", "qty": 1}]},
        "algorithmCode": "priority",
    }
    headers = {**auth_headers, "Idempotency-Key": "selection"}
    path = "/rest/V1/inventory/source-selection-algorithm-result"
    first = client.post(path, json=body, headers=headers)
    again = client.post(path, json={**body, "algorithmCode": "fewest-splits"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert "Idempotent-Replayed" not in again.headers
    assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_every_documented_write_reads_the_header(
    app: FastAPI, client: TestClient, auth_headers: dict[str, str]
) -> None:
    """Every POST, PUT and DELETE with an admin user that writes takes the header (a bad one is
    refused), and the document says so; the anonymous token route has no user to keep keys for,
    and a POST that only reads (source selection) writes nothing a repeat could duplicate."""
    document = client.get("/openapi.json").json()
    keyed_operations = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            names = [parameter["name"] for parameter in operation.get("parameters", [])]
            if method in ("post", "put", "delete") and path not in UNKEYED_POSTS:
                assert "Idempotency-Key" in names, (method, path)
                assert {"409", "422"} <= set(operation["responses"]), (method, path)
                assert REPLAYED in operation["responses"]["200"]["headers"]
                keyed_operations.append((method, path))
            else:
                assert "Idempotency-Key" not in names, (method, path)
    served = {
        (method.lower(), route.path)  # type: ignore[attr-defined]
        for route in app.routes
        for method in getattr(route, "methods", ())
        if method in ("POST", "PUT", "DELETE")
    }
    assert set(keyed_operations) == served - {("post", path) for path in UNKEYED_POSTS}
    for method, path in keyed_operations:
        url = path.replace("{stockId}", "2").replace("{sourceCode}", "wh")
        response = client.request(
            method, url, json={}, headers={**auth_headers, "Idempotency-Key": "bad key"}
        )
        assert_envelope(response, 400, INVALID_KEY)


def test_the_token_route_ignores_the_header(client: TestClient, session: Session, admin_token: str) -> None:
    from conftest import ADMIN_PASSWORD

    credentials = {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
    headers = {"Idempotency-Key": "sign-in"}
    first = client.post("/rest/V1/integration/admin/token", json=credentials, headers=headers)
    second = client.post("/rest/V1/integration/admin/token", json=credentials, headers=headers)
    assert first.status_code == second.status_code == 200
    assert len({first.json(), second.json(), admin_token}) == 3
    assert REPLAYED not in second.headers
    assert key_rows(session) == []


def test_a_write_without_the_header_never_reads_the_keys(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        assert create_stock(client, auth_headers, "Plain") == 2
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    assert statements
    assert not [statement for statement in statements if "openmsi_idempotency_key" in statement]
    assert key_rows(session) == []


# --- The workers' purge ---------------------------------------------------------------------------


def _insert_keys(database: Database, keys: dict[str, timedelta], *, finished: bool = True) -> None:
    """Keys of the fixture's admin that expire at now + the given offsets."""
    now = utcnow()
    with database.write_sessions.begin() as session:
        user_id = session.scalar(select(AdminUser.user_id).where(AdminUser.username == ADMIN_USERNAME))
        session.execute(
            insert(IdempotencyKey),
            [
                {
                    "user_id": user_id,
                    "idempotency_key": key,
                    "fingerprint": "0" * 64,
                    "response_status": 200 if finished else None,
                    "response_body": "[]" if finished else None,
                    "created_at": now - timedelta(days=2),
                    "expires_at": now + offset,
                }
                for key, offset in keys.items()
            ],
        )


class _OneRound(threading.Event):
    """A worker's stop event that ends ``run_forever`` after one round."""

    def wait(self, timeout: float | None = None) -> bool:
        self.set()
        return True


def test_idle_workers_purge_expired_keys(database: Database, settings: Settings, session: Session) -> None:
    _insert_keys(database, {"finished-expired": timedelta(seconds=-1), "finished-live": timedelta(hours=1)})
    _insert_keys(
        database, {"abandoned": timedelta(seconds=-1), "running": timedelta(minutes=5)}, finished=False
    )
    worker = indexer_service.make_worker(database, settings)
    worker.stopping = _OneRound()
    worker.run_forever()
    assert key_rows(session) == [(ADMIN_USERNAME, "finished-live", 200), (ADMIN_USERNAME, "running", None)]


def test_the_purge_deletes_a_batch_at_a_time(database: Database, session: Session) -> None:
    _insert_keys(database, {f"old-{index}": timedelta(seconds=-index - 1) for index in range(5)})
    _insert_keys(database, {"young": timedelta(hours=1)})
    purged = []
    for _ in range(4):
        with database.write_sessions.begin() as write:
            purged.append(idempotency.purge_expired(write, batch=2))
    assert purged == [2, 2, 1, 0]
    assert key_rows(session) == [(ADMIN_USERNAME, "young", 200)]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1
