"""A database failure in the middle of a placement, a cancellation or a shipment leaves orders,
reservations, source items and the index exactly as they were, and answers the route's Magento
error; a deadlock victim runs again and writes once."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import order_helpers
from factories import assert_envelope, index_differences
from openmsi.db import Database
from openmsi.settings import Settings
from order_helpers import (
    ORDERS,
    cancel,
    everything,
    failing,
    order_body,
    place,
    ship,
    stored_orders,
    stored_reservations,
)

tutorial = order_helpers.tutorial  # the setting of these tests (a fixture)
pytestmark = pytest.mark.usefixtures("tutorial")

RESERVATION_INSERT = "INSERT INTO INVENTORY_RESERVATION"
INDEX_UPDATE = "UPDATE INVENTORY_STOCK_INDEX"
INDEX_UPSERT = "INSERT INTO INVENTORY_STOCK_INDEX"
LINE_INSERT = "INSERT INTO OPENMSI_ORDER_ITEM"
LINE_UPDATE = "UPDATE OPENMSI_ORDER_ITEM"
ORDER_UPDATE = "UPDATE OPENMSI_ORDER "
SOURCE_ITEM_UPDATE = "UPDATE INVENTORY_SOURCE_ITEM"
# MariaDB's deadlock error number: what db.is_retryable recognises on every driver.
DEADLOCK = (1213, "Deadlock found when trying to get lock; try restarting transaction")


def _placement(client: TestClient, headers: dict[str, str]) -> Any:
    return place(client, headers, "F-1", ("24-WB01", 2), ("24-WB03", 1))


def _cancellation(client: TestClient, headers: dict[str, str]) -> Any:
    return cancel(client, headers, "F-0", ("24-WB01", 1))


def _shipment(client: TestClient, headers: dict[str, str]) -> Any:
    return ship(client, headers, "F-0", ("24-WB01", "baltimore_wh", 2), ("24-WB03", "hq", 1))


@pytest.mark.parametrize(
    ("write", "statement", "message"),
    [
        pytest.param(_placement, LINE_INSERT, "Could not save Order", id="place-lines"),
        pytest.param(_placement, RESERVATION_INSERT, "Could not save Order", id="place-reservations"),
        pytest.param(_placement, INDEX_UPDATE, "Could not save Order", id="place-index"),
        pytest.param(_cancellation, ORDER_UPDATE, "Could not cancel Order", id="cancel-order"),
        pytest.param(_cancellation, RESERVATION_INSERT, "Could not cancel Order", id="cancel-reservations"),
        pytest.param(_cancellation, INDEX_UPDATE, "Could not cancel Order", id="cancel-index"),
        pytest.param(_shipment, LINE_UPDATE, "Could not save Shipment", id="ship-lines"),
        pytest.param(_shipment, RESERVATION_INSERT, "Could not save Shipment", id="ship-reservations"),
        pytest.param(_shipment, INDEX_UPSERT, "Could not save Shipment", id="ship-index"),
    ],
)
def test_a_failure_half_way_changes_nothing(
    client: TestClient,
    auth_headers: dict[str, str],
    database: Database,
    session: Session,
    settings: Settings,
    write: Any,
    statement: str,
    message: str,
) -> None:
    response = place(client, auth_headers, "F-0", ("24-WB01", 5), ("24-WB03", 3))
    assert response.status_code == 200, response.text
    before = everything(session)
    with failing(database, statement) as failed:
        response = write(client, auth_headers)
    assert failed, "the statement never ran"
    assert_envelope(response, 400, {"message": message})
    assert everything(session) == before
    assert index_differences(session, settings) == []
    # The same write goes through once the database behaves.
    response = write(client, auth_headers)
    assert response.status_code == 200, response.text
    assert everything(session) != before
    assert index_differences(session, settings) == []


def test_a_deadlock_victim_places_the_order_once(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session, settings: Settings
) -> None:
    with failing(database, RESERVATION_INSERT, DEADLOCK, times=2) as failed:
        response = client.post(ORDERS, json=order_body("D-1", ("24-WB01", 2)), headers=auth_headers)
    assert response.status_code == 200, response.text
    assert len(failed) == 2
    assert list(stored_orders(session)) == ["D-1"]
    assert [row[:3] for row in stored_reservations(session)] == [(2, "24-WB01", -2.0)]
    assert index_differences(session, settings) == []


def test_a_deadlock_victim_ships_once(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    assert place(client, auth_headers, "D-2", ("24-WB01", 5)).status_code == 200
    with failing(database, INDEX_UPSERT, DEADLOCK, times=1):
        response = ship(client, auth_headers, "D-2", ("24-WB01", "baltimore_wh", 2))
    assert response.status_code == 200, response.text
    assert response.json()["items"][0]["qty_shipped"] == 2
    assert [row[2] for row in stored_reservations(session)] == [-5.0, 2.0]
