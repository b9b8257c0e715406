"""SQL of reservation consistency and cleanup (spec orders.md, "Reservations and
consistency"): reservations grouped per (object, stock, SKU), where the object is the
``object_id`` of their metadata, compared with the open quantities of openmsi's orders.

Everything is aggregated by the database, so that only the groups that are wrong (or the ids
of the rows to delete) come back, however large the tables. The object is read from the
metadata text by each engine's own JSON functions behind one dialect switch
(``db.json_member_key``), because the alternatives are worse: cutting the id out with string
functions misreads escaped ids (``json.dumps`` writes ``ü`` as ``\\u00fc``, Magento ``/`` as
``\\/``) and metadata spelled with spaces; grouping by the raw metadata and parsing it in
Python sends a row per order and event to Python, and the comparison with the orders then
happens there too. Object ids and SKUs compare case-insensitively, as increment ids and SKUs
do everywhere else.

Measured with ``bench/reservations_bench.py`` (100,000 orders, 190,000 reservations): the
inconsistencies in 0.5 to 1.4 s, the cleanup of 180,000 of them in 1.7 to 3.4 s, depending
on the engine (README, "Reservations and consistency").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Numeric,
    and_,
    delete,
    exists,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from openmsi.db import case_insensitive, json_member_key, many_groups
from openmsi.indexer.repository import chunks
from openmsi.models import Order, OrderItem, Reservation, table_of
from openmsi.sales.repository import quantity

reservations = table_of(Reservation)
orders = table_of(Order)
order_items = table_of(OrderItem)

# Quantities have 4 decimals; SQLite sums them as floats, whose error stays far below this.
TOLERANCE = Decimal("0.00005")


def object_key() -> ColumnElement[str]:
    """The object a reservation names: its metadata's ``object_id``, ``''`` for none."""
    return json_member_key(reservations.c.metadata, "object_id")


def _open_quantity() -> ColumnElement[Any]:
    return order_items.c.qty_ordered - order_items.c.qty_shipped - order_items.c.qty_canceled


@dataclass(frozen=True)
class Group:
    """The reservations of one (object, stock, SKU) whose sum is not what the object asks for."""

    object_id: str  # the order's increment_id when an order has it, else as the metadata spells it
    order_exists: bool
    stock_id: int
    sku: str
    reserved: Decimal  # the sum of the group's reservations
    expected: Decimal  # −(the order line's open quantity); 0 without such a line or order

    @property
    def compensation(self) -> Decimal:
        """The quantity that makes the group consistent."""
        return self.expected - self.reserved


def wrong_groups(session: Session, stock_ids: Sequence[int] | None = None) -> list[Group]:
    """Every (object, stock, SKU) whose reservations do not sum to −(open quantity).

    Both sides enter one ``UNION ALL`` grouped by (object, stock, SKU), because MariaDB has no
    FULL OUTER JOIN: the reservation groups with their sums, and the order lines with open
    quantities (a line with nothing open expects 0, as does a group that names no order or
    a SKU or stock not on its order, so neither needs a row). ``stock_ids`` limits both.
    """
    zero = literal(0, Numeric(24, 4))
    key = object_key()
    reserved = many_groups(
        select(
            key.label("object_id"),
            reservations.c.stock_id,
            reservations.c.sku,
            func.sum(reservations.c.quantity).label("reserved"),
            zero.label("expected"),
        ).group_by(key, reservations.c.stock_id, reservations.c.sku)
    )
    open_quantity = _open_quantity()
    expected = (
        select(
            orders.c.increment_id.label("object_id"),
            orders.c.stock_id,
            order_items.c.sku,
            zero.label("reserved"),
            (-open_quantity).label("expected"),
        )
        .join(order_items, order_items.c.order_id == orders.c.order_id)
        .where(open_quantity != 0)
    )
    if stock_ids is not None:
        reserved = reserved.where(reservations.c.stock_id.in_(list(stock_ids)))
        expected = expected.where(orders.c.stock_id.in_(list(stock_ids)))
    both = union_all(reserved, expected).subquery("both_sides")
    # Grouped as the columns compare: the union's columns lose their collation on SQLite.
    object_ci = case_insensitive(both.c.object_id)
    sku_ci = case_insensitive(both.c.sku)
    total_reserved = func.sum(both.c.reserved)
    total_expected = func.sum(both.c.expected)
    groups = (
        many_groups(
            select(
                func.min(both.c.object_id).label("object_id"),
                both.c.stock_id,
                func.min(both.c.sku).label("sku"),
                total_reserved.label("reserved"),
                total_expected.label("expected"),
            )
        )
        .group_by(object_ci, both.c.stock_id, sku_ci)
        .having(func.abs(total_reserved - total_expected) >= TOLERANCE)
        .subquery("wrong")
    )
    query = (
        select(groups, orders.c.increment_id)
        .outerjoin(orders, orders.c.increment_id == groups.c.object_id)
        .order_by(groups.c.object_id, groups.c.stock_id, groups.c.sku)
    )
    return [
        Group(
            object_id=row.increment_id if row.increment_id is not None else row.object_id,
            order_exists=row.increment_id is not None,
            stock_id=int(row.stock_id),
            sku=row.sku,
            reserved=quantity(row.reserved),
            expected=quantity(row.expected),
        )
        for row in session.execute(query)
    ]


def deletable_reservation_ids(session: Session) -> list[int]:
    """The ids of every reservation whose (object, stock, SKU) group sums to 0 and whose object
    is no order with an open quantity (an order with nothing open, or no order at all).

    One statement, so one snapshot: each group comes back whole, as its sum was read. A window
    sum per group instead of a join back to grouped keys reads the metadata once per row.
    """
    key = object_key()
    windowed = select(
        reservations.c.reservation_id,
        key.label("object_id"),
        func.sum(reservations.c.quantity)
        .over(partition_by=[key, reservations.c.stock_id, case_insensitive(reservations.c.sku)])
        .label("total"),
    ).subquery("summed")
    still_open = exists().where(
        orders.c.increment_id == windowed.c.object_id,
        order_items.c.order_id == orders.c.order_id,
        _open_quantity() != 0,
    )
    query = (
        select(windowed.c.reservation_id)
        .where(and_(func.abs(windowed.c.total) < TOLERANCE, ~still_open))
        .order_by(windowed.c.reservation_id)
    )
    return [int(reservation_id) for reservation_id in session.scalars(query)]


def delete_reservations(session: Session, reservation_ids: Sequence[int]) -> int:
    """Delete these rows by primary key, in ascending chunks; returns how many were there."""
    deleted = 0
    for chunk in chunks(sorted(reservation_ids)):
        result = session.execute(delete(reservations).where(reservations.c.reservation_id.in_(chunk)))
        deleted += int(result.rowcount)  # type: ignore[attr-defined]
    return deleted
