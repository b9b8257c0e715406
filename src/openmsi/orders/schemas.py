"""openmsi's order shapes (spec orders.md): what the order routes accept (field specs for
``service_input``) and answer (dicts in the documented key order), and the same shapes as
pydantic models for the OpenAPI document only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from openmsi.inventory.schemas import SALES_CHANNEL, SalesChannelData
from openmsi.openapi import SearchCriteriaData
from openmsi.phpjson import php_number
from openmsi.service_input import Field, ListOf, ObjectSpec

ORDER_ITEM = ObjectSpec("order_item", (Field("sku", "string"), Field("qty", "float")))
ORDER = ObjectSpec(
    "order",
    (
        Field("increment_id", "string"),
        Field("sales_channel", SALES_CHANNEL),
        Field("items", ListOf(ORDER_ITEM)),
    ),
)
SHIPMENT_ITEM = ObjectSpec(
    "shipment_item", (Field("sku", "string"), Field("source_code", "string"), Field("qty", "float"))
)

# The answer's date format: Magento's sales_order.created_at, UTC.
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def order_data(order: Any, lines: list[Any]) -> dict[str, Any]:
    """One order as the order routes answer it; ``order`` and ``lines`` are the repository's
    records."""
    return {
        "increment_id": order.increment_id,
        "stock_id": order.stock_id,
        "status": order.status,
        "created_at": order.created_at.strftime(DATE_FORMAT),
        "items": [
            {
                "sku": line.sku,
                "qty_ordered": php_number(line.qty_ordered),
                "qty_shipped": php_number(line.qty_shipped),
                "qty_canceled": php_number(line.qty_canceled),
                "qty_open": php_number(line.qty_open),
            }
            for line in lines
        ],
    }


def reservation_data(reservation: Any) -> dict[str, Any]:
    """ReservationInterface's fields; a null metadata is omitted, as Magento omits null fields."""
    data: dict[str, Any] = {
        "reservation_id": reservation.reservation_id,
        "stock_id": reservation.stock_id,
        "sku": reservation.sku,
        "quantity": php_number(Decimal(reservation.quantity)),
    }
    if reservation.metadata_ is not None:
        data["metadata"] = reservation.metadata_
    return data


# For the OpenAPI document.


class OrderItemRequest(BaseModel):
    """One line to order, or to cancel: a SKU at most once per order, qty > 0."""

    sku: str
    qty: float


class OrderRequest(BaseModel):
    """The order to place; ``increment_id`` is 1–32 characters and unique among orders."""

    increment_id: str
    sales_channel: SalesChannelData
    items: list[OrderItemRequest]


class OrderPlaceBody(BaseModel):
    order: OrderRequest


class OrderItemData(BaseModel):
    sku: str
    qty_ordered: float
    qty_shipped: float
    qty_canceled: float
    qty_open: float


class OrderData(BaseModel):
    """An order: ``placed`` while a quantity is open, then ``complete`` (all shipped),
    ``canceled`` (all canceled) or ``closed`` (both)."""

    increment_id: str
    stock_id: int
    status: Literal["placed", "complete", "canceled", "closed"]
    created_at: str
    items: list[OrderItemData]


class OrderSearchResults(BaseModel):
    items: list[OrderData]
    search_criteria: SearchCriteriaData
    total_count: int


class OrderCancelBody(BaseModel):
    """The lines to cancel; no body, or no ``items``, cancels every open quantity."""

    items: list[OrderItemRequest] | None = None


class ShipmentItemData(BaseModel):
    sku: str
    source_code: str
    qty: float


class ShipmentBody(BaseModel):
    """What to deduct, from which source; one SKU may come from several sources."""

    items: list[ShipmentItemData]


class ReservationData(BaseModel):
    """ReservationInterface: a signed quantity per stock and SKU, and its sales event."""

    reservation_id: int
    stock_id: int
    sku: str
    quantity: float
    metadata: str | None = None


class ReservationSearchResults(BaseModel):
    items: list[ReservationData]
    search_criteria: SearchCriteriaData
    total_count: int
