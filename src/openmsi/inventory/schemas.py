"""Magento's data interfaces for sources, stocks and links: what the API accepts (field
specs for ``service_input``) and what it answers (dicts in the interface's getter order, null
optional fields omitted; spec sources.md, stocks.md, stock-source-links.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from openmsi.models import SalesChannel, Source, SourceItem, Stock, StockSourceLink
from openmsi.openapi import SearchCriteriaData
from openmsi.phpjson import php_number
from openmsi.service_input import Field, ListOf, ObjectSpec

SOURCE_EXTENSION = ObjectSpec(
    "source_extension",
    (
        Field("is_pickup_location_active", "bool"),
        Field("frontend_name", "string"),
        Field("frontend_description", "string"),
    ),
)
CARRIER_LINK = ObjectSpec("carrier_link", (Field("carrier_code", "string"), Field("position", "int")))
SOURCE = ObjectSpec(
    "source",
    (
        Field("source_code", "string"),
        Field("name", "string"),
        Field("email", "string"),
        Field("contact_name", "string"),
        Field("enabled", "bool"),
        Field("description", "string"),
        Field("latitude", "float"),
        Field("longitude", "float"),
        Field("country_id", "string"),
        Field("region_id", "int"),
        Field("region", "string"),
        Field("city", "string"),
        Field("street", "string"),
        Field("postcode", "string"),
        Field("phone", "string"),
        Field("fax", "string"),
        Field("use_default_carrier_config", "bool"),
        Field("carrier_links", ListOf(CARRIER_LINK)),
        Field("extension_attributes", SOURCE_EXTENSION),
    ),
)

SALES_CHANNEL = ObjectSpec("sales_channel", (Field("type", "string"), Field("code", "string")))
STOCK = ObjectSpec(
    "stock",
    (
        Field("stock_id", "int"),
        Field("name", "string"),
        Field(
            "extension_attributes",
            ObjectSpec("stock_extension", (Field("sales_channels", ListOf(SALES_CHANNEL)),)),
        ),
    ),
)

STOCK_SOURCE_LINK = ObjectSpec(
    "stock_source_link",
    (
        Field("stock_id", "int"),
        Field("source_code", "string"),
        Field("priority", "int"),
        # Declared by InventoryAdminUi for its grid; accepted and ignored here.
        Field("extension_attributes", ObjectSpec("link_extension", (Field("source_name", "string"),))),
    ),
)

SOURCE_ITEM = ObjectSpec(
    "source_item",
    (
        Field("sku", "string"),
        Field("source_code", "string"),
        Field("quantity", "float"),
        Field("status", "int"),
        Field("extension_attributes", ObjectSpec("source_item_extension", ())),
    ),
)

# PartialInventoryTransferItemInterface: both fields are required (checked by inventory.bulk).
PARTIAL_TRANSFER_ITEM = ObjectSpec(
    "partial_inventory_transfer_item", (Field("sku", "string"), Field("qty", "float"))
)

# Optional string fields of SourceInterface, in output order around the required ones.
_OPTIONAL_BEFORE_ENABLED = ("email", "contact_name")
_OPTIONAL_ADDRESS = ("region", "city", "street")


def source_data(source: Source) -> dict[str, Any]:
    """SourceInterface; ``use_default_carrier_config`` is hard-coded true and ``carrier_links``
    always empty in Magento (``Inventory/Model/Source.php``, CarrierLinksValidator)."""
    data: dict[str, Any] = {"source_code": source.source_code, "name": source.name}
    for name in _OPTIONAL_BEFORE_ENABLED:
        if getattr(source, name) is not None:
            data[name] = getattr(source, name)
    data["enabled"] = bool(source.enabled)
    if source.description is not None:
        data["description"] = source.description
    if source.latitude is not None:
        data["latitude"] = php_number(source.latitude)
    if source.longitude is not None:
        data["longitude"] = php_number(source.longitude)
    data["country_id"] = source.country_id
    if source.region_id is not None:
        data["region_id"] = source.region_id
    for name in _OPTIONAL_ADDRESS:
        if getattr(source, name) is not None:
            data[name] = getattr(source, name)
    data["postcode"] = source.postcode
    for name in ("phone", "fax"):
        if getattr(source, name) is not None:
            data[name] = getattr(source, name)
    data["use_default_carrier_config"] = True
    data["carrier_links"] = []
    extension: dict[str, Any] = {"is_pickup_location_active": bool(source.is_pickup_location_active)}
    if source.frontend_name is not None:
        extension["frontend_name"] = source.frontend_name
    if source.frontend_description is not None:
        extension["frontend_description"] = source.frontend_description
    data["extension_attributes"] = extension
    return data


def sales_channel_data(channel: SalesChannel) -> dict[str, Any]:
    return {"type": channel.type, "code": channel.code}


def stock_data(stock: Stock, channels: list[SalesChannel]) -> dict[str, Any]:
    return {
        "stock_id": stock.stock_id,
        "name": stock.name,
        "extension_attributes": {"sales_channels": [sales_channel_data(c) for c in channels]},
    }


def link_data(link: StockSourceLink) -> dict[str, Any]:
    return {"stock_id": link.stock_id, "source_code": link.source_code, "priority": link.priority}


def source_item_data(item: SourceItem) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "source_code": item.source_code,
        "quantity": php_number(item.quantity),
        "status": item.status,
    }


def search_results(items: list[dict[str, Any]], echo: dict[str, Any], total_count: int) -> dict[str, Any]:
    return {"items": items, "search_criteria": echo, "total_count": total_count}


# The same shapes for the OpenAPI document (names of Magento's Api/Data interfaces). Required
# are the fields the validators require and every answer holds; service_input and the
# validators, not these models, decide what a request lacks.


class CarrierLinkData(BaseModel):
    carrier_code: str | None = None
    position: int | None = None


class SourceExtension(BaseModel):
    is_pickup_location_active: bool | None = None
    frontend_name: str | None = None
    frontend_description: str | None = None


class SourceData(BaseModel):
    """SourceInterface."""

    source_code: str
    name: str
    email: str | None = None
    contact_name: str | None = None
    enabled: bool | None = None
    description: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    country_id: str
    region_id: int | None = None
    region: str | None = None
    city: str | None = None
    street: str | None = None
    postcode: str
    phone: str | None = None
    fax: str | None = None
    use_default_carrier_config: bool | None = None
    carrier_links: list[CarrierLinkData] | None = None
    extension_attributes: SourceExtension | None = None


class SalesChannelData(BaseModel):
    type: str
    code: str


class StockExtension(BaseModel):
    sales_channels: list[SalesChannelData] | None = None


class StockData(BaseModel):
    """StockInterface; its sales channels are an extension attribute."""

    stock_id: int | None = None
    name: str
    extension_attributes: StockExtension | None = None


class StockSourceLinkData(BaseModel):
    """StockSourceLinkInterface."""

    stock_id: int
    source_code: str
    priority: int


class SourceItemData(BaseModel):
    """SourceItemInterface; status 1 is in stock, 0 out of stock."""

    sku: str
    source_code: str
    quantity: float
    status: int


class SourceItemKey(BaseModel):
    """The pair that names a source item."""

    sku: str
    source_code: str


class SourceSearchResults(BaseModel):
    items: list[SourceData]
    search_criteria: SearchCriteriaData
    total_count: int


class StockSearchResults(BaseModel):
    items: list[StockData]
    search_criteria: SearchCriteriaData
    total_count: int


class StockSourceLinkSearchResults(BaseModel):
    items: list[StockSourceLinkData]
    search_criteria: SearchCriteriaData
    total_count: int


class SourceItemSearchResults(BaseModel):
    items: list[SourceItemData]
    search_criteria: SearchCriteriaData
    total_count: int


class SourceSaveBody(BaseModel):
    source: SourceData


class StockSaveBody(BaseModel):
    stock: StockData


class StockSourceLinksBody(BaseModel):
    links: list[StockSourceLinkData]


class SourceItemsBody(BaseModel):
    sourceItems: list[SourceItemData]  # Magento's parameter name


class SourceItemsDeleteBody(BaseModel):
    sourceItems: list[SourceItemKey]  # Magento's parameter name


# Bulk operations (InventoryCatalogApi's service methods; Magento's parameter names)


class BulkSourceAssignBody(BaseModel):
    skus: list[str]
    sourceCodes: list[str]


class BulkSourceUnassignBody(BaseModel):
    skus: list[str]
    sourceCodes: list[str]


class BulkInventoryTransferBody(BaseModel):
    skus: list[str]
    originSource: str
    destinationSource: str
    unassignFromOrigin: bool


class PartialInventoryTransferItemData(BaseModel):
    """PartialInventoryTransferItemInterface."""

    sku: str
    qty: float


class BulkPartialInventoryTransferBody(BaseModel):
    originSourceCode: str
    destinationSourceCode: str
    items: list[PartialInventoryTransferItemData]
