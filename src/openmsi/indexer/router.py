"""openmsi's own index routes, beside Magento's (spec openmsi.md, "Index freshness")."""

from __future__ import annotations

from typing import Any

from openmsi.db import Lane
from openmsi.indexer import schemas, service
from openmsi.runtime import Call, Router

# Whoever may read stocks may see how fresh their index is.
STOCK = "Magento_InventoryApi::stock"

router = Router()


@router.route("GET", "/V1/openmsi/index-status", STOCK, Lane.READ, response=schemas.IndexStatus)
def index_status(call: Call) -> Any:
    """How far the index lags behind, per stock (openmsi's own route).

    The answer::

        {
          "stocks": [
            {"stock_id": 1, "index_rows": 120, "pending_jobs": 1,
             "oldest_pending_age_seconds": 4.25, "failed_jobs": 0}
          ],
          "failed_jobs": [
            {"job_id": 7, "stock_id": 2, "attempts": 10,
             "created_at": "2026-11-29T08:00:00+00:00", "last_error": "OperationalError: …"}
          ]
        }

    ``pending_jobs`` counts rebuilds queued or running; ``oldest_pending_age_seconds`` is the
    age of the oldest of them since it was queued (null when none waits). Every existing stock
    is listed, and any stock id that still has index rows or jobs. ``failed_jobs`` (top level)
    lists rebuilds that gave up after their last attempt, with the last line of the error
    (the full text is in ``job.last_error``); they stay listed until a rebuild of their stock
    succeeds (a later job or ``openmsi reindex``).
    """
    return service.status(call.session)
