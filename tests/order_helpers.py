"""Requests, database reads and the setting shared by the order tests (tests/orders).

The setting (fixture ``tutorial``, imported by each module): Magento's REST tutorial (websites
na_site and eu_site, the six sources, North America Stock 2 and Europe Stock 3, their links)
with the README's source items."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, exc, func, select
from sqlalchemy.orm import Session

from factories import (
    INVENTORY,
    create_tutorial_sources,
    create_tutorial_stocks,
    create_tutorial_websites,
    index_rows,
    link_tutorial_sources,
    put_source_items,
    source_item,
    stored_source_items,
)
from openmsi.db import Database
from openmsi.models import Order, OrderItem, Reservation

ORDERS = "/rest/all/V1/openmsi/orders"
RESERVATIONS = "/rest/all/V1/openmsi/reservations"
NA_SITE = {"type": "website", "code": "na_site"}
EU_SITE = {"type": "website", "code": "eu_site"}


def order_body(
    increment_id: str, *lines: tuple[str, Any], channel: dict[str, str] = NA_SITE
) -> dict[str, Any]:
    return {
        "order": {
            "increment_id": increment_id,
            "sales_channel": channel,
            "items": [{"sku": sku, "qty": qty} for sku, qty in lines],
        }
    }


def place(client: Any, headers: dict[str, str], increment_id: str, *lines: tuple[str, Any], **kw: Any) -> Any:
    return client.post(ORDERS, json=order_body(increment_id, *lines, **kw), headers=headers)


def cancel(client: Any, headers: dict[str, str], increment_id: str, *lines: tuple[str, Any]) -> Any:
    body = {"items": [{"sku": sku, "qty": qty} for sku, qty in lines]} if lines else None
    return client.post(f"{ORDERS}/{increment_id}/cancel", json=body, headers=headers)


def ship(client: Any, headers: dict[str, str], increment_id: str, *lines: tuple[str, str, Any]) -> Any:
    body = {"items": [{"sku": sku, "source_code": code, "qty": qty} for sku, code, qty in lines]}
    return client.post(f"{ORDERS}/{increment_id}/shipments", json=body, headers=headers)


def salable_qty(client: Any, headers: dict[str, str], sku: str, stock_id: int) -> Any:
    response = client.get(f"{INVENTORY}/get-product-salable-quantity/{sku}/{stock_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def stored_orders(session: Session) -> dict[str, tuple[Any, ...]]:
    """increment_id → (stock_id, channel type, channel code, status, lines), in a new read."""
    session.rollback()
    lines: dict[int, list[tuple[str, int, float, float, float]]] = {}
    for line in session.scalars(select(OrderItem).order_by(OrderItem.order_id, OrderItem.line_number)):
        lines.setdefault(line.order_id, []).append(
            (
                line.sku,
                line.line_number,
                float(line.qty_ordered),
                float(line.qty_shipped),
                float(line.qty_canceled),
            )
        )
    return {
        order.increment_id: (
            order.stock_id,
            order.sales_channel_type,
            order.sales_channel_code,
            order.status,
            tuple(lines.get(order.order_id, [])),
        )
        for order in session.scalars(select(Order))
    }


def stored_reservations(session: Session) -> list[tuple[int, str, float, str | None]]:
    """(stock_id, sku, quantity, metadata) of every reservation, in append order."""
    session.rollback()
    rows = session.execute(
        select(Reservation.stock_id, Reservation.sku, Reservation.quantity, Reservation.metadata_).order_by(
            Reservation.reservation_id
        )
    )
    return [(stock_id, sku, round(float(qty), 4), metadata) for stock_id, sku, qty, metadata in rows]


def reserved(session: Session, stock_id: int, sku: str) -> Decimal:
    session.rollback()
    total = session.scalar(
        select(func.coalesce(func.sum(Reservation.quantity), 0)).where(
            Reservation.stock_id == stock_id, Reservation.sku == sku
        )
    )
    return Decimal(str(total)).quantize(Decimal("0.0001"))


def everything(session: Session) -> tuple[Any, ...]:
    """What a refused or failed order write must leave as it was."""
    return (
        stored_orders(session),
        stored_reservations(session),
        stored_source_items(session),
        index_rows(session),
    )


def metadata(event: str, increment_id: str) -> str:
    return (
        f'{{"event_type":"{event}","object_type":"order","object_id":"{increment_id}",'
        f'"object_increment_id":"{increment_id}"}}'
    )


@contextmanager
def failing(
    database: Database, statement_start: str, args: tuple[Any, ...] = ("injected failure",), times: int = 1000
) -> Iterator[list[str]]:
    """Statements starting so (upper-cased) fail as a failing database makes SQLAlchemy fail
    them, an OperationalError wrapping the driver's error, up to ``times`` times; yields the
    failed statements."""
    dbapi_error = database.engine.dialect.loaded_dbapi.OperationalError
    failed: list[str] = []

    def fail(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(statement_start) and len(failed) < times:
            failed.append(statement)
            raise exc.OperationalError(statement, parameters, dbapi_error(*args))

    event.listen(database.engine, "before_cursor_execute", fail)
    try:
        yield failed
    finally:
        event.remove(database.engine, "before_cursor_execute", fail)


# The README walkthrough's Step 5: stock 2 holds 70 of 24-WB01 and 44 of 24-WB03, stock 3 30
# and 40 (Frankfurt's 24-WB03 is out of stock).
TUTORIAL_ITEMS = [
    source_item("24-WB01", "baltimore_wh", 35, 1),
    source_item("24-WB01", "austin_wh", 10, 1),
    source_item("24-WB01", "reno_wh", 25, 1),
    source_item("24-WB01", "berlin_wh", 20, 1),
    source_item("24-WB01", "frankfurt_wh", 10, 1),
    source_item("24-WB03", "baltimore_wh", 19, 1),
    source_item("24-WB03", "hq", 25, 1),
    source_item("24-WB03", "berlin_wh", 15, 1),
    source_item("24-WB03", "frankfurt_wh", 30, 0),
]


@pytest.fixture
def tutorial(client: TestClient, auth_headers: dict[str, str], database: Database) -> Any:
    create_tutorial_websites(database)
    create_tutorial_sources(client, auth_headers)
    assert create_tutorial_stocks(client, auth_headers) == [2, 3]
    link_tutorial_sources(client, auth_headers)
    put_source_items(client, auth_headers, TUTORIAL_ITEMS)
