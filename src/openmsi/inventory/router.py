"""Magento's InventoryApi routes (``InventoryApi/etc/webapi.xml``), one service call each."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from openmsi import search_criteria, service_input
from openmsi.auth import acl
from openmsi.db import ReadSession, WriteSession
from openmsi.inventory import schemas
from openmsi.inventory import service as inventory_service
from openmsi.webapi import MagentoJSONResponse, ServiceInput

SOURCE = "Magento_InventoryApi::source"
SOURCE_EDIT = "Magento_InventoryApi::source_edit"
STOCK = "Magento_InventoryApi::stock"
STOCK_EDIT = "Magento_InventoryApi::stock_edit"
STOCK_DELETE = "Magento_InventoryApi::stock_delete"
STOCK_SOURCE_LINK = "Magento_InventoryApi::stock_source_link"
SALES_STOCK = "Magento_InventorySalesApi::stock"

router = APIRouter(prefix="/V1/inventory", default_response_class=MagentoJSONResponse)
# Hot routes return their MagentoJSONResponse themselves: FastAPI then skips jsonable_encoder,
# a deep copy of the payload that the plain dicts and lists built here never need.

VOID: list[Any] = []


def _optional_criteria(params: dict[str, Any]) -> search_criteria.SearchCriteria:
    raw = service_input.lookup_parameter(params, "searchCriteria")
    return search_criteria.EMPTY if raw is None else search_criteria.parse(raw)


def _required_criteria(params: dict[str, Any]) -> search_criteria.SearchCriteria:
    (raw,) = service_input.require_parameters(params, "searchCriteria")
    return search_criteria.parse(raw)


def _stock_id(value: str) -> int:
    result: int = service_input.convert_scalar(value, "int")
    return result


# Sources


@router.get("/sources", dependencies=[acl(SOURCE)])
def get_source_list(params: ServiceInput, session: ReadSession) -> Any:
    criteria = _optional_criteria(params)
    sources, total = inventory_service.get_sources(session, criteria)
    return schemas.search_results([schemas.source_data(s) for s in sources], criteria.echo(), total)


@router.get("/sources/{sourceCode}", dependencies=[acl(SOURCE)])
def get_source(sourceCode: str, session: ReadSession) -> Any:
    return schemas.source_data(inventory_service.get_source(session, sourceCode))


@router.post("/sources", dependencies=[acl(SOURCE_EDIT)])
def create_source(params: ServiceInput, session: WriteSession) -> Any:
    (raw,) = service_input.require_parameters(params, "source")
    inventory_service.save_source(session, service_input.convert_object(raw, schemas.SOURCE))
    return VOID


@router.put("/sources/{sourceCode}", dependencies=[acl(SOURCE_EDIT)])
def update_source(sourceCode: str, params: ServiceInput, session: WriteSession) -> Any:
    params = service_input.put_id_override(params, "source_code", sourceCode)
    (raw,) = service_input.require_parameters(params, "source")
    inventory_service.save_source(session, service_input.convert_object(raw, schemas.SOURCE))
    return VOID


@router.get("/get-sources-assigned-to-stock-ordered-by-priority/{stockId}", dependencies=[acl(SOURCE)])
def get_sources_assigned_to_stock_ordered_by_priority(stockId: str, session: ReadSession) -> Any:
    sources = inventory_service.get_sources_assigned_to_stock_ordered_by_priority(session, _stock_id(stockId))
    return MagentoJSONResponse([schemas.source_data(source) for source in sources])


# Stocks


@router.get("/stocks", dependencies=[acl(STOCK)])
def get_stock_list(params: ServiceInput, session: ReadSession) -> Any:
    criteria = _optional_criteria(params)
    stocks, total = inventory_service.get_stocks(session, criteria)
    items = [schemas.stock_data(stock, channels) for stock, channels in stocks]
    return schemas.search_results(items, criteria.echo(), total)


@router.get("/stocks/{stockId}", dependencies=[acl(STOCK)])
def get_stock(stockId: str, session: ReadSession) -> Any:
    return schemas.stock_data(*inventory_service.get_stock(session, _stock_id(stockId)))


@router.post("/stocks", dependencies=[acl(STOCK_EDIT)])
def create_stock(params: ServiceInput, session: WriteSession) -> Any:
    (raw,) = service_input.require_parameters(params, "stock")
    return inventory_service.save_stock(session, service_input.convert_object(raw, schemas.STOCK))


@router.put("/stocks/{stockId}", dependencies=[acl(STOCK_EDIT)])
def update_stock(stockId: str, params: ServiceInput, session: WriteSession) -> Any:
    params = service_input.put_id_override(params, "stock_id", stockId)
    (raw,) = service_input.require_parameters(params, "stock")
    return inventory_service.save_stock(session, service_input.convert_object(raw, schemas.STOCK))


@router.delete("/stocks/{stockId}", dependencies=[acl(STOCK_DELETE)])
def delete_stock(stockId: str, session: WriteSession) -> Any:
    inventory_service.delete_stock(session, _stock_id(stockId))
    return VOID


@router.get("/stock-resolver/{type}/{code}", dependencies=[acl(SALES_STOCK)])
def resolve_stock(type: str, code: str, session: ReadSession) -> Any:
    return schemas.stock_data(*inventory_service.resolve_stock(session, type, code))


# Stock-source links


@router.get("/stock-source-links", dependencies=[acl(STOCK_SOURCE_LINK)])
def get_stock_source_links(params: ServiceInput, session: ReadSession) -> Any:
    criteria = _required_criteria(params)
    links, total = inventory_service.get_stock_source_links(session, criteria)
    items = [schemas.link_data(link) for link in links]
    return MagentoJSONResponse(schemas.search_results(items, criteria.echo(), total))


@router.post("/stock-source-links", dependencies=[acl(STOCK_SOURCE_LINK)])
def save_stock_source_links(params: ServiceInput, session: WriteSession) -> Any:
    (raw,) = service_input.require_parameters(params, "links")
    links = service_input.convert_list(raw, schemas.STOCK_SOURCE_LINK, parameter="links")
    inventory_service.save_stock_source_links(session, links)
    return MagentoJSONResponse(VOID)


@router.post("/stock-source-links-delete", dependencies=[acl(STOCK_SOURCE_LINK)])
def delete_stock_source_links(params: ServiceInput, session: WriteSession) -> Any:
    (raw,) = service_input.require_parameters(params, "links")
    links = service_input.convert_list(raw, schemas.STOCK_SOURCE_LINK, parameter="links")
    inventory_service.delete_stock_source_links(session, links)
    return VOID
