"""Magento's InventoryLowQuantityNotificationApi routes
(``InventoryLowQuantityNotificationApi/etc/webapi.xml``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from openmsi import service_input
from openmsi.endpoint import parameter, run
from openmsi.inventory import schemas as inventory_schemas
from openmsi.low_quantity import service
from openmsi.service_input import Field, ObjectSpec
from openmsi.webapi import MagentoJSONResponse

LOW_QUANTITY = "Magento_InventoryLowQuantityNotificationApi::low_quantity_notification"
CREATE = "Magento_InventoryLowQuantityNotificationApi::stock_create_low_quantity_notification"
DELETE = "Magento_InventoryLowQuantityNotificationApi::stock_delete_low_quantity_notification"

SOURCE_ITEM_CONFIGURATION = ObjectSpec(
    "source_item_configuration",
    (
        Field("source_code", "string"),
        Field("notify_stock_qty", "float"),
        Field("sku", "string"),
        Field("extension_attributes", ObjectSpec("source_item_configuration_extension", ())),
    ),
)

router = APIRouter(prefix="/V1/inventory")

VOID: list[Any] = []


@router.get("/low-quantity-notification/{sourceCode}/{sku}")
async def get_source_item_configuration(request: Request, sourceCode: str, sku: str) -> MagentoJSONResponse:
    def work(session: Session, _params: dict[str, Any]) -> Any:
        default = request.app.state.settings.notify_stock_qty
        return service.get_configuration(session, default, sourceCode, sku)

    return await run(request, LOW_QUANTITY, work)


@router.post("/low-quantity-notification")
async def save_source_item_configurations(request: Request) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        raw = parameter(params, "sourceItemConfigurations")
        configurations = service_input.convert_list(
            raw, SOURCE_ITEM_CONFIGURATION, parameter="sourceItemConfigurations"
        )
        service.save_configurations(session, configurations)
        return VOID

    return await run(request, CREATE, work, write=True)


@router.post("/low-quantity-notifications-delete")
async def delete_source_item_configurations(request: Request) -> MagentoJSONResponse:
    def work(session: Session, params: dict[str, Any]) -> Any:
        raw = parameter(params, "sourceItems")
        items = service_input.convert_list(raw, inventory_schemas.SOURCE_ITEM, parameter="sourceItems")
        service.delete_configurations(session, items)
        return VOID

    return await run(request, DELETE, work, write=True)
