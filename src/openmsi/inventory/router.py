"""Magento's InventoryApi routes (``InventoryApi/etc/webapi.xml``), one service call each.

Each route names its ACL resource and the work to do with a session and the request's
parameters; ``endpoint.run`` does the rest (token, input, transaction, JSON).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from openmsi import search_criteria, service_input
from openmsi.endpoint import parameter, run
from openmsi.inventory import schemas, source_items
from openmsi.inventory import service as inventory_service
from openmsi.webapi import MagentoJSONResponse

SOURCE = "Magento_InventoryApi::source"
SOURCE_EDIT = "Magento_InventoryApi::source_edit"
STOCK = "Magento_InventoryApi::stock"
STOCK_EDIT = "Magento_InventoryApi::stock_edit"
STOCK_DELETE = "Magento_InventoryApi::stock_delete"
STOCK_SOURCE_LINK = "Magento_InventoryApi::stock_source_link"
SALES_STOCK = "Magento_InventorySalesApi::stock"
SOURCE_ITEM_ASSIGN = "Magento_InventoryApi::stock_source_item_assign"

router = APIRouter(prefix="/V1/inventory")

VOID: list[Any] = []


def _optional_criteria(params: dict[str, Any]) -> search_criteria.SearchCriteria:
    raw = service_input.lookup_parameter(params, "searchCriteria")
    return search_criteria.EMPTY if raw is None else search_criteria.parse(raw)


def _links(params: dict[str, Any]) -> list[dict[str, Any]]:
    raw = parameter(params, "links")
    return service_input.convert_list(raw, schemas.STOCK_SOURCE_LINK, parameter="links")


def _stock_id(value: str) -> int:
    result: int = service_input.convert_scalar(value, "int")
    return result


# Sources


@router.get("/sources")
async def get_source_list(request: Request) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        criteria = _optional_criteria(params)
        sources, total = inventory_service.get_sources(session, criteria)
        return schemas.search_results([schemas.source_data(s) for s in sources], criteria.echo(), total)

    return await run(request, SOURCE, work)


@router.get("/sources/{sourceCode}")
async def get_source(request: Request, sourceCode: str) -> MagentoJSONResponse:
    def work(session: Session, _params: dict[str, Any]) -> Any:
        return schemas.source_data(inventory_service.get_source(session, sourceCode))

    return await run(request, SOURCE, work)


@router.post("/sources")
async def create_source(request: Request) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        source = service_input.convert_object(parameter(params, "source"), schemas.SOURCE)
        inventory_service.save_source(session, request.app.state.indexing, source)
        return VOID

    return await run(request, SOURCE_EDIT, work, write=True)


@router.put("/sources/{sourceCode}")
async def update_source(request: Request, sourceCode: str) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        params = service_input.put_id_override(params, "source_code", sourceCode)
        source = service_input.convert_object(parameter(params, "source"), schemas.SOURCE)
        inventory_service.save_source(session, request.app.state.indexing, source)
        return VOID

    return await run(request, SOURCE_EDIT, work, write=True)


@router.get("/get-sources-assigned-to-stock-ordered-by-priority/{stockId}")
async def get_sources_assigned_to_stock_ordered_by_priority(
    request: Request,
    stockId: str,
) -> MagentoJSONResponse:
    def work(session: Session, _params: dict[str, Any]) -> Any:
        stock_id = _stock_id(stockId)
        sources = inventory_service.get_sources_assigned_to_stock_ordered_by_priority(session, stock_id)
        return [schemas.source_data(source) for source in sources]

    return await run(request, SOURCE, work)


# Stocks


@router.get("/stocks")
async def get_stock_list(request: Request) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        criteria = _optional_criteria(params)
        stocks, total = inventory_service.get_stocks(session, criteria)
        items = [schemas.stock_data(stock, channels) for stock, channels in stocks]
        return schemas.search_results(items, criteria.echo(), total)

    return await run(request, STOCK, work)


@router.get("/stocks/{stockId}")
async def get_stock(request: Request, stockId: str) -> MagentoJSONResponse:
    def work(session: Session, _params: dict[str, Any]) -> Any:
        return schemas.stock_data(*inventory_service.get_stock(session, _stock_id(stockId)))

    return await run(request, STOCK, work)


@router.post("/stocks")
async def create_stock(request: Request) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        stock = service_input.convert_object(parameter(params, "stock"), schemas.STOCK)
        return inventory_service.save_stock(session, stock)

    return await run(request, STOCK_EDIT, work, write=True)


@router.put("/stocks/{stockId}")
async def update_stock(request: Request, stockId: str) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        params = service_input.put_id_override(params, "stock_id", stockId)
        stock = service_input.convert_object(parameter(params, "stock"), schemas.STOCK)
        return inventory_service.save_stock(session, stock)

    return await run(request, STOCK_EDIT, work, write=True)


@router.delete("/stocks/{stockId}")
async def delete_stock(request: Request, stockId: str) -> MagentoJSONResponse:
    def work(session: Session, _params: dict[str, Any]) -> Any:
        inventory_service.delete_stock(session, _stock_id(stockId))
        return VOID

    return await run(request, STOCK_DELETE, work, write=True)


@router.get("/stock-resolver/{type}/{code}")
async def resolve_stock(request: Request, type: str, code: str) -> MagentoJSONResponse:
    def work(session: Session, _params: dict[str, Any]) -> Any:
        return schemas.stock_data(*inventory_service.resolve_stock(session, type, code))

    return await run(request, SALES_STOCK, work)


# Stock-source links


@router.get("/stock-source-links")
async def get_stock_source_links(request: Request) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        criteria = search_criteria.parse(parameter(params, "searchCriteria"))
        links, total = inventory_service.get_stock_source_links(session, criteria)
        return schemas.search_results([schemas.link_data(link) for link in links], criteria.echo(), total)

    return await run(request, STOCK_SOURCE_LINK, work)


@router.post("/stock-source-links")
async def save_stock_source_links(request: Request) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        links = _links(params)
        inventory_service.save_stock_source_links(session, request.app.state.indexing, links)
        return VOID

    return await run(request, STOCK_SOURCE_LINK, work, write=True)


@router.post("/stock-source-links-delete")
async def delete_stock_source_links(request: Request) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        links = _links(params)
        inventory_service.delete_stock_source_links(session, request.app.state.indexing, links)
        return VOID

    return await run(request, STOCK_SOURCE_LINK, work, write=True)


# Source items


def _source_items(params: dict[str, Any]) -> list[dict[str, Any]]:
    raw = parameter(params, "sourceItems")
    return service_input.convert_list(raw, schemas.SOURCE_ITEM, parameter="sourceItems")


@router.get("/source-items")
async def get_source_item_list(request: Request) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        criteria = search_criteria.parse(parameter(params, "searchCriteria"))
        items, total = source_items.get_source_items(session, criteria)
        return schemas.search_results([schemas.source_item_data(i) for i in items], criteria.echo(), total)

    return await run(request, SOURCE, work)


@router.post("/source-items")
async def save_source_items(request: Request) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        source_items.save_source_items(session, request.app.state.indexing, _source_items(params))
        return VOID

    return await run(request, SOURCE_ITEM_ASSIGN, work, write=True)


@router.post("/source-items-delete")
async def delete_source_items(request: Request) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        source_items.delete_source_items(session, request.app.state.indexing, _source_items(params))
        return VOID

    return await run(request, SOURCE_ITEM_ASSIGN, work, write=True)
