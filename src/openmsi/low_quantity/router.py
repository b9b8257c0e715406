"""Magento's InventoryLowQuantityNotificationApi routes
(``InventoryLowQuantityNotificationApi/etc/webapi.xml``)."""

from __future__ import annotations

from typing import Any

from openmsi import errors, openapi, service_input
from openmsi.db import Lane
from openmsi.inventory import schemas as inventory_schemas
from openmsi.low_quantity import schemas, service
from openmsi.runtime import VOID, Call, Router
from openmsi.service_input import Field, ObjectSpec

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

PREFIX = "/V1/inventory"
router = Router()


@router.route(
    "GET",
    PREFIX + "/low-quantity-notification/{sourceCode}/{sku}",
    LOW_QUANTITY,
    Lane.QUICK_READ,
    response=schemas.SourceItemConfigurationData,
    database_error=(errors.MagentoError, "Could not load Source Item Configuration."),
)
def get_source_item_configuration(call: Call) -> Any:
    """The notify-stock quantity of a source item, or the default (GetSourceItemConfigurationInterface)."""
    default = call.context.settings.notify_stock_qty
    return service.get_configuration(call.session, default, call.path["sourceCode"], call.path["sku"])


@router.route(
    "POST",
    PREFIX + "/low-quantity-notification",
    CREATE,
    Lane.WRITE,
    body=schemas.SourceItemConfigurationsBody,
    response=openapi.Void,
    database_error=(errors.CouldNotSave, "Could not save Source Item Configuration"),
)
def save_source_item_configurations(call: Call) -> Any:
    """Save notify-stock quantities, all or none (SourceItemConfigurationsSaveInterface)."""
    raw = call.parameter("sourceItemConfigurations")
    configurations = service_input.convert_list(
        raw, SOURCE_ITEM_CONFIGURATION, parameter="sourceItemConfigurations"
    )
    service.save_configurations(call.session, configurations)
    return VOID


@router.route(
    "POST",
    PREFIX + "/low-quantity-notifications-delete",
    DELETE,
    Lane.WRITE,
    body=inventory_schemas.SourceItemsDeleteBody,
    response=openapi.Void,
    database_error=(errors.CouldNotDelete, "Could not delete SourceItems Configuration."),
)
def delete_source_item_configurations(call: Call) -> Any:
    """Delete the settings of source items (DeleteSourceItemsConfigurationInterface)."""
    raw = call.parameter("sourceItems")
    items = service_input.convert_list(raw, inventory_schemas.SOURCE_ITEM, parameter="sourceItems")
    service.delete_configurations(call.session, items)
    return VOID
