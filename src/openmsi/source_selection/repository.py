"""Every SQL statement of source selection and of the GeoNames table. Functions take the
caller's session and never commit.

Source selection reads live data (spec source-selection.md: "a pure computation over live data
(links, sources, source items)"), never the stock index: the sources linked to a stock and the
in-stock items of the requested SKUs on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import String, and_, bindparam, delete, select, true, union_all
from sqlalchemy.orm import Session

from openmsi.db import case_insensitive
from openmsi.models import Geoname, Source, SourceItem, Stock, StockSourceLink, table_of

stocks = table_of(Stock)
links = table_of(StockSourceLink)
sources = table_of(Source)
items = table_of(SourceItem)
geonames = table_of(Geoname)


class Candidate(NamedTuple):
    """An in-stock item of a requested SKU on an enabled source linked to the stock."""

    rank: tuple[int, int]  # its source's place in the stock: (link priority, link id)
    source_item_id: int
    source_code: str
    sku: str  # as stored (the catalog's spelling), which is what the answer shows
    quantity: Decimal


class SourcePlace(NamedTuple):
    """Where a source is, for the distance algorithm."""

    source_code: str
    latitude: Decimal | None
    longitude: Decimal | None
    country_id: str | None
    postcode: str | None
    street: str | None
    region: str | None
    city: str | None


_PLACE_COLUMNS = (
    sources.c.latitude,
    sources.c.longitude,
    sources.c.country_id,
    sources.c.postcode,
    sources.c.street,
    sources.c.region,
    sources.c.city,
)
# SKUs per statement: SQLite allows at most 500 terms in a compound SELECT.
SKU_CHUNK = 256
_STOCK_EXISTS = select(stocks.c.stock_id).where(stocks.c.stock_id == bindparam("stock_id"))


def stock_exists(session: Session, stock_id: int) -> bool:
    return session.execute(_STOCK_EXISTS, {"stock_id": stock_id}).first() is not None


@lru_cache(maxsize=64)
def _candidates_statement(size: int, with_places: bool) -> Any:
    """The candidates of ``size`` SKUs bound as ``sku_0`` …, built once per size (building and
    compiling a statement costs more than running it): the SKUs as a derived table, each
    probing the items' SKU index (compared as the SKU column compares, on every engine), joined
    to the stock's links and the enabled sources (``GetInStockSourceItemsBySkusAndSortedSource``
    on the sources of ``GetSourcesAssignedToStockOrderedByPriority`` that are enabled)."""
    rows = [
        select(case_insensitive(bindparam(f"sku_{position}", type_=String)).label("sku"))
        for position in range(size)
    ]
    requested = (rows[0] if size == 1 else union_all(*rows)).subquery("requested")
    return (
        select(
            links.c.priority,
            links.c.link_id,
            items.c.source_item_id,
            items.c.source_code,
            items.c.sku,
            items.c.quantity,
            *(_PLACE_COLUMNS if with_places else ()),
        )
        .select_from(requested)
        .join(items, items.c.sku == requested.c.sku)
        .join(
            links, and_(links.c.source_code == items.c.source_code, links.c.stock_id == bindparam("stock_id"))
        )
        .join(sources, and_(sources.c.source_code == items.c.source_code, sources.c.enabled == true()))
        .where(items.c.status == 1)
    )


def candidates(
    session: Session, stock_id: int, skus: Sequence[str], *, with_places: bool = False
) -> tuple[list[Candidate], dict[str, SourcePlace]]:
    """The in-stock items (status 1, whatever their quantity) of these SKUs on the stock's
    enabled sources, unordered, each once; with ``with_places``, where their sources are."""
    found: dict[int, Candidate] = {}  # a SKU requested in two spellings finds its items twice
    places: dict[str, SourcePlace] = {}
    distinct = list(dict.fromkeys(skus))
    for start in range(0, len(distinct), SKU_CHUNK):
        chunk = distinct[start : start + SKU_CHUNK]
        # A few statements serve every order: the SKUs are padded to a multiple of 4 (up to 32,
        # the common orders), else to a power of two, with the empty SKU, which no source item
        # has (SKUs may not be empty).
        size = -(-len(chunk) // 4) * 4 if len(chunk) <= 32 else 1 << (len(chunk) - 1).bit_length()
        parameters: dict[str, Any] = {f"sku_{n}": sku for n, sku in enumerate(chunk)}
        parameters.update({f"sku_{n}": "" for n in range(len(chunk), size)})
        parameters["stock_id"] = stock_id
        # .all(): one fetch of every row, several times faster than iterating row by row.
        for row in session.connection().execute(_candidates_statement(size, with_places), parameters).all():
            priority, link_id, item_id, source_code, sku, amount = row[:6]
            # Numeric(12, 4) reads as a Decimal on every engine (SQLite's float through
            # SQLAlchemy's 4-digit conversion).
            found[item_id] = Candidate((priority, link_id), item_id, source_code, sku, amount)
            if with_places:
                places[source_code] = SourcePlace(source_code, *row[6:])
    return list(found.values()), places


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
