"""Appending reservations (spec reservations.md). Magento has no REST route for them: this is
the internal hook for tests and for the sales events a later issue will add."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from openmsi.indexer import repository as index_repository
from openmsi.indexer import service as indexer
from openmsi.sales import repository
from openmsi.sales.configuration import StockItemConfiguration


@dataclass(frozen=True)
class ReservationRow:
    stock_id: int
    sku: str
    quantity: Decimal
    metadata: str | None = None


def append_reservations(
    session: Session, config: StockItemConfiguration, rows: Sequence[ReservationRow]
) -> None:
    """Insert the reservations and re-evaluate ``is_salable`` of the index rows they affect.

    Magento updates the flag later, through a queue consumer
    (``InventoryIndexer/Model/Queue/UpdateIndexSalabilityStatus.php``); openmsi does it in the
    same transaction, by recomputing those rows under the stocks' locks.
    """
    if not rows:
        return
    skus_by_stock: dict[int, list[str]] = {}
    for row in rows:
        skus_by_stock.setdefault(row.stock_id, []).append(row.sku)
    indexer.lock_stocks(session, sorted(skus_by_stock))
    repository.insert_reservations(
        session,
        [
            {"stock_id": row.stock_id, "sku": row.sku, "quantity": row.quantity, "metadata": row.metadata}
            for row in rows
        ],
    )
    for stock_id, skus in sorted(skus_by_stock.items()):
        index_repository.refresh_skus(session, config, [stock_id], skus)
