"""Every SQL statement about sources, stocks, sales channels and links. Functions take the
caller's session and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, Select, bindparam, delete, func, select, tuple_
from sqlalchemy.orm import Session

from openmsi import db, pieces, search_criteria
from openmsi.models import (
    LowQuantityNotification,
    SalesChannel,
    Source,
    SourceItem,
    Stock,
    StockSourceLink,
    Website,
    table_of,
)
from openmsi.search_criteria import Column, SearchCriteria

SOURCE_TABLE = table_of(Source)
STOCK_TABLE = table_of(Stock)
LINK_TABLE = table_of(StockSourceLink)
CHANNEL_TABLE = table_of(SalesChannel)
SOURCE_ITEM_TABLE = table_of(SourceItem)
LOW_QUANTITY_TABLE = table_of(LowQuantityNotification)

# Rows per statement: keeps every batch under SQLite's bound-parameter limit.
CHUNK = 500

_SOURCE_STRINGS = (
    "source_code", "name", "email", "contact_name", "description", "country_id", "region", "city",
    "street", "postcode", "phone", "fax", "frontend_name", "frontend_description",
)  # fmt: skip
# source_code and name are ci_string columns; the other texts are plain VARCHAR/TEXT, which only
# MySQL compares case-insensitively by itself.
_CI_SOURCE_STRINGS = ("source_code", "name")
SOURCE_FIELDS: dict[str, Column] = {
    **{
        name: Column(
            SOURCE_TABLE.c[name] if name in _CI_SOURCE_STRINGS else db.case_insensitive(SOURCE_TABLE.c[name]),
            "string",
        )
        for name in _SOURCE_STRINGS
    },
    "enabled": Column(SOURCE_TABLE.c.enabled, "bool"),
    "latitude": Column(SOURCE_TABLE.c.latitude, "decimal"),
    "longitude": Column(SOURCE_TABLE.c.longitude, "decimal"),
    "region_id": Column(SOURCE_TABLE.c.region_id, "int"),
    "use_default_carrier_config": Column(SOURCE_TABLE.c.use_default_carrier_config, "bool"),
    "is_pickup_location_active": Column(SOURCE_TABLE.c.is_pickup_location_active, "bool"),
}
STOCK_FIELDS: dict[str, Column] = {
    "stock_id": Column(STOCK_TABLE.c.stock_id, "int"),
    "name": Column(STOCK_TABLE.c.name, "string"),
}
LINK_FIELDS: dict[str, Column] = {
    name: Column(LINK_TABLE.c[name], "string" if name == "source_code" else "int")
    for name in ("link_id", "stock_id", "source_code", "priority")
}


def _chunks(rows: Sequence[Any]) -> list[Sequence[Any]]:
    return [rows[start : start + CHUNK] for start in range(0, len(rows), CHUNK)]


def search(
    session: Session,
    query: Select[Any],
    criteria: SearchCriteria,
    fields: search_criteria.Fields,
    default_order: Sequence[Any],
) -> tuple[list[Any], int]:
    """Rows of one page and the count of all matching rows (searchCriteria semantics)."""
    filtered = search_criteria.apply_filters(query, criteria, fields)
    maximum = criteria.max_rows
    if search_criteria.page_bounds(criteria, 0)[0] is None:
        # No LIMIT: the page holds every matching row, so they count themselves (one query
        # instead of two, and the count can never disagree with the items), up to the most a
        # page may hold.
        ordered = search_criteria.apply_sort(filtered, criteria, fields, default_order)
        if maximum is not None:
            ordered = ordered.limit(maximum + 1)
        rows = list(session.scalars(ordered))
        if maximum is not None and len(rows) > maximum:
            raise search_criteria.unpaged_too_large(maximum)
        return rows, len(rows)
    total = session.scalar(select(func.count()).select_from(filtered.order_by(None).subquery())) or 0
    limit, offset = search_criteria.page_bounds(criteria, total)
    page = search_criteria.apply_sort(filtered, criteria, fields, default_order).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    return list(session.scalars(page)), total


# Sources


def select_sources() -> Select[tuple[Source]]:
    return select(Source)


def get_source(session: Session, source_code: str) -> Source | None:
    # MySQL's PAD SPACE collation ignores trailing spaces in "source_code = ?" (Magento finds
    # "default " as "default"); SQLite and PostgreSQL compare them, so strip them for all.
    source_code = source_code.rstrip(" ")
    return session.get(Source, source_code) if _fits(source_code) else None


def _fits(code: str) -> bool:
    # PostgreSQL's CITEXT has no length: an over-long key simply cannot exist.
    return len(code) <= 255


def source_name_taken(session: Session, name: str, except_code: str) -> bool:
    """Magento compares names in SQL: case-insensitive, trailing spaces ignored."""
    query = select(Source.source_code).where(
        func.lower(func.rtrim(Source.name)) == name.strip().lower(), Source.source_code != except_code
    )
    return session.scalar(query.limit(1)) is not None


def insert_source(session: Session, values: dict[str, Any]) -> None:
    session.execute(SOURCE_TABLE.insert().values(values))


def update_source(session: Session, source_code: str, values: dict[str, Any]) -> None:
    session.execute(SOURCE_TABLE.update().where(Source.source_code == source_code).values(values))


# Built once (constructing it costs more than running it); the stock id is bound per call.
_SOURCES_ASSIGNED_TO_STOCK = db.PreparedRead(
    select(*SOURCE_TABLE.c)
    .join(LINK_TABLE, LINK_TABLE.c.source_code == SOURCE_TABLE.c.source_code)
    .where(LINK_TABLE.c.stock_id == bindparam("stock_id"))
    .order_by(LINK_TABLE.c.priority, LINK_TABLE.c.link_id)
)


def sources_assigned_to_stock_ordered_by_priority(reader: db.Reader, stock_id: int) -> list[Any]:
    """The sources' rows (a ``Source``'s attributes). Ties keep creation order (link_id), as
    MySQL's (stock_id, priority) index walk does."""
    return reader.all(_SOURCES_ASSIGNED_TO_STOCK, {"stock_id": stock_id})


# Stocks


def select_stocks() -> Select[tuple[Stock]]:
    return select(Stock)


def get_stock(session: Session, stock_id: int) -> Stock | None:
    return session.get(Stock, stock_id)


def stock_name_taken(session: Session, name: str, except_id: int | None) -> bool:
    query = select(Stock.stock_id).where(func.lower(func.rtrim(Stock.name)) == name.strip().lower())
    if except_id is not None:
        query = query.where(Stock.stock_id != except_id)
    return session.scalar(query.limit(1)) is not None


def insert_stock(session: Session, name: str, stock_id: int | None) -> int:
    values: dict[str, Any] = {"name": name}
    if stock_id is not None:
        values["stock_id"] = stock_id
    result = session.execute(STOCK_TABLE.insert().values(values))
    new_id = stock_id if stock_id is not None else int(result.inserted_primary_key[0])  # type: ignore[attr-defined]
    if stock_id is not None:
        db.sync_id_sequence(session, STOCK_TABLE, "stock_id")
    return new_id


def rename_stock(session: Session, stock_id: int, name: str) -> None:
    session.execute(STOCK_TABLE.update().where(Stock.stock_id == stock_id).values(name=name))


def delete_stock(session: Session, stock_id: int) -> None:
    session.execute(delete(Stock).where(Stock.stock_id == stock_id))


def website_codes(session: Session) -> list[str]:
    return list(session.scalars(select(Website.code)))


def sales_channels_by_stock(session: Session, stock_ids: Sequence[int]) -> dict[int, list[SalesChannel]]:
    """Channels of each stock, in (type, code) order as Magento's primary-key walk gives them."""
    channels: dict[int, list[SalesChannel]] = {stock_id: [] for stock_id in stock_ids}
    if not stock_ids:
        return channels
    query = (
        select(SalesChannel)
        .where(SalesChannel.stock_id.in_(stock_ids))
        .order_by(SalesChannel.type, SalesChannel.code)
    )
    for channel in session.scalars(query):
        channels[channel.stock_id].append(channel)
    return channels


def replace_sales_channels(session: Session, stock_id: int, channels: list[dict[str, str]]) -> None:
    """Delete the stock's channels, take the given ones from whichever stock had them."""
    session.execute(delete(SalesChannel).where(SalesChannel.stock_id == stock_id))
    if channels:
        keys = [(channel["type"], channel["code"]) for channel in channels]
        session.execute(delete(SalesChannel).where(tuple_(SalesChannel.type, SalesChannel.code).in_(keys)))
        session.execute(CHANNEL_TABLE.insert(), [{**channel, "stock_id": stock_id} for channel in channels])


def add_sales_channels(session: Session, stock_id: int, channels: list[dict[str, str]]) -> None:
    db.insert_ignore(session, CHANNEL_TABLE, [{**channel, "stock_id": stock_id} for channel in channels])


def stock_has_sales_channels(session: Session, stock_id: int) -> bool:
    query = select(SalesChannel.code).where(SalesChannel.stock_id == stock_id).limit(1)
    return session.scalar(query) is not None


# Built once: order placements resolve their channel on every request.
_STOCK_ID_BY_SALES_CHANNEL = (
    select(STOCK_TABLE.c.stock_id)
    .join(CHANNEL_TABLE, CHANNEL_TABLE.c.stock_id == STOCK_TABLE.c.stock_id)
    .where(CHANNEL_TABLE.c.type == bindparam("channel_type"), CHANNEL_TABLE.c.code == bindparam("code"))
)


def stock_id_by_sales_channel(session: Session, channel_type: str, code: str) -> int | None:
    stock_id = session.scalar(_STOCK_ID_BY_SALES_CHANNEL, {"channel_type": channel_type, "code": code})
    return None if stock_id is None else int(stock_id)


def lock_stocks(session: Session, stock_ids: Sequence[int]) -> None:
    db.lock_rows_for_update(session, STOCK_TABLE, "stock_id", stock_ids)


# Links


def select_links() -> Select[tuple[StockSourceLink]]:
    return select(StockSourceLink)


def existing_link_keys(session: Session, keys: Sequence[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which (stock_id, lower(source_code)) pairs already exist."""
    return set(link_priorities(session, keys))


def save_links(session: Session, links: Sequence[dict[str, Any]]) -> None:
    for chunk in _chunks(links):
        db.upsert(session, LINK_TABLE, chunk, keys=["stock_id", "source_code"], update=["priority"])


def delete_links(session: Session, keys: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    """Delete the given (stock_id, source_code) pairs; returns those that existed, as stored."""
    deleted: list[tuple[int, str]] = []
    for chunk in _chunks(keys):
        match = tuple_(StockSourceLink.stock_id, StockSourceLink.source_code).in_(list(chunk))
        deleted.extend(
            session.execute(
                select(StockSourceLink.stock_id, StockSourceLink.source_code).where(match)
            ).tuples()
        )
        session.execute(delete(StockSourceLink).where(match))
    return sorted(set(deleted))


def link_priorities(session: Session, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], int | None]:
    """The priority of each of these (stock_id, lower(source_code)) pairs that exists, keyed by
    the pair.

    Read as every link of each stock concerned (a stock has one link per source at most), by
    one prepared statement: a tuple IN list is compiled again on every execution."""
    reader = db.Reader.of(session)
    wanted = set(keys)
    found: dict[tuple[int, str], int | None] = {}
    for stock_id in sorted({stock_id for stock_id, _code in wanted}):
        for code, priority in reader.all(_STOCK_LINKS, {"stock_id": stock_id}):
            key = (stock_id, code.lower())
            if key in wanted:
                found[key] = priority
    return found


_STOCK_LINKS = db.PreparedRead(
    select(LINK_TABLE.c.source_code, LINK_TABLE.c.priority).where(
        LINK_TABLE.c.stock_id == bindparam("stock_id", type_=Integer)
    )
)


# Source items

SOURCE_ITEM_FIELDS: dict[str, Column] = {
    "source_item_id": Column(SOURCE_ITEM_TABLE.c.source_item_id, "int"),
    "sku": Column(SOURCE_ITEM_TABLE.c.sku, "string"),
    "source_code": Column(SOURCE_ITEM_TABLE.c.source_code, "string"),
    "quantity": Column(SOURCE_ITEM_TABLE.c.quantity, "decimal"),
    "status": Column(SOURCE_ITEM_TABLE.c.status, "int"),
}


def select_source_items() -> Select[tuple[SourceItem]]:
    return select(SourceItem)


def existing_source_codes(session: Session, codes: Sequence[str]) -> dict[str, str]:
    """Stored spelling of each existing source code, keyed by its lower case."""
    found: dict[str, str] = {}
    for chunk in _chunks(pieces.unique_sorted(codes)):
        for code in session.scalars(select(Source.source_code).where(Source.source_code.in_(chunk))):
            found[code.lower()] = code
    return found


def upsert_source_items(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert new (source_code, sku) pairs, update quantity and status of existing ones; an
    existing pair keeps its stored spelling (Magento's SaveMultiple)."""
    db.upsert(session, SOURCE_ITEM_TABLE, rows, keys=("source_code", "sku"), update=("quantity", "status"))


_DELETE_SOURCE_ITEM = delete(SOURCE_ITEM_TABLE).where(
    SOURCE_ITEM_TABLE.c.source_code == bindparam("code"), SOURCE_ITEM_TABLE.c.sku == bindparam("item_sku")
)
_DELETE_LOW_QUANTITY = delete(LOW_QUANTITY_TABLE).where(
    LOW_QUANTITY_TABLE.c.source_code == bindparam("code"), LOW_QUANTITY_TABLE.c.sku == bindparam("item_sku")
)


def delete_source_items(session: Session, pairs: Sequence[tuple[str, str]]) -> None:
    """Delete the (source_code, sku) pairs and their low-quantity notification settings."""
    if not pairs:
        return
    params = [{"code": code, "item_sku": sku} for code, sku in pairs]
    session.execute(_DELETE_SOURCE_ITEM, params)
    session.execute(_DELETE_LOW_QUANTITY, params)


def add_source_items(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the rows whose (source_code, sku) pair does not exist yet; an existing pair, also
    one a concurrent writer inserted meanwhile, keeps its quantity and status."""
    db.insert_ignore(session, SOURCE_ITEM_TABLE, rows)


# Bulk operations (inventory.bulk): SKU lists of any length, a few thousand keys per statement
# (far below SQLite's 32,766 bound variables; one array on PostgreSQL, see db.in_keys).
BULK_CHUNK = 5000


def _bulk_chunks(values: Sequence[str]) -> list[Sequence[str]]:
    values = pieces.unique_sorted(values)
    return [values[start : start + BULK_CHUNK] for start in range(0, len(values), BULK_CHUNK)]


def stored_skus(session: Session, skus: Sequence[str]) -> set[str]:
    """Every spelling under which source items store these SKUs (compared case-insensitively)."""
    found: set[str] = set()
    column = SOURCE_ITEM_TABLE.c.sku
    for chunk in _bulk_chunks(skus):
        found.update(session.scalars(select(column).where(db.in_keys(session, column, chunk)).distinct()))
    return found


def source_items_of(
    session: Session, source_codes: Sequence[str], skus: Sequence[str], *, lock: bool = False
) -> list[Any]:
    """The (source_code, sku, quantity, status) items of these SKUs on these sources; ``lock``
    takes their row locks (level 3 of the lock order, in (source, SKU) order) so that nobody
    changes them before the transaction ends."""
    items = SOURCE_ITEM_TABLE
    rows: list[Any] = []
    if not source_codes:
        return rows
    for chunk in _bulk_chunks(skus):
        query = (
            select(items.c.source_code, items.c.sku, items.c.quantity, items.c.status)
            .where(items.c.source_code.in_(list(source_codes)), db.in_keys(session, items.c.sku, chunk))
            .order_by(items.c.source_code, items.c.sku)
        )
        if lock:
            query = query.with_for_update()
        rows.extend(session.execute(query))
    return rows


# Low-quantity notification settings touched by bulk operations (their own routes are in
# low_quantity.repository).


def low_quantity_settings_of(session: Session, source_code: str, skus: Sequence[str]) -> list[Any]:
    """The (sku, notify_stock_qty) settings of these SKUs at the source."""
    table = LOW_QUANTITY_TABLE
    rows: list[Any] = []
    for chunk in _bulk_chunks(skus):
        query = select(table.c.sku, table.c.notify_stock_qty).where(
            table.c.source_code == source_code, db.in_keys(session, table.c.sku, chunk)
        )
        rows.extend(session.execute(query))
    return rows


def add_low_quantity_settings(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert settings whose (source_code, sku) pair has none yet; existing ones are kept."""
    db.insert_ignore(session, LOW_QUANTITY_TABLE, rows)


def delete_low_quantity_settings(session: Session, source_codes: Sequence[str], skus: Sequence[str]) -> None:
    """Delete the settings of these SKUs at these sources."""
    table = LOW_QUANTITY_TABLE
    if not source_codes:
        return
    for chunk in _bulk_chunks(skus):
        session.execute(
            delete(table).where(
                table.c.source_code.in_(list(source_codes)), db.in_keys(session, table.c.sku, chunk)
            )
        )
