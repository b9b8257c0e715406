"""Durable background work, queued in the same transaction as the write that needs it.

A row in ``job`` becomes visible to workers when the writer commits and vanishes if it rolls
back, so a change that needs the index refreshed can never be lost or run for nothing.
``dedupe_key`` is UNIQUE and NULL once a worker claims the job: a burst of link changes on
one stock queues a single rebuild. Claiming and running jobs (workers, leases, retries) is
the indexer's part and builds on this table.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from openmsi.db import insert_ignore
from openmsi.models import Job, table_of, utcnow

REINDEX_STOCK = "reindex.stock"


def reindex_stock_key(stock_id: int) -> str:
    return f"reindex:stock:{stock_id}"


def enqueue_stock_reindex(session: Session, stock_ids: Iterable[int], reason: str) -> None:
    """Queue one rebuild per stock unless one is already waiting.

    Keys are inserted in ascending order so that concurrent writers lock them in one order.
    """
    now = utcnow()
    rows = [
        {
            "kind": REINDEX_STOCK,
            "payload": {"stock_id": stock_id, "reason": reason},
            "status": "queued",
            "run_after": now,
            "attempts": 0,
            "max_attempts": 10,
            "dedupe_key": reindex_stock_key(stock_id),
            "created_at": now,
        }
        for stock_id in sorted(set(stock_ids))
    ]
    insert_ignore(session, table_of(Job), rows)
