"""Magento's InventorySalesApi salability routes (``InventorySalesApi/etc/webapi.xml``; spec
salable.md). All are reads under ACL ``Magento_InventorySalesApi::stock``. Trailing slashes
never reach the routes (``webapi.MagentoPathMiddleware`` drops them)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from openmsi import errors, openapi, phpjson, service_input
from openmsi.db import Lane
from openmsi.openapi import QueryParameter
from openmsi.runtime import Call, Router
from openmsi.sales import salable
from openmsi.sales import schemas as sales_schemas
from openmsi.service_input import Field, ObjectSpec, Parameter

SALES_STOCK = "Magento_InventorySalesApi::stock"

# IsProductSalableForRequestedQtyRequest takes both through its constructor.
SKU_REQUEST = ObjectSpec("sku_request", (Field("sku", "string"), Field("qty", "float")))

PREFIX = "/V1/inventory"
router = Router()

STOCK_ID = QueryParameter("stockId", {"type": "integer"}, required=True)
SKUS = QueryParameter("skus[]", {"type": "array", "items": {"type": "string"}}, required=True)
SKU_REQUESTS = (
    QueryParameter("skuRequests[0][sku]", {"type": "string"}, required=True),
    QueryParameter("skuRequests[0][qty]", {"type": "number"}, required=True),
    QueryParameter("skuRequests[1][sku]", {"type": "string"}),
    QueryParameter("skuRequests[1][qty]", {"type": "number"}),
)


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


@router.route(
    "GET",
    PREFIX + "/get-product-salable-quantity/{sku}/{stockId}",
    SALES_STOCK,
    Lane.QUICK_READ,
    response=openapi.Number,
)
def get_product_salable_quantity(call: Call) -> Any:
    """The SKU's salable quantity in the stock (GetProductSalableQtyInterface)."""
    stock_id = _int(call.path["stockId"])
    sku = call.path["sku"]
    facts = salable.one_salability(call.reader, stock_id, sku)
    return phpjson.php_number(salable.salable_quantity(call.context.indexing.config, stock_id, facts))


@router.route(
    "GET", PREFIX + "/is-product-salable/{sku}/{stockId}", SALES_STOCK, Lane.QUICK_READ, response=bool
)
def is_product_salable(call: Call) -> Any:
    """Whether the SKU is salable in the stock (IsProductSalableInterface)."""
    stock_id = _int(call.path["stockId"])
    sku = call.path["sku"]
    facts = salable.one_salability(call.reader, stock_id, sku)
    return salable.is_salable(call.context.indexing.config, stock_id, facts)


@router.route(
    "GET",
    PREFIX + "/are-products-salable",
    SALES_STOCK,
    Lane.READ,
    query=(SKUS, STOCK_ID),
    response=list[sales_schemas.IsProductSalableResult],
)
def are_products_salable(call: Call) -> Any:
    """Whether each SKU is salable in the stock (AreProductsSalableInterface)."""
    skus, stock_id = service_input.resolve_parameters(
        call.params, Parameter("skus", _skus), Parameter("stockId", _int)
    )
    facts = salable.salability(call.session, stock_id, skus)
    config = call.context.indexing.config
    return [
        {"sku": sku, "stock_id": stock_id, "salable": salable.is_salable(config, stock_id, facts[sku])}
        for sku in skus
    ]


@router.route(
    "GET",
    PREFIX + "/is-product-salable-for-requested-qty/{sku}/{stockId}/{requestedQty}",
    SALES_STOCK,
    Lane.QUICK_READ,
    response=sales_schemas.ProductSalableResult,
)
def is_product_salable_for_requested_qty(call: Call) -> Any:
    """Whether the requested quantity of the SKU can be sold (IsProductSalableForRequestedQtyInterface)."""
    stock_id = _int(call.path["stockId"])
    qty = _qty(call.path["requestedQty"])
    sku = call.path["sku"]
    facts = salable.one_salability(call.reader, stock_id, sku)
    is_salable, problems = salable.requested_qty_result(call.context.indexing.config, stock_id, facts, qty)
    return {"salable": is_salable, "errors": problems}


@router.route(
    "GET",
    PREFIX + "/are-product-salable-for-requested-qty",
    SALES_STOCK,
    Lane.READ,
    query=(*SKU_REQUESTS, STOCK_ID),
    response=list[sales_schemas.IsProductSalableForRequestedQtyResult],
)
def are_product_salable_for_requested_qty(call: Call) -> Any:
    """Whether each requested quantity can be sold (AreProductsSalableForRequestedQtyInterface)."""
    sku_requests, stock_id = service_input.resolve_parameters(
        call.params, Parameter("skuRequests", _sku_requests), Parameter("stockId", _int)
    )
    facts = salable.salability(call.session, stock_id, [sku for sku, _ in sku_requests])
    unknown = [sku for sku, _ in sku_requests if not facts[sku].known]
    if unknown:
        raise salable.skus_not_found(unknown)
    config = call.context.indexing.config
    results = []
    for sku, qty in sku_requests:
        is_salable, problems = salable.requested_qty_result(config, stock_id, facts[sku], qty)
        results.append({"sku": sku, "stock_id": stock_id, "salable": is_salable, "errors": problems})
    return results
