"""SQL of the aggregated stock index (spec indexing.md): one ``INSERT … SELECT … GROUP BY``
computes index rows from source items, links, sources and reservations, for whole stocks or
for a set of SKUs. Nothing here locks or commits; ``indexer.service`` decides when it runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Numeric,
    Select,
    and_,
    bindparam,
    case,
    delete,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from openmsi import db, pieces
from openmsi.models import (
    INDEX_QUANTITY_PRECISION,
    Reservation,
    Source,
    SourceItem,
    StockIndexRow,
    StockSourceLink,
    table_of,
)
from openmsi.sales.configuration import StockItemConfiguration

DEFAULT_STOCK_ID = 1
# Keys per IN list: far below SQLite's limit on bound variables, small enough for good plans.
CHUNK = 500
# SKUs per refresh of a source-item batch: few statements per batch, as right after a rebuild,
# before autovacuum analyses the index table, PostgreSQL plans each SKU-list DELETE as a scan
# of the stocks' rows; a 10,000-item save in 20 statements of 500 SKUs took 1.6–2 × its time
# in 2 of 5,000 (README, "Link changes as deltas"). Still far below SQLite's 32,766 variables.
REFRESH_CHUNK = 5000

items = table_of(SourceItem)
links = table_of(StockSourceLink)
sources = table_of(Source)
index = table_of(StockIndexRow)
reservations = table_of(Reservation)


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _decimal(value: Decimal) -> ColumnElement[Any]:
    return literal(value, Numeric(12, 4))


def _salable(
    config: StockItemConfiguration,
    default_stock: bool,
    in_stock_quantity: ColumnElement[Any],
    in_stock_count: ColumnElement[Any],
    reservation_total: ColumnElement[Any],
) -> ColumnElement[Any]:
    """The row's ``is_salable`` from the sums of its items and its reservations."""
    if not config.manage_stock:
        return true()
    if default_stock:
        # IsProductSalable for stock 1: an in-stock item is required, then backorders (with a
        # non-negative adapted min_qty) or a positive live salable quantity.
        enough = in_stock_quantity + reservation_total - _decimal(config.adapted_min_qty) > 0
        if config.backorders and config.adapted_min_qty >= 0:
            enough = true()
        return case((and_(in_stock_count > 0, enough), true()), else_=false())
    enough = in_stock_quantity + reservation_total - _decimal(config.min_qty) > 0
    if config.backorders and config.min_qty >= 0:
        enough = or_(enough, in_stock_count > 0)
    return case((enough, true()), else_=false())


def aggregation(
    config: StockItemConfiguration,
    *,
    default_stock: bool,
    stock_ids: Sequence[int] | None = None,
    sku_filter: ColumnElement[bool] | None = None,
    reserved_filter: ColumnElement[bool] | None = None,
) -> Select[Any]:
    """Rows (stock_id, sku, quantity, is_salable) of the index, computed from scratch.

    A row exists per stock and SKU with at least one item on an enabled source linked to the
    stock (``SelectBuilder``). Custom stocks count out-of-stock items as 0 and flag the row as
    ``IsStockItemSalableConditionChain`` does, with the raw ``min_qty``. The default stock
    follows Magento's legacy path: the quantity of the default source's item whatever its
    status, and "is product salable" for stock 1 (spec indexing.md, "The legacy default-stock
    special case").

    ``default_stock`` selects which of the two kinds this select computes; ``stock_ids``
    narrows it further, ``sku_filter`` (a condition on ``inventory_source_item``) restricts
    the SKUs. ``reserved_filter``, the same restriction as a condition on
    ``inventory_reservation``, keeps the reservation sums to those SKUs: without it they are
    computed for every SKU of the stocks and joined afterwards (the planners do not push the
    join's SKUs into the grouped subquery), which for a few SKUs in a stock with many
    reservations costs more than the rest of the refresh.
    """
    link_condition = (
        links.c.stock_id == DEFAULT_STOCK_ID if default_stock else links.c.stock_id != DEFAULT_STOCK_ID
    )
    if stock_ids is not None:
        link_condition = and_(link_condition, links.c.stock_id.in_(stock_ids))
    reserved_rows = select(
        reservations.c.stock_id, reservations.c.sku, func.sum(reservations.c.quantity).label("reserved")
    ).group_by(reservations.c.stock_id, reservations.c.sku)
    if stock_ids is not None:
        reserved_rows = reserved_rows.where(reservations.c.stock_id.in_(stock_ids))
    if reserved_filter is not None:
        reserved_rows = reserved_rows.where(reserved_filter)
    reserved = reserved_rows.subquery("reserved")

    in_stock = items.c.status == 1
    # Items are summed per (stock, SKU) first and reservations joined to those sums: joined
    # before the GROUP BY, the reservation join ran once per item, and PostgreSQL sorted every
    # joined item by the case-insensitive SKU for a merge join (2× the bare aggregation's time
    # on 1,000,000 items, bench/inventory_bench.py); after it, it runs once per index row.
    per_sku = (
        select(
            links.c.stock_id.label("stock_id"),
            items.c.sku.label("sku"),
            func.sum(items.c.quantity).label("quantity"),
            func.sum(case((in_stock, items.c.quantity), else_=0)).label("in_stock_quantity"),
            func.sum(case((in_stock, 1), else_=0)).label("in_stock_count"),
            func.count().label("item_count"),
        )
        .select_from(items)
        .join(links, and_(links.c.source_code == items.c.source_code, link_condition))
        .join(sources, and_(sources.c.source_code == items.c.source_code, sources.c.enabled == true()))
        .group_by(links.c.stock_id, items.c.sku)
    )
    if sku_filter is not None:
        per_sku = per_sku.where(sku_filter)
    summed = per_sku.subquery("summed")
    in_stock_quantity = summed.c.in_stock_quantity
    in_stock_count = summed.c.in_stock_count
    reservation_total = func.coalesce(reserved.c.reserved, 0)
    salable = _salable(config, default_stock, in_stock_quantity, in_stock_count, reservation_total)
    quantity = summed.c.quantity if default_stock else in_stock_quantity

    return select(
        summed.c.stock_id.label("stock_id"),
        summed.c.sku.label("sku"),
        quantity.label("quantity"),
        salable.label("is_salable"),
        summed.c.item_count.label("item_count"),
        summed.c.in_stock_count.label("in_stock_count"),
    ).outerjoin_from(
        summed, reserved, and_(reserved.c.stock_id == summed.c.stock_id, reserved.c.sku == summed.c.sku)
    )


def fresh_rows(config: StockItemConfiguration, stock_ids: Sequence[int] | None = None) -> Select[Any]:
    """The whole computed index (default and custom stocks), for comparisons."""
    parts = [aggregation(config, default_stock=default, stock_ids=stock_ids) for default in (True, False)]
    return select(union_all(*parts).subquery())


# The index columns an aggregation produces, in its order.
_INDEX_COLUMNS = ["stock_id", "sku", "quantity", "is_salable", "item_count", "in_stock_count"]


def _fresh_aggregations(
    config: StockItemConfiguration,
    stock_ids: Sequence[int],
    sku_filter: ColumnElement[bool] | None,
    reserved_filter: ColumnElement[bool] | None,
) -> Iterator[Select[Any]]:
    """The aggregation of the default stock and that of the other stocks, for those asked for."""
    for default in (True, False):
        wanted = [s for s in stock_ids if (s == DEFAULT_STOCK_ID) == default]
        if wanted:
            yield aggregation(
                config,
                default_stock=default,
                stock_ids=wanted,
                sku_filter=sku_filter,
                reserved_filter=reserved_filter,
            )


def _insert_fresh(
    session: Session,
    config: StockItemConfiguration,
    stock_ids: Sequence[int],
    sku_filter: ColumnElement[bool] | None,
    reserved_filter: ColumnElement[bool] | None = None,
) -> int:
    inserted = 0
    for rows in _fresh_aggregations(config, stock_ids, sku_filter, reserved_filter):
        # preserve_rowcount: psycopg 3 reports -1 for INSERT … SELECT once the cursor is closed.
        result = session.execute(
            index.insert().from_select(_INDEX_COLUMNS, rows), execution_options={"preserve_rowcount": True}
        )
        inserted += max(result.rowcount, 0)  # type: ignore[attr-defined]
    return inserted


def rebuild_stocks(session: Session, config: StockItemConfiguration, stock_ids: Sequence[int]) -> int:
    """Replace every index row of the stocks; returns the number of rows written."""
    session.execute(delete(index).where(index.c.stock_id.in_(stock_ids)))
    return _insert_fresh(session, config, stock_ids, None)


def refresh_skus(
    session: Session,
    config: StockItemConfiguration,
    stock_ids: Sequence[int],
    skus: Sequence[str],
    *,
    items_removed: bool = True,
) -> None:
    """Recompute the index rows of these SKUs in these stocks, a chunk of SKUs at a time.

    ``items_removed`` False (items were only added or changed) writes the recomputed rows over
    the old ones: every row those stocks held for these SKUs still has its items, so none can
    vanish, and no row needs deleting.
    """
    if not stock_ids or not skus:
        return
    for chunk in chunks(pieces.unique_sorted(skus), REFRESH_CHUNK):
        of_chunk = db.in_keys(session, items.c.sku, chunk)
        reserved_of_chunk = db.in_keys(session, reservations.c.sku, chunk)
        if items_removed:
            # A plain IN list here: as a joined set, the DELETE on a just-rebuilt index scanned
            # the stocks' rows all the same and hashed them (1.0 s for 5,000 SKUs, IN: 0.4 s).
            session.execute(delete(index).where(index.c.stock_id.in_(stock_ids), index.c.sku.in_(chunk)))
            _insert_fresh(session, config, stock_ids, of_chunk, reserved_of_chunk)
        else:
            _upsert_fresh(session, config, stock_ids, of_chunk, reserved_of_chunk)


def _upsert_fresh(
    session: Session,
    config: StockItemConfiguration,
    stock_ids: Sequence[int],
    sku_filter: ColumnElement[bool],
    reserved_filter: ColumnElement[bool],
) -> None:
    for rows in _fresh_aggregations(config, stock_ids, sku_filter, reserved_filter):
        db.upsert_from_select(session, index, _INDEX_COLUMNS, rows, keys=("stock_id", "sku"))


def refresh_salable(
    session: Session, config: StockItemConfiguration, stock_id: int, skus: Sequence[str]
) -> None:
    """Re-evaluate ``is_salable`` of the stock's existing rows of these SKUs after their
    reservations changed and nothing else did (Magento's
    ``InventoryIndexer/Model/Queue/UpdateIndexSalabilityStatus.php``, run in the same
    transaction): the rows keep their quantities and counts, only the flag is computed again
    from them and the SKU's reservations, exactly as the aggregation computes it.

    Rows are updated in place, never deleted and inserted again, so that a concurrent placement
    waiting for one of them (``FOR UPDATE``) finds it when the lock is granted.
    """
    statement = _refresh_salable_statement(config, stock_id == DEFAULT_STOCK_ID)
    for chunk in chunks(pieces.unique_sorted(skus)):
        session.execute(statement, {"row_stock_id": stock_id, "row_skus": list(chunk)})


@lru_cache(maxsize=16)
def _refresh_salable_statement(config: StockItemConfiguration, default_stock: bool) -> Any:
    """Built once per configuration: an order placement runs it every time. The default stock's
    row holds the default source's one item whatever its status (the legacy quantity), so its
    in-stock quantity is that quantity when the item is in stock."""
    in_stock_quantity: ColumnElement[Any] = index.c.quantity
    if default_stock:
        in_stock_quantity = case((index.c.in_stock_count > 0, index.c.quantity), else_=0)
    reserved = (
        select(func.coalesce(func.sum(reservations.c.quantity), 0))
        .where(reservations.c.stock_id == index.c.stock_id, reservations.c.sku == index.c.sku)
        .scalar_subquery()
    )
    salable = _salable(config, default_stock, in_stock_quantity, index.c.in_stock_count, reserved)
    return (
        index.update()
        .where(
            index.c.stock_id == bindparam("row_stock_id"),
            index.c.sku.in_(bindparam("row_skus", expanding=True)),
        )
        .values(is_salable=salable)
    )


def refresh_skus_of_sources(
    session: Session, config: StockItemConfiguration, stock_ids: Sequence[int], source_codes: Sequence[str]
) -> None:
    """Recompute, in these stocks, the rows of every SKU that has an item on one of these
    sources: exactly the rows a change of those sources' links or enabled flag can alter."""
    if not stock_ids or not source_codes:
        return
    at_sources = table_of(SourceItem).alias("at_sources")
    skus_at_sources = select(at_sources.c.sku).where(at_sources.c.source_code.in_(source_codes))
    session.execute(delete(index).where(index.c.stock_id.in_(stock_ids), index.c.sku.in_(skus_at_sources)))
    _insert_fresh(
        session, config, stock_ids, items.c.sku.in_(skus_at_sources), reservations.c.sku.in_(skus_at_sources)
    )


def apply_source_delta(
    session: Session,
    config: StockItemConfiguration,
    stock_id: int,
    source_code: str,
    sign: int,
    item_count: int | None = None,
) -> None:
    """Add (``sign`` 1) or take away (-1) the items of one enabled source to or from the rows
    of a custom stock, after the source joined or left the stock (a link, or being enabled or
    disabled).

    Only that source's items are read, never the SKUs' other items: a row's quantity moves by
    the item's in-stock quantity, its counts by one, and ``is_salable`` is computed again from
    the new sums and the reservations, as the aggregation computes it. Rows whose one item
    leaves are deleted first, without that rewrite; SKUs new to the stock get a row. Existing
    rows are rewritten in place with an UPDATE (on PostgreSQL a HOT update into the page's free space, see
    migration 0003), not deleted and inserted again into the primary key. ``item_count``, the
    number of items at the source when known, saves looking for new SKUs when every item
    found its row.
    """
    if stock_id == DEFAULT_STOCK_ID:
        raise ValueError("stock 1 keeps the legacy quantity: refresh its SKUs instead")
    source_items = items.alias("source_items")
    in_stock = source_items.c.status == 1
    reserved = (
        select(reservations.c.sku, func.sum(reservations.c.quantity).label("reserved"))
        .where(reservations.c.stock_id == stock_id)
        .group_by(reservations.c.sku)
        .subquery("reserved")
    )
    of_source = source_items.c.source_code == source_code
    delta = (
        select(
            source_items.c.sku.label("sku"),
            (sign * case((in_stock, source_items.c.quantity), else_=0)).label("quantity"),
            (sign * case((in_stock, 1), else_=0)).label("in_stock_count"),
            func.coalesce(reserved.c.reserved, 0).label("reserved"),
        )
        .select_from(source_items)
        .outerjoin(reserved, reserved.c.sku == source_items.c.sku)
        .where(of_source)
        .subquery("delta")
    )
    if sign < 0:
        # A row whose one item is this source's leaves with it: deleted outright, not first
        # rewritten and then deleted (a source alone on its SKUs, 30,000 rows: 0.05 s against
        # 0.45 s on PostgreSQL, bench/mixed_bench.py). When every item's row went, no other row
        # remains to be updated.
        at_source = select(source_items.c.sku).where(of_source)
        removed = session.execute(
            delete(index).where(
                index.c.stock_id == stock_id, index.c.item_count <= 1, index.c.sku.in_(at_source)
            ),
            execution_options={"preserve_rowcount": True},
        )
        if item_count is not None and removed.rowcount == item_count:  # type: ignore[attr-defined]
            return
    quantity = index.c.quantity + delta.c.quantity
    in_stock_count = index.c.in_stock_count + delta.c.in_stock_count
    # Every assignment reads the row's old values on PostgreSQL and SQLite; MariaDB assigns
    # left to right and lets an expression see the columns assigned before it. So is_salable,
    # which reads quantity and in_stock_count, comes first, and every later one reads only its
    # own column.
    updated = session.execute(
        index.update()
        .where(index.c.stock_id == stock_id, index.c.sku == delta.c.sku)
        .ordered_values(
            (index.c.is_salable, _salable(config, False, quantity, in_stock_count, delta.c.reserved)),
            (index.c.in_stock_count, in_stock_count),
            (index.c.item_count, index.c.item_count + sign),
            (index.c.quantity, quantity),
        ),
        execution_options={"preserve_rowcount": True},
    )
    if sign < 0:
        return
    if item_count is not None and updated.rowcount == item_count:  # type: ignore[attr-defined]
        return
    # The SKUs the stock did not hold: their row is this source's item alone.
    new_quantity = case((in_stock, source_items.c.quantity), else_=0)
    new_in_stock = case((in_stock, 1), else_=0)
    missing = (
        select(
            literal(stock_id).label("stock_id"),
            source_items.c.sku,
            new_quantity,
            _salable(config, False, new_quantity, new_in_stock, func.coalesce(reserved.c.reserved, 0)),
            literal(1),
            new_in_stock,
        )
        .select_from(source_items)
        .outerjoin(reserved, reserved.c.sku == source_items.c.sku)
        .where(of_source, ~exists().where(index.c.stock_id == stock_id, index.c.sku == source_items.c.sku))
    )
    session.execute(index.insert().from_select(_INDEX_COLUMNS, missing))


def delete_stock_rows(session: Session, stock_id: int) -> None:
    session.execute(delete(index).where(index.c.stock_id == stock_id))


def enabled_source_codes(session: Session, source_codes: Sequence[str]) -> set[str]:
    """The enabled ones among these sources, lower-cased."""
    if not source_codes:
        return set()
    query = select(sources.c.source_code).where(
        sources.c.source_code.in_(source_codes), sources.c.enabled == true()
    )
    return {code.lower() for code in session.scalars(query)}


def count_items_at_sources(session: Session, source_codes: Sequence[str]) -> int:
    if not source_codes:
        return 0
    return int(session.scalar(select(func.count()).where(items.c.source_code.in_(source_codes))) or 0)


def stocks_linked_to_sources(session: Session, source_codes: Sequence[str]) -> list[int]:
    if not source_codes:
        return []
    query = select(links.c.stock_id).where(links.c.source_code.in_(source_codes)).distinct()
    return sorted(session.scalars(query))


def differences(
    session: Session, config: StockItemConfiguration, stock_ids: Sequence[int] | None
) -> list[Any]:
    """Rows where the index and a fresh aggregation disagree, as
    (stock_id, sku, index quantity, index is_salable, fresh quantity, fresh is_salable); a
    missing side is None."""
    fresh = fresh_rows(config, stock_ids).cte("fresh")
    stored = select(index).where(index.c.stock_id.in_(stock_ids)) if stock_ids is not None else select(index)
    stored_cte = stored.cte("stored")
    changed_or_missing = (
        select(
            fresh.c.stock_id,
            fresh.c.sku,
            stored_cte.c.quantity,
            stored_cte.c.is_salable,
            fresh.c.quantity.label("fresh_quantity"),
            fresh.c.is_salable.label("fresh_is_salable"),
        )
        .select_from(fresh)
        .outerjoin(
            stored_cte, and_(stored_cte.c.stock_id == fresh.c.stock_id, stored_cte.c.sku == fresh.c.sku)
        )
        .where(
            or_(
                stored_cte.c.sku.is_(None),
                # SQLite sums decimals as floats: differences below the 4th decimal are noise.
                func.abs(stored_cte.c.quantity - fresh.c.quantity) > _decimal(Decimal("0.00005")),
                # Compared as numbers: SQLite and MariaDB hand back 0/1, PostgreSQL booleans.
                case((stored_cte.c.is_salable == true(), 1), else_=0)
                != case((fresh.c.is_salable == true(), 1), else_=0),
                # What the next delta starts from (apply_source_delta): a wrong count is a
                # wrong row to come.
                stored_cte.c.item_count != fresh.c.item_count,
                stored_cte.c.in_stock_count != fresh.c.in_stock_count,
            )
        )
    )
    extra = select(
        stored_cte.c.stock_id,
        stored_cte.c.sku,
        stored_cte.c.quantity,
        stored_cte.c.is_salable,
        literal(None, Numeric(INDEX_QUANTITY_PRECISION, 4)).label("fresh_quantity"),
        literal(None, Boolean).label("fresh_is_salable"),
    ).where(~exists().where(fresh.c.stock_id == stored_cte.c.stock_id, fresh.c.sku == stored_cte.c.sku))
    rows = list(session.execute(union_all(changed_or_missing, extra)))
    return sorted(rows, key=lambda row: (row[0], row[1].lower()))
