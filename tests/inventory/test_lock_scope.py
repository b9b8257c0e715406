"""Which writes wait for which (the lock order of openmsi.indexer.service), through HTTP and the
database: writes that would change nothing take no lock, an enable/disable does not wait for
the source's item writers on PostgreSQL, and the index stays exact when item saves, link
changes and enables/disables of the same sources run at once.

Setting: Magento's link fixture (stock 10: eu-1, eu-2, eu-3, eu-disabled; stock 20: us-1;
stock 30: all five) with a few items.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import (
    INVENTORY,
    SOURCE_ITEMS,
    create_link_fixture,
    create_stock,
    index_differences,
    insert_sources,
    put_source_items,
    queued_reindex_jobs,
    source_item,
)
from openmsi.db import Database
from openmsi.indexer import service as indexer
from openmsi.models import StockSourceLink
from openmsi.settings import Settings

LINKS = f"{INVENTORY}/stock-source-links"
LINKS_DELETE = f"{INVENTORY}/stock-source-links-delete"
SOURCES = f"{INVENTORY}/sources"
# Long enough for an unblocked request on a loaded machine, far shorter than the wait it
# would otherwise have: until the held lock is released.
UNBLOCKED_SECONDS = 20


@pytest.fixture
def items(client: TestClient, auth_headers: dict[str, str]) -> None:
    create_link_fixture(client, auth_headers)
    put_source_items(
        client,
        auth_headers,
        [source_item("A", "eu-1", 5, 1), source_item("A", "eu-2", 3, 1), source_item("C", "eu-3", 2, 1)],
    )


def _server_engine(database: Database) -> str:
    name = database.engine.dialect.name
    if name == "sqlite":
        pytest.skip("SQLite serialises every writer (BEGIN IMMEDIATE): no row lock to wait for")
    return name


@contextmanager
def held(database: Database, lock: Callable[[Session], None]) -> Iterator[None]:
    """A writer in flight: another transaction holding these locks until the block ends."""
    with database.write_sessions.begin() as session:
        lock(session)
        yield


def answered_while_held(
    database: Database, lock: Callable[[Session], None], request: Callable[[], Any]
) -> Any:
    """The request's response, which must come while ``lock`` is held elsewhere."""
    with ThreadPoolExecutor(max_workers=1) as pool, held(database, lock):
        future = pool.submit(request)
        try:
            return future.result(timeout=UNBLOCKED_SECONDS)
        except FutureTimeout:
            pytest.fail("the request waited for the held lock")


def stored_links(session: Session) -> set[tuple[int, str, int]]:
    query = select(StockSourceLink.stock_id, StockSourceLink.source_code, StockSourceLink.priority)
    return {(stock_id, code, priority) for stock_id, code, priority in session.execute(query)}


def source_body(code: str, enabled: bool) -> dict[str, Any]:
    return {"source": {"name": code, "country_id": "FR", "postcode": "postcode", "enabled": enabled}}


@pytest.mark.usefixtures("items")
def test_link_writes_that_change_nothing_take_no_lock(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session, settings: Settings
) -> None:
    _server_engine(database)

    def link_writer_of_eu_3(held_session: Session) -> None:
        indexer.lock_sources(held_session, ["eu-3"])
        indexer.lock_stocks(held_session, [10, 20, 30])

    missing = {"links": [{"stock_id": 20, "source_code": "eu-3"}]}
    response = answered_while_held(
        database, link_writer_of_eu_3, lambda: client.post(LINKS_DELETE, json=missing, headers=auth_headers)
    )
    assert response.status_code == 200, response.text
    standing = {"links": [{"stock_id": 10, "source_code": "EU-3", "priority": 3}]}
    response = answered_while_held(
        database, link_writer_of_eu_3, lambda: client.post(LINKS, json=standing, headers=auth_headers)
    )
    assert response.status_code == 200, response.text
    assert (10, "eu-3", 3) in stored_links(session)
    assert (20, "eu-3") not in {(stock_id, code) for stock_id, code, _ in stored_links(session)}
    # A new priority is a change: it waits, then applies.
    with ThreadPoolExecutor(max_workers=1) as pool:
        with held(database, link_writer_of_eu_3):
            changed = {"links": [{"stock_id": 10, "source_code": "eu-3", "priority": 7}]}
            future = pool.submit(lambda: client.post(LINKS, json=changed, headers=auth_headers))
            with pytest.raises(FutureTimeout):
                future.result(timeout=1)
        assert future.result(timeout=60).status_code == 200
    assert (10, "eu-3", 7) in stored_links(session)
    assert index_differences(session, settings) == []


@pytest.mark.usefixtures("items")
def test_source_save_that_changes_nothing_takes_no_lock(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session, settings: Settings
) -> None:
    _server_engine(database)
    current = client.get(f"{SOURCES}/eu-1", headers=auth_headers).json()
    body = {"source": {key: current[key] for key in ("name", "country_id", "postcode", "enabled")}}

    def source_saver(held_session: Session) -> None:
        indexer.lock_sources(held_session, ["default", "eu-1"])

    response = answered_while_held(
        database, source_saver, lambda: client.put(f"{SOURCES}/eu-1", json=body, headers=auth_headers)
    )
    assert response.status_code == 200, response.text
    # Another name is a change: written once the lock is gone.
    renamed = {"source": {**body["source"], "name": "eu-1 renamed"}}
    with ThreadPoolExecutor(max_workers=1) as pool:
        with held(database, source_saver):
            future = pool.submit(lambda: client.put(f"{SOURCES}/eu-1", json=renamed, headers=auth_headers))
            with pytest.raises(FutureTimeout):
                future.result(timeout=1)
        assert future.result(timeout=60).status_code == 200
    assert client.get(f"{SOURCES}/eu-1", headers=auth_headers).json()["name"] == "eu-1 renamed"
    assert index_differences(session, settings) == []


@pytest.mark.usefixtures("items")
def test_disable_does_not_wait_for_item_writers_source_lock_on_postgresql(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session, settings: Settings
) -> None:
    """An item writer of eu-1 that holds the source and waits for its stocks (here: holds only
    the source) no longer holds up a disable of eu-1 on PostgreSQL; the index is exact after
    both."""
    if _server_engine(database) != "postgresql":
        pytest.skip("MariaDB has no FOR KEY SHARE: the disable waits there, as before")

    def item_writer_of_eu_1(held_session: Session) -> None:
        indexer.lock_sources_shared(held_session, ["eu-1"])

    response = answered_while_held(
        database,
        item_writer_of_eu_1,
        lambda: client.put(f"{SOURCES}/eu-1", json=source_body("eu-1", False), headers=auth_headers),
    )
    assert response.status_code == 200, response.text
    assert client.get(f"{SOURCES}/eu-1", headers=auth_headers).json()["enabled"] is False
    assert index_differences(session, settings) == []
    # A link change of eu-1 still waits for the item writer.
    with ThreadPoolExecutor(max_workers=1) as pool:
        with held(database, item_writer_of_eu_1):
            link = {"links": [{"stock_id": 20, "source_code": "eu-1", "priority": 1}]}
            future = pool.submit(lambda: client.post(LINKS, json=link, headers=auth_headers))
            with pytest.raises(FutureTimeout):
                future.result(timeout=1)
        assert future.result(timeout=60).status_code == 200
    assert index_differences(session, settings) == []


THREADS = 8
ROUNDS = 6
SKUS = [f"T-{n}" for n in range(10)]
TOGGLED = ["tog-0", "tog-1", "tog-2"]


@pytest.mark.concurrency
def test_concurrent_item_batches_enables_and_disables(
    client: TestClient,
    auth_headers: dict[str, str],
    database: Database,
    session: Session,
    settings: Settings,
    live_server: str,
) -> None:
    """Five threads save every (SKU, source) pair in their own order while two enable and
    disable those sources and one links and unlinks one of them: the index is exact after."""
    insert_sources(database, TOGGLED)
    first, second = (create_stock(client, auth_headers, name) for name in ("Toggle A", "Toggle B"))
    fixed = [(first, "tog-0"), (first, "tog-1"), (second, "tog-1"), (second, "tog-2")]
    response = client.post(
        LINKS,
        json={"links": [{"stock_id": s, "source_code": c, "priority": 1} for s, c in fixed]},
        headers=auth_headers,
    )
    assert response.status_code == 200, response.text
    pairs = [(sku, code) for sku in SKUS for code in TOGGLED]
    barrier = threading.Barrier(THREADS)

    def worker(thread: int) -> list[tuple[int, str]]:
        shuffler = random.Random(thread)
        results = []
        with httpx.Client(base_url=live_server, headers=auth_headers, timeout=120) as http:
            barrier.wait(timeout=60)
            for round_ in range(ROUNDS):
                if thread in (5, 6):
                    code = TOGGLED[(thread + round_) % len(TOGGLED)]
                    source = {"source_code": code, "name": code, "country_id": "US", "postcode": "00000"}
                    body = {"source": {**source, "enabled": bool(round_ % 2)}}
                    response = http.put(f"{SOURCES}/{code}", json=body)
                elif thread == 7:
                    link = [{"stock_id": second, "source_code": "tog-0", "priority": 2}]
                    if round_ % 2:
                        response = http.post(LINKS_DELETE, json={"links": link})
                    else:
                        response = http.post(LINKS, json={"links": link})
                else:
                    ordered = pairs[:]
                    shuffler.shuffle(ordered)
                    value = thread * 100 + round_ + 1
                    batch = [
                        source_item(sku, code, value, (value + n) % 2)
                        for n, (sku, code) in enumerate(ordered)
                    ]
                    response = http.post(SOURCE_ITEMS, json={"sourceItems": batch})
                results.append((response.status_code, response.text))
        return results

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = [item for result in pool.map(worker, range(THREADS)) for item in result]

    assert all(status == 200 for status, _ in outcomes), outcomes
    assert index_differences(session, settings) == []
    assert queued_reindex_jobs(session) == []
