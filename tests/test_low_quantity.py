"""Low-quantity notification settings: GET low-quantity-notification/:sourceCode/:sku, POST
low-quantity-notification and low-quantity-notifications-delete (spec low-quantity.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import INVENTORY, JSON_UTF8, assert_envelope, create_link_fixture
from openmsi.models import LowQuantityNotification
from openmsi.settings import Settings

GET = f"{INVENTORY}/low-quantity-notification"
SAVE = f"{INVENTORY}/low-quantity-notification"
DELETE = f"{INVENTORY}/low-quantity-notifications-delete"
SOURCE_ITEMS = f"{INVENTORY}/source-items"

WRONG_INPUT = {"message": "Wrong input data"}
COULD_NOT_SAVE = {"message": "Could not save Source Item Configuration"}


def configuration(source_code: str, sku: str, notify_stock_qty: Any) -> dict[str, Any]:
    return {"source_code": source_code, "notify_stock_qty": notify_stock_qty, "sku": sku}


def save(client: TestClient, headers: dict[str, str], configurations: Any) -> httpx.Response:
    return client.post(SAVE, json={"sourceItemConfigurations": configurations}, headers=headers)


def delete(client: TestClient, headers: dict[str, str], items: Any) -> httpx.Response:
    return client.post(DELETE, json={"sourceItems": items}, headers=headers)


def get(client: TestClient, headers: dict[str, str], source_code: str, sku: str) -> httpx.Response:
    return client.get(f"{GET}/{source_code}/{sku}", headers=headers)


def add_items(client: TestClient, headers: dict[str, str], *pairs: tuple[str, str]) -> None:
    items = [{"source_code": code, "sku": sku, "quantity": 10, "status": 1} for code, sku in pairs]
    response = client.post(SOURCE_ITEMS, json={"sourceItems": items}, headers=headers)
    assert response.status_code == 200, response.text


def stored(session: Session) -> dict[tuple[str, str], Decimal | None]:
    session.rollback()
    rows = session.execute(
        select(
            LowQuantityNotification.source_code,
            LowQuantityNotification.sku,
            LowQuantityNotification.notify_stock_qty,
        )
    )
    return {(code, sku): value for code, sku, value in rows}


@pytest.fixture
def fixture(client: TestClient, auth_headers: dict[str, str]) -> None:
    """Sources eu-1 … us-1 and SKU-1 on eu-1 and eu-2 (the product "exists")."""
    create_link_fixture(client, auth_headers)
    add_items(client, auth_headers, ("eu-1", "SKU-1"), ("eu-2", "SKU-1"))


# --- GET -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("fixture")
def test_get_returns_the_stored_value_in_getter_order(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    # GetSourceItemConfigurationTest with fixture source_item_configuration.php (eu-1/SKU-1 = 5.6).
    assert save(client, auth_headers, [configuration("eu-1", "SKU-1", 5.6)]).status_code == 200

    response = get(client, auth_headers, "eu-1", "SKU-1")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON_UTF8
    assert response.text == '{"source_code":"eu-1","notify_stock_qty":5.6,"sku":"SKU-1"}'


@pytest.mark.usefixtures("fixture")
def test_get_answers_the_stored_spelling_of_a_case_insensitive_match(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    assert save(client, auth_headers, [configuration("eu-1", "SKU-1", 3)]).status_code == 200

    response = get(client, auth_headers, "EU-1", "sku-1")

    assert response.status_code == 200, response.text
    assert response.json() == configuration("eu-1", "SKU-1", 3)


@pytest.mark.usefixtures("fixture")
def test_get_falls_back_to_the_global_default(client: TestClient, auth_headers: dict[str, str]) -> None:
    # No row on eu-2, a NULL row on eu-1: both are the default, as a float printed like PHP.
    assert save(client, auth_headers, [{"source_code": "eu-1", "sku": "SKU-1"}]).status_code == 200

    assert get(client, auth_headers, "eu-2", "SKU-1").text == (
        '{"source_code":"eu-2","notify_stock_qty":1,"sku":"SKU-1"}'
    )
    assert get(client, auth_headers, "eu-1", "sku-1").json() == configuration("eu-1", "sku-1", 1)
    # A source without any item of the SKU still answers, as long as both exist.
    assert get(client, auth_headers, "us-1", "SKU-1").json() == configuration("us-1", "SKU-1", 1)


@pytest.mark.usefixtures("fixture")
@pytest.mark.parametrize(("default", "expected"), [(2, 2), (2.5, 2.5)])
def test_get_uses_the_configured_default(
    client: TestClient,
    auth_headers: dict[str, str],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    default: float,
    expected: float,
) -> None:
    # State keeps its attributes in a dict; monkeypatch.setattr would delete it on undo.
    state = client.app.state._state  # type: ignore[attr-defined]
    monkeypatch.setitem(state, "settings", settings.model_copy(update={"notify_stock_qty": default}))

    response = get(client, auth_headers, "eu-2", "SKU-1")

    assert response.status_code == 200, response.text
    assert response.json() == configuration("eu-2", "SKU-1", expected)


@pytest.mark.usefixtures("fixture")
@pytest.mark.parametrize(
    ("source_code", "sku"),
    [
        ("eu-1", "NO-Existing"),  # unknown product
        ("NO-Existing", "SKU-1"),  # unknown source
        ("0", "SKU-1"),  # PHP empty("0")
        ("eu-1", "0"),
        ("eu-1", "S" * 65),  # longer than any SKU can be
    ],
)
def test_get_refuses_unknown_or_empty_input(
    client: TestClient, auth_headers: dict[str, str], source_code: str, sku: str
) -> None:
    # A stored row does not make a product exist.
    assert save(client, auth_headers, [configuration(source_code, sku[:64], 4)]).status_code == 200

    assert_envelope(get(client, auth_headers, source_code, sku), 400, WRONG_INPUT)


def test_get_treats_the_sku_zero_as_empty_even_when_it_exists(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    add_items(client, auth_headers, ("default", "0"))
    assert_envelope(get(client, auth_headers, "default", "0"), 400, WRONG_INPUT)


# --- POST save -----------------------------------------------------------------------------


@pytest.mark.usefixtures("fixture")
def test_save_then_get(client: TestClient, auth_headers: dict[str, str], session: Session) -> None:
    # SourceItemConfigurationsSaveTest.
    response = save(
        client,
        auth_headers,
        [configuration("eu-1", "SKU-1", 2), configuration("eu-2", "SKU-1", 1)],
    )

    assert response.status_code == 200, response.text
    assert response.text == "[]"
    assert stored(session) == {("eu-1", "SKU-1"): Decimal(2), ("eu-2", "SKU-1"): Decimal(1)}
    assert get(client, auth_headers, "eu-1", "SKU-1").json() == configuration("eu-1", "SKU-1", 2)
    assert get(client, auth_headers, "eu-2", "SKU-1").json() == configuration("eu-2", "SKU-1", 1)


def test_save_is_an_upsert_without_existence_or_range_checks(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    first = [configuration("nowhere", "ghost", 5), configuration("default", "A", -3.25)]
    assert save(client, auth_headers, first).status_code == 200
    second = [
        {"source_code": "NOWHERE", "sku": "GHOST", "notify_stock_qty": None},  # null: use the default
        {"source_code": "default", "sku": "a", "notify_stock_qty": "99999999.9999"},
        {"source_code": "default", "sku": "B"},  # omitted: null
    ]

    response = save(client, auth_headers, second)

    assert response.status_code == 200, response.text
    assert stored(session) == {
        ("nowhere", "ghost"): None,
        ("default", "A"): Decimal("99999999.9999"),
        ("default", "B"): None,
    }


def test_save_keeps_the_first_spelling_and_the_last_value_of_a_repeated_pair(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    batch = [configuration("default", "Sku-X", 1), configuration("DEFAULT", "SKU-X", 7.12345)]

    assert save(client, auth_headers, batch).status_code == 200

    # Four decimal places, rounded half up, as decimal(12,4) stores them.
    assert stored(session) == {("default", "Sku-X"): Decimal("7.1235")}


@pytest.mark.parametrize(
    "bad",
    [
        {"sku": "SKU-2", "notify_stock_qty": 1},  # no source_code: NOT NULL
        {"source_code": "default", "notify_stock_qty": 1},  # no sku
        {"source_code": "default", "sku": None, "notify_stock_qty": 1},
        {"source_code": "default", "sku": "S" * 65, "notify_stock_qty": 1},
        {"source_code": "c" * 256, "sku": "SKU-2", "notify_stock_qty": 1},
        {"source_code": "default", "sku": "SKU-2", "notify_stock_qty": 1e8},
        {"source_code": "default", "sku": "SKU-2", "notify_stock_qty": -99999999.99995},  # rounds to -1e8
    ],
)
def test_save_writes_nothing_when_one_row_cannot_be_stored(
    client: TestClient, auth_headers: dict[str, str], session: Session, bad: dict[str, Any]
) -> None:
    response = save(client, auth_headers, [configuration("default", "SKU-1", 2), bad])

    assert_envelope(response, 400, COULD_NOT_SAVE)
    assert stored(session) == {}


def test_save_input_errors(client: TestClient, auth_headers: dict[str, str], session: Session) -> None:
    assert_envelope(save(client, auth_headers, []), 400, {"message": "Input data is empty"})
    assert_envelope(
        client.post(SAVE, json={}, headers=auth_headers),
        400,
        {
            "message": '"%fieldName" is required. Enter and try again.',
            "parameters": {"fieldName": "sourceItemConfigurations"},
        },
    )
    assert_envelope(
        save(client, auth_headers, [{"source_code": "default", "sku": "A", "notify_stock_qty": "abc"}]),
        400,
        {
            "message": 'Error occurred during "notify_stock_qty" processing. The "abc" value\'s type is '
            'invalid. The "float" type was expected. Verify and try again.'
        },
    )
    assert stored(session) == {}


# --- POST delete ---------------------------------------------------------------------------


@pytest.mark.usefixtures("fixture")
def test_delete_then_get_answers_the_default(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    # DeleteSourceItemsConfigurationTest.
    add_items(client, auth_headers, ("eu-2", "SKU-3"))
    kept = configuration("eu-1", "SKU-3", 9)
    batch = [configuration("eu-1", "SKU-1", 5.6), configuration("eu-2", "SKU-3", 2), kept]
    assert save(client, auth_headers, batch).status_code == 200

    response = delete(
        client,
        auth_headers,
        [{"sku": "sku-1", "source_code": "EU-1"}, {"sku": "SKU-3", "source_code": "eu-2"}, {"sku": "x"}],
    )

    assert response.status_code == 200, response.text
    assert response.text == "[]"
    assert stored(session) == {("eu-1", "SKU-3"): Decimal(9)}
    assert get(client, auth_headers, "eu-1", "SKU-1").json() == configuration("eu-1", "SKU-1", 1)
    assert get(client, auth_headers, "eu-2", "SKU-3").json() == configuration("eu-2", "SKU-3", 1)


def test_delete_accepts_an_empty_list_but_requires_the_parameter(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    assert save(client, auth_headers, [configuration("default", "A", 2)]).status_code == 200

    response = delete(client, auth_headers, [])

    assert response.status_code == 200, response.text
    assert response.text == "[]"
    assert_envelope(
        client.post(DELETE, json={}, headers=auth_headers),
        400,
        {
            "message": '"%fieldName" is required. Enter and try again.',
            "parameters": {"fieldName": "sourceItems"},
        },
    )
    assert stored(session) == {("default", "A"): Decimal(2)}


@pytest.mark.usefixtures("fixture")
def test_source_item_deletion_deletes_the_pairs_settings(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    batch = [configuration("eu-1", "SKU-1", 3), configuration("eu-2", "SKU-1", 4)]
    assert save(client, auth_headers, batch).status_code == 200

    response = client.post(
        f"{INVENTORY}/source-items-delete",
        json={"sourceItems": [{"source_code": "eu-1", "sku": "SKU-1"}]},
        headers=auth_headers,
    )

    assert response.status_code == 200, response.text
    assert stored(session) == {("eu-2", "SKU-1"): Decimal(4)}
    # Saving source items again does not bring a setting back.
    add_items(client, auth_headers, ("eu-1", "SKU-1"))
    assert stored(session) == {("eu-2", "SKU-1"): Decimal(4)}


# --- ACL -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "resource"),
    [
        (
            "GET",
            f"{GET}/default/SKU-1",
            "Magento_InventoryLowQuantityNotificationApi::low_quantity_notification",
        ),
        ("POST", SAVE, "Magento_InventoryLowQuantityNotificationApi::stock_create_low_quantity_notification"),
        (
            "POST",
            DELETE,
            "Magento_InventoryLowQuantityNotificationApi::stock_delete_low_quantity_notification",
        ),
    ],
)
def test_routes_need_their_acl_resource(
    client: TestClient, session: Session, method: str, path: str, resource: str
) -> None:
    body = {"sourceItemConfigurations": [configuration("default", "A", 1)], "sourceItems": []}
    response = client.request(method, path, json=body if method == "POST" else None)

    assert_envelope(
        response,
        401,
        {
            "message": "The consumer isn't authorized to access %resources.",
            "parameters": {"resources": resource},
        },
    )
    assert stored(session) == {}
