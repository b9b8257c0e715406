"""Reservation consistency and cleanup (spec orders.md, "Reservations and consistency";
reservations.md, "Cleanup" and "CLI").

Reservations are grouped per (object, stock, SKU), the object being their metadata's
``object_id`` (openmsi writes the order's increment id there; ``''`` stands for metadata that
names none). A group is consistent when it sums to −(the open quantity of that SKU's line on
the object's order in that stock), that is to 0 when the order has no such line, has nothing
open, or does not exist. So:

- ``inconsistencies``: every group that is not (Magento's ``inventory:reservation:list-inconsistencies``);
- ``compensate``: appends one ``manual_compensation`` reservation per such group, of the
  difference, after which every group is consistent;
- ``cleanup``: deletes every group that sums to 0 and whose object is no order with something
  open: the groups of orders with nothing open, and zero-sum groups that name no order.
  Deleting a whole zero-sum group leaves each (stock, SKU) sum, hence every salable quantity
  and every index ``is_salable``, as it was.

Magento's cron groups by ``object_id`` alone, across SKUs and stocks
(``InventoryReservations/Model/ResourceModel/CleanupReservations.php``), so a group netting to
zero over several SKUs is deleted although its SKUs' sums change; openmsi's groups never span
SKUs or stocks (docs/compatibility.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from openmsi import errors, jobs
from openmsi.indexer import service as indexer
from openmsi.models import utcnow
from openmsi.sales import consistency_repository as repository
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.sales.consistency_repository import Group
from openmsi.sales.reservations import ReservationRow, append_reservations

MANUAL_COMPENSATION = "manual_compensation"
METADATA_LENGTH = 255  # inventory_reservation.metadata
CLEANUP_DEDUPE_KEY = "reservations:cleanup"
METADATA_TOO_LONG = 'The compensation of object "%1" needs metadata longer than %2 characters.'


def inconsistencies(session: Session, stock_ids: list[int] | None = None) -> list[Group]:
    """``openmsi reservations inconsistencies``: every inconsistent group, by object, stock, SKU."""
    return repository.wrong_groups(session, stock_ids)


def compensation_metadata(found: Group) -> str:
    """Magento's metadata keys (``SalesEventToArrayConverter``); the increment id is the
    object's when it is an order, ``""`` (unknown) otherwise."""
    return json.dumps(
        {
            "event_type": MANUAL_COMPENSATION,
            "object_type": "order",
            "object_id": found.object_id,
            "object_increment_id": found.object_id if found.order_exists else "",
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def compensate(session: Session, config: StockItemConfiguration) -> list[ReservationRow]:
    """``openmsi reservations compensate``: append what makes every group consistent, and
    return it. All or nothing; raises MagentoError (nothing written) when a compensation's
    metadata would not fit the column.

    The groups are read a second time under the locks of their stocks (level 2 of the lock
    order in ``indexer.service``), which every writer of reservations takes first: no placement,
    shipment or cancellation can change them between that reading and the append, so a
    compensation is never computed from a sum that is already out of date. A stock that no
    longer exists has no row to lock; nothing but a cancellation writes there any more.
    """
    first_look = inconsistencies(session)
    if not first_look:
        return []
    stock_ids = sorted({found.stock_id for found in first_look})
    indexer.lock_stocks(session, stock_ids)
    rows = []
    for found in inconsistencies(session, stock_ids):
        metadata = compensation_metadata(found)
        if len(metadata) > METADATA_LENGTH:
            raise errors.MagentoError(METADATA_TOO_LONG, [found.object_id, METADATA_LENGTH])
        rows.append(ReservationRow(found.stock_id, found.sku, found.compensation, metadata))
    # Refreshes is_salable of the index rows concerned, as for any other reservation.
    append_reservations(session, config, rows)
    return rows


def cleanup(session: Session) -> int:
    """``openmsi reservations cleanup`` and the ``reservations.cleanup`` job: delete every
    zero-sum group whose object is no order with something open; returns the rows deleted.

    Concurrency (PostgreSQL, MariaDB). No lock is taken, and none is needed:

    - the groups are found by one statement, so in one snapshot, and deleted by primary key,
      exactly the rows that statement saw. Reservations are never updated, so rows that
      summed to 0 still do, whatever was appended since: a placement, shipment or
      cancellation committed meanwhile adds rows that this cleanup leaves alone, and no
      (stock, SKU) sum changes. Writers only insert, so none waits for the deleted rows' locks;
    - an order with nothing open gets no more reservations (cancellations and shipments
      refuse more than the open quantity), and ``compensate`` appends to a group only when
      it is wrong, so the deleted groups were complete. A concurrent cleanup deletes the
      same rows: the second waits for the first's row locks and finds them gone;
    - MariaDB: openmsi's connections run at READ COMMITTED (``db._server_options``). At
      REPEATABLE READ the reading would still be a consistent snapshot (the argument above
      holds for an older snapshot too), but a DELETE by primary key of a row already gone
      takes a gap lock, which could hold up the inserts of placements at the end of the
      table until this transaction commits: one more reason to keep READ COMMITTED. The
      groups are not read with a locking ``DELETE … WHERE … IN (SELECT …)``, which at
      REPEATABLE READ would lock every reservation it scans.
    - SQLite: the write transaction (BEGIN IMMEDIATE) excludes every other writer.

    Lock order (``indexer.service``): level 3 only (the reservation rows deleted).
    """
    return repository.delete_reservations(session, repository.deletable_reservation_ids(session))


def schedule_cleanup(session: Session, after: timedelta) -> None:
    """Queue the next cleanup job, unless one is queued already (its dedupe key)."""
    jobs.enqueue_once(
        session,
        jobs.RESERVATIONS_CLEANUP,
        {"reason": "scheduled"},
        dedupe_key=CLEANUP_DEDUPE_KEY,
        run_after=utcnow() + after,
    )


@dataclass(frozen=True)
class CleanupSchedule:
    """Workers run the cleanup every ``interval`` (Magento: a daily cron job,
    ``InventoryReservations/etc/crontab.xml``): each run queues the next, and a worker that
    starts queues one to run at once if none is waiting."""

    interval: timedelta

    def ensure_scheduled(self, session: Session) -> None:
        schedule_cleanup(session, timedelta(0))

    def run_job(self, session: Session, _payload: dict[str, Any]) -> None:
        cleanup(session)
        schedule_cleanup(session, self.interval)
