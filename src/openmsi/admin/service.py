"""What the admin pages show and do: calls of the services behind the REST routes, never SQL of
their own (spec admin.md: "the page is another client of the core").

Reads gather what a page shows in one session. Writes are the REST routes' service calls, made
in the unit of work the page's entry point opens and commits (``admin.router``). The stock
page's source actions (assign, unassign, move, save priorities) first check that the stock's
sources are still the ones the page showed, in its order, under the locks the link services
take anyway (sources, then the stock: the indexer's lock order), so that an operator never
undoes a change made meanwhile by another operator or a REST client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from openmsi import db, errors, jobs, service_input
from openmsi.indexer import service as indexer_service
from openmsi.indexer.service import Indexing
from openmsi.inventory import schemas as inventory_schemas
from openmsi.inventory import service as inventory_service
from openmsi.inventory import source_items as source_items_service
from openmsi.inventory.validators import WEBSITE
from openmsi.models import SalesChannel, Source, SourceItem, Stock, Website
from openmsi.sales import salable
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.search_criteria import Filter, SearchCriteria, SortOrder
from openmsi.store import repository as store_repository

PAGE_SIZES = (20, 30, 50, 100, 200)
# The stock page offers at most this many sources to assign (sorted by code).
ASSIGNABLE_LIMIT = 1000
SOURCES_CHANGED = (
    "The sources of this stock have changed since the page was loaded. Check them and try again."
)
SOURCE_EXISTS = 'A source with code "%1" already exists.'
# The source form's fields, in Magento's form order (InventoryAdminUi's source_form.xml).
SOURCE_FORM_FIELDS = (
    "name", "source_code", "description", "latitude", "longitude",
    "contact_name", "email", "phone", "fax",
    "country_id", "region_id", "region", "city", "street", "postcode",
)  # fmt: skip
_REQUIRED_SOURCE_FIELDS = ("name", "source_code", "country_id", "postcode")


@dataclass(frozen=True)
class Grid:
    """One page of a grid."""

    rows: list[Any]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _like(value: str) -> str:
    """A LIKE pattern that finds ``value`` anywhere, its own ``%`` and ``_`` taken literally (as
    Magento's grid text filter, magento2:app/code/Magento/Ui/Component/Filters/Type/Input.php)."""
    for char in ("\\", "%", "_"):
        value = value.replace(char, "\\" + char)
    return f"%{value}%"


def page_size_of(value: int | None) -> int:
    return value if value in PAGE_SIZES else PAGE_SIZES[0]


# Stocks


@dataclass(frozen=True)
class StockRow:
    stock: Stock
    sales_channels: list[str]  # "Websites: North America Site"
    sources: list[Source]  # in priority order


def _channel_labels(channels: Sequence[SalesChannel], websites: dict[str, Website]) -> list[str]:
    labels = []
    for channel in channels:
        if channel.type.lower() == WEBSITE:
            website = websites.get(channel.code.lower())
            labels.append(f"Websites: {website.name if website else channel.code}")
        else:
            labels.append(f"{channel.type}: {channel.code}")
    return labels


def _websites(session: Session) -> dict[str, Website]:
    return {website.code.lower(): website for website in store_repository.websites(session)}


def stocks_grid(session: Session, name: str, page: int, page_size: int) -> Grid:
    """Stores > Inventory > Stocks: GET /V1/inventory/stocks with a name filter, and for each
    stock GET get-sources-assigned-to-stock-ordered-by-priority."""
    groups = ((Filter("name", _like(name), "like"),),) if name else ()
    criteria = SearchCriteria(groups, (SortOrder("stock_id", "ASC"),), page_size, page)
    stocks, total = inventory_service.get_stocks(session, criteria)
    websites = _websites(session)
    rows = [
        StockRow(
            stock,
            _channel_labels(channels, websites),
            inventory_service.get_sources_assigned_to_stock_ordered_by_priority(
                db.Reader.of(session), stock.stock_id
            ),
        )
        for stock, channels in stocks
    ]
    last_page = max(1, -(-total // page_size))
    return Grid(rows, total, min(max(page, 1), last_page), page_size)


@dataclass(frozen=True)
class AssignedSource:
    source: Source
    priority: int


@dataclass(frozen=True)
class StockPage:
    stock: Stock
    website_codes: set[str]  # lower-cased codes of the stock's websites
    other_channels: list[SalesChannel]  # channels of other types, kept as they are on save
    websites: list[Website]
    assigned: list[AssignedSource]
    assignable: list[Source]
    index: dict[str, Any]  # the stock's row of GET /V1/openmsi/index-status


def assigned_sources(session: Session, stock_id: int) -> list[AssignedSource]:
    """The stock's sources in the order of get-sources-assigned-to-stock-ordered-by-priority,
    with their link's priority (GET /V1/inventory/stock-source-links)."""
    reader = db.Reader.of(session)
    sources = inventory_service.get_sources_assigned_to_stock_ordered_by_priority(reader, stock_id)
    criteria = SearchCriteria(((Filter("stock_id", str(stock_id), "eq"),),), None, None, None)
    links, _total = inventory_service.get_stock_source_links(session, criteria)
    priorities = {link.source_code.lower(): link.priority for link in links}
    return [AssignedSource(source, priorities[source.source_code.lower()]) for source in sources]


def stock_page(session: Session, stock_id: int) -> StockPage:
    """One stock: GET /V1/inventory/stocks/:stockId and its sources. Raises NoSuchEntity."""
    stock, channels = inventory_service.get_stock(session, stock_id)
    assigned = assigned_sources(session, stock_id)
    taken = {entry.source.source_code.lower() for entry in assigned}
    everything = SearchCriteria((), (SortOrder("source_code", "ASC"),), ASSIGNABLE_LIMIT, 1)
    sources, _total = inventory_service.get_sources(session, everything)
    status = indexer_service.status(session, [stock_id])
    return StockPage(
        stock=stock,
        website_codes={c.code.lower() for c in channels if c.type.lower() == WEBSITE},
        other_channels=[c for c in channels if c.type.lower() != WEBSITE],
        websites=store_repository.websites(session),
        assigned=assigned,
        assignable=[source for source in sources if source.source_code.lower() not in taken],
        index=status["stocks"][0],
    )


def save_stock(session: Session, stock_id: int, name: str, website_codes: Sequence[str]) -> None:
    """The stock form's Save: PUT /V1/inventory/stocks/:stockId with its name and websites (the
    channels of other types stay). Raises what ``inventory_service.save_stock`` raises."""
    _stock, channels = inventory_service.get_stock(session, stock_id)
    kept = [{"type": c.type, "code": c.code} for c in channels if c.type.lower() != WEBSITE]
    websites = [{"type": WEBSITE, "code": code} for code in website_codes]
    data = {"stock_id": stock_id, "name": name, "extension_attributes": {"sales_channels": websites + kept}}
    inventory_service.save_stock(session, data)


def _locked_links(
    session: Session, stock_id: int, seen: Sequence[str], also: Sequence[str] = ()
) -> list[AssignedSource]:
    """The stock's links, with their sources and the stock locked (the order the link services
    lock them in, so they re-lock what is held); Conflict unless they are ``seen``, in order."""
    inventory_service.get_stock(session, stock_id)  # NoSuchEntity for a stock deleted meanwhile
    indexer_service.lock_sources(session, [*seen, *also])
    indexer_service.lock_stocks(session, [stock_id])
    current = assigned_sources(session, stock_id)
    if [entry.source.source_code.lower() for entry in current] != [code.lower() for code in seen]:
        raise errors.Conflict(SOURCES_CHANGED)
    return current


def _renumbered(stock_id: int, codes: Sequence[str]) -> list[dict[str, Any]]:
    # Priorities 1, 2, 3, ... in the new order: a move always changes the order, whatever gaps
    # or ties the priorities had (two links of equal priority keep their creation order).
    return [
        {"stock_id": stock_id, "source_code": code, "priority": position}
        for position, code in enumerate(codes, start=1)
    ]


def move_source(
    session: Session, indexing: Indexing, stock_id: int, seen: Sequence[str], source_code: str, offset: int
) -> None:
    """Move up (-1) or down (+1): the sources get priorities 1..n in their new order (POST
    /V1/inventory/stock-source-links). Raises Conflict, NoSuchEntity or the service's errors."""
    current = _locked_links(session, stock_id, seen)
    codes = [entry.source.source_code for entry in current]
    lowered = [code.lower() for code in codes]
    if source_code.lower() not in lowered:
        raise errors.Conflict(SOURCES_CHANGED)
    position = lowered.index(source_code.lower())
    target = position + offset
    if not 0 <= target < len(codes):
        return
    codes[position], codes[target] = codes[target], codes[position]
    inventory_service.save_stock_source_links(session, indexing, _renumbered(stock_id, codes))


def save_priorities(
    session: Session, indexing: Indexing, stock_id: int, seen: Sequence[str], priorities: Sequence[str]
) -> None:
    """The Sources section's Save: each shown source with the priority typed in (POST
    /V1/inventory/stock-source-links, Magento's validation). Raises Conflict, InputError (not a
    number), ValidationFailed or the service's errors."""
    _locked_links(session, stock_id, seen)
    if not seen:
        return
    if len(priorities) != len(seen):
        raise errors.Conflict(SOURCES_CHANGED)
    links = [
        {
            "stock_id": stock_id,
            "source_code": code,
            "priority": service_input.convert_scalar(priority, "int", field="priority"),
        }
        for code, priority in zip(seen, priorities, strict=True)
    ]
    inventory_service.save_stock_source_links(session, indexing, links)


def assign_source(
    session: Session, indexing: Indexing, stock_id: int, seen: Sequence[str], source_code: str
) -> None:
    """Assign: the source joins the stock after the others (POST
    /V1/inventory/stock-source-links). Raises Conflict, NoSuchEntity or the service's errors."""
    current = _locked_links(session, stock_id, seen, also=[source_code])
    priority = max((entry.priority for entry in current), default=0) + 1
    link = {"stock_id": stock_id, "source_code": source_code, "priority": priority}
    inventory_service.save_stock_source_links(session, indexing, [link])


def unassign_source(
    session: Session, indexing: Indexing, stock_id: int, seen: Sequence[str], source_code: str
) -> None:
    """Unassign (POST /V1/inventory/stock-source-links-delete). Raises Conflict, NoSuchEntity or
    CouldNotDelete (a link of the default stock or source)."""
    _locked_links(session, stock_id, seen)
    link = {"stock_id": stock_id, "source_code": source_code}
    inventory_service.delete_stock_source_links(session, indexing, [link])


# Sources


def sources_grid(session: Session, search: str, page: int, page_size: int) -> Grid:
    """Stores > Inventory > Sources: GET /V1/inventory/sources, code or name containing
    ``search`` (filters of one group are OR-ed)."""
    groups = ((Filter("source_code", _like(search), "like"), Filter("name", _like(search), "like")),)
    criteria = SearchCriteria(groups if search else (), (SortOrder("source_code", "ASC"),), page_size, page)
    sources, total = inventory_service.get_sources(session, criteria)
    last_page = max(1, -(-total // page_size))
    return Grid(sources, total, min(max(page, 1), last_page), page_size)


def source_form(session: Session, source_code: str) -> dict[str, Any]:
    """What the edit form shows: GET /V1/inventory/sources/:sourceCode. Raises NoSuchEntity."""
    return inventory_schemas.source_data(inventory_service.get_source(session, source_code))


def _source_request(form: dict[str, str], base: dict[str, Any]) -> dict[str, Any]:
    """The source as a REST client would send it: the form's fields over ``base``; an empty
    optional field is null (cleared), an empty required one is sent empty for the validators
    to name it."""
    raw = dict(base)
    for name in SOURCE_FORM_FIELDS:
        if name not in form:
            continue
        value = form[name]
        raw[name] = value if value != "" or name in _REQUIRED_SOURCE_FIELDS else None
    raw["enabled"] = form.get("enabled") == "1"
    return service_input.convert_object(raw, inventory_schemas.SOURCE)


def create_source(session: Session, indexing: Indexing, form: dict[str, str]) -> str:
    """Add New Source: POST /V1/inventory/sources, unless the code is taken (a REST save would
    replace that source). Returns the code. Raises InputError, ValidationFailed, CouldNotSave."""
    data = _source_request(form, {})
    code = data.get("source_code")
    if isinstance(code, str) and code.strip() and _exists(session, code):
        raise errors.CouldNotSave(SOURCE_EXISTS, [code])
    inventory_service.save_source(session, indexing, data)
    return str(data["source_code"])


def _exists(session: Session, source_code: str) -> bool:
    try:
        inventory_service.get_source(session, source_code)
    except errors.NoSuchEntity:
        return False
    return True


def update_source(session: Session, indexing: Indexing, source_code: str, form: dict[str, str]) -> None:
    """The edit form's Save: PUT /V1/inventory/sources/:sourceCode with the stored source and
    the form's fields. Raises NoSuchEntity, InputError, ValidationFailed, CouldNotSave."""
    base = source_form(session, source_code)
    data = _source_request({**form, "source_code": base["source_code"]}, base)
    inventory_service.save_source(session, indexing, data)


def set_source_enabled(session: Session, indexing: Indexing, source_code: str, enabled: bool) -> None:
    """Enable / Disable: GET the source, PUT it back with ``enabled`` changed. Raises
    NoSuchEntity, ValidationFailed ("Default source can not be disabled.")."""
    data = source_form(session, source_code)
    data["enabled"] = enabled
    inventory_service.save_source(
        session, indexing, service_input.convert_object(data, inventory_schemas.SOURCE)
    )


# One SKU


@dataclass(frozen=True)
class SourceItemRow:
    item: SourceItem
    source: Source


@dataclass(frozen=True)
class StockSkuRow:
    stock: Stock
    index_quantity: Decimal | None  # None: no index row
    reserved: Decimal
    salable_quantity: Decimal | None  # None: the route answers an error, ``message``
    message: str | None
    is_salable: bool


@dataclass(frozen=True)
class ProductPage:
    sku: str
    items: list[SourceItemRow]
    stocks: list[StockSkuRow]


def product_page(session: Session, config: StockItemConfiguration, sku: str) -> ProductPage:
    """One SKU: GET /V1/inventory/source-items filtered on it, and per stock what
    get-product-salable-quantity and is-product-salable answer."""
    criteria = SearchCriteria(((Filter("sku", sku, "eq"),),), (SortOrder("source_code", "ASC"),), None, None)
    items, _total = source_items_service.get_source_items(session, criteria)
    rows = [SourceItemRow(item, inventory_service.get_source(session, item.source_code)) for item in items]
    stocks, _count = inventory_service.get_stocks(session, SearchCriteria((), None, None, None))
    per_stock = []
    for stock, _channels in stocks:
        facts = salable.salability(session, stock.stock_id, [sku])[sku]
        quantity: Decimal | None
        message = None
        try:
            quantity = salable.salable_quantity(config, stock.stock_id, facts)
        except errors.MagentoError as error:
            quantity, message = None, error.rendered()[0]
        per_stock.append(
            StockSkuRow(
                stock=stock,
                index_quantity=facts.index_quantity,
                reserved=facts.reserved,
                salable_quantity=quantity,
                message=message,
                is_salable=salable.is_salable(config, stock.stock_id, facts),
            )
        )
    return ProductPage(sku, rows, per_stock)


# The index


@dataclass(frozen=True)
class IndexPage:
    stocks: list[tuple[dict[str, Any], Stock | None]]  # a status row, and its stock if it exists
    failed_jobs: list[dict[str, Any]]


def index_page(session: Session) -> IndexPage:
    """GET /V1/openmsi/index-status, with the stocks' names."""
    status = indexer_service.status(session)
    stocks, _count = inventory_service.get_stocks(session, SearchCriteria((), None, None, None))
    by_id = {stock.stock_id: stock for stock, _channels in stocks}
    return IndexPage([(row, by_id.get(row["stock_id"])) for row in status["stocks"]], status["failed_jobs"])


def request_reindex(session: Session, stock_id: int) -> None:
    """Reindex: queue a rebuild of the stock (as `openmsi reindex --stock ID --enqueue`); one
    already waiting absorbs it. A stock that no longer exists may still have rows to drop, so
    only ids no stock can have are refused (NoSuchEntity)."""
    if not 0 < stock_id <= inventory_service.STOCK_ID_MAX:
        raise errors.NoSuchEntity('Stock with id "%value" does not exist.', {"value": stock_id})
    jobs.enqueue_stock_reindex(session, [stock_id], reason="admin pages: Reindex")
