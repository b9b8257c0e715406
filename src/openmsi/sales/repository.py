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
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    func,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from openmsi.db import PreparedRead, Reader, case_insensitive
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


def _requested(size: int) -> Subquery:
    """The requested SKUs as a derived table (position, sku), bound as ``sku_0`` … ``sku_<n-1>``.

    One SELECT per SKU: SQLite allows at most 500 terms in a compound SELECT, the chunk size
    callers use (indexer.repository.CHUNK).
    """
    rows = [
        select(
            literal(position, Integer).label("position"),
            case_insensitive(bindparam(f"sku_{position}", type_=String)).label("sku"),
        )
        for position in range(size)
    ]
    return (rows[0] if len(rows) == 1 else union_all(*rows)).subquery("requested")


def _item_aggregates() -> list[Any]:
    """What ``ItemFacts`` holds, aggregated over a SKU's items outer-joined to the stock's
    links and to their sources."""
    live = and_(links.c.link_id.is_not(None), sources.c.enabled == true(), items.c.status == 1)
    return [
        func.count(items.c.source_item_id).label("item_count"),
        func.count(links.c.link_id).label("linked_count"),
        func.coalesce(func.sum(case((live, items.c.quantity), else_=None)), 0).label("available"),
        func.coalesce(func.sum(case((live, 1), else_=0)), 0).label("in_stock_count"),
    ]


def _item_facts(row: Any) -> ItemFacts:
    return ItemFacts(
        known=row.item_count > 0,
        assigned=row.linked_count > 0,
        available=quantity(row.available),
        any_in_stock=row.in_stock_count > 0,
    )


@lru_cache(maxsize=8)
def _batch_statements(size: int) -> tuple[Any, Any, Any]:
    """The three batched reads for ``size`` SKUs, built once per size: a statement built anew
    for every chunk cost SQLAlchemy far more to construct and compile (about 0.6 ms per SKU)
    than the database to run; reused, it is found in the compiled cache (a few µs per SKU)."""
    requested = _requested(size)
    stock_id = bindparam("stock_id", type_=Integer)
    facts = (
        select(
            requested.c.position,
            *_item_aggregates(),
        )
        .select_from(requested)
        .outerjoin(items, items.c.sku == requested.c.sku)
        .outerjoin(links, and_(links.c.source_code == items.c.source_code, links.c.stock_id == stock_id))
        .outerjoin(sources, sources.c.source_code == items.c.source_code)
        .group_by(requested.c.position)
    )
    index_query = select(requested.c.position, index.c.quantity, index.c.is_salable).join(
        index, and_(index.c.stock_id == stock_id, index.c.sku == requested.c.sku)
    )
    reserved = (
        select(requested.c.position, func.sum(reservations.c.quantity).label("reserved"))
        .join(reservations, and_(reservations.c.stock_id == stock_id, reservations.c.sku == requested.c.sku))
        .group_by(requested.c.position)
    )
    return facts, index_query, reserved


def _parameters(stock_id: int, skus: Sequence[str]) -> dict[str, Any]:
    return {"stock_id": stock_id, **{f"sku_{position}": sku for position, sku in enumerate(skus)}}


def item_facts(session: Session, stock_id: int, skus: Sequence[str]) -> list[ItemFacts]:
    """Per requested SKU (same order): has it an item anywhere, on a source linked to the stock
    (enabled or not: IsProductAssignedToStock), and the live in-stock quantity on the stock's
    enabled sources (GetProductAvailableQty, GetIsAnySourceItemInStock)."""
    query = _batch_statements(len(skus))[0]
    facts = [ItemFacts(False, False, Decimal(0), False)] * len(skus)
    for row in session.execute(query, _parameters(stock_id, skus)):
        facts[row.position] = _item_facts(row)
    return facts


def index_rows(session: Session, stock_id: int, skus: Sequence[str]) -> list[tuple[Decimal, bool] | None]:
    """Per requested SKU (same order): the stock's index row as (quantity, is_salable), or None."""
    query = _batch_statements(len(skus))[1]
    rows: list[tuple[Decimal, bool] | None] = [None] * len(skus)
    for row in session.execute(query, _parameters(stock_id, skus)):
        rows[row.position] = (quantity(row.quantity), bool(row.is_salable))
    return rows


def reserved_quantities(session: Session, stock_id: int, skus: Sequence[str]) -> list[Decimal]:
    """Per requested SKU (same order): Σ reservations of the stock (GetReservationsQuantity)."""
    query = _batch_statements(len(skus))[2]
    reserved = [Decimal(0)] * len(skus)
    for row in session.execute(query, _parameters(stock_id, skus)):
        reserved[row.position] = quantity(row.reserved)
    return reserved


@dataclass(frozen=True)
class OneSkuFacts:
    stock_exists: bool
    items: ItemFacts
    index_row: tuple[Decimal, bool] | None
    reserved: Decimal


def _one_sku_statement() -> Any:
    """Everything ``item_facts``, ``index_rows``, ``reserved_quantities`` and ``stock_exists``
    read, for one SKU, in one statement built once: the single-SKU routes are the hot reads,
    and building and compiling the batched statements costs several times their execution."""
    # Compared as the SKU columns compare (CITEXT on PostgreSQL): a plain VARCHAR parameter
    # would make PostgreSQL compare case-sensitively.
    sku = case_insensitive(bindparam("sku", type_=String))
    stock_id = bindparam("stock_id", type_=Integer)
    facts = (
        select(
            *_item_aggregates(),
        )
        .select_from(items)
        .outerjoin(links, and_(links.c.source_code == items.c.source_code, links.c.stock_id == stock_id))
        .join(sources, sources.c.source_code == items.c.source_code)
        .where(items.c.sku == sku)
        .subquery("facts")
    )
    row = and_(index.c.stock_id == stock_id, index.c.sku == sku)
    return select(
        select(stocks.c.stock_id).where(stocks.c.stock_id == stock_id).scalar_subquery().label("stock"),
        facts.c.item_count,
        facts.c.linked_count,
        facts.c.available,
        facts.c.in_stock_count,
        select(index.c.quantity).where(row).scalar_subquery().label("index_quantity"),
        select(index.c.is_salable).where(row).scalar_subquery().label("index_is_salable"),
        select(func.sum(reservations.c.quantity))
        .where(reservations.c.stock_id == stock_id, reservations.c.sku == sku)
        .scalar_subquery()
        .label("reserved"),
    ).select_from(facts)


_ONE_SKU = PreparedRead(_one_sku_statement())


def one_sku_facts(reader: Reader, stock_id: int, sku: str) -> OneSkuFacts:
    (row,) = reader.all(_ONE_SKU, {"stock_id": stock_id, "sku": sku})
    return OneSkuFacts(
        stock_exists=row.stock is not None,
        items=_item_facts(row),
        index_row=None
        if row.index_quantity is None
        else (quantity(row.index_quantity), bool(row.index_is_salable)),
        reserved=quantity(row.reserved),
    )


def insert_reservations(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    session.execute(reservations.insert(), list(rows))


def reservation_totals(session: Session) -> dict[int, tuple[int, float]]:
    """Per stock: how many reservation rows, and the sum of their quantities (GET /metrics).
    Read from the (stock_id, sku, quantity) index alone."""
    query = select(reservations.c.stock_id, func.count(), func.sum(reservations.c.quantity)).group_by(
        reservations.c.stock_id
    )
    totals = session.execute(query)
    return {int(stock_id): (int(rows), float(quantity(total))) for stock_id, rows, total in totals}


def quantity(value: Any) -> Decimal:
    """A summed quantity as an exact 4-decimal number: SQLite sums decimals as floats."""
    if value is None:
        return Decimal(0)
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return number.quantize(Decimal("0.0001"))
