"""Salability routes: get-product-salable-quantity, is-product-salable, are-products-salable,
is-product-salable-for-requested-qty and are-product-salable-for-requested-qty (spec
salable.md), with reservations appended through the internal hook (reservations.md)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from factories import (
    INVENTORY,
    SOURCE_ITEM_FIXTURE,
    assert_envelope,
    create_link_fixture,
    deferring_client,
    index_rows,
    put_source_items,
    queued_reindex_jobs,
    source_item,
)
from openmsi.app import create_app
from openmsi.db import Database
from openmsi.models import Reservation
from openmsi.sales import salable
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.sales.reservations import ReservationRow, append_reservations
from openmsi.settings import Settings

QTY = f"{INVENTORY}/get-product-salable-quantity"
IS_SALABLE = f"{INVENTORY}/is-product-salable"
ARE_SALABLE = f"{INVENTORY}/are-products-salable"
FOR_QTY = f"{INVENTORY}/is-product-salable-for-requested-qty"
ARE_FOR_QTY = f"{INVENTORY}/are-product-salable-for-requested-qty/"
RESOURCE = "Magento_InventorySalesApi::stock"
DEFAULTS = StockItemConfiguration()
ORDER_PLACED = '{"event_type":"order_placed","object_type":"order","object_id":"1","object_increment_id":"1"}'

NOT_ASSIGNED = "The requested sku is not assigned to given stock."
NOT_ASSIGNED_RESULT = {
    "salable": False,
    "errors": [{"code": "requested-sku-is-not-assigned-to-given-stock", "message": NOT_ASSIGNED}],
}
OK = {"salable": True, "errors": []}
BACK_ORDER = {"code": "back_order-disabled", "message": "Backorders are disabled"}
MANAGE_STOCK = {"code": "manage_stock-enabled", "message": "Manage stock is enabled"}
NOT_ENOUGH = {"code": "is_salable_with_reservations-not_enough_qty", "message": "Not enough items for sale"}
NO_DATA = {
    "code": "is_salable_with_reservations-no_data",
    "message": "The requested sku is not assigned to given stock",
}
NO_IN_STOCK = {
    "code": "is_any_source_item_in_stock-no_source_items_in_stock",
    "message": "There are no source items with the in stock status",
}
DECIMAL = {
    "code": "is_correct_qty-is_qty_decimal",
    "message": "You cannot use decimal quantity for this product.",
}


def qty_error(check: str, message: str) -> dict[str, str]:
    return {"code": f"is_correct_qty-{check}", "message": message}


FEWEST_1 = qty_error("min_sale_qty", "The fewest you may purchase is 1.")
FEWEST_2 = qty_error("min_sale_qty", "The fewest you may purchase is 2.")
FEWEST_2_5 = qty_error("min_sale_qty", "The fewest you may purchase is 2.5.")
BY_3 = qty_error("qty_increment", "You can buy this product only in quantities of 3 at a time.")
INCREMENTS = {"enable_qty_increments": True, "qty_increments": 3}
MAX_SALE = qty_error("max_sale_qty", "The requested qty exceeds the maximum qty allowed in shopping cart")


def not_enough(*last: dict[str, str]) -> dict[str, Any]:
    return {"salable": False, "errors": [BACK_ORDER, MANAGE_STOCK, *(last or (NOT_ENOUGH,))]}


def not_found(skus: str) -> dict[str, Any]:
    return {"message": "Following products with requested skus were not found: %1", "parameters": [skus]}


def required(field_name: str) -> dict[str, Any]:
    return {
        "message": '"%fieldName" is required. Enter and try again.',
        "parameters": {"fieldName": field_name},
    }


def type_error(value: str, type_name: str) -> dict[str, Any]:
    return {
        "message": f'The "{value}" value\'s type is invalid. The "{type_name}" type was expected. '
        "Verify and try again."
    }


def get(client: TestClient, headers: dict[str, str], path: str, params: Any = None) -> Any:
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return response.json()


def quantity(client: TestClient, headers: dict[str, str], sku: str, stock_id: Any) -> Any:
    return get(client, headers, f"{QTY}/{sku}/{stock_id}")


def is_salable(client: TestClient, headers: dict[str, str], sku: str, stock_id: Any) -> Any:
    return get(client, headers, f"{IS_SALABLE}/{sku}/{stock_id}")


def for_qty(client: TestClient, headers: dict[str, str], sku: str, stock_id: Any, qty: Any) -> Any:
    return get(client, headers, f"{FOR_QTY}/{sku}/{stock_id}/{qty}")


def sku_requests(stock_id: Any, *requests: tuple[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {"stockId": stock_id}
    for position, (sku, qty) in enumerate(requests):
        params[f"skuRequests[{position}][sku]"] = sku
        params[f"skuRequests[{position}][qty]"] = qty
    return params


def configured(settings: Settings, database: Database, **config: Any) -> TestClient:
    """A client of a second app on the shared database with other stock-item configuration."""
    values = {"database_url": settings.database_url, "embedded_worker": False, **config}
    return TestClient(create_app(Settings(**values, _env_file=None), database))  # type: ignore[call-arg]


def reserve(
    database: Database, *rows: tuple[int, str, str], config: StockItemConfiguration = DEFAULTS
) -> None:
    with database.write_sessions.begin() as write:
        reservations = [
            ReservationRow(stock_id, sku, Decimal(qty), ORDER_PLACED) for stock_id, sku, qty in rows
        ]
        append_reservations(write, config, reservations)


@pytest.fixture
def fixture(client: TestClient, auth_headers: dict[str, str]) -> Iterator[None]:
    """The api-functional fixtures: sources, stocks 10/20/30, links, source items."""
    create_link_fixture(client, auth_headers)
    put_source_items(client, auth_headers, list(SOURCE_ITEM_FIXTURE))
    yield


# --- The worked example ------------------------------------------------------------------------


@pytest.mark.usefixtures("fixture")
def test_worked_example(client: TestClient, auth_headers: dict[str, str], session: Session) -> None:
    h = auth_headers
    assert index_rows(session, (10, 20, 30))[(10, "SKU-1")] == (8.5, True)
    assert (20, "SKU-1") not in index_rows(session)

    assert quantity(client, h, "SKU-1", 10) == 8.5
    assert quantity(client, h, "SKU-1", 20) == 0
    assert quantity(client, h, "SKU-1", 30) == 8.5
    assert quantity(client, h, "SKU-2", 20) == 5
    assert client.get(f"{QTY}/SKU-1/20", headers=h).text == "0"

    assert is_salable(client, h, "SKU-1", 10) is True
    assert is_salable(client, h, "SKU-1", 20) is False
    assert is_salable(client, h, "SKU-1", 30) is True

    # openmsi's SKUs are never decimal (is_qty_decimal 0): 8.5 fails the required check.
    assert for_qty(client, h, "SKU-1", 10, 8.5) == {"salable": False, "errors": [DECIMAL]}
    assert for_qty(client, h, "SKU-1", 10, 8) == OK
    assert for_qty(client, h, "SKU-1", 10, 9) == not_enough()
    assert for_qty(client, h, "SKU-1", 10, 1) == OK
    assert for_qty(client, h, "SKU-1", 20, 1) == NOT_ASSIGNED_RESULT
    assert for_qty(client, h, "SKU-1", 30, 1) == OK

    assert get(client, h, ARE_SALABLE, {"skus[]": ["SKU-1"], "stockId": 10}) == [
        {"sku": "SKU-1", "stock_id": 10, "salable": True}
    ]
    assert get(client, h, ARE_SALABLE, "skus[0]=SKU-1&stockId=20") == [
        {"sku": "SKU-1", "stock_id": 20, "salable": False}
    ]
    assert get(client, h, ARE_FOR_QTY, sku_requests(10, ("SKU-1", 1))) == [
        {"sku": "SKU-1", "stock_id": 10, "salable": True, "errors": []}
    ]
    assert get(client, h, ARE_FOR_QTY, sku_requests(20, ("SKU-1", 1))) == [
        {"sku": "SKU-1", "stock_id": 20, **NOT_ASSIGNED_RESULT}
    ]
    assert get(client, h, ARE_FOR_QTY, sku_requests(30, ("SKU-1", 1))) == [
        {"sku": "SKU-1", "stock_id": 30, "salable": True, "errors": []}
    ]


@pytest.mark.usefixtures("fixture")
def test_bulk_routes_keep_request_order_duplicates_and_spelling(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    h = auth_headers
    skus = ["sku-1", "SKU-3", "SKU-1", "sku-1", "SKU-2"]
    assert get(client, h, ARE_SALABLE, {"skus[]": skus, "stockId": "10"}) == [
        {"sku": sku, "stock_id": 10, "salable": salable_}
        for sku, salable_ in zip(skus, [True, False, True, True, False], strict=True)
    ]
    answer = get(
        client, h, ARE_FOR_QTY, sku_requests(10, ("SKU-3", 1), ("sku-1", 9), ("sku-1", "2"), ("SKU-1", 8))
    )
    assert answer == [
        {"sku": "SKU-3", "stock_id": 10, "salable": False, "errors": [NO_IN_STOCK]},
        {"sku": "sku-1", "stock_id": 10, **not_enough()},
        {"sku": "sku-1", "stock_id": 10, "salable": True, "errors": []},
        {"sku": "SKU-1", "stock_id": 10, "salable": True, "errors": []},
    ]
    # The trailing slash does not matter, and SKUs are found whatever their letter case.
    without_slash = ARE_FOR_QTY.rstrip("/")
    assert get(client, h, without_slash, sku_requests(10, ("Sku-1", 1))) == [
        {"sku": "Sku-1", "stock_id": 10, "salable": True, "errors": []}
    ]
    assert quantity(client, h, "sku-1", 10) == 8.5


# --- Reservations ------------------------------------------------------------------------------


@pytest.mark.usefixtures("fixture")
def test_reservations_lower_the_salable_quantity(
    client: TestClient, auth_headers: dict[str, str], database: Database, settings: Settings, session: Session
) -> None:
    h = auth_headers
    reserve(database, (10, "sku-1", "-2"))
    session.rollback()
    stored = session.execute(select(Reservation.stock_id, Reservation.sku, Reservation.quantity)).all()
    assert [(s, k, float(q)) for s, k, q in stored] == [(10, "sku-1", -2.0)]

    assert quantity(client, h, "SKU-1", 10) == 6.5
    assert quantity(client, h, "SKU-1", 30) == 8.5  # reservations are per stock
    assert for_qty(client, h, "SKU-1", 10, 7) == not_enough()
    assert for_qty(client, h, "SKU-1", 10, 6) == OK
    assert is_salable(client, h, "SKU-1", 10) is True
    # The index quantity does not include reservations.
    assert index_rows(session)[(10, "SKU-1")] == (8.5, True)

    # Reserving the rest makes the row unsalable at once (Magento: asynchronously).
    reserve(database, (10, "SKU-1", "-6.5"), (30, "SKU-1", "-1"))
    assert index_rows(session)[(10, "SKU-1")] == (8.5, False)
    assert index_rows(session)[(30, "SKU-1")] == (8.5, True)
    assert quantity(client, h, "SKU-1", 10) == 0
    assert quantity(client, h, "SKU-1", 30) == 7.5
    assert is_salable(client, h, "SKU-1", 10) is False
    assert for_qty(client, h, "SKU-1", 10, 1) == not_enough()

    # A release brings it back.
    reserve(database, (10, "SKU-1", "0.5"))
    assert index_rows(session)[(10, "SKU-1")] == (8.5, True)
    assert quantity(client, h, "SKU-1", 10) == 0.5


@pytest.mark.usefixtures("fixture")
def test_only_x_of_y_message(auth_headers: dict[str, str], database: Database, settings: Settings) -> None:
    only = configured(settings, database, not_available_message=1)
    reserve(database, (10, "SKU-1", "-2"))
    assert for_qty(only, auth_headers, "SKU-1", 10, 7) == not_enough(
        {"code": "is_salable_with_reservations-not_enough_qty", "message": "Only 6.5 of 7 available"}
    )


# --- is_correct_qty ----------------------------------------------------------------------------

IS_CORRECT_QTY = [
    pytest.param({"min_sale_qty": 2}, 1, FEWEST_2, id="min-sale"),
    pytest.param({"min_sale_qty": 2.5}, 2, FEWEST_2_5, id="min-sale-fraction"),
    pytest.param({"min_sale_qty": 2}, 2, None, id="min-sale-reached"),
    pytest.param({"min_sale_qty": 0}, 0, None, id="min-sale-zero-is-no-check"),
    pytest.param({"max_sale_qty": 5}, 6, MAX_SALE, id="max-sale"),
    pytest.param({"max_sale_qty": 5}, 5, None, id="max-sale-reached"),
    pytest.param({"max_sale_qty": 0, "manage_stock": False}, 100000, None, id="max-sale-zero-is-no-check"),
    pytest.param(INCREMENTS, 4, BY_3, id="increments"),
    pytest.param(INCREMENTS, 6, None, id="increments-multiple"),
    pytest.param({**INCREMENTS, "qty_increments": 0.5}, 1.5, DECIMAL, id="increments-then-decimal"),
    pytest.param({"enable_qty_increments": False, "qty_increments": 3}, 4, None, id="increments-disabled"),
    pytest.param({}, 1.5, DECIMAL, id="decimal"),
    pytest.param({"min_sale_qty": 1}, 0.5, FEWEST_1, id="first-failure-only"),
]  # fmt: skip


@pytest.mark.parametrize(("config", "qty", "error"), IS_CORRECT_QTY)
@pytest.mark.usefixtures("fixture")
def test_is_correct_qty(
    auth_headers: dict[str, str],
    database: Database,
    settings: Settings,
    config: dict[str, Any],
    qty: Any,
    error: dict[str, str] | None,
) -> None:
    client = configured(settings, database, **config)
    expected = OK if error is None else {"salable": False, "errors": [error]}
    # SKU-2 has 5 in stock 20; the required checks come before any quantity check.
    answer = for_qty(client, auth_headers, "SKU-2", 20, qty)
    if error is None and Decimal(str(qty)) > 5 and config.get("manage_stock", True):
        expected = not_enough()
    assert answer == expected
    bulk = get(client, auth_headers, ARE_FOR_QTY, sku_requests(20, ("SKU-2", qty)))
    assert bulk == [{"sku": "SKU-2", "stock_id": 20, **expected}]


@pytest.mark.usefixtures("fixture")
def test_required_conditions_are_all_reported(
    auth_headers: dict[str, str], database: Database, settings: Settings
) -> None:
    # SKU-3 is out of stock everywhere: the qty error and the in-stock error, in this order.
    client = configured(settings, database, min_sale_qty=1)
    assert for_qty(client, auth_headers, "SKU-3", 10, 0.5) == {
        "salable": False,
        "errors": [
            FEWEST_1,
            NO_IN_STOCK,
        ],
    }


# --- Backorders, min_qty, manage_stock ---------------------------------------------------------


def test_backorders_sell_any_quantity_of_an_in_stock_item(
    auth_headers: dict[str, str], database: Database, settings: Settings, session: Session
) -> None:
    client = configured(settings, database, backorders=1)
    create_link_fixture(client, auth_headers)
    put_source_items(
        client, auth_headers, [source_item("BO", "eu-1", 0, 1), source_item("OUT", "eu-2", 5, 0)]
    )
    assert index_rows(session, (10,)) == {(10, "BO"): (0.0, True), (10, "OUT"): (0.0, False)}

    assert is_salable(client, auth_headers, "BO", 10) is True
    assert for_qty(client, auth_headers, "BO", 10, 1000) == OK
    assert quantity(client, auth_headers, "BO", 10) == 0
    # The salable quantity is not clamped at 0.
    reserve(database, (10, "BO", "-5"), config=StockItemConfiguration(backorders=1))
    assert quantity(client, auth_headers, "BO", 10) == -5
    assert is_salable(client, auth_headers, "BO", 10) is True
    # An in-stock item is still required.
    assert is_salable(client, auth_headers, "OUT", 10) is False
    assert for_qty(client, auth_headers, "OUT", 10, 1) == {"salable": False, "errors": [NO_IN_STOCK]}


def test_min_qty_is_adapted_to_backorders(
    client: TestClient, auth_headers: dict[str, str], database: Database, settings: Settings
) -> None:
    create_link_fixture(client, auth_headers)
    put_source_items(client, auth_headers, [source_item("MQ", "eu-1", 5, 1)])

    threshold = configured(settings, database, min_qty=3)
    assert quantity(threshold, auth_headers, "MQ", 10) == 2
    assert for_qty(threshold, auth_headers, "MQ", 10, 2) == OK
    assert for_qty(threshold, auth_headers, "MQ", 10, 3) == not_enough()

    # Negative min_qty with backorders: C1 fails (adapted min_qty < 0), C3 sells down to −10.
    negative = configured(settings, database, min_qty=-10, backorders=1)
    put_source_items(negative, auth_headers, [source_item("MQ", "eu-1", 5, 1)])
    assert quantity(negative, auth_headers, "MQ", 10) == 15
    assert for_qty(negative, auth_headers, "MQ", 10, 15) == OK
    assert for_qty(negative, auth_headers, "MQ", 10, 16) == not_enough()

    # Negative min_qty without backorders counts as 0.
    plain = configured(settings, database, min_qty=-10)
    put_source_items(plain, auth_headers, [source_item("MQ", "eu-1", 5, 1)])
    assert quantity(plain, auth_headers, "MQ", 10) == 5


@pytest.mark.usefixtures("fixture")
def test_unmanaged_stock(auth_headers: dict[str, str], database: Database, settings: Settings) -> None:
    # IsProductSalableTest / IsProductSalableForRequestedQtyTest run with manage_stock = 0.
    unmanaged = configured(settings, database, manage_stock=False)
    assert is_salable(unmanaged, auth_headers, "SKU-1", 10) is True
    assert is_salable(unmanaged, auth_headers, "SKU-1", 20) is False
    assert is_salable(unmanaged, auth_headers, "SKU-1", 30) is True
    assert for_qty(unmanaged, auth_headers, "SKU-1", 10, 1) == OK
    assert for_qty(unmanaged, auth_headers, "SKU-1", 20, 1) == NOT_ASSIGNED_RESULT
    assert for_qty(unmanaged, auth_headers, "SKU-1", 30, 1) == OK
    # Out of stock everywhere and more than there is: still salable.
    assert is_salable(unmanaged, auth_headers, "SKU-3", 10) is True
    assert for_qty(unmanaged, auth_headers, "SKU-3", 10, 1000) == OK


# --- Not assigned, unknown SKUs, unknown stocks ------------------------------------------------


@pytest.mark.usefixtures("fixture")
def test_not_assigned_three_spellings(
    client: TestClient, auth_headers: dict[str, str], database: Database, settings: Settings, session: Session
) -> None:
    h = auth_headers
    deferring = deferring_client(settings, database)
    # With a period, as a result: SKU-2 has no item on a source of stock 10.
    assert for_qty(client, h, "SKU-2", 10, 1) == NOT_ASSIGNED_RESULT
    assert is_salable(client, h, "SKU-2", 10) is False
    assert quantity(client, h, "SKU-2", 10) == 0

    # While a link change waits for its rebuild job, the index and the links disagree.
    response = deferring.post(
        f"{INVENTORY}/stock-source-links",
        json={"links": [{"stock_id": 10, "source_code": "us-1", "priority": 9}]},
        headers=h,
    )
    assert response.status_code == 200, response.text
    assert queued_reindex_jobs(session) == ["reindex:stock:10"]
    # Without a period: assigned and in stock, but no index row yet.
    assert for_qty(client, h, "SKU-2", 10, 1) == not_enough(NO_DATA)
    assert is_salable(client, h, "SKU-2", 10) is False
    assert quantity(client, h, "SKU-2", 10) == 0

    # With a period, as a 400: a salable index row whose SKU is no longer assigned.
    response = deferring.post(
        f"{INVENTORY}/stock-source-links-delete",
        json={"links": [{"stock_id": 20, "source_code": "us-1"}]},
        headers=h,
    )
    assert response.status_code == 200, response.text
    assert index_rows(session, (20,)) == {(20, "SKU-2"): (5.0, True)}
    assert_envelope(client.get(f"{QTY}/SKU-2/20", headers=h), 400, {"message": NOT_ASSIGNED})


@pytest.mark.usefixtures("fixture")
def test_unknown_sku(client: TestClient, auth_headers: dict[str, str]) -> None:
    h = auth_headers
    assert quantity(client, h, "NOPE", 10) == 0
    assert_envelope(client.get(f"{QTY}/NOPE/1", headers=h), 404, not_found("NOPE"))
    assert is_salable(client, h, "NOPE", 10) is False
    assert is_salable(client, h, "NOPE", 1) is False
    assert get(client, h, ARE_SALABLE, {"skus[]": ["NOPE", "SKU-1"], "stockId": 10}) == [
        {"sku": "NOPE", "stock_id": 10, "salable": False},
        {"sku": "SKU-1", "stock_id": 10, "salable": True},
    ]
    # Magento answers 500 here (a PHP TypeError); openmsi says which SKUs are unknown.
    assert_envelope(client.get(f"{FOR_QTY}/NOPE/10/1", headers=h), 404, not_found("NOPE"))
    assert_envelope(client.get(f"{FOR_QTY}/NOPE/20/1", headers=h), 404, not_found("NOPE"))
    response = client.get(
        ARE_FOR_QTY, params=sku_requests(10, ("SKU-1", 1), ("NOPE", 1), ("Other", 2), ("NOPE", 3)), headers=h
    )
    assert_envelope(response, 404, not_found("NOPE, Other"))


@pytest.mark.usefixtures("fixture")
def test_unknown_stock(client: TestClient, auth_headers: dict[str, str]) -> None:
    h = auth_headers
    no_data = {"message": "Could not receive Stock Item data"}
    for stock_id in (99, -1, 0, 99999999999999999999):
        assert_envelope(client.get(f"{QTY}/SKU-1/{stock_id}", headers=h), 400, no_data)
        assert_envelope(client.get(f"{QTY}/NOPE/{stock_id}", headers=h), 400, no_data)
        # Known SKUs are not assigned to a stock without links.
        assert is_salable(client, h, "SKU-1", stock_id) is False
        assert is_salable(client, h, "NOPE", stock_id) is False
        assert for_qty(client, h, "SKU-1", stock_id, 1) == NOT_ASSIGNED_RESULT
        assert get(client, h, ARE_FOR_QTY, sku_requests(stock_id, ("SKU-1", 1))) == [
            {"sku": "SKU-1", "stock_id": stock_id, **NOT_ASSIGNED_RESULT}
        ]


def test_default_stock(
    client: TestClient, auth_headers: dict[str, str], database: Database, settings: Settings, session: Session
) -> None:
    h = auth_headers
    put_source_items(client, h, [source_item("IN", "default", 4, 1), source_item("OUT", "default", 7, 0)])
    assert index_rows(session, (1,)) == {(1, "IN"): (4.0, True), (1, "OUT"): (7.0, False)}
    assert quantity(client, h, "IN", 1) == 4
    assert quantity(client, h, "OUT", 1) == 0
    assert is_salable(client, h, "OUT", 1) is False
    assert for_qty(client, h, "IN", 1, 4) == OK
    assert for_qty(client, h, "IN", 1, 5) == not_enough()
    assert_envelope(client.get(f"{QTY}/NOPE/1", headers=h), 404, not_found("NOPE"))

    # The legacy quantity counts the out-of-stock default item; it shows once the row is salable.
    unmanaged = configured(settings, database, manage_stock=False)
    put_source_items(unmanaged, h, [source_item("OUT", "default", 7, 0)])
    assert index_rows(session, (1,))[(1, "OUT")] == (7.0, True)
    assert quantity(unmanaged, h, "OUT", 1) == 7
    # Stock 1 never raises "not assigned": a SKU held only elsewhere is just not salable.
    create_link_fixture(client, h)
    put_source_items(client, h, [source_item("ELSEWHERE", "eu-1", 3, 1)])
    assert quantity(client, h, "ELSEWHERE", 1) == 0
    assert is_salable(client, h, "ELSEWHERE", 1) is False
    assert for_qty(client, h, "ELSEWHERE", 1, 1) == {"salable": False, "errors": [NO_IN_STOCK]}


# --- Input ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("fixture")
@pytest.mark.parametrize(
    "path",
    [f"{QTY}/SKU-1/abc", f"{IS_SALABLE}/SKU-1/abc", f"{FOR_QTY}/SKU-1/abc/1", f"{FOR_QTY}/SKU-1/abc/x"],
)
def test_stock_id_must_be_an_integer(client: TestClient, auth_headers: dict[str, str], path: str) -> None:
    assert_envelope(client.get(path, headers=auth_headers), 400, type_error("abc", "int"))


@pytest.mark.usefixtures("fixture")
def test_parameter_types(client: TestClient, auth_headers: dict[str, str]) -> None:
    h = auth_headers
    assert_envelope(client.get(f"{FOR_QTY}/SKU-1/10/x", headers=h), 400, type_error("x", "float"))
    response = client.get(ARE_SALABLE, params={"skus[]": "SKU-1", "stockId": "abc"}, headers=h)
    assert_envelope(response, 400, type_error("abc", "int"))
    response = client.get(ARE_SALABLE, params={"skus": "SKU-1", "stockId": 10}, headers=h)
    assert_envelope(response, 400, type_error("SKU-1", "string[]"))
    response = client.get(ARE_FOR_QTY, params=sku_requests("abc", ("SKU-1", 1)), headers=h)
    assert_envelope(response, 400, type_error("abc", "int"))
    response = client.get(ARE_FOR_QTY, params=sku_requests(10, ("SKU-1", "x")), headers=h)
    qty_error = type_error("x", "float")["message"]
    assert_envelope(response, 400, {"message": f'Error occurred during "qty" processing. {qty_error}'})
    # Integer-like strings are fine, as are decimal strings for the quantity.
    assert for_qty(client, h, "SKU-1", "10", "2.0") == OK
    assert quantity(client, h, "SKU-1", "10.9") == 8.5


def test_missing_parameters(client: TestClient, auth_headers: dict[str, str]) -> None:
    h = auth_headers
    both = {
        "message": "One or more input exceptions have occurred.",
        "errors": [required("skus"), required("stockId")],
    }
    assert_envelope(client.get(ARE_SALABLE, headers=h), 400, both)
    assert_envelope(client.get(ARE_SALABLE, params={"stockId": 1}, headers=h), 400, required("skus"))
    assert_envelope(client.get(ARE_SALABLE, params={"skus[]": "a"}, headers=h), 400, required("stockId"))
    assert_envelope(
        client.get(ARE_SALABLE, params={"sku[]": "a", "stock_id": 1}, headers=h), 400, required("skus")
    )

    both["errors"] = [required("skuRequests"), required("stockId")]
    assert_envelope(client.get(ARE_FOR_QTY, headers=h), 400, both)
    assert_envelope(client.get(ARE_FOR_QTY, params={"stockId": 1}, headers=h), 400, required("skuRequests"))
    params = {"skuRequests[0][sku]": "a", "skuRequests[0][qty]": 1}
    assert_envelope(client.get(ARE_FOR_QTY, params=params, headers=h), 400, required("stockId"))
    # Missing fields of an element: Magento fails with a 500 (a missing constructor argument).
    params = {"skuRequests[0][sku]": "a", "skuRequests[0][qty]": 1, "skuRequests[1][sku]": "b", "stockId": 1}
    assert_envelope(client.get(ARE_FOR_QTY, params=params, headers=h), 400, required("qty"))
    params = {"skuRequests[0][qty]": 1, "stockId": 1}
    assert_envelope(client.get(ARE_FOR_QTY, params=params, headers=h), 400, required("sku"))
    params = {"skuRequests[0]": "x", "stockId": 1}
    assert_envelope(
        client.get(ARE_FOR_QTY, params=params, headers=h),
        400,
        {
            "message": "One or more input exceptions have occurred.",
            "errors": [required("sku"), required("qty")],
        },
    )


@pytest.mark.parametrize(
    "path",
    [
        f"{QTY}/SKU-1/10",
        f"{IS_SALABLE}/SKU-1/10",
        f"{ARE_SALABLE}?skus[]=SKU-1&stockId=10",
        f"{FOR_QTY}/SKU-1/10/1",
        f"{ARE_FOR_QTY}?skuRequests[0][sku]=SKU-1&skuRequests[0][qty]=1&stockId=10",
    ],
)
def test_routes_require_the_sales_stock_resource(client: TestClient, database: Database, path: str) -> None:
    unauthorized = {
        "message": "The consumer isn't authorized to access %resources.",
        "parameters": {"resources": RESOURCE},
    }
    assert_envelope(client.get(path), 401, unauthorized)
    assert_envelope(client.get(path, headers={"Authorization": "Bearer nonsense"}), 401, unauthorized)


# --- Freshness -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("fixture")
def test_answers_follow_writes_at_once(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    h = auth_headers
    put_source_items(client, h, [source_item("SKU-1", "eu-2", 1.25, 1)])
    assert quantity(client, h, "SKU-1", 10) == 6.75
    assert for_qty(client, h, "SKU-1", 10, 7) == not_enough()

    response = client.post(
        f"{INVENTORY}/stock-source-links-delete",
        json={"links": [{"stock_id": 10, "source_code": "eu-1"}]},
        headers=h,
    )
    assert response.status_code == 200, response.text
    assert queued_reindex_jobs(session) == []
    assert index_rows(session, (10,))[(10, "SKU-1")] == (1.25, True)
    assert quantity(client, h, "SKU-1", 10) == 1.25
    assert for_qty(client, h, "SKU-1", 10, 2) == not_enough()

    response = client.post(
        f"{INVENTORY}/source-items-delete", json={"sourceItems": [source_item("SKU-1", "eu-2")]}, headers=h
    )
    assert response.status_code == 200, response.text
    # Only the out-of-stock eu-3 item is left on stock 10.
    assert quantity(client, h, "SKU-1", 10) == 0
    assert is_salable(client, h, "SKU-1", 10) is False


# --- The batched core ----------------------------------------------------------------------------


def test_salability_is_batched(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    create_link_fixture(client, auth_headers)
    items = [source_item(f"B-{n}", "eu-1", n, n % 2) for n in range(1100)]
    put_source_items(client, auth_headers, items)
    reserve_rows = [(10, "b-3", "-1"), (10, "B-3", "-0.5")]
    reserve(database, *reserve_rows)
    skus = [f"b-{n}" for n in range(1100)] + ["unknown", "B-3"]
    statements: list[str] = []

    def count(*args: Any) -> None:
        if args[2].lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append(args[2])

    session.rollback()
    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        facts = salable.salability(session, 10, skus)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # One for the stock, three per chunk of at most 500 SKUs.
    assert len(statements) == 1 + 3 * 3
    assert list(facts) == skus
    assert facts["b-3"] == salable.SkuSalability(
        sku="b-3",
        stock_exists=True,
        known=True,
        assigned=True,
        index_quantity=Decimal(3),
        index_is_salable=True,
        available=Decimal(3),
        any_in_stock=True,
        reserved=Decimal("-1.5"),
    )
    assert facts["B-3"].reserved == Decimal("-1.5")
    assert facts["b-4"].index_quantity == 0 and facts["b-4"].any_in_stock is False
    assert facts["unknown"].known is False and facts["unknown"].index_quantity is None
    assert facts["b-1099"].available == 1099
