"""The stock index after every kind of write (spec indexing.md for its content, openmsi.md
"Index freshness" for its timing): the rows a write leaves are exactly those the spec
defines, `openmsi index verify` finds no difference, and a write that fails leaves items,
index and jobs as they were.

Setting: Magento's link fixture (stock 10: eu-1, eu-2, eu-3, eu-disabled; stock 20: us-1;
stock 30: all five) and the seed (stock 1: default). The shared app refreshes inline.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, exc, update
from sqlalchemy.orm import Session

from factories import (
    INVENTORY,
    SOURCE_ITEMS,
    SOURCE_ITEMS_DELETE,
    assert_envelope,
    create_link_fixture,
    create_stock,
    delete_source_items,
    index_differences,
    index_rows,
    insert_sources,
    put_source_items,
    queued_reindex_jobs,
    source_item,
    stored_source_items,
)
from openmsi.app import create_app
from openmsi.db import Database
from openmsi.models import StockIndexRow
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.sales.reservations import ReservationRow, append_reservations
from openmsi.settings import Settings

LINKS = f"{INVENTORY}/stock-source-links"
LINKS_DELETE = f"{INVENTORY}/stock-source-links-delete"
SOURCES = f"{INVENTORY}/sources"
STOCKS = f"{INVENTORY}/stocks"

Rows = dict[tuple[int, str], tuple[float, bool]]

# A on eu-1 (stocks 10, 30) in stock and eu-2 out of stock; B negative on us-1 (20, 30); C zero
# in stock on eu-3; D out of stock and E in stock on default (stock 1); F only on eu-disabled.
ITEMS = [
    source_item("A", "eu-1", 5, 1),
    source_item("A", "eu-2", 3, 0),
    source_item("B", "us-1", -2, 1),
    source_item("C", "eu-3", 0, 1),
    source_item("D", "default", 4, 0),
    source_item("E", "default", 6, 1),
    source_item("F", "eu-disabled", 9, 1),
]
INDEX: Rows = {
    (1, "D"): (4.0, False),  # legacy default stock: the quantity whatever the status
    (1, "E"): (6.0, True),
    (10, "A"): (5.0, True),  # eu-2's out-of-stock item adds 0
    (10, "C"): (0.0, False),
    (20, "B"): (-2.0, False),
    (30, "A"): (5.0, True),
    (30, "B"): (-2.0, False),
    (30, "C"): (0.0, False),
}


@pytest.fixture
def items(client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings) -> None:
    create_link_fixture(client, auth_headers)
    put_source_items(client, auth_headers, ITEMS)
    assert_fresh(session, settings, INDEX)


def assert_fresh(session: Session, settings: Settings, expected: Rows) -> None:
    assert index_rows(session) == expected
    assert index_differences(session, settings) == []
    assert queued_reindex_jobs(session) == []


def without(rows: Rows, *keys: tuple[int, str]) -> Rows:
    return {key: value for key, value in rows.items() if key not in keys}


# --- Source items -------------------------------------------------------------------------------


@pytest.mark.usefixtures("items")
@pytest.mark.parametrize(
    ("saved", "changes"),
    [
        pytest.param(
            [source_item("A", "eu-2", 3, 1)], {(10, "A"): (8.0, True), (30, "A"): (8.0, True)}, id="in-stock"
        ),
        pytest.param(
            [source_item("A", "eu-1", 5, 0)],
            {(10, "A"): (0.0, False), (30, "A"): (0.0, False)},
            id="out-of-stock",
        ),
        pytest.param(
            [source_item("A", "eu-1", -7.25, 1)],
            {(10, "A"): (-7.25, False), (30, "A"): (-7.25, False)},
            id="negative",
        ),
        pytest.param(
            [source_item("B", "us-1", 0.0001, 1)],
            {(20, "B"): (0.0001, True), (30, "B"): (0.0001, True)},
            id="tiny",
        ),
        pytest.param(
            [source_item("G", "eu-1", 2, 1)],
            {(10, "G"): (2.0, True), (30, "G"): (2.0, True)},
            id="two-stocks",
        ),
        pytest.param([source_item("G", "eu-disabled", 2, 1)], {}, id="disabled-source"),
        pytest.param(
            [source_item("D", "default", 4, 1), source_item("E", "default", 6, 0)],
            {(1, "D"): (4.0, True), (1, "E"): (6.0, False)},
            id="default-status",
        ),
        pytest.param(
            [source_item("D", "default", 0, 1), source_item("H", "default", -3, 1)],
            {(1, "D"): (0.0, False), (1, "H"): (-3.0, False)},
            id="default-not-positive",
        ),
        pytest.param(
            [
                source_item("I", "eu-1", 1, 1),
                source_item("I", "us-1", 2, 1),
                source_item("I", "default", 3, 0),
            ],
            {(1, "I"): (3.0, False), (10, "I"): (1.0, True), (20, "I"): (2.0, True), (30, "I"): (3.0, True)},
            id="every-stock",
        ),
    ],
)
def test_item_save(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    settings: Settings,
    saved: list[dict[str, Any]],
    changes: Rows,
) -> None:
    put_source_items(client, auth_headers, saved)
    assert_fresh(session, settings, {**INDEX, **changes})


@pytest.mark.usefixtures("items")
def test_item_delete(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    def delete(*pairs: tuple[str, str]) -> None:
        response = delete_source_items(client, auth_headers, [{"sku": s, "source_code": c} for s, c in pairs])
        assert response.status_code == 200, response.text

    # A keeps its out-of-stock item on eu-2: its rows stay, worth 0.
    delete(("A", "eu-1"))
    expected = {**INDEX, (10, "A"): (0.0, False), (30, "A"): (0.0, False)}
    assert_fresh(session, settings, expected)
    # Its last contributing item gone, a SKU vanishes from every stock (no zero row).
    delete(("A", "eu-2"), ("D", "default"))
    expected = without(expected, (10, "A"), (30, "A"), (1, "D"))
    assert_fresh(session, settings, expected)
    # Case-insensitive pairs; the item on a disabled source contributes nothing either way.
    delete(("b", "US-1"), ("F", "eu-disabled"))
    expected = without(expected, (20, "B"), (30, "B"))
    assert_fresh(session, settings, expected)


def test_case_variant_skus_across_sources_make_one_row(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    create_link_fixture(client, auth_headers)
    put_source_items(
        client,
        auth_headers,
        [
            source_item("sku-x", "eu-1", 2, 1),
            source_item("SKU-X", "eu-2", 3, 1),
            source_item("Sku-X", "us-1", 4, 0),
        ],
    )
    assert len(stored_source_items(session)) == 3
    rows = {(stock_id, sku.lower()): value for (stock_id, sku), value in index_rows(session).items()}
    assert len(rows) == len(index_rows(session))
    assert rows == {(10, "sku-x"): (5.0, True), (20, "sku-x"): (0.0, False), (30, "sku-x"): (5.0, True)}
    assert index_differences(session, settings) == []

    # Deleting one spelling's item refreshes the row all spellings share.
    response = delete_source_items(client, auth_headers, [{"sku": "SKU-x", "source_code": "eu-1"}])
    assert response.status_code == 200, response.text
    rows = {(stock_id, sku.lower()): value for (stock_id, sku), value in index_rows(session).items()}
    assert rows == {(10, "sku-x"): (3.0, True), (20, "sku-x"): (0.0, False), (30, "sku-x"): (3.0, True)}
    assert index_differences(session, settings) == []


# --- Links, sources, stocks ---------------------------------------------------------------------


@pytest.mark.usefixtures("items")
def test_link_add_and_delete(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    assert create_stock(client, auth_headers, "New") == 31
    links = [{"stock_id": 31, "source_code": c, "priority": 1} for c in ("eu-2", "us-1", "eu-disabled")]
    response = client.post(LINKS, json={"links": links}, headers=auth_headers)
    assert response.status_code == 200, response.text
    expected = {**INDEX, (31, "A"): (0.0, False), (31, "B"): (-2.0, False)}
    assert_fresh(session, settings, expected)

    # eu-1 joins stock 20: A appears there, B (on us-1 only) is untouched.
    response = client.post(
        LINKS, json={"links": [{"stock_id": 20, "source_code": "eu-1", "priority": 2}]}, headers=auth_headers
    )
    assert response.status_code == 200, response.text
    expected[(20, "A")] = (5.0, True)
    assert_fresh(session, settings, expected)

    # Stock 10 loses eu-1 and eu-3: A falls back to eu-2's out-of-stock item, C vanishes.
    links = [{"stock_id": 10, "source_code": "eu-1"}, {"stock_id": 10, "source_code": "eu-3"}]
    response = client.post(LINKS_DELETE, json={"links": links}, headers=auth_headers)
    assert response.status_code == 200, response.text
    expected[(10, "A")] = (0.0, False)
    del expected[(10, "C")]
    assert_fresh(session, settings, expected)


@pytest.mark.usefixtures("items")
def test_source_disable_and_enable(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    def set_enabled(code: str, enabled: bool) -> None:
        source = {"name": code, "country_id": "FR", "postcode": "postcode", "enabled": enabled}
        response = client.put(f"{SOURCES}/{code}", json={"source": source}, headers=auth_headers)
        assert response.status_code == 200, response.text

    set_enabled("eu-1", False)
    # Only SKUs with an item on eu-1 change, in the stocks linked to it.
    assert_fresh(session, settings, {**INDEX, (10, "A"): (0.0, False), (30, "A"): (0.0, False)})
    set_enabled("eu-1", True)
    assert_fresh(session, settings, INDEX)

    set_enabled("eu-disabled", True)
    assert_fresh(session, settings, {**INDEX, (10, "F"): (9.0, True), (30, "F"): (9.0, True)})
    set_enabled("us-1", False)
    assert_fresh(
        session,
        settings,
        without({**INDEX, (10, "F"): (9.0, True), (30, "F"): (9.0, True)}, (20, "B"), (30, "B")),
    )


@pytest.mark.usefixtures("items")
def test_a_link_change_applies_only_the_source_items(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session, settings: Settings
) -> None:
    """A link change or an enable/disable moves each row by the changed source's item (a
    delta); the SKU's items on the other sources are not read again. A row given a quantity
    no aggregation produces keeps that offset through the change."""
    with database.write_sessions.begin() as write:
        write.execute(
            update(StockIndexRow)
            .where(StockIndexRow.stock_id == 20, StockIndexRow.sku == "B")
            .values(quantity=-100)
        )
    response = client.post(LINKS, json={"links": [{"stock_id": 20, "source_code": "eu-3", "priority": 2}]},
                           headers=auth_headers)  # fmt: skip
    assert response.status_code == 200, response.text
    put_source_items(client, auth_headers, [source_item("B", "eu-3", 4, 1)])  # refreshes B: offset gone
    assert index_rows(session)[(20, "B")] == (2.0, True)
    with database.write_sessions.begin() as write:
        write.execute(
            update(StockIndexRow)
            .where(StockIndexRow.stock_id == 20, StockIndexRow.sku == "B")
            .values(quantity=-100)
        )
    response = client.post(LINKS_DELETE, json={"links": [{"stock_id": 20, "source_code": "eu-3"}]},
                           headers=auth_headers)  # fmt: skip
    assert response.status_code == 200, response.text
    assert index_rows(session)[(20, "B")] == (-104.0, False)


SALABILITY_RULES = [
    pytest.param({}, id="default"),
    pytest.param({"backorders": 1}, id="backorders"),
    pytest.param({"backorders": 1, "min_qty": 4}, id="backorders-min-qty"),
    pytest.param({"backorders": 2, "min_qty": -3}, id="backorders-negative-min-qty"),
    pytest.param({"min_qty": 2}, id="min-qty"),
    pytest.param({"manage_stock": False}, id="unmanaged"),
]


@pytest.mark.parametrize("rules", SALABILITY_RULES)
def test_link_and_source_changes_under_every_salability_rule(
    auth_headers: dict[str, str],
    database: Database,
    session: Session,
    settings: Settings,
    rules: dict[str, Any],
) -> None:
    """The deltas of link changes and enable/disable leave the index equal to a full rebuild
    (counts included), whatever the salability configuration and with reservations."""
    configured = settings.model_copy(update={**rules, "embedded_worker": False})
    client = TestClient(create_app(configured, database))
    create_link_fixture(client, auth_headers)
    put_source_items(
        client, auth_headers, [*ITEMS, source_item("G", "us-1", 3, 0), source_item("G", "eu-1", 1, 1)]
    )
    with database.write_sessions.begin() as write:
        append_reservations(
            write,
            StockItemConfiguration.from_settings(configured),
            [ReservationRow(31, "A", Decimal(-5)), ReservationRow(10, "G", Decimal(-1)),
             ReservationRow(30, "B", Decimal(3)), ReservationRow(31, "G", Decimal("-0.5"))],
        )  # fmt: skip
    assert create_stock(client, auth_headers, "New") == 31

    def check(response: httpx.Response | Any) -> None:
        assert response.status_code == 200, response.text
        assert index_differences(session, configured) == []
        assert queued_reindex_jobs(session) == []

    def set_enabled(code: str, enabled: bool) -> None:
        source = {"name": code, "country_id": "FR", "postcode": "postcode", "enabled": enabled}
        check(client.put(f"{SOURCES}/{code}", json={"source": source}, headers=auth_headers))

    links = [
        {"stock_id": 31, "source_code": code, "priority": 1}
        for code in ("eu-2", "us-1", "eu-1", "eu-disabled")
    ]
    check(client.post(LINKS, json={"links": links}, headers=auth_headers))
    assert {key for key in index_rows(session) if key[0] == 31} == {(31, "A"), (31, "B"), (31, "G")}
    check(
        client.post(
            LINKS_DELETE, json={"links": [{"stock_id": 31, "source_code": "eu-1"}]}, headers=auth_headers
        )
    )
    set_enabled("eu-2", False)
    set_enabled("eu-disabled", True)
    set_enabled("us-1", False)
    set_enabled("eu-2", True)
    set_enabled("us-1", True)
    links = [{"stock_id": 31, "source_code": code} for code in ("eu-2", "us-1", "eu-disabled")]
    check(client.post(LINKS_DELETE, json={"links": links}, headers=auth_headers))
    assert not [key for key in index_rows(session) if key[0] == 31]


@pytest.mark.usefixtures("items")
def test_stock_delete(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    response = client.delete(f"{STOCKS}/20", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert_fresh(session, settings, without(INDEX, (20, "B")))
    response = client.delete(f"{STOCKS}/30", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert_fresh(session, settings, {key: value for key, value in INDEX.items() if key[0] in (1, 10)})


# --- Failed writes -------------------------------------------------------------------------------


def snapshot(client: TestClient, headers: dict[str, str], session: Session) -> tuple[Any, ...]:
    """Everything a failed write must leave alone: items, index rows, jobs, links, sources, stocks."""
    everything = {"searchCriteria": ""}
    answers = tuple(
        client.get(path, params=everything, headers=headers).json()["items"]
        for path in (LINKS, SOURCES, STOCKS)
    )
    return stored_source_items(session), index_rows(session), queued_reindex_jobs(session), *answers


@contextmanager
def failing(database: Database, statement_start: str) -> Iterator[None]:
    """Every statement starting so fails as a failing database makes SQLAlchemy fail it: an
    OperationalError wrapping the driver's error. (An exception raised by the listener itself
    reaches the caller unwrapped, which no real database failure does.)"""
    dbapi_error = database.engine.dialect.loaded_dbapi.OperationalError

    def fail(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(statement_start):
            raise exc.OperationalError(statement, parameters, dbapi_error("injected failure"))

    event.listen(database.engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(database.engine, "before_cursor_execute", fail)


INSERT_INDEX = "INSERT INTO INVENTORY_STOCK_INDEX"
DELETE_INDEX = "DELETE FROM INVENTORY_STOCK_INDEX"
# Link deletes and source disables apply deltas to existing rows.
UPDATE_INDEX = "UPDATE INVENTORY_STOCK_INDEX"
DISABLE_EU_1 = {"source": {"name": "eu-1", "country_id": "FR", "postcode": "postcode", "enabled": False}}


@pytest.mark.parametrize(
    ("statement", "method", "path", "body", "expected"),
    [
        pytest.param(
            None,
            "POST",
            SOURCE_ITEMS,
            {"sourceItems": [source_item("A", "eu-1", 1, 1), source_item("B", "us-1", 1, 5)]},
            {
                "message": 'Validation Failed: "status" should a known status.',
                "errors": [{"message": '"%field" should a known status.', "parameters": {"field": "status"}}],
            },
            id="item-save-invalid",
        ),
        pytest.param(
            None,
            "POST",
            SOURCE_ITEMS,
            {"sourceItems": [source_item("A", "eu-1", 1, 1), source_item("B", "nowhere", 1, 1)]},
            {"message": "Could not save Source Item"},
            id="item-save-unknown-source",
        ),
        pytest.param(
            INSERT_INDEX,
            "POST",
            SOURCE_ITEMS,
            {"sourceItems": [source_item("A", "eu-1", 1, 1), source_item("NEW", "us-1", 1, 1)]},
            {"message": "Could not save Source Item"},
            id="item-save-index-error",
        ),
        pytest.param(
            INSERT_INDEX,
            "POST",
            SOURCE_ITEMS_DELETE,
            {"sourceItems": [{"sku": "A", "source_code": "eu-1"}, {"sku": "D", "source_code": "default"}]},
            {"message": "Could not delete Source Items"},
            id="item-delete-index-error",
        ),
        pytest.param(
            INSERT_INDEX,
            "POST",
            LINKS,
            {"links": [{"stock_id": 20, "source_code": "eu-1", "priority": 1}]},
            {"message": "Could not save StockSourceLinks"},
            id="link-save-index-error",
        ),
        pytest.param(
            # eu-3's items are alone on their SKUs in stock 10: their rows are deleted, not updated.
            DELETE_INDEX,
            "POST",
            LINKS_DELETE,
            {"links": [{"stock_id": 10, "source_code": "eu-3"}]},
            {"message": "Could not delete StockSourceLinks"},
            id="link-delete-index-error",
        ),
        pytest.param(
            UPDATE_INDEX,
            "PUT",
            f"{SOURCES}/eu-1",
            DISABLE_EU_1,
            {"message": "Could not save Source"},
            id="source-disable-index-error",
        ),
        pytest.param(
            DELETE_INDEX,
            "DELETE",
            f"{STOCKS}/20",
            None,
            {"message": "Could not delete Stock"},
            id="stock-delete-error",
        ),
    ],
)
@pytest.mark.usefixtures("items")
def test_failed_write_changes_nothing(
    client: TestClient,
    auth_headers: dict[str, str],
    database: Database,
    session: Session,
    settings: Settings,
    statement: str | None,
    method: str,
    path: str,
    body: Any,
    expected: dict[str, Any],
) -> None:
    before = snapshot(client, auth_headers, session)
    with failing(database, statement) if statement else nullcontext():
        response = client.request(method, path, json=body, headers=auth_headers)
    assert_envelope(response, 400, expected)
    assert snapshot(client, auth_headers, session) == before
    assert index_differences(session, settings) == []
    # The same write goes through once the database behaves.
    if statement:
        response = client.request(method, path, json=body, headers=auth_headers)
        assert response.status_code == 200, response.text
        assert index_differences(session, settings) == []


# --- Concurrency ----------------------------------------------------------------------------------

THREADS = 8
ROUNDS = 5
SKUS = [f"C-{n}" for n in range(12)]
CONC_SOURCES = ["conc-0", "conc-1", "conc-2", "conc-3"]


@pytest.mark.concurrency
def test_concurrent_item_batches_and_link_changes(
    client: TestClient,
    auth_headers: dict[str, str],
    database: Database,
    session: Session,
    settings: Settings,
    live_server: str,
) -> None:
    """Six threads save every (SKU, source) pair with their own batch value, each in its own
    order; two threads link and unlink sources of the same stocks meanwhile. A serial order
    leaves every pair with the value of one batch (the last one), whatever the links, and the
    index right for the links that stand."""
    insert_sources(database, CONC_SOURCES)
    first, second = (create_stock(client, auth_headers, name) for name in ("Conc A", "Conc B"))
    fixed = [(first, "conc-0"), (first, "conc-1"), (second, "conc-1"), (first, "conc-3"), (second, "conc-3")]
    response = client.post(
        LINKS,
        json={"links": [{"stock_id": s, "source_code": c, "priority": 1} for s, c in fixed]},
        headers=auth_headers,
    )
    assert response.status_code == 200, response.text
    toggled = [{"stock_id": first, "source_code": "conc-2"}, {"stock_id": second, "source_code": "conc-0"}]
    pairs = [(sku, code) for sku in SKUS for code in CONC_SOURCES]
    barrier = threading.Barrier(THREADS)

    def worker(thread: int) -> list[tuple[str, int, str, int]]:
        shuffler = random.Random(thread)
        results = []
        with httpx.Client(base_url=live_server, headers=auth_headers, timeout=120) as http:
            barrier.wait(timeout=60)
            for round_ in range(ROUNDS):
                if thread >= 6:
                    links = toggled if thread == 6 else toggled[::-1]
                    if (thread + round_) % 2:
                        response = http.post(LINKS_DELETE, json={"links": links})
                    else:
                        response = http.post(
                            LINKS, json={"links": [{**link, "priority": 1} for link in links]}
                        )
                    results.append(("link", response.status_code, response.text, 0))
                    continue
                batch_value = thread * 100 + round_ + 1
                ordered = pairs[:]
                shuffler.shuffle(ordered)
                # Spellings vary too: the same pairs, whatever the case.
                batch = [
                    source_item(
                        sku.lower() if (thread + n) % 3 == 0 else sku, code, batch_value, batch_value % 2
                    )
                    for n, (sku, code) in enumerate(ordered)
                ]
                response = http.post(SOURCE_ITEMS, json={"sourceItems": batch})
                results.append(("items", response.status_code, response.text, batch_value))
        return results

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = [item for result in pool.map(worker, range(THREADS)) for item in result]

    assert [(status, text) for _, status, text, _ in outcomes] == [(200, "[]")] * (THREADS * ROUNDS)
    stored = stored_source_items(session)
    assert {(code, sku.upper()) for code, sku in stored} == {(code, sku) for sku, code in pairs}
    assert len(stored) == len(pairs)
    values = set(stored.values())
    assert len(values) == 1, values
    ((quantity, status),) = values
    assert quantity in {value for kind, _, _, value in outcomes if kind == "items"}
    assert status == int(quantity) % 2
    assert index_differences(session, settings) == []
    assert queued_reindex_jobs(session) == []
