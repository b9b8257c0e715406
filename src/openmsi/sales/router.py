"""Magento's InventorySalesApi salability routes (``InventorySalesApi/etc/webapi.xml``; spec
salable.md). All are reads under ACL ``Magento_InventorySalesApi::stock``. Trailing slashes
never reach the routes (``webapi.MagentoPathMiddleware`` drops them)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from openmsi import errors, service_input
from openmsi.endpoint import run
from openmsi.sales import salable
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.service_input import Field, ObjectSpec, Parameter
from openmsi.webapi import MagentoJSONResponse, php_number

SALES_STOCK = "Magento_InventorySalesApi::stock"

# IsProductSalableForRequestedQtyRequest takes both through its constructor.
SKU_REQUEST = ObjectSpec("sku_request", (Field("sku", "string"), Field("qty", "float")))

router = APIRouter(prefix="/V1/inventory")


def _config(request: Request) -> StockItemConfiguration:
    config: StockItemConfiguration = request.app.state.indexing.config
    return config


def _int(value: Any) -> int:
    result: int = service_input.convert_scalar(value, "int")
    return result


def _qty(value: Any) -> Decimal:
    # The float as PHP holds it: 8.5 stays 8.5, 0.1 is compared as 0.1.
    return Decimal(repr(service_input.convert_scalar(value, "float")))


def _skus(value: Any) -> list[str]:
    return service_input.convert_list(value, "string", parameter="skus")


def _sku_requests(value: Any) -> list[tuple[str, Decimal]]:
    requests = service_input.convert_list(value, SKU_REQUEST, parameter="skuRequests")
    result = []
    for element in requests:
        # openmsi's choice: Magento's object manager fails on a missing constructor argument (500).
        missing = [name for name in ("sku", "qty") if element.get(name) is None]
        if missing:
            raise errors.InputError.required(*missing)
        result.append((element["sku"], Decimal(repr(element["qty"]))))
    return result


@router.get("/get-product-salable-quantity/{sku}/{stockId}")
async def get_product_salable_quantity(request: Request, sku: str, stockId: str) -> MagentoJSONResponse:
    def work(session: Session, _params: dict[str, Any]) -> Any:
        stock_id = _int(stockId)
        facts = salable.salability(session, stock_id, [sku])[sku]
        return php_number(salable.salable_quantity(_config(request), stock_id, facts))

    return await run(request, SALES_STOCK, work)


@router.get("/is-product-salable/{sku}/{stockId}")
async def is_product_salable(request: Request, sku: str, stockId: str) -> MagentoJSONResponse:
    def work(session: Session, _params: dict[str, Any]) -> Any:
        stock_id = _int(stockId)
        facts = salable.salability(session, stock_id, [sku])[sku]
        return salable.is_salable(_config(request), stock_id, facts)

    return await run(request, SALES_STOCK, work)


@router.get("/are-products-salable")
async def are_products_salable(request: Request) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        skus, stock_id = service_input.resolve_parameters(
            params, Parameter("skus", _skus), Parameter("stockId", _int)
        )
        facts = salable.salability(session, stock_id, skus)
        config = _config(request)
        return [
            {"sku": sku, "stock_id": stock_id, "salable": salable.is_salable(config, stock_id, facts[sku])}
            for sku in skus
        ]

    return await run(request, SALES_STOCK, work)


@router.get("/is-product-salable-for-requested-qty/{sku}/{stockId}/{requestedQty}")
async def is_product_salable_for_requested_qty(
    request: Request, sku: str, stockId: str, requestedQty: str
) -> MagentoJSONResponse:
    def work(session: Session, _params: dict[str, Any]) -> Any:
        stock_id = _int(stockId)
        qty = _qty(requestedQty)
        facts = salable.salability(session, stock_id, [sku])[sku]
        is_salable, problems = salable.requested_qty_result(_config(request), stock_id, facts, qty)
        return {"salable": is_salable, "errors": problems}

    return await run(request, SALES_STOCK, work)


@router.get("/are-product-salable-for-requested-qty")
async def are_product_salable_for_requested_qty(request: Request) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        sku_requests, stock_id = service_input.resolve_parameters(
            params, Parameter("skuRequests", _sku_requests), Parameter("stockId", _int)
        )
        facts = salable.salability(session, stock_id, [sku for sku, _ in sku_requests])
        unknown = [sku for sku, _ in sku_requests if not facts[sku].known]
        if unknown:
            raise salable.skus_not_found(unknown)
        config = _config(request)
        results = []
        for sku, qty in sku_requests:
            is_salable, problems = salable.requested_qty_result(config, stock_id, facts[sku], qty)
            results.append({"sku": sku, "stock_id": stock_id, "salable": is_salable, "errors": problems})
        return results

    return await run(request, SALES_STOCK, work)
