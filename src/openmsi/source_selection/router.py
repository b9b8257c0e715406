"""Magento's source-selection routes (``InventorySourceSelectionApi/etc/webapi.xml``) and the
distance helpers (``InventoryDistanceBasedSourceSelectionApi/etc/webapi.xml``); spec
source-selection.md. All are reads: selection deducts nothing."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from openmsi import errors, openapi, phpjson, service_input
from openmsi.db import Lane
from openmsi.openapi import QueryParameter
from openmsi.runtime import Call, Router
from openmsi.service_input import Parameter
from openmsi.source_selection import distance, schemas
from openmsi.source_selection import service as selection_service
from openmsi.source_selection.distance import Address, LatLng
from openmsi.source_selection.service import Destination, ItemRequest

ALGORITHM = "Magento_InventorySourceSelectionApi::source_selection_algorithm"
ALGORITHM_POST = "Magento_InventorySourceSelectionApi::source_selection_algorithm_post"
SOURCE = "Magento_InventoryApi::source"

PREFIX = "/V1/inventory"
router = Router()

OUT_OF_RANGE = '"%field" must be between %min and %max.'


def _required(data: dict[str, Any], *names: str) -> None:
    """openmsi's choice: Magento's object manager fails on a missing constructor argument (500)."""
    missing = [name for name in names if data.get(service_input.snake_case(name)) is None]
    if missing:
        raise errors.InputError.required(*missing)


def _address(data: dict[str, Any]) -> Address:
    _required(data, *schemas.ADDRESS_FIELDS)
    return Address(*(data[name] for name in schemas.ADDRESS_FIELDS))


def _lat_lng(raw: Any) -> LatLng:
    data = service_input.convert_object(raw, schemas.LAT_LNG)
    _required(data, "lat", "lng")
    return LatLng(data["lat"], data["lng"])


def _coordinates(data: dict[str, Any]) -> LatLng:
    _required(data, "latitude", "longitude")
    for name, bound in (("latitude", 90), ("longitude", 180)):
        if not -bound <= data[name] <= bound:
            raise errors.InputError(OUT_OF_RANGE, {"field": name, "min": -bound, "max": bound})
    return LatLng(data["latitude"], data["longitude"])


def _plain_items(raw: Any) -> list[ItemRequest] | None:
    """The items of an ``inventoryRequest`` whose items are all ``{"sku": string, "qty":
    number}``, as ``service_input`` would convert them, or None to let it convert (and refuse)
    anything else: an order's lines are the one part of a request that grows with it."""
    if not isinstance(raw, dict) or [
        key for key in raw if service_input.upper_camel_case(key) == "Items"
    ] != ["items"]:
        return None
    elements = raw["items"]
    if not isinstance(elements, list):
        return None
    items = []
    for element in elements:
        if type(element) is not dict or len(element) != 2:
            return None
        sku, qty = element.get("sku"), element.get("qty")
        if type(sku) is not str or not (
            (type(qty) is float and math.isfinite(qty)) or (type(qty) is int and abs(qty) < 2**53)
        ):
            return None
        # The float as PHP holds it: 8.5 stays 8.5, 0.1 is 0.1.
        items.append(ItemRequest(sku, Decimal(repr(float(qty)))))
    return items


def _inventory_request(raw: Any) -> tuple[int, list[ItemRequest], Destination]:
    items = _plain_items(raw)
    if items is None:
        data = service_input.convert_object(raw, schemas.INVENTORY_REQUEST)
        _required(data, "stockId", "items")
        items = []
        for element in data["items"]:
            _required(element, "sku", "qty")
            items.append(ItemRequest(element["sku"], Decimal(repr(element["qty"]))))
    else:
        data = service_input.convert_object(
            {k: v for k, v in raw.items() if k != "items"}, schemas.INVENTORY_REQUEST
        )
        _required(data, "stockId")
    extension = data.get("extension_attributes") or {}
    address = extension.get("destination_address")
    coordinates = extension.get("destination_coordinates")
    destination = Destination(
        address=None if address is None else _address(address),
        coordinates=None if coordinates is None else _coordinates(coordinates),
    )
    return data["stock_id"], items, destination


def _string(value: Any) -> str:
    result: str = service_input.convert_scalar(value, "string")
    return result


def _address_parameter(call: Call) -> Address:
    return _address(service_input.convert_object(call.parameter("address"), schemas.ADDRESS))


ADDRESS_QUERY = tuple(
    QueryParameter(f"address[{name}]", {"type": "string"}, required=True) for name in schemas.ADDRESS_FIELDS
)
LAT_LNG_QUERY = tuple(
    QueryParameter(f"{point}[{axis}]", {"type": "number"}, required=True)
    for point in ("source", "destination")
    for axis in ("lat", "lng")
)


@router.route(
    "GET",
    PREFIX + "/source-selection-algorithm-list",
    ALGORITHM,
    Lane.QUICK_READ,
    response=list[schemas.SourceSelectionAlgorithmData],
)
def get_source_selection_algorithm_list(call: Call) -> Any:
    """The source-selection algorithms, in configuration order (GetSourceSelectionAlgorithmListInterface)."""
    return [schemas.algorithm_data(algorithm) for algorithm in selection_service.get_algorithms()]


@router.route(
    "POST",
    PREFIX + "/source-selection-algorithm-result",
    ALGORITHM_POST,
    Lane.QUICK_READ,
    body=schemas.SourceSelectionBody,
    response=schemas.SourceSelectionResultData,
)
def source_selection_algorithm_result(call: Call) -> Any:
    """The sources to ship the requested quantities from (SourceSelectionServiceInterface)."""
    (stock_id, items, destination), algorithm_code = service_input.resolve_parameters(
        call.params, Parameter("inventoryRequest", _inventory_request), Parameter("algorithmCode", _string)
    )
    result = selection_service.select(
        call.session,
        stock_id,
        items,
        algorithm_code,
        destination,
        distance_provider=call.context.settings.distance_provider,
    )
    return schemas.result_data(result)


@router.route("GET", PREFIX + "/get-distance-provider-code", SOURCE, Lane.QUICK_READ, response=str)
def get_distance_provider_code(call: Call) -> Any:
    """The configured distance provider, OPENMSI_DISTANCE_PROVIDER (GetDistanceProviderCodeInterface)."""
    return call.context.settings.distance_provider


@router.route(
    "GET", PREFIX + "/get-distance", SOURCE, Lane.QUICK_READ, query=LAT_LNG_QUERY, response=openapi.Number
)
def get_distance(call: Call) -> Any:
    """The distance between two points; meters with the offline provider (GetDistanceInterface)."""
    source, destination = service_input.resolve_parameters(
        call.params, Parameter("source", _lat_lng), Parameter("destination", _lat_lng)
    )
    return phpjson.php_number(distance.distance(call.context.settings.distance_provider, source, destination))


@router.route(
    "GET",
    PREFIX + "/get-latlng-from-address",
    SOURCE,
    Lane.QUICK_READ,
    query=ADDRESS_QUERY,
    response=schemas.LatLngData,
)
def get_latlng_from_address(call: Call) -> Any:
    """Where an address is (GetLatLngFromAddressInterface)."""
    address = _address_parameter(call)
    provider = call.context.settings.distance_provider
    return schemas.lat_lng_data(distance.lat_lng_from_address(call.session, provider, address))


@router.route(
    "GET",
    PREFIX + "/get-latslngs-from-address",
    SOURCE,
    Lane.READ,
    query=ADDRESS_QUERY,
    response=list[schemas.LatLngData],
)
def get_latslngs_from_address(call: Call) -> Any:
    """Every place an address may be (GetLatsLngsFromAddressInterface)."""
    address = _address_parameter(call)
    provider = call.context.settings.distance_provider
    return [
        schemas.lat_lng_data(point)
        for point in distance.lats_lngs_from_address(call.session, provider, address)
    ]
