"""Every SQL statement of the order routes: orders and their lines, the source items a shipment
deducts, and the reservation list. Functions take the caller's session and never commit.

Writes read orders and lines as plain rows (``OrderRecord``, ``LineRecord``), never as ORM
objects: a write updates them with statements, and an ORM object read earlier in the same
session would keep its old values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from openmsi import db
from openmsi.indexer.repository import chunks
from openmsi.models import (
    CODE_LENGTH,
    ORDER_INCREMENT_ID_LENGTH,
    SKU_LENGTH,
    Order,
    OrderItem,
    Reservation,
    SourceItem,
    StockSourceLink,
    table_of,
)
from openmsi.sales.repository import quantity
from openmsi.search_criteria import Column

ORDERS = table_of(Order)
LINES = table_of(OrderItem)
RESERVATIONS = table_of(Reservation)
SOURCE_ITEMS = table_of(SourceItem)
LINKS = table_of(StockSourceLink)

ORDER_FIELDS: dict[str, Column] = {
    "increment_id": Column(ORDERS.c.increment_id, "string"),
    "stock_id": Column(ORDERS.c.stock_id, "int"),
    # A plain VARCHAR: compared case-insensitively like every other string field.
    "status": Column(db.case_insensitive(ORDERS.c.status), "string"),
    "created_at": Column(ORDERS.c.created_at, "datetime"),
}
RESERVATION_FIELDS: dict[str, Column] = {
    "reservation_id": Column(RESERVATIONS.c.reservation_id, "int"),
    "stock_id": Column(RESERVATIONS.c.stock_id, "int"),
    "sku": Column(RESERVATIONS.c.sku, "string"),
    "quantity": Column(RESERVATIONS.c.quantity, "decimal"),
}


@dataclass(frozen=True)
class OrderRecord:
    order_id: int
    increment_id: str
    stock_id: int
    sales_channel_type: str
    sales_channel_code: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class LineRecord:
    sku: str
    line_number: int
    qty_ordered: Decimal
    qty_shipped: Decimal
    qty_canceled: Decimal

    @property
    def qty_open(self) -> Decimal:
        return self.qty_ordered - self.qty_shipped - self.qty_canceled


def _order(row: Any) -> OrderRecord:
    return OrderRecord(
        order_id=int(row.order_id),
        increment_id=row.increment_id,
        stock_id=int(row.stock_id),
        sales_channel_type=row.sales_channel_type,
        sales_channel_code=row.sales_channel_code,
        status=row.status,
        created_at=row.created_at,
    )


def _line(row: Any) -> LineRecord:
    return LineRecord(
        sku=row.sku,
        line_number=int(row.line_number),
        qty_ordered=quantity(row.qty_ordered),
        qty_shipped=quantity(row.qty_shipped),
        qty_canceled=quantity(row.qty_canceled),
    )


_ORDER_COLUMNS = (
    ORDERS.c.order_id,
    ORDERS.c.increment_id,
    ORDERS.c.stock_id,
    ORDERS.c.sales_channel_type,
    ORDERS.c.sales_channel_code,
    ORDERS.c.status,
    ORDERS.c.created_at,
)
_BY_INCREMENT_ID = select(*_ORDER_COLUMNS).where(ORDERS.c.increment_id == bindparam("increment_id"))
# No FOR UPDATE on SQLite: SQLAlchemy leaves it out there, BEGIN IMMEDIATE serialises writers.
_BY_INCREMENT_ID_FOR_UPDATE = _BY_INCREMENT_ID.with_for_update(key_share=True)


def find_order(session: Session, increment_id: str, *, for_update: bool = False) -> OrderRecord | None:
    """The order with this increment id (compared as SKUs are), locked when ``for_update``."""
    if len(increment_id) > ORDER_INCREMENT_ID_LENGTH:
        return None  # cannot exist, and PostgreSQL's CITEXT would compare it all the same
    statement = _BY_INCREMENT_ID_FOR_UPDATE if for_update else _BY_INCREMENT_ID
    row = session.execute(statement, {"increment_id": increment_id}).first()
    return None if row is None else _order(row)


def order_lines(session: Session, order_ids: Sequence[int]) -> dict[int, list[LineRecord]]:
    """The lines of each order, in the order they were placed."""
    lines: dict[int, list[LineRecord]] = {order_id: [] for order_id in order_ids}
    for chunk in chunks(sorted(set(order_ids))):
        query = (
            select(LINES).where(LINES.c.order_id.in_(chunk)).order_by(LINES.c.order_id, LINES.c.line_number)
        )
        for row in session.execute(query):
            lines[int(row.order_id)].append(_line(row))
    return lines


def insert_order(session: Session, values: dict[str, Any]) -> OrderRecord | None:
    """Insert the order unless its increment id exists (also in a concurrent transaction, which
    this one then waits for); None when it exists."""
    order_id = db.insert_ignore_returning(session, ORDERS, values, "order_id")
    if order_id is None:
        return None
    return OrderRecord(
        order_id=int(order_id),
        increment_id=values["increment_id"],
        stock_id=values["stock_id"],
        sales_channel_type=values["sales_channel_type"],
        sales_channel_code=values["sales_channel_code"],
        status=values["status"],
        created_at=values["created_at"],
    )


def insert_lines(session: Session, order_id: int, lines: Sequence[tuple[str, Decimal]]) -> None:
    rows = [
        {
            "order_id": order_id,
            "sku": sku,
            "line_number": number,
            "qty_ordered": qty,
            "qty_shipped": Decimal(0),
            "qty_canceled": Decimal(0),
        }
        for number, (sku, qty) in enumerate(lines, start=1)
    ]
    session.execute(LINES.insert(), rows)


_UPDATE_LINE = (
    LINES.update()
    .where(LINES.c.order_id == bindparam("line_order_id"), LINES.c.sku == bindparam("line_sku"))
    .values(qty_shipped=bindparam("shipped"), qty_canceled=bindparam("canceled"))
)


def update_lines(session: Session, order_id: int, lines: Sequence[LineRecord]) -> None:
    """Store the shipped and canceled quantities of these lines."""
    if lines:
        session.execute(
            _UPDATE_LINE,
            [
                {
                    "line_order_id": order_id,
                    "line_sku": line.sku,
                    "shipped": line.qty_shipped,
                    "canceled": line.qty_canceled,
                }
                for line in lines
            ],
        )


def update_order(session: Session, order_id: int, status: str, updated_at: datetime) -> None:
    session.execute(
        ORDERS.update().where(ORDERS.c.order_id == order_id).values(status=status, updated_at=updated_at)
    )


def select_orders() -> Select[tuple[Order]]:
    return select(Order)


def order_record(order: Order) -> OrderRecord:
    return _order(order)


def select_reservations() -> Select[tuple[Reservation]]:
    return select(Reservation)


# Shipments


def linked_source_codes(session: Session, stock_id: int, source_codes: Sequence[str]) -> set[str]:
    """Which of these sources are linked to the stock, lower-cased."""
    query = select(LINKS.c.source_code).where(
        LINKS.c.stock_id == stock_id, LINKS.c.source_code.in_(list(source_codes))
    )
    return {code.lower() for code in session.scalars(query)}


@dataclass(frozen=True)
class SourceItemRecord:
    source_item_id: int
    source_code: str
    sku: str
    quantity: Decimal
    status: int


_SOURCE_ITEM = select(
    SOURCE_ITEMS.c.source_item_id,
    SOURCE_ITEMS.c.source_code,
    SOURCE_ITEMS.c.sku,
    SOURCE_ITEMS.c.quantity,
    SOURCE_ITEMS.c.status,
).where(SOURCE_ITEMS.c.source_code == bindparam("code"), SOURCE_ITEMS.c.sku == bindparam("item_sku"))


def get_source_item(session: Session, source_code: str, sku: str) -> SourceItemRecord | None:
    if len(source_code) > CODE_LENGTH or len(sku) > SKU_LENGTH:
        return None
    row = session.execute(_SOURCE_ITEM, {"code": source_code, "item_sku": sku}).first()
    if row is None:
        return None
    return SourceItemRecord(
        source_item_id=int(row.source_item_id),
        source_code=row.source_code,
        sku=row.sku,
        quantity=quantity(row.quantity),
        status=int(row.status),
    )


_UPDATE_SOURCE_ITEM = (
    SOURCE_ITEMS.update()
    .where(SOURCE_ITEMS.c.source_item_id == bindparam("item_id"))
    .values(quantity=bindparam("new_quantity"), status=bindparam("new_status"))
)


def update_source_items(session: Session, items: Sequence[tuple[int, Decimal, int]]) -> None:
    """(source_item_id, quantity, status) of each deducted item."""
    if items:
        session.execute(
            _UPDATE_SOURCE_ITEM,
            [
                {"item_id": item_id, "new_quantity": qty, "new_status": status}
                for item_id, qty, status in items
            ],
        )
