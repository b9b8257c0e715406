"""Bulk assign and unassign (spec bulk.md), through HTTP and the database on every engine.

Setting: Magento's sources, stocks and links (``create_link_fixture``). Scenarios named after
a Magento test reproduce what that test pins; the others pin openmsi's departures
(docs/compatibility.md, "Bulk operations"): an unknown or misspelled SKU is a 4xx with nothing
written, the index is fresh after every call, a failing call writes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import (
    BULK_ASSIGN,
    BULK_ITEM_FIXTURE,
    BULK_UNASSIGN,
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

NOT_FOUND = "Following products with requested skus were not found: %1"
SPELLING = 'Product "%sku" is stored as "%storedSku": send the SKU as it is stored.'
NO_SOURCE = "Source %sourceCode does not exist"
REQUIRED = '"%fieldName" is required. Enter and try again.'

# Magento_InventoryCatalog::Test/_files/source_items_on_default_source.php, in spirit: the
# products SKU-1 … SKU-4 exist (openmsi: a source item stores them), on the default source.
DEFAULT_ITEMS = [source_item(f"SKU-{n}", "default", n, 1) for n in range(1, 5)]


def no_source(code: str) -> dict[str, Any]:
    return {"message": NO_SOURCE, "parameters": {"sourceCode": code}}


def required(name: str) -> dict[str, Any]:
    return {"message": REQUIRED, "parameters": {"fieldName": name}}


@pytest.fixture
def sources(client: TestClient, auth_headers: dict[str, str]) -> None:
    """Sources eu-1, eu-2, eu-3, eu-disabled, us-1; stocks 10, 20, 30 and their links."""
    create_link_fixture(client, auth_headers)


@pytest.fixture
def on_default(sources: None, client: TestClient, auth_headers: dict[str, str]) -> None:
    put_source_items(client, auth_headers, DEFAULT_ITEMS)


@pytest.fixture
def items(sources: None, client: TestClient, auth_headers: dict[str, str]) -> None:
    """InventoryApi/Test/_files/source_items.php."""
    put_source_items(client, auth_headers, list(BULK_ITEM_FIXTURE))


def assign(client: TestClient, headers: dict[str, str], skus: Any, codes: Any) -> Any:
    return client.post(BULK_ASSIGN, json={"skus": skus, "sourceCodes": codes}, headers=headers)


def unassign(client: TestClient, headers: dict[str, str], skus: Any, codes: Any) -> Any:
    return client.post(BULK_UNASSIGN, json={"skus": skus, "sourceCodes": codes}, headers=headers)


def answer(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


# --- Assign ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("on_default")
def test_bulk_source_assignment(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    """InventoryCatalog/Test/Integration/Bulk/SourceAssignTest::testBulkSourceAssignment."""
    assert answer(assign(client, auth_headers, ["SKU-1", "SKU-2"], ["eu-1"])) == 2
    items = stored_source_items(session)
    assert items[("eu-1", "SKU-1")] == items[("eu-1", "SKU-2")] == (0.0, 0)
    # Fresh at once (Magento's reindex gets source codes for item ids and does nothing):
    # a zero, out-of-stock item makes a row worth 0 in the stocks of eu-1.
    rows = index_rows(session)
    for stock_id in (10, 30):
        assert rows[(stock_id, "SKU-1")] == rows[(stock_id, "SKU-2")] == (0.0, False)
    assert rows[(1, "SKU-1")] == (1.0, True)
    assert index_differences(session, settings) == []

    assert answer(assign(client, auth_headers, ["SKU-1", "SKU-2"], ["eu-1"])) == 0

    skus = ["SKU-1", "SKU-2", "SKU-3", "SKU-4"]
    # (4 SKUs × 3 sources) − 2 earlier assignments.
    assert answer(assign(client, auth_headers, skus, ["eu-1", "eu-2", "eu-3"])) == 10
    items = stored_source_items(session)
    assert {pair for pair in items if pair[0] != "default"} == {
        (code, sku) for code in ("eu-1", "eu-2", "eu-3") for sku in skus
    }
    assert all(items[pair] == (0.0, 0) for pair in items if pair[0] != "default")
    # BulkConfigurationAssign: every pair has a setting, null (the default).
    assert low_quantity_settings(session) == {
        (code, sku): None for code in ("eu-1", "eu-2", "eu-3") for sku in skus
    }
    assert index_differences(session, settings) == []


@pytest.mark.usefixtures("items")
def test_existing_pairs_are_left_alone(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    put_low = client.post(
        "/rest/all/V1/inventory/low-quantity-notification",
        json={"sourceItemConfigurations": [{"source_code": "eu-1", "sku": "SKU-1", "notify_stock_qty": 2}]},
        headers=auth_headers,
    )
    assert put_low.status_code == 200, put_low.text
    before = stored_source_items(session)
    # SKU-1 is on eu-1 (5.5, in stock) and eu-2; SKU-3 on eu-2 only.
    assert answer(assign(client, auth_headers, ["SKU-1", "SKU-3", "SKU-1"], ["eu-1", "EU-2", "eu-1"])) == 1
    after = stored_source_items(session)
    assert after == {**before, ("eu-1", "SKU-3"): (0.0, 0)}
    settings_after = low_quantity_settings(session)
    assert settings_after[("eu-1", "SKU-1")] == 2.0
    assert settings_after[("eu-2", "SKU-3")] is None
    assert index_differences(session, settings) == []


@pytest.mark.usefixtures("sources")
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"skus": [], "sourceCodes": ["eu-1"]}, 0, id="no-skus"),
        pytest.param({"skus": ["SKU-1"], "sourceCodes": []}, 0, id="no-sources"),
    ],
)
def test_assign_with_nothing_to_do(
    client: TestClient, auth_headers: dict[str, str], session: Session, body: dict[str, Any], expected: int
) -> None:
    put_source_items(client, auth_headers, [source_item("SKU-1", "eu-1", 3, 1)])
    before = database_state(session)
    assert answer(client.post(BULK_ASSIGN, json=body, headers=auth_headers)) == expected
    assert database_state(session) == before


@pytest.mark.usefixtures("on_default")
def test_assign_snake_case(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    body = {"skus": ["SKU-3"], "source_codes": ["us-1"]}
    assert answer(client.post(BULK_ASSIGN, json=body, headers=auth_headers)) == 1
    assert stored_source_items(session)[("us-1", "SKU-3")] == (0.0, 0)
    assert index_rows(session)[(20, "SKU-3")] == (0.0, False)
    assert index_differences(session, settings) == []


@pytest.mark.usefixtures("on_default")
@pytest.mark.parametrize(
    ("skus", "codes", "status", "body"),
    [
        pytest.param(
            ["SKU-1"],
            ["eu-1", "eu-999", "nope", "eu-999"],
            400,
            {
                "message": "Validation Failed",
                "errors": [no_source("eu-999"), no_source("nope"), no_source("eu-999")],
            },
            id="unknown-sources-in-order-repeated",
        ),
        pytest.param(
            ["NOPE"],
            ["nowhere"],
            400,
            {"message": "Validation Failed", "errors": [no_source("nowhere")]},
            id="sources-are-checked-before-skus",
        ),
        # Magento: a TypeError, plain-text 500, after inserting SKU-1's rows (magento2#35171).
        pytest.param(
            ["SKU-1", "NOPE", "SKU-2", "ALSO-NOPE"],
            ["eu-1", "eu-2"],
            404,
            {"message": NOT_FOUND, "parameters": ["NOPE, ALSO-NOPE"]},
            id="unknown-sku",
        ),
        pytest.param(
            ["SKU-1", "sku-2"],
            ["eu-1"],
            400,
            {"message": SPELLING, "parameters": {"sku": "sku-2", "storedSku": "SKU-2"}},
            id="sku-in-another-case",
        ),
        pytest.param(
            ["sku-1", "sku-2"],
            ["eu-1"],
            400,
            {
                "message": "One or more input exceptions have occurred.",
                "errors": [
                    {"message": SPELLING, "parameters": {"sku": "sku-1", "storedSku": "SKU-1"}},
                    {"message": SPELLING, "parameters": {"sku": "sku-2", "storedSku": "SKU-2"}},
                ],
            },
            id="skus-in-another-case",
        ),
        pytest.param(
            ["SKU-1", "x" * 65],
            ["eu-1"],
            404,
            {"message": NOT_FOUND, "parameters": ["x" * 65]},
            id="sku-longer-than-any-stored",
        ),
    ],
)
def test_refused_assign_writes_nothing(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    skus: list[str],
    codes: list[str],
    status: int,
    body: dict[str, Any],
) -> None:
    before = database_state(session)
    assert_envelope(assign(client, auth_headers, skus, codes), status, body)
    assert database_state(session) == before


@pytest.mark.usefixtures("sources")
@pytest.mark.parametrize("path", [BULK_ASSIGN, BULK_UNASSIGN])
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {},
            {
                "message": "One or more input exceptions have occurred.",
                "errors": [required("skus"), required("sourceCodes")],
            },
            id="both-missing",
        ),
        pytest.param(
            {"skus": ["SKU-1"], "sourceCodes": None}, {**required("sourceCodes")}, id="null-is-missing"
        ),
        pytest.param(
            {"skus": "SKU-1", "sourceCodes": ["eu-1"]},
            {
                "message": 'The "SKU-1" value\'s type is invalid. The "string[]" type was expected. '
                "Verify and try again."
            },
            id="scalar-for-a-list",
        ),
        pytest.param(
            {"skus": ["SKU-1"], "sourceCodes": [["eu-1"]]},
            {
                "message": 'Error occurred during "sourceCodes" processing. The "array" value\'s type is '
                'invalid. The "string" type was expected. Verify and try again.'
            },
            id="list-in-a-list",
        ),
    ],
)
def test_bad_parameters(
    client: TestClient,
    auth_headers: dict[str, str],
    path: str,
    body: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    assert_envelope(client.post(path, json=body, headers=auth_headers), 400, expected)


@pytest.mark.usefixtures("sources")
@pytest.mark.parametrize("path", [BULK_ASSIGN, BULK_UNASSIGN])
def test_products_resource_is_required(client: TestClient, path: str) -> None:
    response = client.post(path, json={"skus": ["SKU-1"], "sourceCodes": ["eu-1"]})
    assert_envelope(
        response,
        401,
        {
            "message": "The consumer isn't authorized to access %resources.",
            "parameters": {"resources": "Magento_Catalog::products"},
        },
    )


@pytest.mark.usefixtures("on_default")
def test_failed_assign_writes_nothing(
    client: TestClient, auth_headers: dict[str, str], session: Session, database: Database
) -> None:
    before = database_state(session)
    with failing_statements(database, "INSERT INTO INVENTORY_STOCK_INDEX"):
        response = assign(client, auth_headers, ["SKU-1", "SKU-2"], ["eu-1", "us-1"])
    assert_envelope(response, 400, {"message": "Could not assign Sources"})
    assert database_state(session) == before


# --- Unassign --------------------------------------------------------------------------------


@pytest.mark.usefixtures("items")
def test_bulk_source_unassignment(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    """InventoryCatalog/Test/Integration/Bulk/SourceUnassignTest::testBulkSourceUnassignment."""
    skus = ["SKU-1", "SKU-2", "SKU-3", "SKU-4"]
    codes = ["eu-1", "eu-2", "eu-3"]
    # SKU-1 on eu-1, eu-2, eu-3; SKU-3 and SKU-4 on eu-2.
    assert answer(unassign(client, auth_headers, skus, codes)) == 5
    assert set(stored_source_items(session)) == {
        ("eu-disabled", "SKU-1"),
        ("us-1", "SKU-2"),
        ("eu-1", "SKU-6"),
    }
    assert index_rows(session) == {
        (10, "SKU-6"): (0.0, False),
        (20, "SKU-2"): (5.0, True),
        (30, "SKU-2"): (5.0, True),
        (30, "SKU-6"): (0.0, False),
    }
    assert index_differences(session, settings) == []
    assert answer(unassign(client, auth_headers, skus, codes)) == 0


@pytest.mark.usefixtures("items")
def test_unassign_matches_skus_in_any_case_and_deletes_their_settings(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    configurations = [
        {"source_code": "eu-1", "sku": "SKU-1", "notify_stock_qty": 1},
        {"source_code": "eu-2", "sku": "SKU-1", "notify_stock_qty": 2},
        {"source_code": "eu-1", "sku": "SKU-5", "notify_stock_qty": 3},  # no item
    ]
    response = client.post(
        "/rest/all/V1/inventory/low-quantity-notification",
        json={"sourceItemConfigurations": configurations},
        headers=auth_headers,
    )
    assert response.status_code == 200, response.text
    # Unknown SKUs are fine without the default source (no catalog lookup there).
    assert answer(unassign(client, auth_headers, ["sku-1", "SKU-5", "NOPE"], ["EU-1"])) == 1
    assert ("eu-1", "SKU-1") not in stored_source_items(session)
    assert low_quantity_settings(session) == {("eu-2", "SKU-1"): 2.0}
    assert index_rows(session)[(10, "SKU-1")] == (3.0, True)
    assert index_differences(session, settings) == []


@pytest.mark.usefixtures("on_default")
def test_unassign_default_source(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    assert answer(unassign(client, auth_headers, ["SKU-1", "sku-2"], ["default"])) == 2
    rows = index_rows(session)
    assert (1, "SKU-1") not in rows and (1, "SKU-2") not in rows
    assert rows[(1, "SKU-3")] == (3.0, True)
    assert index_differences(session, settings) == []


@pytest.mark.usefixtures("on_default")
@pytest.mark.parametrize(
    ("skus", "codes", "body"),
    [
        # BulkZeroLegacyStockItem resolves the SKUs to products: the transaction is not committed.
        pytest.param(
            ["SKU-1", "NOPE", "SKU-2"],
            ["eu-1", "default"],
            {"message": NOT_FOUND, "parameters": ["NOPE"]},
            id="unknown-sku-with-default-source",
        ),
        pytest.param(
            ["SKU-1"],
            ["default", "eu-999"],
            {"message": "Validation Failed", "errors": [no_source("eu-999")]},
            id="unknown-source",
        ),
    ],
)
def test_refused_unassign_deletes_nothing(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    skus: list[str],
    codes: list[str],
    body: dict[str, Any],
) -> None:
    before = database_state(session)
    status = 404 if body["message"] == NOT_FOUND else 400
    assert_envelope(unassign(client, auth_headers, skus, codes), status, body)
    assert database_state(session) == before


@pytest.mark.usefixtures("on_default")
@pytest.mark.parametrize(
    "body",
    [
        # Magento builds "IN ()" and fails with a 500.
        pytest.param({"skus": [], "sourceCodes": ["default"]}, id="no-skus"),
        pytest.param({"skus": ["SKU-1"], "source_codes": []}, id="no-sources"),
    ],
)
def test_unassign_with_nothing_to_do(
    client: TestClient, auth_headers: dict[str, str], session: Session, body: dict[str, Any]
) -> None:
    before = database_state(session)
    assert answer(client.post(BULK_UNASSIGN, json=body, headers=auth_headers)) == 0
    assert database_state(session) == before


@pytest.mark.usefixtures("items")
def test_failed_unassign_deletes_nothing(
    client: TestClient, auth_headers: dict[str, str], session: Session, database: Database
) -> None:
    before = database_state(session)
    with failing_statements(database, "DELETE FROM INVENTORY_STOCK_INDEX"):
        response = unassign(client, auth_headers, ["SKU-1", "SKU-3"], ["eu-1", "eu-2"])
    assert_envelope(response, 400, {"message": "Could not unassign Sources"})
    assert database_state(session) == before
