"""Source items: /V1/inventory/source-items (GET, save) and source-items-delete (spec
source-items.md), checked through HTTP and through the database on every engine.

Scenarios named after a Magento api-functional test reproduce what that test pins.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import (
    INVENTORY,
    SOURCE_ITEM_FIXTURE,
    SOURCE_ITEMS,
    SOURCE_ITEMS_DELETE,
    assert_envelope,
    create_link_fixture,
    delete_source_items,
    index_differences,
    index_rows,
    insert_sources,
    put_source_items,
    queued_reindex_jobs,
    save_source_items,
    source_item,
    stored_source_items,
)
from openmsi.db import Database
from openmsi.settings import Settings

EMPTY = '"%field" can not be empty.'
SPACES = '"%field" can not contain leading or trailing spaces.'
WHITESPACE = '"%field" can not contain whitespaces.'
NUMERIC = '"%field" should be numeric.'
KNOWN_STATUS = '"%field" should a known status.'
COULD_NOT_SAVE = {"message": "Could not save Source Item"}
INPUT_EMPTY = {"message": "Input data is empty"}

FIXTURE_ITEMS = {
    (item["source_code"], item["sku"]): (float(item["quantity"]), item["status"])
    for item in SOURCE_ITEM_FIXTURE
}
# The index of the link and item fixtures: eu-disabled contributes nothing, out-of-stock
# items make a row worth 0 (indexing.md).
FIXTURE_INDEX = {
    (10, "SKU-1"): (8.5, True),
    (10, "SKU-3"): (0.0, False),
    (20, "SKU-2"): (5.0, True),
    (30, "SKU-1"): (8.5, True),
    (30, "SKU-2"): (5.0, True),
    (30, "SKU-3"): (0.0, False),
}


def err(message: str, field: str) -> dict[str, Any]:
    return {"message": message, "parameters": {"field": field}}


def required(field_name: str) -> dict[str, Any]:
    return {
        "message": '"%fieldName" is required. Enter and try again.',
        "parameters": {"fieldName": field_name},
    }


def type_error(field: str, value: str, expected: str) -> dict[str, Any]:
    return {
        "message": f'Error occurred during "{field}" processing. The "{value}" value\'s type is invalid. '
        f'The "{expected}" type was expected. Verify and try again.'
    }


def validation_failed(*errors: dict[str, Any]) -> dict[str, Any]:
    first = errors[0]
    rendered = first["message"].replace("%field", first["parameters"]["field"])
    return {"message": f"Validation Failed: {rendered}", "errors": list(errors)}


@pytest.fixture
def fixture(client: TestClient, auth_headers: dict[str, str], session: Session) -> None:
    """Magento's sources, stocks, links and source_items.php fixtures."""
    create_link_fixture(client, auth_headers)
    put_source_items(client, auth_headers, list(SOURCE_ITEM_FIXTURE))
    assert stored_source_items(session) == FIXTURE_ITEMS
    assert index_rows(session) == FIXTURE_INDEX


def assert_unchanged(session: Session, settings: Settings) -> None:
    assert stored_source_items(session) == FIXTURE_ITEMS
    assert index_rows(session) == FIXTURE_INDEX
    assert queued_reindex_jobs(session) == []
    assert index_differences(session, settings) == []


# --- Save: validation (ValidationTest.php) ------------------------------------------------------

_MISSING = object()


def changed(**changes: Any) -> dict[str, Any]:
    item = source_item("SKU-1", "eu-1", 5.5, 1)
    for name, value in changes.items():
        if value is _MISSING:
            del item[name]
        else:
            item[name] = value
    return item


@pytest.mark.parametrize(
    ("item", "errors"),
    [
        pytest.param(changed(sku=_MISSING), [err(EMPTY, "sku")], id="sku-missing"),
        pytest.param(changed(sku=None), [err(EMPTY, "sku")], id="sku-null"),
        pytest.param(changed(sku=""), [err(EMPTY, "sku")], id="sku-empty"),
        pytest.param(changed(sku=" "), [err(EMPTY, "sku"), err(SPACES, "sku")], id="sku-space"),
        pytest.param(changed(sku="\t"), [err(EMPTY, "sku"), err(SPACES, "sku")], id="sku-tab"),
        pytest.param(changed(sku=" SKU-1"), [err(SPACES, "sku")], id="sku-leading-space"),
        pytest.param(changed(sku="SKU-1\n"), [err(SPACES, "sku")], id="sku-trailing-newline"),
        pytest.param(changed(source_code=_MISSING), [err(EMPTY, "source_code")], id="code-missing"),
        pytest.param(changed(source_code=None), [err(EMPTY, "source_code")], id="code-null"),
        pytest.param(changed(source_code=""), [err(EMPTY, "source_code")], id="code-empty"),
        pytest.param(
            changed(source_code=" "),
            [err(EMPTY, "source_code"), err(WHITESPACE, "source_code")],
            id="code-space",
        ),
        pytest.param(
            changed(source_code="source code"), [err(WHITESPACE, "source_code")], id="code-inner-space"
        ),
        pytest.param(
            changed(source_code="eu-1 "), [err(WHITESPACE, "source_code")], id="code-trailing-space"
        ),
        pytest.param(changed(quantity=_MISSING), [err(NUMERIC, "quantity")], id="quantity-missing"),
        pytest.param(changed(quantity=None), [err(NUMERIC, "quantity")], id="quantity-null"),
        pytest.param(changed(status=_MISSING), [err(NUMERIC, "status")], id="status-missing"),
        pytest.param(changed(status=None), [err(NUMERIC, "status")], id="status-null"),
        pytest.param(changed(status="999999"), [err(KNOWN_STATUS, "status")], id="status-999999"),
        pytest.param(changed(status=2), [err(KNOWN_STATUS, "status")], id="status-2"),
        pytest.param(changed(status=-1), [err(KNOWN_STATUS, "status")], id="status-negative"),
        pytest.param(
            {},
            [err(EMPTY, "sku"), err(EMPTY, "source_code"), err(NUMERIC, "quantity"), err(NUMERIC, "status")],
            id="everything-missing",
        ),
        pytest.param(
            {"sku": " ", "source_code": " ", "quantity": None, "status": 7},
            [
                err(EMPTY, "sku"),
                err(SPACES, "sku"),
                err(EMPTY, "source_code"),
                err(WHITESPACE, "source_code"),
                err(NUMERIC, "quantity"),
                err(KNOWN_STATUS, "status"),
            ],
            id="validator-order",
        ),
    ],
)
def test_save_validation(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    settings: Settings,
    fixture: None,
    item: dict[str, Any],
    errors: list[dict[str, Any]],
) -> None:
    # A valid item first: a batch is written whole or not at all.
    response = save_source_items(client, auth_headers, [source_item("SKU-1", "eu-1", 99, 1), item])
    assert_envelope(response, 400, validation_failed(*errors))
    assert_unchanged(session, settings)


def test_save_validation_lists_the_errors_of_every_item_in_item_order(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings, fixture: None
) -> None:
    items = [
        changed(status=3),
        source_item("SKU-1", "eu-2", 1, 1),
        changed(sku=""),
        changed(source_code="a b"),
    ]
    response = save_source_items(client, auth_headers, items)
    assert_envelope(
        response,
        400,
        validation_failed(err(KNOWN_STATUS, "status"), err(EMPTY, "sku"), err(WHITESPACE, "source_code")),
    )
    assert response.json()["message"] == 'Validation Failed: "status" should a known status.'
    assert_unchanged(session, settings)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"quantity": ""}, type_error("quantity", "", "float"), id="quantity-empty-string"),
        pytest.param({"quantity": "test"}, type_error("quantity", "test", "float"), id="quantity-text"),
        pytest.param({"source_code": []}, type_error("source_code", "array", "string"), id="code-array"),
    ],
)
def test_save_type_errors(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    settings: Settings,
    fixture: None,
    changes: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    response = save_source_items(
        client, auth_headers, [source_item("SKU-1", "eu-1", 99, 1), changed(**changes)]
    )
    assert_envelope(response, 400, expected)
    assert_unchanged(session, settings)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({}, required("sourceItems"), id="absent"),
        pytest.param({"sourceItems": None}, required("sourceItems"), id="null"),
        pytest.param({"sourceItems": []}, INPUT_EMPTY, id="empty-list"),
    ],
)
def test_save_without_items(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    settings: Settings,
    fixture: None,
    body: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    assert_envelope(client.post(SOURCE_ITEMS, json=body, headers=auth_headers), 400, expected)
    assert_unchanged(session, settings)


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([source_item("SKU-1", "not-existed-source-code", 1, 1)], id="alone"),
        pytest.param(
            [
                source_item("SKU-1", "eu-1", 1, 1),
                source_item("NEW", "us-1", 1, 1),
                source_item("SKU-1", "not-existed-source-code", 1, 1),
            ],
            id="after-valid-items",
        ),
        pytest.param(
            [source_item("SKU-1", "not-existed-source-code", 1, 1), source_item("NEW", "eu-2", 1, 1)],
            id="before-valid-items",
        ),
    ],
)
def test_save_unknown_source_writes_nothing(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    settings: Settings,
    fixture: None,
    items: list[dict[str, Any]],
) -> None:
    assert_envelope(save_source_items(client, auth_headers, items), 400, COULD_NOT_SAVE)
    assert_unchanged(session, settings)


# --- Save: values ---------------------------------------------------------------------------------


def listed(client: TestClient, headers: dict[str, str], sku: str) -> list[dict[str, Any]]:
    params = {
        "searchCriteria[filter_groups][0][filters][0][field]": "sku",
        "searchCriteria[filter_groups][0][filters][0][value]": sku,
    }
    response = client.get(SOURCE_ITEMS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.mark.parametrize(
    ("quantity", "stored", "printed"),
    [
        pytest.param(1.23456, 1.2346, 1.2346, id="rounded-up"),
        pytest.param(1.23454, 1.2345, 1.2345, id="rounded-down"),
        pytest.param(2.00004, 2.0, 2, id="rounded-to-integral"),
        pytest.param(-5.5, -5.5, -5.5, id="negative"),
        pytest.param(0, 0.0, 0, id="zero"),
        pytest.param(99999999.9999, 99999999.9999, 99999999.9999, id="largest"),
        pytest.param("7.5", 7.5, 7.5, id="numeric-string"),
    ],
)
def test_save_quantity(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    settings: Settings,
    fixture: None,
    quantity: Any,
    stored: float,
    printed: float,
) -> None:
    put_source_items(client, auth_headers, [source_item("SKU-Q", "us-1", quantity, 1)])
    assert stored_source_items(session)[("us-1", "SKU-Q")] == (stored, 1)
    assert listed(client, auth_headers, "SKU-Q") == [
        {"sku": "SKU-Q", "source_code": "us-1", "quantity": printed, "status": 1}
    ]
    # us-1 is linked to stocks 20 and 30.
    assert index_rows(session) == {
        **FIXTURE_INDEX,
        (20, "SKU-Q"): (stored, stored > 0),
        (30, "SKU-Q"): (stored, stored > 0),
    }
    assert index_differences(session, settings) == []


@pytest.mark.parametrize(
    "quantity", [pytest.param(1e8, id="1e8"), pytest.param(-1e8, id="-1e8"), pytest.param(1e300, id="1e300")]
)
def test_save_quantity_too_large(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    settings: Settings,
    fixture: None,
    quantity: float,
) -> None:
    items = [source_item("NEW", "eu-1", 1, 1), source_item("SKU-1", "us-1", quantity, 1)]
    assert_envelope(save_source_items(client, auth_headers, items), 400, COULD_NOT_SAVE)
    assert_unchanged(session, settings)


def test_save_sku_length(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings, fixture: None
) -> None:
    items = [source_item("NEW", "eu-1", 1, 1), source_item("L" * 65, "eu-1", 1, 1)]
    assert_envelope(save_source_items(client, auth_headers, items), 400, COULD_NOT_SAVE)
    assert_unchanged(session, settings)

    put_source_items(client, auth_headers, [source_item("L" * 64, "eu-1", 2, 1)])
    assert stored_source_items(session)[("eu-1", "L" * 64)] == (2.0, 1)
    assert index_rows(session)[(10, "L" * 64)] == (2.0, True)


def test_save_inserts_and_updates(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings, fixture: None
) -> None:
    put_source_items(
        client,
        auth_headers,
        [
            source_item("SKU-1", "eu-1", 1, 0),
            source_item("SKU-9", "eu-3", 4, 1),
            source_item("SKU-2", "us-1", 0, 1),
        ],
    )
    assert stored_source_items(session) == {
        **FIXTURE_ITEMS,
        ("eu-1", "SKU-1"): (1.0, 0),
        ("eu-3", "SKU-9"): (4.0, 1),
        ("us-1", "SKU-2"): (0.0, 1),
    }
    assert index_rows(session) == {
        **FIXTURE_INDEX,
        (10, "SKU-1"): (3.0, True),
        (30, "SKU-1"): (3.0, True),
        (10, "SKU-9"): (4.0, True),
        (30, "SKU-9"): (4.0, True),
        # SourceItemsSaveInterfaceTest: SKU-2 on us-1, quantity 0 and in stock → not salable.
        (20, "SKU-2"): (0.0, False),
        (30, "SKU-2"): (0.0, False),
    }
    assert index_differences(session, settings) == []


def test_same_pair_twice_the_later_wins(
    client: TestClient, auth_headers: dict[str, str], session: Session, fixture: None
) -> None:
    put_source_items(
        client,
        auth_headers,
        [
            source_item("SKU-1", "eu-1", 1, 1),
            source_item("NEW", "eu-2", 1, 1),
            source_item("sku-1", "EU-1", 2, 0),
            source_item("NEW", "eu-2", 3, 1),
        ],
    )
    items = stored_source_items(session)
    assert items[("eu-1", "SKU-1")] == (2.0, 0)
    assert items[("eu-2", "NEW")] == (3.0, 1)
    assert len(items) == len(FIXTURE_ITEMS) + 1
    assert index_rows(session)[(10, "SKU-1")] == (3.0, True)


def test_case_variant_of_an_existing_pair_updates_it_and_keeps_its_spelling(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings, fixture: None
) -> None:
    put_source_items(client, auth_headers, [source_item("sku-1", "EU-1", 7, 1)])
    assert stored_source_items(session) == {**FIXTURE_ITEMS, ("eu-1", "SKU-1"): (7.0, 1)}
    assert {"sku": "SKU-1", "source_code": "eu-1", "quantity": 7, "status": 1} in listed(
        client, auth_headers, "sku-1"
    )
    assert index_rows(session) == {**FIXTURE_INDEX, (10, "SKU-1"): (10.0, True), (30, "SKU-1"): (10.0, True)}
    assert index_differences(session, settings) == []


def test_new_item_takes_the_stored_spelling_of_its_source(
    client: TestClient, auth_headers: dict[str, str], session: Session, fixture: None
) -> None:
    put_source_items(client, auth_headers, [source_item("NEW", "US-1", 2, 1)])
    assert stored_source_items(session)[("us-1", "NEW")] == (2.0, 1)
    assert listed(client, auth_headers, "NEW") == [
        {"sku": "NEW", "source_code": "us-1", "quantity": 2, "status": 1}
    ]


@pytest.mark.parametrize(
    ("status", "stored"),
    [
        pytest.param("1", 1, id="string"),
        pytest.param(1.0, 1, id="float"),
        pytest.param("0", 0, id="string-0"),
    ],
)
def test_numeric_status_values(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    fixture: None,
    status: Any,
    stored: int,
) -> None:
    put_source_items(client, auth_headers, [source_item("SKU-1", "eu-1", 5.5, status)])
    assert stored_source_items(session)[("eu-1", "SKU-1")] == (5.5, stored)


# --- Volume -------------------------------------------------------------------------------------

VOLUME = 10_000


def test_save_ten_thousand_items_in_one_request(
    client: TestClient,
    auth_headers: dict[str, str],
    database: Database,
    session: Session,
    settings: Settings,
    fixture: None,
) -> None:
    insert_sources(database, ["bulk-a", "bulk-b"])
    link = {"stock_id": 10, "source_code": "bulk-a", "priority": 9}
    response = client.post(f"{INVENTORY}/stock-source-links", json={"links": [link]}, headers=auth_headers)
    assert response.status_code == 200, response.text
    # 5,000 SKUs, each on bulk-a (linked to stock 10) and bulk-b (linked to nothing); the first
    # 100 items make way for items of SKUs 0-99 on eu-1 (linked to stocks 10 and 30).
    items = [
        source_item(f"BULK-{n:05d}", code, n % 7 + 0.25, int(n % 3 != 0))
        for n in range(VOLUME // 2)
        for code in ("bulk-a", "bulk-b")
    ]
    items[:100] = [source_item(f"BULK-{n:05d}", "eu-1", 1, 1) for n in range(100)]

    put_source_items(client, auth_headers, items)

    stored = stored_source_items(session)
    assert len(stored) == len(FIXTURE_ITEMS) + VOLUME
    for item in items:
        assert stored[(item["source_code"], item["sku"])] == (item["quantity"], item["status"])
    rows = index_rows(session, (10,))
    bulk = {key: value for key, value in rows.items() if key[1].startswith("BULK-")}
    assert len(bulk) == VOLUME // 2
    for n in (0, 49, 50, 99, 100, 101, 4999):
        on_a = (n % 7 + 0.25) if n % 3 != 0 else 0
        if n < 50:  # only on eu-1
            expected = 1.0
        elif n < 100:  # on eu-1 and bulk-a
            expected = 1.0 + on_a
        else:
            expected = on_a
        assert bulk[(10, f"BULK-{n:05d}")] == (expected, expected > 0), n
    assert index_differences(session, settings) == []


# --- GET /V1/inventory/source-items -------------------------------------------------------------


def test_get_list_pinned(client: TestClient, auth_headers: dict[str, str], fixture: None) -> None:
    """GetListTest.php."""
    params = {
        "searchCriteria[filter_groups][0][filters][0][field]": "sku",
        "searchCriteria[filter_groups][0][filters][0][value]": "SKU-1",
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "eq",
        "searchCriteria[sort_orders][0][field]": "quantity",
        "searchCriteria[sort_orders][0][direction]": "DESC",
        "searchCriteria[current_page]": "2",
        "searchCriteria[page_size]": "2",
    }
    response = client.get(SOURCE_ITEMS, params=params, headers=auth_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["items"] == [
        {"sku": "SKU-1", "source_code": "eu-1", "quantity": 5.5, "status": 1},
        {"sku": "SKU-1", "source_code": "eu-2", "quantity": 3, "status": 1},
    ]
    assert [list(item) for item in body["items"]] == [["sku", "source_code", "quantity", "status"]] * 2
    assert body["total_count"] == 4
    assert body["search_criteria"]["page_size"] == 2
    assert body["search_criteria"]["current_page"] == 2


def test_get_list_filter_is_case_insensitive(
    client: TestClient, auth_headers: dict[str, str], fixture: None
) -> None:
    assert [(item["source_code"], item["quantity"]) for item in listed(client, auth_headers, "sku-1")] == [
        ("eu-1", 5.5),
        ("eu-2", 3),
        ("eu-3", 10),
        ("eu-disabled", 10),
    ]


def test_get_list_requires_search_criteria(client: TestClient, auth_headers: dict[str, str]) -> None:
    assert_envelope(client.get(SOURCE_ITEMS, headers=auth_headers), 400, required("searchCriteria"))


# --- Delete (SourceItemsDeleteTest.php) -----------------------------------------------------------


def test_delete_pinned(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings, fixture: None
) -> None:
    items = [
        {"sku": "SKU-1", "source_code": "eu-1", "quantity": 5.5, "status": 1},
        {"sku": "SKU-1", "source_code": "eu-2"},
    ]
    response = delete_source_items(client, auth_headers, items)
    assert response.status_code == 200, response.text
    assert response.text == "[]"
    assert listed(client, auth_headers, "SKU-1") == [
        {"sku": "SKU-1", "source_code": "eu-3", "quantity": 10, "status": 0},
        {"sku": "SKU-1", "source_code": "eu-disabled", "quantity": 10, "status": 1},
    ]
    expected = dict(FIXTURE_ITEMS)
    del expected[("eu-1", "SKU-1")], expected[("eu-2", "SKU-1")]
    assert stored_source_items(session) == expected
    assert index_rows(session) == {**FIXTURE_INDEX, (10, "SKU-1"): (0.0, False), (30, "SKU-1"): (0.0, False)}
    assert index_differences(session, settings) == []


def test_delete_from_the_query_string(
    client: TestClient, auth_headers: dict[str, str], session: Session, fixture: None
) -> None:
    params = {
        "sourceItems[0][sku]": "SKU-1",
        "sourceItems[0][source_code]": "eu-1",
        "sourceItems[1][sku]": "SKU-1",
        "sourceItems[1][source_code]": "eu-2",
    }
    response = client.post(
        SOURCE_ITEMS_DELETE,
        params=params,
        content=b"[]",
        headers={**auth_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.text == "[]"
    assert ("eu-1", "SKU-1") not in stored_source_items(session)
    assert ("eu-2", "SKU-1") not in stored_source_items(session)
    assert len(stored_source_items(session)) == len(FIXTURE_ITEMS) - 2


def test_delete_ignores_missing_pairs(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings, fixture: None
) -> None:
    items = [
        {"sku": "SKU-2", "source_code": "eu-1"},
        {"sku": "SKU-404", "source_code": "us-1"},
        {"sku": "SKU-1", "source_code": "no-such-source"},
        {"sku": "S" * 100, "source_code": "eu-1"},
    ]
    response = delete_source_items(client, auth_headers, items)
    assert response.status_code == 200, response.text
    assert response.text == "[]"
    assert_unchanged(session, settings)


def test_delete_the_last_item_of_a_sku_drops_its_rows(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings, fixture: None
) -> None:
    response = delete_source_items(client, auth_headers, [{"sku": "sku-2", "source_code": "US-1"}])
    assert response.status_code == 200, response.text
    assert ("us-1", "SKU-2") not in stored_source_items(session)
    assert index_rows(session) == {key: value for key, value in FIXTURE_INDEX.items() if key[1] != "SKU-2"}
    assert index_differences(session, settings) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({}, required("sourceItems"), id="absent"),
        pytest.param({"sourceItems": []}, INPUT_EMPTY, id="empty-list"),
    ],
)
def test_delete_without_items(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    settings: Settings,
    fixture: None,
    body: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    assert_envelope(client.post(SOURCE_ITEMS_DELETE, json=body, headers=auth_headers), 400, expected)
    assert_unchanged(session, settings)


# --- ACL -------------------------------------------------------------------------------------------


def unauthorized(resource: str) -> dict[str, Any]:
    return {
        "message": "The consumer isn't authorized to access %resources.",
        "parameters": {"resources": resource},
    }


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "resource"),
    [
        pytest.param(
            "GET", SOURCE_ITEMS, {"params": {"searchCriteria": ""}}, "Magento_InventoryApi::source", id="list"
        ),
        pytest.param(
            "POST",
            SOURCE_ITEMS,
            {"json": {"sourceItems": [source_item("SKU-1", "eu-1", 0, 0)]}},
            "Magento_InventoryApi::stock_source_item_assign",
            id="save",
        ),
        pytest.param(
            "POST",
            SOURCE_ITEMS_DELETE,
            {"json": {"sourceItems": [{"sku": "SKU-1", "source_code": "eu-1"}]}},
            "Magento_InventoryApi::stock_source_item_assign",
            id="delete",
        ),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer not-a-token"}, id="unknown-token"),
    ],
)
def test_source_items_require_their_resource(
    client: TestClient,
    session: Session,
    settings: Settings,
    fixture: None,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    resource: str,
    headers: dict[str, str],
) -> None:
    assert_envelope(client.request(method, path, headers=headers, **kwargs), 401, unauthorized(resource))
    assert_unchanged(session, settings)
