"""Shipments whose sources a source-selection algorithm chooses (spec orders.md, "Ship (source
deduction)", last paragraph): ``{"algorithm_code": …}`` or no body ships every open quantity of
the order from the sources the algorithm picks on the order's stock, in one transaction, or
writes nothing.

Setting: order_helpers.tutorial: stock 2 (na_site; sources baltimore_wh, austin_wh, reno_wh, hq
in that priority) holds 24-WB01 at baltimore 35, austin 10, reno 25 and 24-WB03 at baltimore
19, hq 25; hq also serves stock 3 (berlin_wh, frankfurt_wh, hq).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import order_helpers
from factories import (
    assert_envelope,
    index_differences,
    index_rows,
    put_source_items,
    source_item,
    stored_source_items,
)
from openmsi.settings import Settings
from order_helpers import (
    ORDERS,
    TUTORIAL_ITEMS,
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

NO_BODY = object()


def ship_by(client: TestClient, headers: dict[str, str], increment_id: str, body: Any = NO_BODY) -> Any:
    path = f"{ORDERS}/{increment_id}/shipments"
    if body is NO_BODY:
        return client.post(path, headers=headers)
    return client.post(path, json=body, headers=headers)


def placed(client: TestClient, headers: dict[str, str], increment_id: str, *lines: tuple[str, Any]) -> None:
    response = place(client, headers, increment_id, *lines)
    assert response.status_code == 200, response.text


def changed_items(session: Session) -> dict[tuple[str, str], tuple[float, int]]:
    """The source items that differ from the tutorial's."""
    tutorial_items = {
        (i["source_code"], i["sku"]): (float(i["quantity"]), i["status"]) for i in TUTORIAL_ITEMS
    }
    return {
        key: value for key, value in stored_source_items(session).items() if tutorial_items.get(key) != value
    }


@pytest.mark.parametrize(
    "body",
    [{"algorithm_code": "priority"}, {"algorithmCode": "priority"}, NO_BODY, {}, {"algorithm_code": None}],
    ids=["priority", "camel-case", "no-body", "empty-object", "null-algorithm"],
)
def test_priority_ships_from_baltimore_first_then_austin(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings, body: Any
) -> None:
    placed(client, auth_headers, "P-1", ("24-WB01", 40), ("24-WB03", 5))
    assert salable_qty(client, auth_headers, "24-WB01", 2) == 30
    response = ship_by(client, auth_headers, "P-1", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "complete"
    assert [(i["sku"], i["qty_shipped"], i["qty_open"]) for i in answer["items"]] == [
        ("24-WB01", 40, 0),
        ("24-WB03", 5, 0),
    ]
    assert client.get(f"{ORDERS}/P-1", headers=auth_headers).json() == answer
    # Baltimore gives all its 35 of 24-WB01 (sold out: out of stock) and 5 of 24-WB03, Austin
    # the remaining 5 of 24-WB01; Reno and hq keep theirs.
    assert changed_items(session) == {
        ("baltimore_wh", "24-WB01"): (0.0, 0),
        ("baltimore_wh", "24-WB03"): (14.0, 1),
        ("austin_wh", "24-WB01"): (5.0, 1),
    }
    shipped = metadata("shipment_created", "P-1")
    assert stored_reservations(session)[-3:] == [
        (2, "24-WB01", 35.0, shipped),
        (2, "24-WB03", 5.0, shipped),
        (2, "24-WB01", 5.0, shipped),
    ]
    assert reserved(session, 2, "24-WB01") == 0
    assert reserved(session, 2, "24-WB03") == 0
    assert stored_orders(session)["P-1"][3:] == (
        "complete",
        (("24-WB01", 1, 40.0, 40.0, 0.0), ("24-WB03", 2, 5.0, 5.0, 0.0)),
    )
    # The salable quantities did not move (the deduction replaced the reservation); the index
    # holds the deducted quantities.
    assert salable_qty(client, auth_headers, "24-WB01", 2) == 30
    assert salable_qty(client, auth_headers, "24-WB03", 2) == 39
    rows = index_rows(session)
    assert rows[(2, "24-WB01")] == (30.0, True)
    assert rows[(2, "24-WB03")] == (39.0, True)
    assert index_differences(session, settings) == []


def test_fewest_splits_ships_a_line_whole_where_priority_splits_it(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    placed(client, auth_headers, "F-1", ("24-WB01", 12), ("24-WB03", 20))
    response = ship_by(client, auth_headers, "F-1", {"algorithm_code": "fewest-splits"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "complete"
    # Priority would take 19 of 24-WB03 from Baltimore and 1 from hq; fewest-splits ships it
    # whole from hq, whose change shows in Europe (stock 3) too.
    assert changed_items(session) == {
        ("baltimore_wh", "24-WB01"): (23.0, 1),
        ("hq", "24-WB03"): (5.0, 1),
    }
    assert index_rows(session)[(2, "24-WB03")] == (24.0, True)  # baltimore 19 + hq 5
    assert salable_qty(client, auth_headers, "24-WB03", 2) == 24
    assert index_differences(session, settings) == []

    placed(client, auth_headers, "F-2", ("24-WB01", 12), ("24-WB03", 20))
    assert ship_by(client, auth_headers, "F-2", {"algorithm_code": "priority"}).status_code == 200
    assert changed_items(session) == {
        ("baltimore_wh", "24-WB01"): (11.0, 1),
        ("baltimore_wh", "24-WB03"): (0.0, 0),
        ("hq", "24-WB03"): (4.0, 1),
    }
    assert index_differences(session, settings) == []


def test_only_the_open_quantities_are_shipped(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    placed(client, auth_headers, "O-1", ("24-WB01", 40), ("24-WB03", 5))
    assert ship(client, auth_headers, "O-1", ("24-WB01", "reno_wh", 25)).status_code == 200
    assert cancel(client, auth_headers, "O-1", ("24-WB03", 2)).status_code == 200
    response = ship_by(client, auth_headers, "O-1")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "closed"
    assert changed_items(session) == {
        ("reno_wh", "24-WB01"): (0.0, 0),
        ("baltimore_wh", "24-WB01"): (20.0, 1),  # the 15 still open
        ("baltimore_wh", "24-WB03"): (16.0, 1),  # the 3 not canceled
    }
    assert reserved(session, 2, "24-WB01") == 0
    assert reserved(session, 2, "24-WB03") == 0
    assert index_differences(session, settings) == []


def test_a_selection_that_is_not_shippable_writes_nothing(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    placed(client, auth_headers, "N-1", ("24-WB01", 40), ("24-WB03", 5))
    # Baltimore's 24-WB01 goes out of stock after the placement: 35 left to ship from.
    put_source_items(client, auth_headers, [source_item("24-WB01", "baltimore_wh", 35, 0)])
    before = everything(session)
    for body in ({"algorithm_code": "priority"}, {"algorithm_code": "fewest-splits"}, NO_BODY):
        assert_envelope(
            ship_by(client, auth_headers, "N-1", body),
            400,
            {
                "message": 'The sources of stock %2 can not ship every open quantity of order "%1".',
                "parameters": ["N-1", 2],
                "errors": [
                    {"message": "%1: %2 of the open %3 can be shipped.", "parameters": ["24-WB01", 35, 40]}
                ],
            },
        )
        assert everything(session) == before
    assert index_differences(session, settings) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"algorithm_code": "nearest"},
            {
                "message": "There is no such Source Selection Algorithm implemented: %1",
                "parameters": ["nearest"],
            },
            id="unknown-algorithm",
        ),
        pytest.param(
            {"algorithm_code": "Priority"},
            {
                "message": "There is no such Source Selection Algorithm implemented: %1",
                "parameters": ["Priority"],
            },
            id="case-matters",
        ),
        pytest.param(
            {"algorithm_code": "distance"},
            {
                "message": 'A shipment can not use the "distance" algorithm: it has no destination. '
                'Choose another algorithm, or list the "items" to ship.'
            },
            id="distance",
        ),
        pytest.param(
            {"algorithm_code": "priority", "items": [{"sku": "24-WB01", "source_code": "reno_wh", "qty": 1}]},
            {"message": 'A shipment takes either "items" or "algorithm_code", not both.'},
            id="items-and-algorithm",
        ),
        pytest.param(
            {"algorithm_code": "priority", "items": []},
            {"message": 'A shipment takes either "items" or "algorithm_code", not both.'},
            id="empty-items-and-algorithm",
        ),
        pytest.param(
            {"items": []},
            {"message": '"%field" can not be empty.', "parameters": {"field": "items"}},
            id="empty-items",
        ),
    ],
)
def test_bad_algorithm_shipments_write_nothing(
    client: TestClient, auth_headers: dict[str, str], session: Session, body: Any, expected: Any
) -> None:
    placed(client, auth_headers, "B-1", ("24-WB01", 5))
    before = everything(session)
    assert_envelope(ship_by(client, auth_headers, "B-1", body), 400, expected)
    assert everything(session) == before


def test_nothing_open_is_refused(client: TestClient, auth_headers: dict[str, str], session: Session) -> None:
    placed(client, auth_headers, "E-1", ("24-WB01", 2))
    assert ship_by(client, auth_headers, "E-1").status_code == 200
    placed(client, auth_headers, "E-2", ("24-WB01", 2))
    assert cancel(client, auth_headers, "E-2").status_code == 200
    before = everything(session)
    for increment_id in ("E-1", "E-2"):
        for body in (NO_BODY, {"algorithm_code": "fewest-splits"}):
            assert_envelope(
                ship_by(client, auth_headers, increment_id, body),
                400,
                {"message": 'Order "%1" has no open quantity to ship.', "parameters": [increment_id]},
            )
    assert everything(session) == before
    assert_envelope(
        ship_by(client, auth_headers, "nope"),
        404,
        {"message": 'Order "%1" does not exist.', "parameters": ["nope"]},
    )


def test_an_idempotency_key_replays_the_shipment(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    placed(client, auth_headers, "K-1", ("24-WB01", 40))
    headers = {**auth_headers, "Idempotency-Key": "ship-K-1"}
    first = ship_by(client, headers, "K-1", {"algorithm_code": "priority"})
    assert first.status_code == 200, first.text
    assert "Idempotent-Replayed" not in first.headers
    after = everything(session)
    again = ship_by(client, headers, "K-1", {"algorithm_code": "priority"})
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert everything(session) == after
    # Without the key the order has nothing open any more.
    assert ship_by(client, auth_headers, "K-1", {"algorithm_code": "priority"}).status_code == 400
    assert index_differences(session, settings) == []
