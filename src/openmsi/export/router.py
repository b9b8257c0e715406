"""Magento's InventoryExportStockApi routes (``InventoryExportStockApi/etc/webapi.xml``; spec
export.md). Both answers grow with the stock, so they are streamed: the token, the sales
channel and the criteria are checked first, with the usual error envelope."""

from __future__ import annotations

from collections.abc import Generator

from openmsi import errors, openapi, search_criteria
from openmsi.db import Lane
from openmsi.export import repository, service
from openmsi.export import schemas as export_schemas
from openmsi.runtime import Call, Router

STOCK = "Magento_InventoryApi::stock"

PREFIX = "/V1/inventory"
router = Router()

EXPORT_FAILED = (errors.MagentoError, service.EXPORT_FAILED)


@router.route(
    "GET",
    PREFIX + "/export-stock-salable-qty/{salesChannelType}/{salesChannelCode}",
    STOCK,
    Lane.READ,
    query=openapi.SEARCH_CRITERIA,
    response=export_schemas.ExportStockSalableQtySearchResult,
    database_error=EXPORT_FAILED,
    stream=True,
)
def export_stock_salable_qty(call: Call) -> Generator[bytes, None, None]:
    """Salable quantities of the products of a sales channel's stock (ExportStockSalableQtyInterface)."""
    # The channel is checked before the parameters (ExportStockSalableQtyBySalesChannel).
    stock_id = service.stock_of_channel(
        call.session, call.path["salesChannelType"], call.path["salesChannelCode"]
    )
    criteria = search_criteria.parse(call.parameter("searchCriteria"))
    products = repository.products(call.session, criteria)
    config = call.context.indexing.config
    return service.salable_quantities(call.context.database, config, stock_id, products, criteria.echo())


@router.route(
    "GET",
    PREFIX + "/dump-stock-index-data/{salesChannelType}/{salesChannelCode}",
    STOCK,
    Lane.READ,
    response=list[export_schemas.StockIndexData],
    database_error=EXPORT_FAILED,
    stream=True,
)
def dump_stock_index_data(call: Call) -> Generator[bytes, None, None]:
    """The index rows of a sales channel's stock (ExportStockIndexDataInterface)."""
    stock_id = service.stock_of_channel(
        call.session, call.path["salesChannelType"], call.path["salesChannelCode"]
    )
    return service.index_dump(call.context.database, call.context.indexing.config, stock_id)
