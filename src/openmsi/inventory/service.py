"""Use cases of sources, stocks and stock-source links: validate, write, queue index work.

Functions take the request's session and never commit; the entry point does. Referential
and range problems that Magento only discovers in MySQL are checked here, before writing,
so that SQLite, PostgreSQL and MariaDB refuse exactly the same inputs with Magento's
generic ``Could not save …`` message.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from openmsi import db, errors
from openmsi.indexer import service as indexer
from openmsi.indexer.service import Indexing
from openmsi.inventory import repository
from openmsi.inventory.validators import (
    DEFAULT_SOURCE_CODE,
    DEFAULT_STOCK_ID,
    WEBSITE,
    is_default_source,
    sales_channels_of,
    validate_link,
    validate_source,
    validate_stock,
)
from openmsi.models import CHANNEL_LENGTH, CODE_LENGTH, SalesChannel, Source, Stock
from openmsi.search_criteria import SearchCriteria

INT_UNSIGNED_MAX = 4_294_967_295
# Stock ids are a signed INTEGER column on every engine (Magento's is unsigned): a larger id
# cannot exist, and checking first keeps PostgreSQL from failing on the cast of the parameter.
STOCK_ID_MAX = 2_147_483_647
SMALLINT_UNSIGNED_MAX = 65_535
TEXT_MAX_BYTES = 65_535


# Sources


def get_source(session: Session, source_code: str) -> Source:
    """GET /V1/inventory/sources/:sourceCode. Raises NoSuchEntity."""
    source = repository.get_source(session, source_code)
    if source is None:
        raise errors.NoSuchEntity('Source with code "%value" does not exist.', {"value": source_code})
    return source


def get_sources(session: Session, criteria: SearchCriteria) -> tuple[list[Source], int]:
    """GET /V1/inventory/sources."""
    return repository.search(
        session, repository.select_sources(), criteria, repository.SOURCE_FIELDS, [Source.source_code]
    )


_SOURCE_NULLABLE = (
    "email", "contact_name", "description", "latitude", "longitude", "region_id", "region", "city",
    "street", "phone", "fax",
)  # fmt: skip
_SOURCE_REQUIRED = ("name", "country_id", "postcode", "enabled", "use_default_carrier_config")
_STRING_LIMITS = {
    **{name: CODE_LENGTH for name in (
        "source_code", "name", "email", "contact_name", "region", "city", "street", "postcode", "phone",
        "fax", "frontend_name",
    )},
    "country_id": 2,
}  # fmt: skip
# decimal(8,6) and decimal(9,6): the largest magnitude that still fits after rounding.
_COORDINATE_LIMITS: dict[str, Decimal] = {
    "latitude": Decimal("99.999999"),
    "longitude": Decimal("999.999999"),
}


def _coordinate(value: float) -> Decimal:
    exact = Decimal(repr(value))
    if not exact.is_finite() or abs(exact) > _COORDINATE_LIMITS["longitude"]:
        return exact  # cannot be rounded within decimal's precision; refused by the limits
    return exact.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def _source_row(data: dict[str, Any], existing: Source | None) -> dict[str, Any]:
    """The columns to write: fields present in the request, nulls only where a column may be
    null (Magento's AbstractDb::_prepareDataForTable), pickup fields rewritten on every save."""
    row: dict[str, Any] = {}
    for name in _SOURCE_REQUIRED:
        if data.get(name) is not None:
            row[name] = data[name]
    for name in _SOURCE_NULLABLE:
        if name in data:
            row[name] = data[name]
    for name in ("latitude", "longitude"):
        if row.get(name) is not None:
            row[name] = _coordinate(row[name])
    extension = data.get("extension_attributes") or {}
    # InventoryInStorePickup/Plugin/InventoryApi/SourceRepository/SaveInStorePickupPlugin.php
    row["frontend_name"] = extension.get("frontend_name") or data.get("name")
    row["frontend_description"] = extension.get("frontend_description")
    if extension.get("is_pickup_location_active") is not None:
        row["is_pickup_location_active"] = extension["is_pickup_location_active"]
    if existing is None:
        row.setdefault("enabled", True)
        row.setdefault("use_default_carrier_config", True)
        row.setdefault("is_pickup_location_active", False)
    return row


def _source_fits_columns(row: dict[str, Any]) -> bool:
    for name, limit in _STRING_LIMITS.items():
        value = row.get(name)
        if isinstance(value, str) and len(value) > limit:
            return False
    for name in ("description", "frontend_description"):
        value = row.get(name)
        if isinstance(value, str) and len(value.encode("utf-8")) > TEXT_MAX_BYTES:
            return False
    for name, bound in _COORDINATE_LIMITS.items():
        if row.get(name) is not None and not (row[name].is_finite() and abs(row[name]) <= bound):
            return False
    region_id = row.get("region_id")
    return region_id is None or 0 <= region_id <= INT_UNSIGNED_MAX


def save_source(session: Session, indexing: Indexing, data: dict[str, Any]) -> None:
    """POST /V1/inventory/sources, PUT /V1/inventory/sources/:sourceCode (an upsert).

    Raises ValidationFailed, or CouldNotSave("Could not save Source") for a duplicate name or a
    value the columns cannot hold.
    """
    problems = validate_source(data)
    if problems:
        raise errors.ValidationFailed(problems)
    code: str = data["source_code"]
    could_not_save = errors.CouldNotSave("Could not save Source")
    if len(code) > CODE_LENGTH:
        raise could_not_save
    # A save that would change nothing (the same PUT again) writes nothing and takes no lock:
    # as last committed, the source holds these values and its name is its own. A save of it
    # not yet committed is ordered after this one.
    stored = repository.get_source(session, code)
    if stored is not None:
        unchanged = all(getattr(stored, name) == value for name, value in _source_row(data, stored).items())
        if unchanged and not repository.source_name_taken(session, data["name"], code):
            return
        session.expunge(stored)  # read again below, under the lock
    # Names are unique without a database constraint (as in Magento); serialising source saves
    # on one row makes the check-then-write below safe against concurrent requests. The saved
    # source's own row is locked with it, before any stock row (indexer's lock order), so that
    # its links stand still while an enable/disable applies.
    indexer.lock_sources_for_save(session, [DEFAULT_SOURCE_CODE, code])
    existing = repository.get_source(session, code)
    row = _source_row(data, existing)
    if not _source_fits_columns(row) or repository.source_name_taken(session, data["name"], code):
        raise could_not_save
    if existing is None:
        repository.insert_source(session, {"source_code": code, **row})
        return
    was_enabled = existing.enabled
    enabled_changes = "enabled" in row and bool(row["enabled"]) != bool(was_enabled)
    stock_ids = indexer.stocks_of_sources(session, [existing.source_code]) if enabled_changes else []
    repository.update_source(session, existing.source_code, row)
    # Enabling or disabling a source changes what every stock linked to it holds.
    if enabled_changes:
        indexer.refresh_source_enabled(session, indexing, stock_ids, existing.source_code, row["enabled"])


# Stocks


def get_stock(session: Session, stock_id: int) -> tuple[Stock, list[SalesChannel]]:
    """GET /V1/inventory/stocks/:stockId. Raises NoSuchEntity."""
    stock = repository.get_stock(session, stock_id) if 0 <= stock_id <= STOCK_ID_MAX else None
    if stock is None:
        raise errors.NoSuchEntity('Stock with id "%value" does not exist.', {"value": stock_id})
    return stock, repository.sales_channels_by_stock(session, [stock.stock_id])[stock.stock_id]


def get_stocks(
    session: Session, criteria: SearchCriteria
) -> tuple[list[tuple[Stock, list[SalesChannel]]], int]:
    """GET /V1/inventory/stocks."""
    stocks, total = repository.search(
        session, repository.select_stocks(), criteria, repository.STOCK_FIELDS, [Stock.stock_id]
    )
    channels = repository.sales_channels_by_stock(session, [stock.stock_id for stock in stocks])
    return [(stock, channels[stock.stock_id]) for stock in stocks], total


def save_stock(session: Session, data: dict[str, Any]) -> int:
    """POST /V1/inventory/stocks, PUT /V1/inventory/stocks/:stockId. Returns the stock id.

    Raises ValidationFailed, CouldNotSave("Could not save Stock") or
    CouldNotSave("Could not replace Sales Channels for Stock").
    """
    problems = validate_stock(data, repository.website_codes(session))
    if problems:
        raise errors.ValidationFailed(problems)
    name: str = data["name"]
    # PHP treats 0 as "no id": MySQL then generates one (Magento's PredefinedId).
    stock_id: int | None = data.get("stock_id") or None
    could_not_save = errors.CouldNotSave("Could not save Stock")
    # As for sources: stock saves queue on the default stock's row, so the unique-name check
    # and the sales-channel moves of concurrent saves cannot interleave.
    repository.lock_stocks(session, [DEFAULT_STOCK_ID])
    if len(name) > CODE_LENGTH or (stock_id is not None and not 0 < stock_id <= STOCK_ID_MAX):
        raise could_not_save
    existing = repository.get_stock(session, stock_id) if stock_id is not None else None
    if repository.stock_name_taken(session, name, stock_id):
        raise could_not_save
    if existing is None:
        stock_id = repository.insert_stock(session, name, stock_id)
        if stock_id > STOCK_ID_MAX:  # SQLite's AUTOINCREMENT goes past the range
            raise could_not_save
    else:
        repository.rename_stock(session, existing.stock_id, name)
    assert stock_id is not None
    _replace_sales_channels(session, stock_id, sales_channels_of(data))
    return stock_id


def _replace_sales_channels(session: Session, stock_id: int, channels: list[dict[str, Any]]) -> None:
    """InventorySales SaveSalesChannelsLinksPlugin: the given channels replace the stock's;
    websites it loses go back to the default stock."""
    wanted: dict[tuple[str, str], dict[str, str]] = {}
    for channel in channels:
        entry = {"type": str(channel["type"]).strip(), "code": str(channel["code"]).strip()}
        wanted[(entry["type"].lower(), entry["code"].lower())] = entry
    if any(len(c["type"]) > CHANNEL_LENGTH or len(c["code"]) > CHANNEL_LENGTH for c in wanted.values()):
        raise errors.CouldNotSave("Could not replace Sales Channels for Stock")
    current = repository.sales_channels_by_stock(session, [stock_id])[stock_id]
    wanted_websites = {code for kind, code in wanted if kind == WEBSITE}
    removed = [
        {"type": channel.type, "code": channel.code}
        for channel in current
        if channel.type.lower() == WEBSITE and channel.code.lower() not in wanted_websites
    ]
    try:
        repository.replace_sales_channels(session, stock_id, list(wanted.values()))
        # Also for the default stock itself: it never loses a website except to another stock.
        repository.add_sales_channels(session, DEFAULT_STOCK_ID, removed)
    except DBAPIError as error:
        raise errors.CouldNotSave("Could not replace Sales Channels for Stock") from error


def delete_stock(session: Session, stock_id: int) -> None:
    """DELETE /V1/inventory/stocks/:stockId. Raises CouldNotDelete or NoSuchEntity."""
    if stock_id == DEFAULT_STOCK_ID:
        raise errors.CouldNotDelete("Default Stock could not be deleted.")
    if 0 <= stock_id <= STOCK_ID_MAX and repository.stock_has_sales_channels(session, stock_id):
        raise errors.CouldNotDelete("Stock has at least one sale channel and could not be deleted.")
    stock = repository.get_stock(session, stock_id) if 0 <= stock_id <= STOCK_ID_MAX else None
    if stock is None:
        raise errors.NoSuchEntity(
            'There is no stock with "%fieldValue" for "%fieldName". Verify and try again.',
            {"fieldName": "stock_id", "fieldValue": stock_id},
        )
    repository.lock_stocks(session, [stock_id])
    repository.delete_stock(session, stock_id)
    indexer.drop_stock(session, stock_id)


def resolve_stock(session: Session, channel_type: str, code: str) -> tuple[Stock, list[SalesChannel]]:
    """GET /V1/inventory/stock-resolver/:type/:code. Raises NoSuchEntity("No linked stock found")."""
    return get_stock(session, resolve_stock_id(session, channel_type, code))


def resolve_stock_id(session: Session, channel_type: str, code: str) -> int:
    """The id of the stock a sales channel resolves to, as the stock resolver finds it (also
    for openmsi's order placement). Raises NoSuchEntity("No linked stock found")."""
    if channel_type == WEBSITE and code == "admin":
        # AdaptStockResolverToAdminWebsitePlugin: the admin website always uses the default stock.
        return DEFAULT_STOCK_ID
    stock_id = None
    if len(channel_type) <= CHANNEL_LENGTH and len(code) <= CHANNEL_LENGTH:
        stock_id = repository.stock_id_by_sales_channel(session, channel_type, code)
    if stock_id is None:
        raise errors.NoSuchEntity("No linked stock found")
    return stock_id


# Stock-source links


def get_stock_source_links(session: Session, criteria: SearchCriteria) -> tuple[list[Any], int]:
    """GET /V1/inventory/stock-source-links."""
    return repository.search(
        session,
        repository.select_links(),
        criteria,
        repository.LINK_FIELDS,
        [repository.LINK_FIELDS["link_id"].expression],
    )


def save_stock_source_links(session: Session, indexing: Indexing, links: list[dict[str, Any]]) -> None:
    """POST /V1/inventory/stock-source-links: all links or none.

    Raises InputError("Input data is empty"), ValidationFailed listing every invalid link, or
    CouldNotSave("Could not save StockSourceLinks") when a stock or source does not exist or a
    value is out of range.
    """
    if not links:
        raise errors.InputError("Input data is empty")
    problems = [problem for link in links for problem in validate_link(link)]
    if problems:
        raise errors.ValidationFailed(problems)
    could_not_save = errors.CouldNotSave("Could not save StockSourceLinks")
    # The same pair twice in one batch: the later priority wins, as in Magento's multi-row
    # INSERT … ON DUPLICATE KEY UPDATE.
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for link in links:
        stock_id, code, priority = link["stock_id"], link["source_code"], link["priority"]
        if not (
            0 < stock_id <= STOCK_ID_MAX and len(code) <= CODE_LENGTH and priority <= SMALLINT_UNSIGNED_MAX
        ):
            raise could_not_save
        key = (stock_id, code.lower())
        if key in rows:
            rows[key]["priority"] = priority
        else:
            rows[key] = {"stock_id": stock_id, "source_code": code, "priority": priority}
    # Links that all stand already with these priorities (as last committed): the save
    # changes nothing, and takes no lock. Had a delete of one of them not yet committed, the
    # save is ordered before it, as if it had come first; no index row is involved.
    stored = repository.link_priorities(session, list(rows))
    if all(key in stored and stored[key] == row["priority"] for key, row in rows.items()):
        return
    stock_ids = sorted({stock_id for stock_id, _ in rows})
    # Writers of one stock queue here, sources then stocks (indexer's lock order), instead
    # of deadlocking later.
    indexer.lock_sources(session, sorted({row["source_code"] for row in rows.values()}))
    repository.lock_stocks(session, stock_ids)
    existing = repository.existing_link_keys(session, list(rows))
    repository.save_links(session, list(rows.values()))
    added = [(row["stock_id"], row["source_code"]) for key, row in rows.items() if key not in existing]
    # A priority change alters no index row; a new link adds its source's items.
    indexer.refresh_links(session, indexing, added, joined=True, reason="stock-source links saved")


def delete_stock_source_links(session: Session, indexing: Indexing, links: list[dict[str, Any]]) -> None:
    """POST /V1/inventory/stock-source-links-delete. Missing links are ignored.

    Raises CouldNotDelete for a link of the default stock or source (checked first, as
    PreventDeleteDefaultStockLinksPlugin runs before the command), InputError for an empty
    list, CouldNotDelete("Could not delete StockSourceLinks") on a database failure.
    """
    for link in links:
        if link.get("stock_id") == DEFAULT_STOCK_ID or is_default_source(link.get("source_code")):
            raise errors.CouldNotDelete("Can not delete link related to Default Source or Default Stock")
    if not links:
        raise errors.InputError("Input data is empty")
    keys = sorted(
        {
            (link["stock_id"], link["source_code"])
            for link in links
            if link.get("stock_id") is not None
            and link.get("source_code") is not None
            and 0 <= link["stock_id"] <= STOCK_ID_MAX
            and len(link["source_code"]) <= CODE_LENGTH
        }
    )
    # None of the links stands (as last committed): nothing to delete, nothing to lock. A save
    # of one of them not yet committed is ordered after this delete.
    if not repository.existing_link_keys(session, keys):
        return
    indexer.lock_sources(session, sorted({code for _, code in keys}))
    repository.lock_stocks(session, sorted({stock_id for stock_id, _ in keys}))
    deleted = repository.delete_links(session, keys)
    indexer.refresh_links(session, indexing, deleted, joined=False, reason="stock-source links deleted")


def get_sources_assigned_to_stock_ordered_by_priority(reader: db.Reader, stock_id: int) -> list[Any]:
    """GET /V1/inventory/get-sources-assigned-to-stock-ordered-by-priority/:stockId: rows with a
    ``Source``'s attributes."""
    if not 0 <= stock_id <= STOCK_ID_MAX:
        return []
    return repository.sources_assigned_to_stock_ordered_by_priority(reader, stock_id)
