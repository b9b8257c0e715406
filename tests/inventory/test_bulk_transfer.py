"""Bulk transfer and partial transfer (spec bulk.md), through HTTP and the database on every
engine.

Setting: Magento's sources, stocks and links (``create_link_fixture``: stock 10 holds eu-1,
eu-2, eu-3 and eu-disabled, stock 20 us-1, stock 30 all five) and its source_items.php fixture
(``BULK_ITEM_FIXTURE``). After every transfer the index equals a fresh aggregation; a refused or
failing transfer leaves items, index, low-quantity settings and jobs as they were.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import (
    BULK_ITEM_FIXTURE,
    BULK_PARTIAL_TRANSFER,
    BULK_TRANSFER,
    SOURCE_ITEMS,
    assert_envelope,
    create_link_fixture,
    database_state,
    failing_statements,
    index_differences,
    index_rows,
    low_quantity_settings,
    put_source_items,
    source_item,
    stored_source_items,
)
from openmsi.db import Database
from openmsi.settings import Settings

TRANSFER_ERROR = "Validation Error: Select different sources for origin and destination."
PARTIAL_ERROR = "Transfer validation failed"
ORIGIN_MISSING = "Origin source %sourceCode does not exist"
DESTINATION_MISSING = "Destination source %sourceCode does not exist"
SAME_SOURCE = {"message": "Cannot transfer a source on itself", "parameters": []}
NOT_AVAILABLE = "Requested transfer amount for sku %sku is not available"
NEGATIVE = "Requested transfer amount for sku %sku must not be negative"
TOO_LARGE = "Source item for %sku and %sourceCode cannot hold %quantity"
NOT_FOUND = "Following products with requested skus were not found: %1"
SPELLING = 'Product "%sku" is stored as "%storedSku": send the SKU as it is stored.'
REQUIRED = '"%fieldName" is required. Enter and try again.'
MULTIPLE = "One or more input exceptions have occurred."

FIXTURE_ITEMS = {
    (item["source_code"], item["sku"]): (float(item["quantity"]), item["status"])
    for item in BULK_ITEM_FIXTURE
}


def missing_item(sku: str, code: str) -> dict[str, Any]:
    return {
        "message": "%message",
        "parameters": {"message": f"Source item for {sku} and {code} does not exist"},
    }


def source_error(message: str, code: str) -> dict[str, Any]:
    return {"message": message, "parameters": {"sourceCode": code}}


def required(name: str) -> dict[str, Any]:
    return {"message": REQUIRED, "parameters": {"fieldName": name}}


@pytest.fixture
def items(client: TestClient, auth_headers: dict[str, str], session: Session) -> None:
    create_link_fixture(client, auth_headers)
    put_source_items(client, auth_headers, list(BULK_ITEM_FIXTURE))
    assert stored_source_items(session) == FIXTURE_ITEMS


def transfer(
    client: TestClient, headers: dict[str, str], skus: Any, origin: Any, destination: Any, unassign: Any
) -> Any:
    body = {
        "skus": skus,
        "originSource": origin,
        "destinationSource": destination,
        "unassignFromOrigin": unassign,
    }
    return client.post(BULK_TRANSFER, json=body, headers=headers)


def partial(client: TestClient, headers: dict[str, str], origin: Any, destination: Any, lines: Any) -> Any:
    body = {"origin_source_code": origin, "destination_source_code": destination, "items": lines}
    return client.post(BULK_PARTIAL_TRANSFER, json=body, headers=headers)


def save_settings(client: TestClient, headers: dict[str, str], *settings: tuple[str, str, float]) -> None:
    configurations = [
        {"source_code": code, "sku": sku, "notify_stock_qty": qty} for code, sku, qty in settings
    ]
    response = client.post(
        "/rest/all/V1/inventory/low-quantity-notification",
        json={"sourceItemConfigurations": configurations},
        headers=headers,
    )
    assert response.status_code == 200, response.text


def assert_true(response: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.text == "true"


# --- Transfer: InventoryCatalog/Test/Integration/Bulk/InventoryTransferTest.php -------------------


@pytest.mark.usefixtures("items")
def test_bulk_inventory_transfer_and_unassign(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    """testBulkInventoryTransferAndUnassign: eu-3's 10 (out of stock) join eu-1's 5.5, which
    takes the origin's status; eu-3's item is deleted."""
    assert_true(transfer(client, auth_headers, ["SKU-1"], "eu-3", "eu-1", True))
    items = stored_source_items(session)
    assert items[("eu-1", "SKU-1")] == (15.5, 0)
    assert ("eu-3", "SKU-1") not in items
    rows = index_rows(session)
    assert rows[(10, "SKU-1")] == rows[(30, "SKU-1")] == (3.0, True)  # eu-2's 3 alone is in stock
    assert index_differences(session, settings) == []


@pytest.mark.usefixtures("items")
def test_bulk_inventory_transfer_to_a_new_item(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    """testBulkInventoryTransfer: us-1 gets an item with eu-1's 5.5 and status; eu-1 keeps a
    zero, out-of-stock item."""
    assert_true(transfer(client, auth_headers, ["SKU-1"], "eu-1", "us-1", False))
    assert stored_source_items(session) == {
        **FIXTURE_ITEMS,
        ("eu-1", "SKU-1"): (0.0, 0),
        ("us-1", "SKU-1"): (5.5, 1),
    }
    rows = index_rows(session)
    assert rows[(10, "SKU-1")] == (3.0, True)
    assert rows[(20, "SKU-1")] == (5.5, True)
    assert rows[(30, "SKU-1")] == (8.5, True)
    assert index_differences(session, settings) == []


@pytest.mark.usefixtures("items")
def test_bulk_inventory_transfer_from_a_source_without_the_sku(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    """testBulkInventoryTransferFromUnassignedSource: nothing moves, no us-1 item appears. SKU-2
    is on neither eu-1 nor eu-2 (Magento: a PHP warning and a 500): nothing moves either."""
    before = stored_source_items(session), index_rows(session)
    assert_true(transfer(client, auth_headers, ["SKU-1"], "us-1", "eu-1", False))
    assert_true(transfer(client, auth_headers, ["SKU-2"], "eu-1", "eu-2", True))
    assert (stored_source_items(session), index_rows(session)) == before
    assert index_differences(session, settings) == []


@pytest.mark.usefixtures("items")
def test_transfer_moves_low_quantity_settings(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    """BulkConfigurationTransferInterfacePlugin: a SKU without a setting at the destination gets
    the origin's (or the default); with unassign, the origin's settings go."""
    save_settings(client, auth_headers, ("eu-1", "SKU-1", 2), ("eu-2", "SKU-4", 7))
    # snake_case names, and the SKUs in any order and repeated.
    body = {
        "skus": ["SKU-6", "SKU-1", "SKU-4", "SKU-1"],
        "origin_source": "eu-1",
        "destination_source": "eu-2",
        "unassign_from_origin": True,
    }
    assert_true(client.post(BULK_TRANSFER, json=body, headers=auth_headers))
    items = stored_source_items(session)
    assert items[("eu-2", "SKU-1")] == (8.5, 1)
    assert items[("eu-2", "SKU-4")] == (6.0, 1)  # nothing at the origin: unchanged
    assert items[("eu-2", "SKU-6")] == (0.0, 1)
    assert ("eu-1", "SKU-1") not in items and ("eu-1", "SKU-6") not in items
    assert low_quantity_settings(session) == {
        ("eu-2", "SKU-1"): 2.0,
        ("eu-2", "SKU-4"): 7.0,
        ("eu-2", "SKU-6"): None,
    }
    assert index_differences(session, settings) == []


@pytest.mark.usefixtures("items")
def test_transfer_with_the_default_source(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    """The default stock's legacy rows follow the default source's items in both directions."""
    put_source_items(client, auth_headers, [source_item("SKU-7", "default", 4, 1)])
    assert_true(transfer(client, auth_headers, ["SKU-7"], "default", "eu-1", False))
    assert index_rows(session)[(1, "SKU-7")] == (0.0, False)
    assert index_rows(session)[(10, "SKU-7")] == (4.0, True)
    assert_true(transfer(client, auth_headers, ["SKU-7"], "eu-1", "default", True))
    assert index_rows(session)[(1, "SKU-7")] == (4.0, True)
    assert (10, "SKU-7") not in index_rows(session)
    assert index_differences(session, settings) == []


@pytest.mark.usefixtures("items")
@pytest.mark.parametrize(
    ("arguments", "status", "body"),
    [
        pytest.param(
            (["SKU-1"], "non-existing-source", "another-non-existing-source", False),
            400,
            {
                "message": TRANSFER_ERROR,
                "errors": [
                    source_error(ORIGIN_MISSING, "non-existing-source"),
                    source_error(DESTINATION_MISSING, "another-non-existing-source"),
                ],
            },
            id="unknown-sources",
        ),
        pytest.param(
            (["SKU-1"], "eu-1", "eu-1", False),
            400,
            {"message": TRANSFER_ERROR, "errors": [SAME_SOURCE]},
            id="same-source",
        ),
        # Magento compares the strings exactly, then doubles eu-1's quantity.
        pytest.param(
            (["SKU-1"], "eu-1", "EU-1", True),
            400,
            {"message": TRANSFER_ERROR, "errors": [SAME_SOURCE]},
            id="same-source-other-case",
        ),
        pytest.param(
            ([], "eu-1", "nope", False),
            400,
            {"message": TRANSFER_ERROR, "errors": [source_error(DESTINATION_MISSING, "nope")]},
            id="no-skus-unknown-destination",
        ),
        # Magento: a TypeError (plain-text 500) while copying low-quantity settings.
        pytest.param(
            (["SKU-1", "NOPE"], "eu-1", "nope", False),
            404,
            {"message": NOT_FOUND, "parameters": ["NOPE"]},
            id="unknown-sku-first",
        ),
        pytest.param(
            (["Sku-1"], "eu-1", "eu-2", False),
            400,
            {"message": SPELLING, "parameters": {"sku": "Sku-1", "storedSku": "SKU-1"}},
            id="sku-in-another-case",
        ),
    ],
)
def test_refused_transfer_writes_nothing(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    arguments: tuple[Any, ...],
    status: int,
    body: dict[str, Any],
) -> None:
    save_settings(client, auth_headers, ("eu-1", "SKU-1", 2))
    before = database_state(session)
    assert_envelope(transfer(client, auth_headers, *arguments), status, body)
    assert database_state(session) == before


@pytest.mark.usefixtures("items")
def test_transfer_beyond_what_an_item_holds_writes_nothing(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    put_source_items(
        client, auth_headers, [source_item("SKU-9", "eu-1", 10, 1), source_item("SKU-9", "eu-2", 99999995, 1)]
    )
    before = database_state(session)
    response = transfer(client, auth_headers, ["SKU-1", "SKU-9"], "eu-1", "eu-2", False)
    assert_envelope(
        response,
        400,
        {"message": TOO_LARGE, "parameters": {"sku": "SKU-9", "sourceCode": "eu-2", "quantity": "100000005"}},
    )
    assert database_state(session) == before


@pytest.mark.usefixtures("items")
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {},
            {
                "message": MULTIPLE,
                "errors": [
                    required(name)
                    for name in ("skus", "originSource", "destinationSource", "unassignFromOrigin")
                ],
            },
            id="all-missing",
        ),
        pytest.param(
            {"skus": ["SKU-1"], "originSource": "eu-1", "destination_source": "eu-2"},
            required("unassignFromOrigin"),
            id="flag-missing",
        ),
        pytest.param(
            {
                "skus": ["SKU-1"],
                "originSource": ["eu-1"],
                "destinationSource": "eu-2",
                "unassignFromOrigin": 0,
            },
            {
                "message": 'The "array" value\'s type is invalid. The "string" type was expected. '
                "Verify and try again."
            },
            id="list-for-a-string",
        ),
    ],
)
def test_transfer_parameters(
    client: TestClient, auth_headers: dict[str, str], body: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert_envelope(client.post(BULK_TRANSFER, json=body, headers=auth_headers), 400, expected)


@pytest.mark.usefixtures("items")
@pytest.mark.parametrize(
    ("statement", "unassign"),
    [
        # After the items and the index rows were written, the last statements fail.
        pytest.param("DELETE FROM INVENTORY_LOW_STOCK_NOTIFICATION_CONFIGURATION", True, id="unassign"),
        pytest.param("INSERT INTO INVENTORY_LOW_STOCK_NOTIFICATION_CONFIGURATION", False, id="keep-origin"),
        pytest.param("INSERT INTO INVENTORY_STOCK_INDEX", False, id="index"),
    ],
)
def test_failed_transfer_writes_nothing(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    database: Database,
    statement: str,
    unassign: bool,
) -> None:
    before = database_state(session)
    with failing_statements(database, statement):
        response = transfer(client, auth_headers, ["SKU-1", "SKU-6"], "eu-1", "us-1", unassign)
    assert_envelope(response, 400, {"message": "Could not transfer inventory"})
    assert database_state(session) == before


# --- Partial transfer: InventoryCatalog/Test/Api/Bulk/PartialInventoryTransferTest.php ------------


@pytest.mark.usefixtures("items")
def test_partial_inventory_transfer(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    """testTransferInventoryPartially, with the test's snake_case names: eu-3 (10, out of stock)
    keeps 9 and its status, eu-2 (3) gets 4."""
    response = partial(client, auth_headers, "eu-3", "eu-2", [{"sku": "SKU-1", "qty": 1}])
    assert response.status_code == 200, response.text
    assert response.text == "[]"
    items = stored_source_items(session)
    assert items[("eu-3", "SKU-1")] == (9.0, 0)
    assert items[("eu-2", "SKU-1")] == (4.0, 1)
    rows = index_rows(session)
    assert rows[(10, "SKU-1")] == rows[(30, "SKU-1")] == (9.5, True)
    assert index_differences(session, settings) == []


@pytest.mark.usefixtures("items")
@pytest.mark.parametrize(
    ("origin", "destination", "lines", "errors"),
    [
        pytest.param(
            "eu-999",
            "eu-2",
            [{"sku": "SKU-1", "qty": 1}],
            [source_error(ORIGIN_MISSING, "eu-999"), missing_item("SKU-1", "eu-999")],
            id="testTransferInventoryPartiallyWrongOrigin",
        ),
        pytest.param(
            "eu-3",
            "eu-999",
            [{"sku": "SKU-1", "qty": 1}],
            [source_error(DESTINATION_MISSING, "eu-999"), missing_item("SKU-1", "eu-999")],
            id="testTransferInventoryPartiallyWrongDestination",
        ),
        pytest.param(
            "eu-3",
            "eu-3",
            [{"sku": "SKU-1", "qty": 1}],
            [SAME_SOURCE],
            id="testTransferInventoryPartiallySameSource",
        ),
        pytest.param(
            "eu-3",
            "eu-2",
            [{"sku": "SKU-1", "qty": 100}],
            [{"message": NOT_AVAILABLE, "parameters": {"sku": "SKU-1"}}],
            id="testTransferInventoryPartiallyWrongQuantity",
        ),
        # openmsi: Magento would also check each of these items alone and take 12 of 10.
        pytest.param(
            "eu-3",
            "eu-2",
            [{"sku": "SKU-1", "qty": 6}, {"sku": "sku-1", "qty": 6}],
            [{"message": NOT_AVAILABLE, "parameters": {"sku": "sku-1"}}],
            id="items-of-one-sku-count-together",
        ),
        pytest.param(
            "eu-3",
            "eu-2",
            [{"sku": "SKU-1", "qty": -1}],
            [{"message": NEGATIVE, "parameters": {"sku": "SKU-1"}}],
            id="negative-amount",
        ),
        pytest.param(
            "eu-3",
            "eu-2",
            [{"sku": "SKU-1", "qty": 1e300}],
            [{"message": NOT_AVAILABLE, "parameters": {"sku": "SKU-1"}}],
            id="amount-no-item-can-hold",
        ),
        # Every problem is listed, items in order; a valid first item is not written either.
        pytest.param(
            "EU-3",
            "eu-2",
            [{"sku": "SKU-1", "qty": 1}, {"sku": "SKU-3", "qty": 1}, {"sku": "SKU-4", "qty": 1}],
            [missing_item("SKU-3", "EU-3"), missing_item("SKU-4", "EU-3")],
            id="items-missing-at-origin",
        ),
        pytest.param(
            "eu-2",
            "eu-3",
            [{"sku": "SKU-3", "qty": 7}],
            [{"message": NOT_AVAILABLE, "parameters": {"sku": "SKU-3"}}, missing_item("SKU-3", "eu-3")],
            id="not-available-and-missing-at-destination",
        ),
        pytest.param("eu-3", "EU-3", [], [SAME_SOURCE], id="same-source-other-case-no-items"),
    ],
)
def test_refused_partial_transfer_writes_nothing(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    origin: str,
    destination: str,
    lines: list[dict[str, Any]],
    errors: list[dict[str, Any]],
) -> None:
    before = database_state(session)
    response = partial(client, auth_headers, origin, destination, lines)
    assert_envelope(response, 400, {"message": PARTIAL_ERROR, "errors": errors})
    assert database_state(session) == before


@pytest.fixture
def sku3_on_eu3(items: None, client: TestClient, auth_headers: dict[str, str]) -> None:
    put_source_items(client, auth_headers, [source_item("SKU-3", "eu-3", 1, 0)])


@pytest.mark.usefixtures("sku3_on_eu3")
def test_partial_transfer_camel_case_several_items(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    """The destination is set in stock, the origin keeps its status even at 0; the items of one
    SKU add up."""
    body = {
        "originSourceCode": "eu-2",
        "destinationSourceCode": "EU-3",
        "items": [{"sku": "SKU-1", "qty": 1}, {"sku": "SKU-1", "qty": 2}, {"sku": "SKU-3", "qty": 0.5}],
    }
    response = client.post(BULK_PARTIAL_TRANSFER, json=body, headers=auth_headers)
    assert response.status_code == 200, response.text
    items = stored_source_items(session)
    assert items[("eu-2", "SKU-1")] == (0.0, 1)
    assert items[("eu-3", "SKU-1")] == (13.0, 1)
    assert items[("eu-2", "SKU-3")] == (5.5, 0)
    assert items[("eu-3", "SKU-3")] == (1.5, 1)
    rows = index_rows(session)
    assert rows[(10, "SKU-1")] == (18.5, True)
    assert index_differences(session, settings) == []


@pytest.mark.usefixtures("items")
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"items": [{"sku": "SKU-1", "qty": 1}]},
            {
                "message": MULTIPLE,
                "errors": [required("originSourceCode"), required("destinationSourceCode")],
            },
            id="sources-missing",
        ),
        # Magento: a TypeError, plain-text 500.
        pytest.param(
            {
                "originSourceCode": "eu-3",
                "destinationSourceCode": "eu-2",
                "items": [{"qty": 1}, {"sku": "SKU-1"}],
            },
            {"message": MULTIPLE, "errors": [required("sku"), required("qty")]},
            id="item-fields-missing",
        ),
        pytest.param(
            {
                "originSourceCode": "eu-3",
                "destinationSourceCode": "eu-2",
                "items": [{"sku": "SKU-1", "qty": "abc"}],
            },
            {
                "message": 'Error occurred during "qty" processing. The "abc" value\'s type is invalid. '
                'The "float" type was expected. Verify and try again.'
            },
            id="qty-not-a-number",
        ),
        pytest.param(
            {
                "originSourceCode": "eu-3",
                "destinationSourceCode": "eu-2",
                "items": [{"sku": "SKU-1", "quantity": 1}],
            },
            {
                "message": '"%fieldName" is not supported. Correct the field name and try again.',
                "parameters": {"fieldName": "Quantity"},
            },
            id="unknown-item-field",
        ),
        pytest.param(
            {"originSourceCode": "eu-3", "destinationSourceCode": "eu-2", "items": "SKU-1"},
            {
                "message": 'The "SKU-1" value\'s type is invalid. The "object[]" type was expected. '
                "Verify and try again."
            },
            id="items-not-a-list",
        ),
    ],
)
def test_partial_transfer_parameters(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    body: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    before = database_state(session)
    assert_envelope(client.post(BULK_PARTIAL_TRANSFER, json=body, headers=auth_headers), 400, expected)
    assert database_state(session) == before


@pytest.mark.usefixtures("items")
def test_partial_transfer_beyond_what_an_item_holds(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    put_source_items(
        client, auth_headers, [source_item("SKU-9", "eu-1", 10, 1), source_item("SKU-9", "eu-2", 99999999, 1)]
    )
    before = database_state(session)
    response = partial(client, auth_headers, "eu-1", "eu-2", [{"sku": "SKU-9", "qty": 5}])
    too_large = {
        "message": TOO_LARGE,
        "parameters": {"sku": "SKU-9", "sourceCode": "eu-2", "quantity": "100000004"},
    }
    assert_envelope(response, 400, {"message": PARTIAL_ERROR, "errors": [too_large]})
    assert database_state(session) == before


@pytest.mark.usefixtures("items")
@pytest.mark.parametrize(
    "statement", ["INSERT INTO INVENTORY_STOCK_INDEX", "INSERT INTO INVENTORY_SOURCE_ITEM"]
)
def test_failed_partial_transfer_writes_nothing(
    client: TestClient, auth_headers: dict[str, str], session: Session, database: Database, statement: str
) -> None:
    before = database_state(session)
    with failing_statements(database, statement):
        response = partial(client, auth_headers, "eu-1", "eu-2", [{"sku": "SKU-1", "qty": 1}])
    assert_envelope(response, 400, {"message": "Could not transfer inventory"})
    assert database_state(session) == before


@pytest.mark.usefixtures("items")
@pytest.mark.parametrize("path", [BULK_TRANSFER, BULK_PARTIAL_TRANSFER])
def test_products_resource_is_required(client: TestClient, path: str) -> None:
    assert_envelope(
        client.post(path, json={}),
        401,
        {
            "message": "The consumer isn't authorized to access %resources.",
            "parameters": {"resources": "Magento_Catalog::products"},
        },
    )


# --- Concurrency ----------------------------------------------------------------------------------

THREADS = 8
ROUNDS = 4


@pytest.mark.concurrency
@pytest.mark.usefixtures("items")
def test_concurrent_transfers_move_what_is_there_once(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings, live_server: str
) -> None:
    """Four threads take 1 of SKU-Y's 10 units on eu-3, four times each: exactly 10 succeed.
    Two threads move SKU-X back and forth between eu-1 and eu-2, two save other items on
    those sources meanwhile. No request fails otherwise, nothing is lost or made up, and the
    index is right."""
    put_source_items(
        client,
        auth_headers,
        [
            source_item("SKU-Y", "eu-3", 10, 1),
            source_item("SKU-Y", "eu-2", 0, 1),
            source_item("SKU-X", "eu-1", 10, 1),
            source_item("SKU-X", "eu-2", 10, 1),
        ],
    )
    barrier = threading.Barrier(THREADS)

    def worker(thread: int) -> list[tuple[str, int, str]]:
        results = []
        with httpx.Client(base_url=live_server, headers=auth_headers, timeout=120) as http:
            barrier.wait(timeout=60)
            for round_ in range(ROUNDS):
                if thread < 4:
                    response = http.post(
                        BULK_PARTIAL_TRANSFER,
                        json={
                            "originSourceCode": "eu-3",
                            "destinationSourceCode": "eu-2",
                            "items": [{"sku": "SKU-Y", "qty": 1}],
                        },
                    )
                    results.append(("take", response.status_code, response.text))
                elif thread < 6:
                    origin, destination = ("eu-1", "eu-2") if (thread + round_) % 2 else ("eu-2", "eu-1")
                    response = http.post(
                        BULK_PARTIAL_TRANSFER,
                        json={
                            "originSourceCode": origin,
                            "destinationSourceCode": destination,
                            "items": [{"sku": "SKU-X", "qty": 3}, {"sku": "SKU-1", "qty": 0.5}],
                        },
                    )
                    results.append(("move", response.status_code, response.text))
                else:
                    batch = [
                        source_item(f"OTHER-{thread}-{n}", code, round_, 1)
                        for n in range(5)
                        for code in ("eu-2", "eu-1")
                    ]
                    response = http.post(SOURCE_ITEMS, json={"sourceItems": batch})
                    results.append(("save", response.status_code, response.text))
        return results

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = [item for result in pool.map(worker, range(THREADS)) for item in result]

    taken = [status for kind, status, _ in outcomes if kind == "take"]
    assert taken.count(200) == 10 and taken.count(400) == 6, outcomes
    refused = {text for kind, status, text in outcomes if kind == "take" and status == 400}
    assert refused == {
        '{"message":"Transfer validation failed","errors":[{"message":"Requested transfer amount for sku '
        '%sku is not available","parameters":{"sku":"SKU-Y"}}]}'
    }
    assert [(status, text) for kind, status, text in outcomes if kind != "take"] == [(200, "[]")] * (
        4 * ROUNDS
    )
    items = stored_source_items(session)
    assert items[("eu-3", "SKU-Y")] == (0.0, 1)
    assert items[("eu-2", "SKU-Y")] == (10.0, 1)
    assert items[("eu-1", "SKU-X")][0] + items[("eu-2", "SKU-X")][0] == 20.0
    assert items[("eu-1", "SKU-1")][0] + items[("eu-2", "SKU-1")][0] == 8.5
    assert index_differences(session, settings) == []
