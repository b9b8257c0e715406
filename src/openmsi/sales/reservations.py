"""Appending reservations (spec reservations.md). Magento has no REST route for them; openmsi's
order routes (``openmsi.orders``) append them for placements, cancellations and shipments, and
``append_reservations`` is the internal hook for tests and tools."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from openmsi.indexer import repository as index_repository
from openmsi.indexer import service as indexer
from openmsi.sales import repository
from openmsi.sales.configuration import StockItemConfiguration

# InventorySalesApi/Api/Data/SalesEventInterface.php
ORDER_PLACED = "order_placed"
ORDER_CANCELED = "order_canceled"
SHIPMENT_CREATED = "shipment_created"


@dataclass(frozen=True)
class ReservationRow:
    stock_id: int
    sku: str
    quantity: Decimal
    metadata: str | None = None


def sales_event_metadata(event_type: str, object_id: str, object_increment_id: str) -> str:
    """The metadata of a sales event's reservation, as ``SalesEventToArrayConverter`` and
    json_encode write it: these four keys in this order, compact. Characters beyond ASCII are
    kept as they are rather than escaped as ``\\uXXXX``, so that two increment ids of 32
    characters always fit the column's 255."""
    event = {
        "event_type": event_type,
        "object_type": "order",
        "object_id": object_id,
        "object_increment_id": object_increment_id,
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def _rows(rows: Sequence[ReservationRow]) -> list[dict[str, object]]:
    return [
        {"stock_id": row.stock_id, "sku": row.sku, "quantity": row.quantity, "metadata": row.metadata}
        for row in rows
    ]


def append_reservations(
    session: Session, config: StockItemConfiguration, rows: Sequence[ReservationRow]
) -> None:
    """Insert the reservations and re-evaluate ``is_salable`` of the index rows they affect.

    Magento updates the flag later, through a queue consumer
    (``InventoryIndexer/Model/Queue/UpdateIndexSalabilityStatus.php``); openmsi does it in the
    same transaction, by recomputing those rows under the stocks' exclusive locks.
    """
    if not rows:
        return
    skus_by_stock: dict[int, list[str]] = {}
    for row in rows:
        skus_by_stock.setdefault(row.stock_id, []).append(row.sku)
    indexer.lock_stocks(session, sorted(skus_by_stock))
    repository.insert_reservations(session, _rows(rows))
    for stock_id, skus in sorted(skus_by_stock.items()):
        index_repository.refresh_skus(session, config, [stock_id], skus)


def append_reservations_locked(
    session: Session, config: StockItemConfiguration, rows: Sequence[ReservationRow]
) -> None:
    """Insert the reservations and re-evaluate ``is_salable`` of their index rows, for a caller
    that already holds each stock's row (shared is enough) and the index rows of the SKUs
    (``indexer.lock_stocks_shared``, ``indexer.lock_index_rows``): the order routes. The rows
    are updated in place (``indexer.repository.refresh_salable``)."""
    if not rows:
        return
    repository.insert_reservations(session, _rows(rows))
    skus_by_stock: dict[int, list[str]] = {}
    for row in rows:
        skus_by_stock.setdefault(row.stock_id, []).append(row.sku)
    for stock_id, skus in sorted(skus_by_stock.items()):
        index_repository.refresh_salable(session, config, stock_id, skus)


def insert_reservations(session: Session, rows: Sequence[ReservationRow]) -> None:
    """Only the rows: for a writer that refreshes the index rows of the SKUs itself (a shipment
    aggregates them again after deducting its source items)."""
    if rows:
        repository.insert_reservations(session, _rows(rows))
