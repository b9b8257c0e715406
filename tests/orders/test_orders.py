"""The order routes (spec orders.md) through HTTP and the database: placement, retries, reads,
cancellation, shipments, the status rules, the reservation list, and every refused input
leaving orders, reservations, source items and the index as they were.

Setting: Magento's REST tutorial with the README's items (order_helpers.tutorial): stock 2 (na_site)
holds 70 of 24-WB01 (baltimore 35, austin 10, reno 25) and 44 of 24-WB03 (baltimore 19,
hq 25); stock 3 (eu_site) 30 and 40.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import order_helpers
from factories import (
    INVENTORY,
    assert_envelope,
    index_differences,
    index_rows,
    put_source_items,
    source_item,
    stored_source_items,
)
from openmsi.app import create_app
from openmsi.db import Database
from openmsi.indexer import service as indexer_service
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.sales.reservations import ReservationRow, append_reservations
from openmsi.settings import Settings
from order_helpers import (
    EU_SITE,
    ORDERS,
    RESERVATIONS,
    cancel,
    everything,
    metadata,
    place,
    reserved,
    salable_qty,
    ship,
    stored_orders,
    stored_reservations,
)

tutorial = order_helpers.tutorial  # the setting of these tests (a fixture)
pytestmark = pytest.mark.usefixtures("tutorial")


def order_answer(
    increment_id: str, stock_id: int, status: str, created_at: str, *lines: tuple[Any, ...]
) -> dict[str, Any]:
    return {
        "increment_id": increment_id,
        "stock_id": stock_id,
        "status": status,
        "created_at": created_at,
        "items": [
            {
                "sku": sku,
                "qty_ordered": ordered,
                "qty_shipped": shipped,
                "qty_canceled": canceled,
                "qty_open": open_,
            }
            for sku, ordered, shipped, canceled, open_ in lines
        ],
    }


def placed(
    client: TestClient, headers: dict[str, str], increment_id: str, *lines: tuple[str, Any], **kw: Any
) -> dict[str, Any]:
    response = place(client, headers, increment_id, *lines, **kw)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


# --- Placement ---------------------------------------------------------------------------------


def test_placement_answer_and_rows(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    answer = placed(client, auth_headers, "000000042", ("24-WB01", 2), ("24-WB03", 1))
    assert answer == order_answer(
        "000000042", 2, "placed", answer["created_at"], ("24-WB01", 2, 0, 0, 2), ("24-WB03", 1, 0, 0, 1)
    )
    assert stored_orders(session) == {
        "000000042": (
            2,
            "website",
            "na_site",
            "placed",
            (("24-WB01", 1, 2.0, 0.0, 0.0), ("24-WB03", 2, 1.0, 0.0, 0.0)),
        )
    }
    placed_metadata = metadata("order_placed", "000000042")
    assert stored_reservations(session) == [
        (2, "24-WB01", -2.0, placed_metadata),
        (2, "24-WB03", -1.0, placed_metadata),
    ]
    assert salable_qty(client, auth_headers, "24-WB01", 2) == 68
    assert salable_qty(client, auth_headers, "24-WB03", 2) == 43
    # The other stock is untouched, and the index equals a fresh aggregation.
    assert salable_qty(client, auth_headers, "24-WB01", 3) == 30
    assert index_differences(session, settings) == []
    assert client.get(f"{ORDERS}/000000042", headers=auth_headers).json() == answer


def test_a_retry_answers_the_order_as_it_is_and_writes_nothing(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    placed(client, auth_headers, "R-1", ("24-WB01", 2), ("24-WB03", 1))
    assert ship(client, auth_headers, "R-1", ("24-WB03", "hq", 1)).status_code == 200
    before = everything(session)
    # The same order: lines in another order, SKUs and channel in another case.
    response = place(
        client,
        auth_headers,
        "r-1",
        ("24-wb03", 1),
        ("24-WB01", 2.0),
        channel={"type": "website", "code": "NA_SITE"},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer == order_answer(
        "R-1", 2, "placed", answer["created_at"], ("24-WB01", 2, 0, 0, 2), ("24-WB03", 1, 1, 0, 0)
    )
    assert everything(session) == before


def test_a_retry_is_answered_even_when_nothing_is_left_to_sell(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    placed(client, auth_headers, "ALL", ("24-WB01", 70))
    before = everything(session)
    response = place(client, auth_headers, "ALL", ("24-WB01", 70))
    assert response.status_code == 200, response.text
    assert response.json()["items"][0]["qty_open"] == 70
    assert everything(session) == before


@pytest.mark.parametrize(
    ("lines", "channel"),
    [
        pytest.param((("24-WB01", 3),), None, id="other-qty"),
        pytest.param((("24-WB01", 2), ("24-WB03", 1)), None, id="extra-line"),
        pytest.param((("24-WB03", 2),), None, id="other-sku"),
        pytest.param((("24-WB01", 2),), EU_SITE, id="other-channel"),
        # Refused before the order INSERT would find the increment id: still the same answer.
        pytest.param((("NO-SUCH-SKU", 2),), None, id="unknown-sku"),
        pytest.param((("24-WB01", 2),), {"type": "website", "code": "nowhere"}, id="channel-without-stock"),
    ],
)
def test_the_increment_id_of_another_order(
    client: TestClient, auth_headers: dict[str, str], session: Session, lines: Any, channel: Any
) -> None:
    placed(client, auth_headers, "X-1", ("24-WB01", 2))
    before = everything(session)
    kw = {"channel": channel} if channel else {}
    response = place(client, auth_headers, "x-1", *lines, **kw)
    assert_envelope(
        response, 400, {"message": 'Order "%1" already exists with other content.', "parameters": ["x-1"]}
    )
    assert everything(session) == before


def test_lines_that_cannot_be_sold_refuse_the_whole_order(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    put_source_items(
        client,
        auth_headers,
        [source_item("EU-ONLY", "berlin_wh", 5, 1), source_item("SOLD-OUT", "baltimore_wh", 5, 0)],
    )
    before = everything(session)
    response = place(
        client, auth_headers, "NO-1", ("24-WB01", 71), ("24-WB03", 1), ("EU-ONLY", 1), ("SOLD-OUT", 1)
    )
    assert_envelope(
        response,
        400,
        {
            "message": "Not enough items for sale",
            "errors": [
                {"message": "%1: %2", "parameters": ["24-WB01", "Not enough items for sale"]},
                {
                    "message": "%1: %2",
                    "parameters": ["EU-ONLY", "The requested sku is not assigned to given stock."],
                },
                {
                    "message": "%1: %2",
                    "parameters": ["SOLD-OUT", "There are no source items with the in stock status"],
                },
            ],
        },
    )
    assert everything(session) == before


@pytest.mark.parametrize(
    ("qty", "message"),
    [
        pytest.param(0.5, "The fewest you may purchase is 1.", id="min-sale-qty"),
        pytest.param(
            10001, "The requested qty exceeds the maximum qty allowed in shopping cart", id="max-sale-qty"
        ),
        pytest.param(1.5, "You cannot use decimal quantity for this product.", id="decimal"),
    ],
)
def test_quantity_rules_of_the_requested_qty_check(
    client: TestClient, auth_headers: dict[str, str], session: Session, qty: float, message: str
) -> None:
    before = everything(session)
    response = place(client, auth_headers, "Q-1", ("24-WB03", qty))
    assert_envelope(
        response,
        400,
        {"message": message, "errors": [{"message": "%1: %2", "parameters": ["24-WB03", message]}]},
    )
    assert everything(session) == before
    # The same answer as the route the lines are checked with.
    check = client.get(
        f"{INVENTORY}/is-product-salable-for-requested-qty/24-WB03/2/{qty}", headers=auth_headers
    )
    assert check.json()["errors"][0]["message"] == message


def test_the_whole_salable_quantity_can_be_ordered_and_not_one_more(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    placed(client, auth_headers, "ALL-1", ("24-WB01", 69.0))
    placed(client, auth_headers, "ALL-2", ("24-WB01", 1))
    assert salable_qty(client, auth_headers, "24-WB01", 2) == 0
    assert index_rows(session)[(2, "24-WB01")] == (70.0, False)
    assert client.get(f"{INVENTORY}/is-product-salable/24-WB01/2", headers=auth_headers).json() is False
    before = everything(session)
    response = place(client, auth_headers, "ALL-3", ("24-WB01", 1))
    assert_envelope(
        response,
        400,
        {
            "message": "Not enough items for sale",
            "errors": [{"message": "%1: %2", "parameters": ["24-WB01", "Not enough items for sale"]}],
        },
    )
    assert everything(session) == before
    assert index_differences(session, settings) == []
    assert reserved(session, 2, "24-WB01") == -70


def test_unknown_skus_are_not_found(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    before = everything(session)
    response = place(client, auth_headers, "U-1", ("24-WB01", 1), ("NOPE-1", 1), ("NOPE-2", 1))
    assert_envelope(
        response,
        404,
        {
            "message": "Following products with requested skus were not found: %1",
            "parameters": ["NOPE-1, NOPE-2"],
        },
    )
    assert everything(session) == before


def test_an_unknown_sales_channel_has_no_stock(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    before = everything(session)
    response = place(
        client, auth_headers, "C-1", ("24-WB01", 1), channel={"type": "website", "code": "nowhere"}
    )
    assert_envelope(response, 404, {"message": "No linked stock found"})
    assert everything(session) == before


def _required(name: str) -> dict[str, Any]:
    return {"message": '"%fieldName" is required. Enter and try again.', "parameters": {"fieldName": name}}


def _order(**fields: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "increment_id": "B-1",
        "sales_channel": {"type": "website", "code": "na_site"},
        "items": [{"sku": "24-WB01", "qty": 1}],
    }
    order.update(fields)
    return {"order": {key: value for key, value in order.items() if value is not None}}


def _line_error(message: str, parameters: Any) -> dict[str, Any]:
    return {"message": message, "parameters": parameters}


BAD_ORDERS = [
    pytest.param({}, _required("order"), id="no-order"),
    pytest.param(
        {"order": {}},
        {
            "message": "One or more input exceptions have occurred.",
            "errors": [
                {**_required("increment_id")},
                {**_required("sales_channel")},
                {**_required("items")},
            ],
        },
        id="empty-order",
    ),
    pytest.param(
        _order(increment_id=""),
        {"message": '"%field" can not be empty.', "parameters": {"field": "increment_id"}},
        id="empty-id",
    ),
    pytest.param(
        _order(increment_id="1" * 33),
        {
            "message": '"%field" can not be longer than %max characters.',
            "parameters": {"field": "increment_id", "max": 32},
        },
        id="long-id",
    ),
    pytest.param(
        _order(increment_id=" 42"),
        {
            "message": '"%field" can not contain leading or trailing spaces.',
            "parameters": {"field": "increment_id"},
        },
        id="spaced-id",
    ),
    pytest.param(
        _order(increment_id="a/b"),
        {
            "message": '"%field" can not contain "/" or control characters.',
            "parameters": {"field": "increment_id"},
        },
        id="slash-id",
    ),
    pytest.param(_order(sales_channel={"type": "website"}), _required("code"), id="channel-without-code"),
    pytest.param(
        _order(items=[]),
        {"message": '"%field" can not be empty.', "parameters": {"field": "items"}},
        id="no-lines",
    ),
    pytest.param(
        _order(items="x"),
        {
            "message": 'Error occurred during "items" processing. The "x" value\'s type is invalid. '
            'The "object[]" type was expected. Verify and try again.'
        },
        id="lines-not-a-list",
    ),
    pytest.param(_order(items=[{"qty": 1}]), _required("sku"), id="no-sku"),
    pytest.param(_order(items=[{"sku": "24-WB01"}]), _required("qty"), id="no-qty"),
    pytest.param(
        _order(items=[{"sku": "24-WB01 ", "qty": 1}]),
        {"message": '"%field" can not contain leading or trailing spaces.', "parameters": {"field": "sku"}},
        id="spaced-sku",
    ),
    pytest.param(
        _order(items=[{"sku": "24-WB01", "qty": 0}]),
        _line_error('The quantity of "%sku" must be greater than 0.', {"sku": "24-WB01"}),
        id="zero-qty",
    ),
    pytest.param(
        _order(items=[{"sku": "24-WB01", "qty": -2}]),
        _line_error('The quantity of "%sku" must be greater than 0.', {"sku": "24-WB01"}),
        id="negative-qty",
    ),
    pytest.param(
        _order(items=[{"sku": "24-WB01", "qty": 0.00001}]),
        _line_error('The quantity of "%sku" must be greater than 0.', {"sku": "24-WB01"}),
        id="qty-below-a-ten-thousandth",
    ),
    pytest.param(
        _order(items=[{"sku": "24-WB01", "qty": 1e7}]),
        _line_error(
            'The quantity of "%sku" can not be more than %max.', {"sku": "24-WB01", "max": "999999.9999"}
        ),
        id="huge-qty",
    ),
    pytest.param(
        _order(items=[{"sku": "24-WB01", "qty": "abc"}]),
        {
            "message": 'Error occurred during "items" processing. Error occurred during "qty" processing. '
            'The "abc" value\'s type is invalid. The "float" type was expected. Verify and try again.'
        },
        id="non-numeric-qty",
    ),
    pytest.param(
        _order(items=[{"sku": "24-WB01", "qty": 1}, {"sku": "24-wb01", "qty": 2}]),
        _line_error('The SKU "%sku" appears in more than one line.', {"sku": "24-wb01"}),
        id="duplicate-sku",
    ),
    pytest.param(
        _order(items=[{"sku": "24-WB01", "qty": 0}, {"qty": 1}]),
        {
            "message": "One or more input exceptions have occurred.",
            "errors": [
                _line_error('The quantity of "%sku" must be greater than 0.', {"sku": "24-WB01"}),
                _required("sku"),
            ],
        },
        id="several-problems",
    ),
    pytest.param(
        _order(priority=1),
        {
            "message": '"%fieldName" is not supported. Correct the field name and try again.',
            "parameters": {"fieldName": "Priority"},
        },
        id="unknown-field",
    ),
]


@pytest.mark.parametrize(("body", "expected"), BAD_ORDERS)
def test_bad_placements_write_nothing(
    client: TestClient, auth_headers: dict[str, str], session: Session, body: Any, expected: dict[str, Any]
) -> None:
    before = everything(session)
    assert_envelope(client.post(ORDERS, json=body, headers=auth_headers), 400, expected)
    assert everything(session) == before


def test_a_malformed_body_writes_nothing(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    before = everything(session)
    response = client.post(
        ORDERS, content=b'{"order": {', headers={**auth_headers, "Content-Type": "application/json"}
    )
    assert_envelope(response, 400, {"message": "Decoding error."})
    assert everything(session) == before


# --- Reads -------------------------------------------------------------------------------------


def test_an_unknown_order(client: TestClient, auth_headers: dict[str, str]) -> None:
    for increment_id in ("nope", "x" * 40):
        response = client.get(f"{ORDERS}/{increment_id}", headers=auth_headers)
        assert_envelope(
            response, 404, {"message": 'Order "%1" does not exist.', "parameters": [increment_id]}
        )


def _filter(field: str, value: str, condition: str = "eq") -> dict[str, str]:
    prefix = "searchCriteria[filter_groups][0][filters][0]"
    return {f"{prefix}[field]": field, f"{prefix}[value]": value, f"{prefix}[condition_type]": condition}


def _listed(client: TestClient, headers: dict[str, str], params: dict[str, str], path: str = ORDERS) -> Any:
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_order_list(client: TestClient, auth_headers: dict[str, str]) -> None:
    first = placed(client, auth_headers, "L-1", ("24-WB01", 1))
    second = placed(client, auth_headers, "L-2", ("24-WB03", 2), channel=EU_SITE)
    third = placed(client, auth_headers, "M-3", ("24-WB01", 3), ("24-WB03", 1))
    assert cancel(client, auth_headers, "L-2").status_code == 200
    second = client.get(f"{ORDERS}/L-2", headers=auth_headers).json()
    everything_listed = _listed(client, auth_headers, {"searchCriteria": ""})
    assert everything_listed == {
        "items": [first, second, third],
        "search_criteria": {"filter_groups": []},
        "total_count": 3,
    }

    def increment_ids(params: dict[str, str]) -> list[str]:
        return [order["increment_id"] for order in _listed(client, auth_headers, params)["items"]]

    assert increment_ids(_filter("increment_id", "l-%", "like")) == ["L-1", "L-2"]
    assert increment_ids(_filter("increment_id", "m-3")) == ["M-3"]
    assert increment_ids(_filter("stock_id", "3")) == ["L-2"]
    assert increment_ids(_filter("status", "Placed")) == ["L-1", "M-3"]
    assert increment_ids(_filter("status", "canceled")) == ["L-2"]
    created = first["created_at"]
    assert increment_ids(_filter("created_at", created, "gteq")) == ["L-1", "L-2", "M-3"]
    assert increment_ids(_filter("created_at", "2000-01-01", "lt")) == []
    assert increment_ids(_filter("created_at", created[:10] + "T00:00:00+14:00", "gt")) == [
        "L-1",
        "L-2",
        "M-3",
    ]
    assert increment_ids(_filter("created_at", created[:10] + "%", "like")) == ["L-1", "L-2", "M-3"]
    paged = {
        "searchCriteria[sortOrders][0][field]": "increment_id",
        "searchCriteria[sortOrders][0][direction]": "DESC",
        "searchCriteria[pageSize]": "2",
        "searchCriteria[currentPage]": "1",
    }
    page = _listed(client, auth_headers, paged)
    assert [order["increment_id"] for order in page["items"]] == ["M-3", "L-2"]
    assert page["total_count"] == 3


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, _required("searchCriteria"), id="no-criteria"),
        pytest.param(
            _filter("sku", "x"),
            {
                "message": '"%fieldName" is not a searchable field. Use one of: %fields.',
                "parameters": {"fieldName": "sku", "fields": "increment_id, stock_id, status, created_at"},
            },
            id="unknown-field",
        ),
        pytest.param(
            _filter("created_at", "yesterday"),
            {
                "message": 'The "yesterday" value\'s type is invalid. The "datetime" type was expected. '
                "Verify and try again."
            },
            id="not-a-date",
        ),
        pytest.param(
            {"searchCriteria[pageSize]": "10001"},
            {
                "message": "The page size %1 is larger than %2, the most this server returns at once.",
                "parameters": [10001, 10000],
            },
            id="page-too-large",
        ),
    ],
)
def test_bad_order_searches(
    client: TestClient, auth_headers: dict[str, str], params: Any, expected: Any
) -> None:
    assert_envelope(client.get(ORDERS, params=params, headers=auth_headers), 400, expected)


def test_the_reservation_list(client: TestClient, auth_headers: dict[str, str], database: Database) -> None:
    placed(client, auth_headers, "V-1", ("24-WB01", 2), ("24-WB03", 1.0))
    assert cancel(client, auth_headers, "V-1", ("24-WB03", 1)).status_code == 200
    with database.write_sessions.begin() as write:
        append_reservations(write, StockItemConfiguration(), [ReservationRow(3, "24-WB01", Decimal("-0.5"))])
    listed = _listed(client, auth_headers, {"searchCriteria": ""}, RESERVATIONS)
    ids = [item.pop("reservation_id") for item in listed["items"]]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert listed == {
        "items": [
            {"stock_id": 2, "sku": "24-WB01", "quantity": -2, "metadata": metadata("order_placed", "V-1")},
            {"stock_id": 2, "sku": "24-WB03", "quantity": -1, "metadata": metadata("order_placed", "V-1")},
            {"stock_id": 2, "sku": "24-WB03", "quantity": 1, "metadata": metadata("order_canceled", "V-1")},
            # No metadata: the key is left out, as Magento leaves out null fields.
            {"stock_id": 3, "sku": "24-WB01", "quantity": -0.5},
        ],
        "search_criteria": {"filter_groups": []},
        "total_count": 4,
    }

    def skus_and_quantities(params: dict[str, str]) -> list[tuple[int, str, float]]:
        items = _listed(client, auth_headers, params, RESERVATIONS)["items"]
        return [(item["stock_id"], item["sku"], item["quantity"]) for item in items]

    assert skus_and_quantities(_filter("sku", "24-wb03")) == [(2, "24-WB03", -1), (2, "24-WB03", 1)]
    assert skus_and_quantities(_filter("stock_id", "3")) == [(3, "24-WB01", -0.5)]
    assert skus_and_quantities(_filter("quantity", "0", "lt")) == [
        (2, "24-WB01", -2),
        (2, "24-WB03", -1),
        (3, "24-WB01", -0.5),
    ]
    assert skus_and_quantities(_filter("reservation_id", str(ids[2]), "gteq")) == [
        (2, "24-WB03", 1),
        (3, "24-WB01", -0.5),
    ]
    response = client.get(RESERVATIONS, params=_filter("metadata", "x"), headers=auth_headers)
    assert response.status_code == 400
    assert response.json()["parameters"]["fields"] == "reservation_id, stock_id, sku, quantity"


# --- Cancellation ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, {}, {"items": None}], ids=["no-body", "empty-object", "null-items"])
def test_cancel_everything_open(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings, body: Any
) -> None:
    placed(client, auth_headers, "K-1", ("24-WB01", 5), ("24-WB03", 2))
    assert ship(client, auth_headers, "K-1", ("24-WB03", "hq", 1)).status_code == 200
    if body is None:
        response = client.post(f"{ORDERS}/K-1/cancel", headers=auth_headers)
    else:
        response = client.post(f"{ORDERS}/K-1/cancel", json=body, headers=auth_headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer == order_answer(
        "K-1", 2, "closed", answer["created_at"], ("24-WB01", 5, 0, 5, 0), ("24-WB03", 2, 1, 1, 0)
    )
    canceled = metadata("order_canceled", "K-1")
    assert stored_reservations(session)[-2:] == [(2, "24-WB01", 5.0, canceled), (2, "24-WB03", 1.0, canceled)]
    assert reserved(session, 2, "24-WB01") == 0 and reserved(session, 2, "24-WB03") == 0
    assert salable_qty(client, auth_headers, "24-WB01", 2) == 70
    assert salable_qty(client, auth_headers, "24-WB03", 2) == 43  # one shipped from hq
    assert index_differences(session, settings) == []
    # Nothing is left to release: the same answer, nothing written.
    before = everything(session)
    assert cancel(client, auth_headers, "K-1").json() == answer
    assert everything(session) == before


def test_cancel_some_lines(client: TestClient, auth_headers: dict[str, str], session: Session) -> None:
    placed(client, auth_headers, "K-2", ("24-WB01", 5), ("24-WB03", 2))
    response = cancel(client, auth_headers, "k-2", ("24-wb01", 1.5))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer == order_answer(
        "K-2", 2, "placed", answer["created_at"], ("24-WB01", 5, 0, 1.5, 3.5), ("24-WB03", 2, 0, 0, 2)
    )
    assert stored_reservations(session)[-1] == (2, "24-WB01", 1.5, metadata("order_canceled", "K-2"))
    assert salable_qty(client, auth_headers, "24-WB01", 2) == 66.5
    answer = cancel(client, auth_headers, "K-2", ("24-WB01", 3.5), ("24-WB03", 2)).json()
    assert answer["status"] == "canceled"
    assert [item["qty_open"] for item in answer["items"]] == [0, 0]


@pytest.mark.parametrize(
    ("lines", "status", "expected"),
    [
        pytest.param(
            (("24-WB01", 6),),
            400,
            {
                "message": 'The quantity %1 of "%2" is more than its open quantity %3.',
                "parameters": [6, "24-WB01", 5],
            },
            id="more-than-open",
        ),
        pytest.param(
            (("24-WB02", 1),),
            400,
            {"message": 'The order has no line with SKU "%1".', "parameters": ["24-WB02"]},
            id="sku-not-in-order",
        ),
        pytest.param(
            (("24-WB01", 0),),
            400,
            {"message": 'The quantity of "%sku" must be greater than 0.', "parameters": {"sku": "24-WB01"}},
            id="zero",
        ),
        pytest.param(
            (("24-WB01", 1), ("24-wb01", 1)),
            400,
            {"message": 'The SKU "%sku" appears in more than one line.', "parameters": {"sku": "24-wb01"}},
            id="duplicate",
        ),
    ],
)
def test_bad_cancellations_write_nothing(
    client: TestClient, auth_headers: dict[str, str], session: Session, lines: Any, status: int, expected: Any
) -> None:
    placed(client, auth_headers, "K-3", ("24-WB01", 5), ("24-WB03", 2))
    before = everything(session)
    assert_envelope(cancel(client, auth_headers, "K-3", *lines), status, expected)
    assert everything(session) == before


def test_cancel_refusals_without_lines(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    placed(client, auth_headers, "K-4", ("24-WB01", 5))
    before = everything(session)
    response = client.post(f"{ORDERS}/K-4/cancel", json={"items": []}, headers=auth_headers)
    assert_envelope(
        response, 400, {"message": '"%field" can not be empty.', "parameters": {"field": "items"}}
    )
    response = client.post(f"{ORDERS}/nope/cancel", headers=auth_headers)
    assert_envelope(response, 404, {"message": 'Order "%1" does not exist.', "parameters": ["nope"]})
    response = client.post(
        f"{ORDERS}/K-4/cancel", content=b"{", headers={**auth_headers, "Content-Type": "application/json"}
    )
    assert_envelope(response, 400, {"message": "Decoding error."})
    assert everything(session) == before


# --- Shipments ---------------------------------------------------------------------------------


def test_a_shipment_deducts_the_source_and_releases_the_reservation(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    placed(client, auth_headers, "S-1", ("24-WB01", 2))
    assert salable_qty(client, auth_headers, "24-WB01", 2) == 68
    response = ship(client, auth_headers, "S-1", ("24-wb01", "BALTIMORE_WH", 2))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer == order_answer("S-1", 2, "complete", answer["created_at"], ("24-WB01", 2, 2, 0, 0))
    assert stored_source_items(session)[("baltimore_wh", "24-WB01")] == (33.0, 1)
    assert stored_reservations(session)[-1] == (2, "24-WB01", 2.0, metadata("shipment_created", "S-1"))
    assert reserved(session, 2, "24-WB01") == 0
    # The deduction moved into the source item: still 68 to sell, in the index itself.
    assert salable_qty(client, auth_headers, "24-WB01", 2) == 68
    assert index_rows(session)[(2, "24-WB01")] == (68.0, True)
    # baltimore_wh serves only stock 2; berlin's stock 3 is untouched.
    assert salable_qty(client, auth_headers, "24-WB01", 3) == 30
    assert index_differences(session, settings) == []


def test_one_sku_from_several_sources(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    placed(client, auth_headers, "S-2", ("24-WB01", 40), ("24-WB03", 30))
    response = ship(
        client,
        auth_headers,
        "S-2",
        ("24-WB01", "baltimore_wh", 35),
        ("24-WB01", "austin_wh", 3),
        ("24-WB01", "austin_wh", 2),  # the same pair twice: added
        ("24-WB03", "hq", 25),  # hq serves stocks 2 and 3: both refreshed
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer == order_answer(
        "S-2", 2, "placed", answer["created_at"], ("24-WB01", 40, 40, 0, 0), ("24-WB03", 30, 25, 0, 5)
    )
    items = stored_source_items(session)
    # Sold out without backorders: out of stock (SourceDeductionService).
    assert items[("baltimore_wh", "24-WB01")] == (0.0, 0)
    assert items[("austin_wh", "24-WB01")] == (5.0, 1)
    assert items[("hq", "24-WB03")] == (0.0, 0)
    assert salable_qty(client, auth_headers, "24-WB01", 2) == 30  # austin 5 + reno 25
    assert salable_qty(client, auth_headers, "24-WB03", 2) == 14  # baltimore 19 − 5 still reserved
    assert salable_qty(client, auth_headers, "24-WB03", 3) == 15  # berlin alone now
    shipped = metadata("shipment_created", "S-2")
    assert stored_reservations(session)[-3:] == [
        (2, "24-WB01", 35.0, shipped),
        (2, "24-WB01", 5.0, shipped),
        (2, "24-WB03", 25.0, shipped),
    ]
    assert index_differences(session, settings) == []


def test_status_rules(client: TestClient, auth_headers: dict[str, str]) -> None:
    def status(response: Any) -> str:
        assert response.status_code == 200, response.text
        result: str = response.json()["status"]
        return result

    assert placed(client, auth_headers, "T-1", ("24-WB01", 2), ("24-WB03", 1))["status"] == "placed"
    assert status(ship(client, auth_headers, "T-1", ("24-WB01", "reno_wh", 2))) == "placed"
    assert status(ship(client, auth_headers, "T-1", ("24-WB03", "hq", 1))) == "complete"
    placed(client, auth_headers, "T-2", ("24-WB01", 2))
    assert status(cancel(client, auth_headers, "T-2", ("24-WB01", 1))) == "placed"
    assert status(cancel(client, auth_headers, "T-2")) == "canceled"
    placed(client, auth_headers, "T-3", ("24-WB01", 2), ("24-WB03", 1))
    assert status(cancel(client, auth_headers, "T-3", ("24-WB03", 1))) == "placed"
    assert status(ship(client, auth_headers, "T-3", ("24-WB01", "reno_wh", 2))) == "closed"
    placed(client, auth_headers, "T-4", ("24-WB01", 2))
    assert status(ship(client, auth_headers, "T-4", ("24-WB01", "reno_wh", 1))) == "placed"
    assert status(cancel(client, auth_headers, "T-4")) == "closed"
    listed = client.get(ORDERS, params={"searchCriteria": ""}, headers=auth_headers).json()["items"]
    assert [order["status"] for order in listed] == ["complete", "canceled", "closed", "closed"]


SHIPMENT_REFUSALS = [
    pytest.param(
        (("24-WB01", "baltimore_wh", 6),),
        400,
        {
            "message": 'The quantity %1 of "%2" is more than its open quantity %3.',
            "parameters": [6, "24-WB01", 5],
        },
        id="more-than-open",
    ),
    pytest.param(
        (("24-WB01", "baltimore_wh", 3), ("24-WB01", "reno_wh", 3)),
        400,
        {
            "message": 'The quantity %1 of "%2" is more than its open quantity %3.',
            "parameters": [6, "24-WB01", 5],
        },
        id="more-than-open-in-all",
    ),
    pytest.param(
        (("24-WB01", "berlin_wh", 1),),
        400,
        {"message": 'Source "%1" is not linked to stock %2.', "parameters": ["berlin_wh", 2]},
        id="unlinked-source",
    ),
    pytest.param(
        (("24-WB01", "nowhere", 1),),
        404,
        {"message": 'Source with code "%value" does not exist.', "parameters": {"value": "nowhere"}},
        id="unknown-source",
    ),
    pytest.param(
        (("24-WB03", "austin_wh", 1),),
        404,
        {
            "message": "Source item not found by source code: %1 and sku: %2.",
            "parameters": ["austin_wh", "24-WB03"],
        },
        id="no-source-item",
    ),
    pytest.param(
        (("24-WB03", "baltimore_wh", 20),),
        400,
        {"message": "Not all of your products are available in the requested quantity."},
        id="below-zero",
    ),
    pytest.param(
        (("24-WB01", "baltimore_wh", 1), ("24-WB02", "baltimore_wh", 1)),
        400,
        {"message": 'The order has no line with SKU "%1".', "parameters": ["24-WB02"]},
        id="sku-not-in-order",
    ),
    pytest.param(
        (("24-WB01", "baltimore_wh", -1),),
        400,
        {"message": 'The quantity of "%sku" must be greater than 0.', "parameters": {"sku": "24-WB01"}},
        id="negative",
    ),
    pytest.param(
        (("24-WB01", "", 1),),
        400,
        {"message": '"%field" can not be empty.', "parameters": {"field": "source_code"}},
        id="empty-source",
    ),
]


@pytest.mark.parametrize(("lines", "status", "expected"), SHIPMENT_REFUSALS)
def test_bad_shipments_write_nothing(
    client: TestClient, auth_headers: dict[str, str], session: Session, lines: Any, status: int, expected: Any
) -> None:
    placed(client, auth_headers, "S-3", ("24-WB01", 5), ("24-WB03", 20))
    before = everything(session)
    assert_envelope(ship(client, auth_headers, "S-3", *lines), status, expected)
    assert everything(session) == before


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"items": []},
            {"message": '"%field" can not be empty.', "parameters": {"field": "items"}},
            id="no-lines",
        ),
        pytest.param(
            {"items": [{"sku": "24-WB01", "qty": 1}]}, _required("source_code"), id="no-source-code"
        ),
    ],
)
def test_shipments_without_sources(
    client: TestClient, auth_headers: dict[str, str], session: Session, body: Any, expected: Any
) -> None:
    placed(client, auth_headers, "S-4", ("24-WB01", 5))
    before = everything(session)
    path = f"{ORDERS}/S-4/shipments"
    response = (
        client.post(path, json=body, headers=auth_headers)
        if body is not None
        else client.post(path, headers=auth_headers)
    )
    assert_envelope(response, 400, expected)
    assert everything(session) == before
    response = client.post(f"{ORDERS}/nope/shipments", json={"items": []}, headers=auth_headers)
    assert_envelope(response, 404, {"message": 'Order "%1" does not exist.', "parameters": ["nope"]})


# --- Other stock configurations -----------------------------------------------------------------


def _client(settings: Settings, database: Database, **overrides: Any) -> TestClient:
    """A client of an app with another global stock configuration, on the shared database."""
    return TestClient(create_app(settings.model_copy(update=overrides), database))


def test_backorders_accept_any_quantity_and_let_sources_go_below_zero(
    settings: Settings, database: Database, auth_headers: dict[str, str], session: Session
) -> None:
    backorders = _client(settings, database, backorders=1)
    answer = placed(backorders, auth_headers, "B-1", ("24-WB01", 100))
    assert answer["status"] == "placed"
    assert salable_qty(backorders, auth_headers, "24-WB01", 2) == -30
    response = ship(backorders, auth_headers, "B-1", ("24-WB01", "baltimore_wh", 40))
    assert response.status_code == 200, response.text
    # Below zero, and still in stock: backorders keep selling it.
    assert stored_source_items(session)[("baltimore_wh", "24-WB01")] == (-5.0, 1)
    config = StockItemConfiguration.from_settings(settings.model_copy(update={"backorders": 1}))
    session.rollback()
    assert indexer_service.verify(session, config) == []


def test_unmanaged_stock_accepts_a_sku_without_an_index_row(
    client: TestClient, settings: Settings, database: Database, auth_headers: dict[str, str], session: Session
) -> None:
    # The SKU's only item is on a disabled source: it has no index row in stock 2.
    response = client.put(
        f"{INVENTORY}/sources/austin_wh",
        json={
            "source": {"name": "Austin Warehouse", "country_id": "US", "postcode": "78758", "enabled": False}
        },
        headers=auth_headers,
    )
    assert response.status_code == 200, response.text
    put_source_items(client, auth_headers, [source_item("HIDDEN", "austin_wh", 3, 1)])
    assert (2, "HIDDEN") not in index_rows(session)
    refused = place(client, auth_headers, "H-1", ("HIDDEN", 1))
    assert refused.json()["message"] == "There are no source items with the in stock status"
    unmanaged = _client(settings, database, manage_stock=False)
    assert placed(unmanaged, auth_headers, "H-1", ("HIDDEN", 5))["status"] == "placed"
    assert reserved(session, 2, "HIDDEN") == -5
    assert (2, "HIDDEN") not in index_rows(session)
