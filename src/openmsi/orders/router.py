"""openmsi's order routes (spec orders.md): place, read, list, cancel and ship orders, and list
reservations. Magento has no such routes in its MSI subset; the ACL resources are those of
Magento's sales module (``Magento_Sales::*``)."""

from __future__ import annotations

from typing import Any

from openmsi import errors, openapi, service_input
from openmsi.db import Lane
from openmsi.inventory.schemas import search_results
from openmsi.orders import schemas
from openmsi.orders import service as orders_service
from openmsi.runtime import Call, Router

CREATE = "Magento_Sales::create"
VIEW = "Magento_Sales::actions_view"
CANCEL = "Magento_Sales::cancel"
SHIP = "Magento_Sales::ship"
STOCK = "Magento_InventoryApi::stock"

PREFIX = "/V1/openmsi"
router = Router()


def _items(call: Call, spec: service_input.ObjectSpec) -> list[dict[str, Any]] | None:
    raw = service_input.lookup_parameter(call.params, "items")
    return None if raw is None else service_input.convert_list(raw, spec, parameter="items")


@router.route(
    "POST",
    PREFIX + "/orders",
    CREATE,
    Lane.WRITE,
    body=schemas.OrderPlaceBody,
    response=schemas.OrderData,
    database_error=(errors.CouldNotSave, "Could not save Order"),
)
def place_order(call: Call) -> Any:
    """Place an order: every line checked, all reserved or none (openmsi's own route)."""
    order = service_input.convert_object(call.parameter("order"), schemas.ORDER)
    return orders_service.place_order(call.session, call.context.indexing, order)


@router.route(
    "GET",
    PREFIX + "/orders",
    VIEW,
    Lane.READ,
    query=openapi.SEARCH_CRITERIA,
    response=schemas.OrderSearchResults,
)
def get_order_list(call: Call) -> Any:
    """Orders matching the (required) search criteria (openmsi's own route)."""
    criteria = call.search_criteria()
    orders, total = orders_service.get_orders(call.session, criteria)
    return search_results(orders, criteria.echo(), total)


@router.route("GET", PREFIX + "/orders/{incrementId}", VIEW, Lane.QUICK_READ, response=schemas.OrderData)
def get_order(call: Call) -> Any:
    """One order, its lines and their state (openmsi's own route)."""
    return orders_service.get_order(call.session, call.path["incrementId"])


@router.route(
    "POST",
    PREFIX + "/orders/{incrementId}/cancel",
    CANCEL,
    Lane.WRITE,
    body=schemas.OrderCancelBody,
    response=schemas.OrderData,
    database_error=(errors.CouldNotSave, "Could not cancel Order"),
    optional_body=True,
)
def cancel_order(call: Call) -> Any:
    """Release the open quantities of the given lines, or of every line (openmsi's own route)."""
    items = _items(call, schemas.ORDER_ITEM)
    return orders_service.cancel_order(call.session, call.context.indexing, call.path["incrementId"], items)


@router.route(
    "POST",
    PREFIX + "/orders/{incrementId}/shipments",
    SHIP,
    Lane.WRITE,
    body=schemas.ShipmentBody,
    response=schemas.OrderData,
    database_error=(errors.CouldNotSave, "Could not save Shipment"),
    optional_body=True,
)
def create_shipment(call: Call) -> Any:
    """Deduct shipped quantities from the named sources, or from those a source-selection
    algorithm chooses for every open quantity, and release them (openmsi's own route)."""
    items = _items(call, schemas.SHIPMENT_ITEM)
    raw_algorithm = service_input.lookup_parameter(call.params, "algorithmCode")
    algorithm_code = None if raw_algorithm is None else service_input.convert_scalar(raw_algorithm, "string")
    return orders_service.create_shipment(
        call.session,
        call.context.indexing,
        call.path["incrementId"],
        items,
        algorithm_code,
        distance_provider=call.context.settings.distance_provider,
    )


@router.route(
    "GET",
    PREFIX + "/reservations",
    STOCK,
    Lane.READ,
    query=openapi.SEARCH_CRITERIA,
    response=schemas.ReservationSearchResults,
)
def get_reservation_list(call: Call) -> Any:
    """Reservations matching the (required) search criteria (openmsi's own route)."""
    criteria = call.search_criteria()
    reservations, total = orders_service.get_reservations(call.session, criteria)
    return search_results(reservations, criteria.echo(), total)
