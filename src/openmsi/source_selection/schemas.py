"""Magento's source-selection and distance shapes (InventorySourceSelectionApi and
InventoryDistanceBasedSourceSelectionApi ``Api/Data``): what the routes accept (field specs for
``service_input``) and answer, and the same shapes for the OpenAPI document.

Magento builds these request objects through their constructors, which take only the exact
camelCase names (``stockId``) and fail with a 500 on a missing one (spec http.md, "Data-object
fields"). openmsi matches their keys as it matches every data object's, so ``stock_id`` and
``stockId`` both work, and answers a missing one with Magento's 400 "is required".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from openmsi.openapi import Number
from openmsi.phpjson import php_number
from openmsi.service_input import Field as SpecField
from openmsi.service_input import ListOf, ObjectSpec
from openmsi.source_selection.distance import LatLng
from openmsi.source_selection.service import Algorithm, SelectionResult

ADDRESS_FIELDS = ("country", "postcode", "street", "region", "city")
ADDRESS = ObjectSpec("address", tuple(SpecField(name, "string") for name in ADDRESS_FIELDS))
LAT_LNG = ObjectSpec("lat_lng", (SpecField("lat", "float"), SpecField("lng", "float")))
COORDINATES = ObjectSpec("coordinates", (SpecField("latitude", "float"), SpecField("longitude", "float")))
ITEM_REQUEST = ObjectSpec("item_request", (SpecField("sku", "string"), SpecField("qty", "float")))
INVENTORY_REQUEST = ObjectSpec(
    "inventory_request",
    (
        SpecField("stock_id", "int"),
        SpecField("items", ListOf(ITEM_REQUEST)),
        SpecField(
            "extension_attributes",
            ObjectSpec(
                "inventory_request_extension",
                (
                    SpecField("destination_address", ADDRESS),
                    SpecField("destination_coordinates", COORDINATES),
                ),
            ),
        ),
    ),
)


def algorithm_data(algorithm: Algorithm) -> dict[str, Any]:
    return {"code": algorithm.code, "title": algorithm.title, "description": algorithm.description}


def result_data(result: SelectionResult) -> dict[str, Any]:
    return {
        "source_selection_items": [
            {
                "source_code": source_code,
                "sku": sku,
                "qty_to_deduct": _number(qty_to_deduct),
                "qty_available": _number(qty_available),
            }
            for source_code, sku, qty_to_deduct, qty_available in result.items
        ],
        "shippable": result.shippable,
    }


def _number(value: Decimal) -> int | float:
    """``phpjson.php_number`` for a Decimal, without its checks: an answer lists many."""
    number = float(value)
    return int(number) if number.is_integer() else number


def lat_lng_data(point: LatLng) -> dict[str, Any]:
    return {"lat": php_number(point.lat), "lng": php_number(point.lng)}


# For the OpenAPI document.


class SourceSelectionAlgorithmData(BaseModel):
    """SourceSelectionAlgorithmInterface."""

    code: str
    title: str
    description: str


class AddressData(BaseModel):
    """AddressInterface: all five are required (constructor arguments)."""

    country: str
    postcode: str
    street: str
    region: str
    city: str


class CoordinatesData(BaseModel):
    """openmsi's ``destination_coordinates``: the destination's own coordinates, in degrees."""

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class InventoryRequestExtension(BaseModel):
    destination_address: AddressData | None = None
    destination_coordinates: CoordinatesData | None = None


class ItemRequestData(BaseModel):
    """ItemRequestInterface."""

    sku: str
    qty: float = Field(ge=0)


class InventoryRequestData(BaseModel):
    """InventoryRequestInterface (``stockId`` as Magento spells it; ``stock_id`` works too)."""

    stockId: int  # Magento's constructor argument
    items: list[ItemRequestData] = Field(min_length=1)
    extension_attributes: InventoryRequestExtension | None = None


class SourceSelectionBody(BaseModel):
    inventoryRequest: InventoryRequestData  # Magento's parameter name
    algorithmCode: str  # Magento's parameter name


class SourceSelectionItemData(BaseModel):
    """SourceSelectionItemInterface."""

    source_code: str
    sku: str
    qty_to_deduct: Number
    qty_available: Number


class SourceSelectionResultData(BaseModel):
    """SourceSelectionResultInterface."""

    source_selection_items: list[SourceSelectionItemData]
    shippable: bool


class LatLngData(BaseModel):
    """LatLngInterface."""

    lat: Number
    lng: Number
