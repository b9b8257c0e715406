"""Every SQL statement of source selection and of the GeoNames table. Functions take the
caller's session and never commit.

Source selection reads live data (spec source-selection.md: "a pure computation over live data
(links, sources, source items)"), never the stock index: the sources linked to a stock and the
in-stock items of the requested SKUs on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, delete, select
from sqlalchemy.orm import Session

from openmsi import db
from openmsi.indexer.repository import chunks
from openmsi.models import Geoname, Source, SourceItem, Stock, StockSourceLink, table_of
from openmsi.sales.repository import quantity

stocks = table_of(Stock)
links = table_of(StockSourceLink)
sources = table_of(Source)
items = table_of(SourceItem)
geonames = table_of(Geoname)


@dataclass(frozen=True)
class LinkedSource:
    """An enabled source linked to the stock, with what the distance algorithm needs of it."""

    source_code: str
    latitude: Decimal | None
    longitude: Decimal | None
    country_id: str | None
    postcode: str | None
    street: str | None
    region: str | None
    city: str | None


@dataclass(frozen=True)
class Candidate:
    """An in-stock source item of a requested SKU on a source linked to the stock."""

    source_item_id: int
    source_code: str
    sku: str  # as stored (the catalog's spelling), which is what the answer shows
    quantity: Decimal


# Built once (constructing a statement costs more than running it); values are bound per call.
# The stock outer-joined to its links: no row at all means no such stock, one row without a
# source a stock without links. Ties in priority keep creation order (link_id), as
# inventory.repository.sources_assigned_to_stock_ordered_by_priority does.
_STOCK_SOURCES = (
    select(
        stocks.c.stock_id,
        sources.c.source_code,
        sources.c.enabled,
        sources.c.latitude,
        sources.c.longitude,
        sources.c.country_id,
        sources.c.postcode,
        sources.c.street,
        sources.c.region,
        sources.c.city,
    )
    .select_from(stocks)
    .outerjoin(links, links.c.stock_id == stocks.c.stock_id)
    .outerjoin(sources, sources.c.source_code == links.c.source_code)
    .where(stocks.c.stock_id == bindparam("stock_id"))
    .order_by(links.c.priority, links.c.link_id)
)


def enabled_sources_by_priority(session: Session, stock_id: int) -> list[LinkedSource] | None:
    """The stock's enabled sources by link priority (get-sources-assigned-to-stock-ordered-by-
    priority without the disabled ones), or None when the stock does not exist."""
    rows = session.execute(_STOCK_SOURCES, {"stock_id": stock_id}).all()
    if not rows:
        return None
    return [
        LinkedSource(
            row.source_code,
            row.latitude,
            row.longitude,
            row.country_id,
            row.postcode,
            row.street,
            row.region,
            row.city,
        )
        for row in rows
        if row.source_code is not None and row.enabled
    ]


def in_stock_items(session: Session, stock_id: int, skus: Sequence[str]) -> list[Candidate]:
    """In-stock items (status 1, whatever their quantity) of these SKUs, compared as SKUs
    compare, on every source linked to the stock, enabled or not
    (``GetInStockSourceItemsBySkusAndSortedSource``); unordered."""
    result: list[Candidate] = []
    for chunk in chunks(list(skus)):
        query = (
            select(items.c.source_item_id, items.c.source_code, items.c.sku, items.c.quantity)
            .join(links, and_(links.c.source_code == items.c.source_code, links.c.stock_id == stock_id))
            .where(items.c.status == 1, db.in_keys(session, items.c.sku, chunk))
        )
        result.extend(
            Candidate(row.source_item_id, row.source_code, row.sku, quantity(row.quantity))
            for row in session.execute(query)
        )
    return result


# GeoNames (spec source-selection.md, "offline"; Magento's GetGeoNameDataByAddress and
# GetGeoNamesDataByAddress). Magento takes "the first row" without an ORDER BY, which MySQL
# answers in primary-key order: the order of the import.

Point = tuple[float, float]


def _points(session: Session, condition: Any, limit: int | None) -> list[Point]:
    query = select(geonames.c.latitude, geonames.c.longitude).where(condition).order_by(geonames.c.entity_id)
    if limit is not None:
        query = query.limit(limit)
    return [(float(row.latitude), float(row.longitude)) for row in session.execute(query)]


def geonames_by_postcode(session: Session, country: str, postcode: str, limit: int | None = 1) -> list[Point]:
    return _points(session, and_(geonames.c.country_code == country, geonames.c.postcode == postcode), limit)


def geonames_by_city_prefix(session: Session, country: str, city: str, limit: int | None) -> list[Point]:
    # Magento concatenates the city into LIKE '<city>%', where its own % and _ are wildcards;
    # here they are escaped, so a city matches as the prefix it spells.
    condition = and_(geonames.c.country_code == country, geonames.c.city.startswith(city, autoescape=True))
    return _points(session, condition, limit)


def geonames_by_region(session: Session, country: str, region: str, limit: int | None) -> list[Point]:
    return _points(session, and_(geonames.c.country_code == country, geonames.c.region == region), limit)


def delete_geonames(session: Session, country_code: str) -> int:
    """Forget a country's postcodes (before its re-import); answers how many there were."""
    result = session.execute(delete(geonames).where(geonames.c.country_code == country_code))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def insert_geonames(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    batch = list(rows)
    if batch:
        session.execute(geonames.insert(), batch)
