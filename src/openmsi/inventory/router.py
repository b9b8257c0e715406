"""Magento's InventoryApi routes (``InventoryApi/etc/webapi.xml``) and InventoryCatalogApi's bulk
routes (``InventoryCatalogApi/etc/webapi.xml``), one service call each.

Each route names its ACL resource, its lane, its Magento shapes and the work to do with the
call's session and parameters; ``runtime.serve`` does the rest (token, input, transaction,
JSON).
"""

from __future__ import annotations

from typing import Any

from openmsi import errors, openapi, pieces, service_input
from openmsi.db import Lane
from openmsi.inventory import bulk, schemas, source_items
from openmsi.inventory import service as inventory_service
from openmsi.runtime import VOID, Call, Router

SOURCE = "Magento_InventoryApi::source"
SOURCE_EDIT = "Magento_InventoryApi::source_edit"
STOCK = "Magento_InventoryApi::stock"
STOCK_EDIT = "Magento_InventoryApi::stock_edit"
STOCK_DELETE = "Magento_InventoryApi::stock_delete"
STOCK_SOURCE_LINK = "Magento_InventoryApi::stock_source_link"
SALES_STOCK = "Magento_InventorySalesApi::stock"
SOURCE_ITEM_ASSIGN = "Magento_InventoryApi::stock_source_item_assign"
# The bulk routes use the catalog's resource (acl.md).
PRODUCTS = "Magento_Catalog::products"

PREFIX = "/V1/inventory"
router = Router()

SAVE_SOURCE_FAILED = (errors.CouldNotSave, "Could not save Source")
SAVE_STOCK_FAILED = (errors.CouldNotSave, "Could not save Stock")
SAVE_LINKS_FAILED = (errors.CouldNotSave, "Could not save StockSourceLinks")
DELETE_LINKS_FAILED = (errors.CouldNotDelete, "Could not delete StockSourceLinks")
SAVE_ITEMS_FAILED = (errors.CouldNotSave, "Could not save Source Item")
DELETE_ITEMS_FAILED = (errors.CouldNotDelete, "Could not delete Source Items")


def _links(call: Call) -> list[dict[str, Any]]:
    return service_input.convert_list(call.parameter("links"), schemas.STOCK_SOURCE_LINK, parameter="links")


def _source_items(call: Call) -> list[dict[str, Any]]:
    raw = call.parameter("sourceItems")
    return service_input.convert_list(raw, schemas.SOURCE_ITEM, parameter="sourceItems")


def _stock_id(value: str) -> int:
    result: int = service_input.convert_scalar(value, "int")
    return result


# Sources


@router.route(
    "GET",
    PREFIX + "/sources",
    SOURCE,
    Lane.READ,
    query=openapi.SEARCH_CRITERIA,
    response=schemas.SourceSearchResults,
)
def get_source_list(call: Call) -> Any:
    """Sources matching the search criteria (SourceRepositoryInterface::getList)."""
    criteria = call.search_criteria(required=False)
    sources, total = inventory_service.get_sources(call.session, criteria)
    return schemas.search_results([schemas.source_data(s) for s in sources], criteria.echo(), total)


@router.route("GET", PREFIX + "/sources/{sourceCode}", SOURCE, Lane.QUICK_READ, response=schemas.SourceData)
def get_source(call: Call) -> Any:
    """One source (SourceRepositoryInterface::get)."""
    return schemas.source_data(inventory_service.get_source(call.session, call.path["sourceCode"]))


@router.route(
    "POST",
    PREFIX + "/sources",
    SOURCE_EDIT,
    Lane.WRITE,
    body=schemas.SourceSaveBody,
    response=openapi.Void,
    database_error=SAVE_SOURCE_FAILED,
)
def create_source(call: Call) -> Any:
    """Create or replace a source (SourceRepositoryInterface::save)."""
    source = service_input.convert_object(call.parameter("source"), schemas.SOURCE)
    inventory_service.save_source(call.session, call.context.indexing, source)
    return VOID


@router.route(
    "PUT",
    PREFIX + "/sources/{sourceCode}",
    SOURCE_EDIT,
    Lane.WRITE,
    body=schemas.SourceSaveBody,
    response=openapi.Void,
    database_error=SAVE_SOURCE_FAILED,
)
def update_source(call: Call) -> Any:
    """Save a source under the code of the URL (SourceRepositoryInterface::save)."""
    params = service_input.put_id_override(call.params, "source_code", call.path["sourceCode"])
    raw = service_input.require_parameters(params, "source")[0]
    source = service_input.convert_object(raw, schemas.SOURCE)
    inventory_service.save_source(call.session, call.context.indexing, source)
    return VOID


@router.route(
    "GET",
    PREFIX + "/get-sources-assigned-to-stock-ordered-by-priority/{stockId}",
    SOURCE,
    Lane.QUICK_READ,
    response=list[schemas.SourceData],
)
def get_sources_assigned_to_stock_ordered_by_priority(call: Call) -> Any:
    """The stock's sources, by link priority (GetSourcesAssignedToStockOrderedByPriorityInterface)."""
    stock_id = _stock_id(call.path["stockId"])
    sources = inventory_service.get_sources_assigned_to_stock_ordered_by_priority(call.reader, stock_id)
    return [schemas.source_data(source) for source in sources]


# Stocks


@router.route(
    "GET",
    PREFIX + "/stocks",
    STOCK,
    Lane.READ,
    query=openapi.SEARCH_CRITERIA,
    response=schemas.StockSearchResults,
)
def get_stock_list(call: Call) -> Any:
    """Stocks matching the search criteria (StockRepositoryInterface::getList)."""
    criteria = call.search_criteria(required=False)
    stocks, total = inventory_service.get_stocks(call.session, criteria)
    items = [schemas.stock_data(stock, channels) for stock, channels in stocks]
    return schemas.search_results(items, criteria.echo(), total)


@router.route("GET", PREFIX + "/stocks/{stockId}", STOCK, Lane.QUICK_READ, response=schemas.StockData)
def get_stock(call: Call) -> Any:
    """One stock (StockRepositoryInterface::get)."""
    return schemas.stock_data(*inventory_service.get_stock(call.session, _stock_id(call.path["stockId"])))


@router.route(
    "POST",
    PREFIX + "/stocks",
    STOCK_EDIT,
    Lane.WRITE,
    body=schemas.StockSaveBody,
    response=int,
    database_error=SAVE_STOCK_FAILED,
)
def create_stock(call: Call) -> Any:
    """Create or replace a stock; answers its id (StockRepositoryInterface::save)."""
    stock = service_input.convert_object(call.parameter("stock"), schemas.STOCK)
    return inventory_service.save_stock(call.session, stock)


@router.route(
    "PUT",
    PREFIX + "/stocks/{stockId}",
    STOCK_EDIT,
    Lane.WRITE,
    body=schemas.StockSaveBody,
    response=int,
    database_error=SAVE_STOCK_FAILED,
)
def update_stock(call: Call) -> Any:
    """Save a stock under the id of the URL; answers its id (StockRepositoryInterface::save)."""
    params = service_input.put_id_override(call.params, "stock_id", call.path["stockId"])
    raw = service_input.require_parameters(params, "stock")[0]
    stock = service_input.convert_object(raw, schemas.STOCK)
    return inventory_service.save_stock(call.session, stock)


@router.route(
    "DELETE",
    PREFIX + "/stocks/{stockId}",
    STOCK_DELETE,
    Lane.WRITE,
    response=openapi.Void,
    database_error=(errors.CouldNotDelete, "Could not delete Stock"),
)
def delete_stock(call: Call) -> Any:
    """Delete a stock (StockRepositoryInterface::deleteById)."""
    inventory_service.delete_stock(call.session, _stock_id(call.path["stockId"]))
    return VOID


@router.route(
    "GET", PREFIX + "/stock-resolver/{type}/{code}", SALES_STOCK, Lane.QUICK_READ, response=schemas.StockData
)
def resolve_stock(call: Call) -> Any:
    """The stock of a sales channel (StockResolverInterface::execute)."""
    return schemas.stock_data(
        *inventory_service.resolve_stock(call.session, call.path["type"], call.path["code"])
    )


# Stock-source links


@router.route(
    "GET",
    PREFIX + "/stock-source-links",
    STOCK_SOURCE_LINK,
    Lane.READ,
    query=openapi.SEARCH_CRITERIA,
    response=schemas.StockSourceLinkSearchResults,
)
def get_stock_source_links(call: Call) -> Any:
    """Links matching the search criteria, which are required (GetStockSourceLinksInterface)."""
    criteria = call.search_criteria()
    links, total = inventory_service.get_stock_source_links(call.session, criteria)
    return schemas.search_results([schemas.link_data(link) for link in links], criteria.echo(), total)


@router.route(
    "POST",
    PREFIX + "/stock-source-links",
    STOCK_SOURCE_LINK,
    Lane.WRITE,
    body=schemas.StockSourceLinksBody,
    response=openapi.Void,
    database_error=SAVE_LINKS_FAILED,
)
def save_stock_source_links(call: Call) -> Any:
    """Save links, all or none (StockSourceLinksSaveInterface)."""
    inventory_service.save_stock_source_links(call.session, call.context.indexing, _links(call))
    return VOID


@router.route(
    "POST",
    PREFIX + "/stock-source-links-delete",
    STOCK_SOURCE_LINK,
    Lane.WRITE,
    body=schemas.StockSourceLinksBody,
    response=openapi.Void,
    database_error=DELETE_LINKS_FAILED,
)
def delete_stock_source_links(call: Call) -> Any:
    """Delete links; missing ones are ignored (StockSourceLinksDeleteInterface)."""
    inventory_service.delete_stock_source_links(call.session, call.context.indexing, _links(call))
    return VOID


# Source items


@router.route(
    "GET",
    PREFIX + "/source-items",
    SOURCE,
    Lane.READ,
    query=openapi.SEARCH_CRITERIA,
    response=schemas.SourceItemSearchResults,
)
def get_source_item_list(call: Call) -> Any:
    """Source items matching the (required) criteria (SourceItemRepositoryInterface::getList)."""
    criteria = call.search_criteria()
    items, total = source_items.get_source_items(call.session, criteria)
    return schemas.search_results([schemas.source_item_data(i) for i in items], criteria.echo(), total)


@router.route(
    "POST",
    PREFIX + "/source-items",
    SOURCE_ITEM_ASSIGN,
    Lane.WRITE,
    body=schemas.SourceItemsBody,
    response=openapi.Void,
    database_error=SAVE_ITEMS_FAILED,
)
def save_source_items(call: Call) -> Any:
    """Save source items, all or none (SourceItemsSaveInterface)."""
    items = _source_items(call)
    source_items.save_source_items(call.session, call.context.indexing, items)
    pieces.release(items)
    return VOID


@router.route(
    "POST",
    PREFIX + "/source-items-delete",
    SOURCE_ITEM_ASSIGN,
    Lane.WRITE,
    body=schemas.SourceItemsDeleteBody,
    response=openapi.Void,
    database_error=DELETE_ITEMS_FAILED,
)
def delete_source_items(call: Call) -> Any:
    """Delete source items; missing pairs are ignored (SourceItemsDeleteInterface)."""
    source_items.delete_source_items(call.session, call.context.indexing, _source_items(call))
    return VOID


# Bulk operations (InventoryCatalogApi)


def _string_list(name: str) -> service_input.Parameter:
    return service_input.Parameter(
        name, lambda raw: service_input.convert_list(raw, "string", parameter=name)
    )


def _scalar(name: str, type_name: str) -> service_input.Parameter:
    return service_input.Parameter(name, lambda raw: service_input.convert_scalar(raw, type_name))


@router.route(
    "POST",
    PREFIX + "/bulk-product-source-assign",
    PRODUCTS,
    Lane.WRITE,
    body=schemas.BulkSourceAssignBody,
    response=int,
    database_error=(errors.CouldNotSave, "Could not assign Sources"),
)
def bulk_source_assign(call: Call) -> Any:
    """Assign sources to SKUs; answers the number of new source items (BulkSourceAssignInterface)."""
    skus, source_codes = service_input.resolve_parameters(
        call.params, _string_list("skus"), _string_list("sourceCodes")
    )
    return bulk.assign_sources(call.session, call.context.indexing, skus, source_codes)


@router.route(
    "POST",
    PREFIX + "/bulk-product-source-unassign",
    PRODUCTS,
    Lane.WRITE,
    body=schemas.BulkSourceUnassignBody,
    response=int,
    database_error=(errors.CouldNotDelete, "Could not unassign Sources"),
)
def bulk_source_unassign(call: Call) -> Any:
    """Unassign sources from SKUs; answers the number of deleted items (BulkSourceUnassignInterface)."""
    skus, source_codes = service_input.resolve_parameters(
        call.params, _string_list("skus"), _string_list("sourceCodes")
    )
    return bulk.unassign_sources(call.session, call.context.indexing, skus, source_codes)


@router.route(
    "POST",
    PREFIX + "/bulk-product-source-transfer",
    PRODUCTS,
    Lane.WRITE,
    body=schemas.BulkInventoryTransferBody,
    response=bool,
    database_error=(errors.CouldNotSave, "Could not transfer inventory"),
)
def bulk_inventory_transfer(call: Call) -> Any:
    """Move SKUs' whole quantities from one source to another (BulkInventoryTransferInterface)."""
    skus, origin, destination, unassign = service_input.resolve_parameters(
        call.params,
        _string_list("skus"),
        _scalar("originSource", "string"),
        _scalar("destinationSource", "string"),
        _scalar("unassignFromOrigin", "bool"),
    )
    return bulk.transfer_inventory(call.session, call.context.indexing, skus, origin, destination, unassign)


@router.route(
    "POST",
    PREFIX + "/bulk-partial-source-transfer",
    PRODUCTS,
    Lane.WRITE,
    body=schemas.BulkPartialInventoryTransferBody,
    response=openapi.Void,
    database_error=(errors.CouldNotSave, "Could not transfer inventory"),
)
def bulk_partial_inventory_transfer(call: Call) -> Any:
    """Move parts of SKUs' quantities from one source to another (BulkPartialInventoryTransferInterface)."""
    origin, destination, items = service_input.resolve_parameters(
        call.params,
        _scalar("originSourceCode", "string"),
        _scalar("destinationSourceCode", "string"),
        service_input.Parameter(
            "items",
            lambda raw: service_input.convert_list(raw, schemas.PARTIAL_TRANSFER_ITEM, parameter="items"),
        ),
    )
    bulk.transfer_inventory_partially(call.session, call.context.indexing, origin, destination, items)
    return VOID
