"""Magento's InventoryExportStockApi routes (``InventoryExportStockApi/etc/webapi.xml``; spec
export.md). Both answers grow with the stock, so they are streamed (``endpoint.stream``): the
token, the sales channel and the criteria are checked first, with the usual error envelope."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from openmsi import search_criteria
from openmsi.endpoint import parameter, stream
from openmsi.export import repository, service
from openmsi.sales.configuration import StockItemConfiguration

STOCK = "Magento_InventoryApi::stock"

router = APIRouter(prefix="/V1/inventory")


def _config(request: Request) -> StockItemConfiguration:
    config: StockItemConfiguration = request.app.state.indexing.config
    return config


@router.get("/export-stock-salable-qty/{salesChannelType}/{salesChannelCode}")
async def export_stock_salable_qty(
    request: Request, salesChannelType: str, salesChannelCode: str
) -> StreamingResponse:
    def work(session: Session, params: dict[str, Any]) -> Generator[bytes, None, None]:
        # The channel is checked before the parameters (ExportStockSalableQtyBySalesChannel).
        stock_id = service.stock_of_channel(session, salesChannelType, salesChannelCode)
        criteria = search_criteria.parse(parameter(params, "searchCriteria"))
        products = repository.products(session, criteria)
        return service.salable_quantities(
            request.app.state.database, _config(request), stock_id, products, criteria.echo()
        )

    return await stream(request, STOCK, work)


@router.get("/dump-stock-index-data/{salesChannelType}/{salesChannelCode}")
async def dump_stock_index_data(
    request: Request, salesChannelType: str, salesChannelCode: str
) -> StreamingResponse:
    def work(session: Session, _params: dict[str, Any]) -> Generator[bytes, None, None]:
        stock_id = service.stock_of_channel(session, salesChannelType, salesChannelCode)
        return service.index_dump(request.app.state.database, _config(request), stock_id)

    return await stream(request, STOCK, work)
