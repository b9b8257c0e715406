"""The statements the stock exports stream. Nothing here executes them: the service runs them
with a server-side cursor (``yield_per``), so that no result is ever held whole."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from openmsi import search_criteria
from openmsi.models import SourceItem, StockIndexRow, table_of
from openmsi.search_criteria import Column, SearchCriteria

items = table_of(SourceItem)
index = table_of(StockIndexRow)

# openmsi has no catalog: the "product list" is the distinct SKUs of all source items, and the
# only product attribute it knows is the SKU.
PRODUCT_FIELDS: dict[str, Column] = {"sku": Column(items.c.sku, "string")}


def products(session: Session, criteria: SearchCriteria) -> Select[Any]:
    """The page of the product list the criteria select, in the criteria's order (then by SKU).

    Counts the matching products first when the page size is set: Magento clamps a page number
    past the end to the last page.
    """
    filtered = search_criteria.apply_filters(select(items.c.sku).distinct(), criteria, PRODUCT_FIELDS)
    total = 0
    if search_criteria.page_bounds(criteria, 0)[0] is not None:
        total = session.scalar(select(func.count()).select_from(filtered.subquery())) or 0
    limit, offset = search_criteria.page_bounds(criteria, total)
    page = search_criteria.apply_sort(filtered, criteria, PRODUCT_FIELDS, [items.c.sku])
    if limit is not None:
        page = page.limit(limit).offset(offset)
    return page


def known_skus() -> Select[Any]:
    return select(items.c.sku).distinct().order_by(items.c.sku)


def index_rows(stock_id: int) -> Select[Any]:
    """The stock's index in key order (its primary key)."""
    return (
        select(index.c.sku, index.c.quantity, index.c.is_salable)
        .where(index.c.stock_id == stock_id)
        .order_by(index.c.sku)
    )
