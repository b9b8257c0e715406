"""SQL of the salability reads (spec salable.md, "Inputs shared by all calculations"): per
requested SKU, the source-item facts of one stock, its index row and its reservations, for a
chunk of SKUs at a time. Nothing here writes except ``insert_reservations``.

SKUs compare case-insensitively in the database, by the column's collation, and the answers
are keyed by the SKU as requested. The requested SKUs therefore enter the queries as a derived
table numbered by position and every result is grouped by that number: matching stored SKUs
back to requested ones in Python would need each engine's collation rules (MariaDB's
``utf8mb4_general_ci`` ignores trailing spaces and folds far more than ASCII), and grouping by a
case-insensitive column would merge ``sku`` and ``SKU``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Subquery, and_, case, func, literal, select, true, union_all
from sqlalchemy.orm import Session

from openmsi.db import case_insensitive
from openmsi.models import Reservation, Source, SourceItem, Stock, StockIndexRow, StockSourceLink, table_of

items = table_of(SourceItem)
links = table_of(StockSourceLink)
sources = table_of(Source)
index = table_of(StockIndexRow)
reservations = table_of(Reservation)
stocks = table_of(Stock)


@dataclass(frozen=True)
class ItemFacts:
    known: bool
    assigned: bool
    available: Decimal
    any_in_stock: bool


def stock_exists(session: Session, stock_id: int) -> bool:
    return session.scalar(select(stocks.c.stock_id).where(stocks.c.stock_id == stock_id)) is not None


def _requested(skus: Sequence[str]) -> Subquery:
    # One SELECT per SKU: SQLite allows at most 500 terms in a compound SELECT, the chunk size
    # callers use (indexer.repository.CHUNK).
    rows = [
        select(literal(position, Integer).label("position"), case_insensitive(literal(sku)).label("sku"))
        for position, sku in enumerate(skus)
    ]
    return (rows[0] if len(rows) == 1 else union_all(*rows)).subquery("requested")


def item_facts(session: Session, stock_id: int | None, skus: Sequence[str]) -> list[ItemFacts]:
    """Per requested SKU (same order): has it an item anywhere, on a source linked to the stock
    (enabled or not: IsProductAssignedToStock), and the live in-stock quantity on the stock's
    enabled sources (GetProductAvailableQty, GetIsAnySourceItemInStock). ``None``: a stock id
    that cannot exist, linked to nothing."""
    requested = _requested(skus)
    # stock_id is NOT NULL: "IS NULL" matches no link, and keeps the join condition visible.
    link_condition = links.c.stock_id == stock_id if stock_id is not None else links.c.stock_id.is_(None)
    linked = links.c.link_id.is_not(None)
    live = and_(linked, sources.c.enabled == true(), items.c.status == 1)
    query = (
        select(
            requested.c.position,
            func.count(items.c.source_item_id).label("item_count"),
            func.count(links.c.link_id).label("linked_count"),
            func.coalesce(func.sum(case((live, items.c.quantity), else_=None)), 0).label("available"),
            func.coalesce(func.sum(case((live, 1), else_=0)), 0).label("in_stock_count"),
        )
        .select_from(requested)
        .outerjoin(items, items.c.sku == requested.c.sku)
        .outerjoin(links, and_(links.c.source_code == items.c.source_code, link_condition))
        .outerjoin(sources, sources.c.source_code == items.c.source_code)
        .group_by(requested.c.position)
    )
    facts = [ItemFacts(False, False, Decimal(0), False)] * len(skus)
    for row in session.execute(query):
        facts[row.position] = ItemFacts(
            known=row.item_count > 0,
            assigned=row.linked_count > 0,
            available=quantity(row.available),
            any_in_stock=row.in_stock_count > 0,
        )
    return facts


def index_rows(session: Session, stock_id: int, skus: Sequence[str]) -> list[tuple[Decimal, bool] | None]:
    """Per requested SKU (same order): the stock's index row as (quantity, is_salable), or None."""
    requested = _requested(skus)
    query = select(requested.c.position, index.c.quantity, index.c.is_salable).join(
        index, and_(index.c.stock_id == stock_id, index.c.sku == requested.c.sku)
    )
    rows: list[tuple[Decimal, bool] | None] = [None] * len(skus)
    for row in session.execute(query):
        rows[row.position] = (quantity(row.quantity), bool(row.is_salable))
    return rows


def reserved_quantities(session: Session, stock_id: int, skus: Sequence[str]) -> list[Decimal]:
    """Per requested SKU (same order): Σ reservations of the stock (GetReservationsQuantity)."""
    requested = _requested(skus)
    query = (
        select(requested.c.position, func.sum(reservations.c.quantity).label("reserved"))
        .join(reservations, and_(reservations.c.stock_id == stock_id, reservations.c.sku == requested.c.sku))
        .group_by(requested.c.position)
    )
    reserved = [Decimal(0)] * len(skus)
    for row in session.execute(query):
        reserved[row.position] = quantity(row.reserved)
    return reserved


def insert_reservations(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    session.execute(reservations.insert(), list(rows))


def quantity(value: Any) -> Decimal:
    """A summed quantity as an exact 4-decimal number: SQLite sums decimals as floats."""
    if value is None:
        return Decimal(0)
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return number.quantize(Decimal("0.0001"))
