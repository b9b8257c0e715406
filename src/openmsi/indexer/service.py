"""Keeping the aggregated index fresh (spec openmsi.md, "Index freshness").

- Source-item writes refresh the touched SKUs in every stock linked to their sources, in the
  writing transaction (``refresh_items``).
- Link changes and source enable/disable add or take away the items of the sources concerned
  to or from the rows of the stocks concerned, as deltas that read no other item: in the
  writing transaction when that is at most ``inline_limit`` items, otherwise through a durable
  rebuild job queued in that transaction (``refresh_links``, ``refresh_source_enabled``).
- Stock deletion drops the stock's rows in its transaction.
- Rebuild jobs, ``openmsi reindex`` and ``openmsi index verify`` use ``rebuild_stock`` and
  ``verify``.

Lock order. Every writer takes its locks in this order, each level in key order, and never
goes back to an earlier level, so that no two writers deadlock (on SQLite, BEGIN IMMEDIATE
serialises writers and none of these statements is sent):

1. source rows (``inventory_source``), by code, in three modes. ITEM (``lock_sources_shared``:
   FOR KEY SHARE on PostgreSQL, a shared lock elsewhere) for source-item saves and deletes and
   shipments, so item writers of one source never wait for each other. LINK
   (``lock_sources``: FOR UPDATE) for link saves and deletes: a link change changes which
   stocks the source's items reach, the set item writers read before locking those stocks, so
   it excludes every other mode. SAVE (``lock_sources_for_save``: FOR NO KEY UPDATE on
   PostgreSQL, FOR UPDATE elsewhere) for source saves, on the saved source and on ``default``,
   whose row serialises the unique-name check: it excludes LINK and SAVE, so the source's links
   stand still, and on PostgreSQL lets ITEM through. An enable/disable needs no more: it
   changes no link, item writers of the source lock every stock linked to it (enabled or not),
   and it applies its delta holding those stocks' rows (level 2) before it updates the source
   row, so an item writer either committed before (its items are in the delta) or writes its
   items after the change committed and aggregates them with the new flag. (Holding ITEM
   shut out an enable/disable until no item writer of the source was left, which under a
   steady flow of item saves meant seconds, with ``default`` held meanwhile.) Saves and link
   changes that would change nothing take no lock at all (``inventory.service``);
2. stock rows (``inventory_stock``), by id. EXCLUSIVE for every writer of what a stock's index
   rows aggregate: item writers and shipments lock every stock linked to their sources, link
   changes the stocks of their links, ``append_reservations`` the stocks it reserves in,
   rebuilds the stock they rebuild, stock deletion its stock. Holding a stock's row exclusive
   makes a writer the only one changing that stock's index rows, and lets it see every
   committed change of what they aggregate. Stock saves take the default stock's row (unique
   names, sales channels). SHARED for order placements and cancellations
   (``openmsi.orders.service``): they change no item or link, only append reservations for
   their own SKUs, so they exclude the exclusive writers of their stock (its items, links and
   index rows stay as they are while they run) without excluding each other;
3. rows. First, under a shared stock lock only, the stock's index rows of the SKUs a placement
   or cancellation reserves for, FOR UPDATE in SKU order (``lock_index_rows``): placements and
   cancellations of the same (stock, SKU) queue here, and a placement reads the salable facts
   only once it holds them. Then the order row (``openmsi_order``: inserted by a placement,
   locked FOR UPDATE by a cancellation or shipment). Then the rows written: source items (in
   (source, SKU) order), links, order lines, reservations, index rows (a placement or
   cancellation updates only the rows it locked, in place, ``refresh_reserved``);
4. ``job`` rows: rebuilds are queued last, by stock id (the dedupe key's unique index), and a
   rebuild closes its stock's failed jobs after writing the rows.

``sales.reservations.append_reservations`` takes the stocks it reserves in exclusive, then
writes reservations and index rows; so does ``openmsi reservations compensate``: it takes the
stocks of the wrong reservation groups, reads the groups again, then appends
(sales.consistency.compensate). The reservation cleanup
takes nothing at levels 1 and 2: it deletes by primary key reservation rows (level 3) whose
groups sum to 0, which changes no (stock, SKU) sum, so neither index rows nor their writers
need to wait for it (sales.consistency.cleanup).
Bulk operations (inventory.bulk) are source-item writers of all their sources
(source_items.lock_item_sources); transfers, whose new quantities depend on the old ones, also
read the items they rewrite FOR UPDATE at level 3, in (source, SKU) order, before writing them.

Where writers wait: a LINK source lock (1) holds the source's item writers for the length of
a link change (on MariaDB an enable/disable too, SAVE being FOR UPDATE there), which is why
those apply deltas that read only the changed source's items
(``repository.apply_source_delta``); on PostgreSQL an enable/disable queues with the item
writers only at the stock rows (2); a stock lock (2) held by a rebuild
(``rebuild_stock``, a job or ``openmsi reindex``) holds the stock's item writers for the whole
aggregation, which is why link changes up to ``inline_limit`` items no longer queue one.
Placements and cancellations of one stock wait only for those of the same SKUs (level 3) and
for the stock's exclusive writers (level 2), which in turn wait for every placement in flight
on their stocks: a placement's lock path is a few statements long, as is a shipment's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmsi import jobs
from openmsi.db import Database, lock_rows_for_share, lock_rows_for_update
from openmsi.indexer import repository
from openmsi.models import Source, Stock, StockIndexRow, table_of, utcnow
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.settings import Settings
from openmsi.worker import Handler, Worker


@dataclass(frozen=True)
class Indexing:
    """What index maintenance needs to know: the salability rules and when to defer work."""

    config: StockItemConfiguration
    inline_limit: int = 100_000

    @classmethod
    def from_settings(cls, settings: Settings) -> Indexing:
        return cls(StockItemConfiguration.from_settings(settings), settings.index_inline_limit)


def lock_sources_shared(session: Session, source_codes: Sequence[str]) -> None:
    """Level 1 for writers of the sources' items: excludes link changes of the sources."""
    lock_rows_for_share(session, table_of(Source), "source_code", list(source_codes), key_share=True)


def lock_sources(session: Session, source_codes: Sequence[str]) -> None:
    """Level 1 for link changes: excludes the sources' item writers and saves, and each other."""
    lock_rows_for_update(session, table_of(Source), "source_code", list(source_codes), key_share=False)


def lock_sources_for_save(session: Session, source_codes: Sequence[str]) -> None:
    """Level 1 for source saves: excludes link changes of the sources and other source saves;
    on PostgreSQL not the sources' item writers (see the lock order above)."""
    lock_rows_for_update(session, table_of(Source), "source_code", list(source_codes))


def lock_stocks(session: Session, stock_ids: Sequence[int]) -> None:
    lock_rows_for_update(session, table_of(Stock), "stock_id", list(stock_ids))


def lock_stocks_shared(session: Session, stock_ids: Sequence[int]) -> None:
    """Level 2 in shared mode: what reservation writers of one stock hold (see above)."""
    lock_rows_for_share(session, table_of(Stock), "stock_id", list(stock_ids))


def lock_index_rows(session: Session, stock_id: int, skus: Sequence[str]) -> None:
    """Level 3: the stock's index rows of these SKUs, FOR UPDATE in SKU order; rows that do not
    exist lock nothing. Only under the stock's shared lock: its exclusive lock already keeps
    every other writer of these rows away."""
    lock_rows_for_update(session, table_of(StockIndexRow), "sku", list(skus), within=("stock_id", stock_id))


def refresh_reserved(session: Session, indexing: Indexing, stock_id: int, skus: Sequence[str]) -> None:
    """After reservations of these SKUs were appended in this stock, their rows' ``is_salable``."""
    repository.refresh_salable(session, indexing.config, stock_id, skus)


def stocks_of_sources(session: Session, source_codes: Sequence[str]) -> list[int]:
    """The stocks linked to any of the sources (enabled or not), locked in id order."""
    stock_ids = repository.stocks_linked_to_sources(session, source_codes)
    lock_stocks(session, stock_ids)
    return stock_ids


def refresh_items(
    session: Session,
    indexing: Indexing,
    stock_ids: Sequence[int],
    skus: Sequence[str],
    *,
    items_removed: bool = True,
) -> None:
    """After source items of these SKUs changed (``items_removed`` False: were only saved):
    recompute their rows in these (locked) stocks."""
    repository.refresh_skus(session, indexing.config, stock_ids, skus, items_removed=items_removed)


def refresh_links(
    session: Session, indexing: Indexing, pairs: Sequence[tuple[int, str]], joined: bool, reason: str
) -> None:
    """After these (stock, source) links were saved (``joined``) or deleted, the stocks being
    locked: the items of those of the sources that are enabled join or leave the stocks."""
    enabled = repository.enabled_source_codes(session, sorted({code for _, code in pairs}))
    _apply_sources(session, indexing, [pair for pair in pairs if pair[1].lower() in enabled], joined, reason)


def refresh_source_enabled(
    session: Session, indexing: Indexing, stock_ids: Sequence[int], source_code: str, enabled: bool
) -> None:
    """After a source was enabled or disabled, the stocks linked to it being locked."""
    pairs = [(stock_id, source_code) for stock_id in stock_ids]
    _apply_sources(session, indexing, pairs, enabled, reason="source enabled changed")


def _apply_sources(
    session: Session, indexing: Indexing, pairs: Sequence[tuple[int, str]], joined: bool, reason: str
) -> None:
    """Each source's items join or leave its stock's rows: as deltas in this transaction when
    the sources hold at most ``inline_limit`` items in all, otherwise through a rebuild job of
    the stocks queued in it. Stock 1's legacy rows (the quantity whatever the status) are not
    sums of in-stock items: its SKUs at the source are aggregated again instead, and so are
    those of a stock awaiting a rebuild."""
    pairs = sorted(set(pairs))
    if not pairs:
        return
    per_source = {code.lower(): repository.count_items_at_sources(session, [code]) for _, code in pairs}
    if sum(per_source[code.lower()] for _, code in pairs) > indexing.inline_limit:
        jobs.enqueue_stock_reindex(session, sorted({stock_id for stock_id, _ in pairs}), reason=reason)
        return
    # A stock whose rebuild is still to run (a larger change queued it) may lack earlier
    # changes: a delta on top of it would be wrong until then, an exact recompute is not.
    awaiting_rebuild = jobs.stocks_awaiting_rebuild(session, [stock_id for stock_id, _ in pairs])
    for stock_id, code in pairs:
        if stock_id == repository.DEFAULT_STOCK_ID or stock_id in awaiting_rebuild:
            repository.refresh_skus_of_sources(session, indexing.config, [stock_id], [code])
        else:
            sign = 1 if joined else -1
            repository.apply_source_delta(
                session, indexing.config, stock_id, code, sign, per_source[code.lower()]
            )


def drop_stock(session: Session, stock_id: int) -> None:
    repository.delete_stock_rows(session, stock_id)


def rebuild_stock(session: Session, config: StockItemConfiguration, stock_id: int) -> int:
    """Rebuild one stock's index in the session's transaction; returns the row count. Failed
    rebuild jobs of the stock are closed with it.

    The stock's row lock keeps a second rebuild, and every writer of that stock, waiting until
    this transaction ends; readers meanwhile see the previous rows.
    """
    lock_stocks(session, [stock_id])
    if session.get(Stock, stock_id) is None:
        repository.delete_stock_rows(session, stock_id)
        rows = 0
    else:
        rows = repository.rebuild_stocks(session, config, [stock_id])
    jobs.resolve_failed_rebuilds(session, stock_id)
    return rows


def job_handlers(config: StockItemConfiguration) -> dict[str, Handler]:
    def reindex_stock(session: Session, payload: dict[str, Any]) -> None:
        rebuild_stock(session, config, int(payload["stock_id"]))

    return {jobs.REINDEX_STOCK: reindex_stock}


def make_worker(database: Database, settings: Settings) -> Worker:
    """A worker that runs rebuilds and the recurring reservation cleanup."""
    # Imported here: sales.consistency appends reservations, which imports this module.
    from openmsi.sales.consistency import CleanupSchedule

    cleanup = CleanupSchedule(timedelta(seconds=settings.reservation_cleanup_interval_seconds))
    handlers = job_handlers(StockItemConfiguration.from_settings(settings))
    return Worker(
        database,
        {**handlers, jobs.RESERVATIONS_CLEANUP: cleanup.run_job},
        lease=timedelta(seconds=settings.job_lease_seconds),
        poll_seconds=settings.worker_poll_seconds,
        retention=timedelta(days=settings.job_retention_days),
        startup=[cleanup.ensure_scheduled],
    )


def all_stock_ids(session: Session) -> list[int]:
    return sorted(session.scalars(select(Stock.stock_id)))


def stale_stock_ids(session: Session) -> list[int]:
    """Stocks that no longer exist but still have index rows (left by hand-made changes or a
    restore): rebuilding them deletes the rows."""
    indexed = select(StockIndexRow.stock_id).distinct()
    return sorted(set(session.scalars(indexed)) - set(all_stock_ids(session)))


def verify(
    session: Session, config: StockItemConfiguration, stock_ids: Sequence[int] | None = None
) -> list[Any]:
    """Every difference between the index and a fresh aggregation (see repository.differences)."""
    return repository.differences(session, config, stock_ids)


def status(session: Session, stock_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """Per stock: index rows, waiting rebuild jobs (queued or running) and the age in seconds
    of the oldest, failed rebuild jobs; and the failed jobs themselves with their last error.

    Stocks that no longer exist but still have index rows or jobs are listed too: that is
    exactly what an operator looking at lag wants to see. ``stock_ids``: only these stocks
    (one stock's page counts its own rows, not the whole index's).
    """
    now = utcnow()
    counting = select(StockIndexRow.stock_id, func.count()).group_by(StockIndexRow.stock_id)
    if stock_ids is not None:
        counting = counting.where(StockIndexRow.stock_id.in_(list(stock_ids)))
    # Not dict(result): a Result has keys(), so dict() would take it for a mapping.
    row_counts = {int(stock_id): int(count) for stock_id, count in session.execute(counting)}
    pending: dict[int, list[Any]] = {}
    failed_per_stock: dict[int, int] = {}
    failed: list[dict[str, Any]] = []
    for job in jobs.open_jobs(session, jobs.REINDEX_STOCK):
        stock_id = jobs.stock_of_subject(job.subject)
        if stock_id is None or (stock_ids is not None and stock_id not in stock_ids):
            continue
        if job.status == jobs.FAILED:
            failed_per_stock[stock_id] = failed_per_stock.get(stock_id, 0) + 1
            # The traceback's last line names the exception; the whole text stays in the table.
            lines = (job.last_error or "").strip().splitlines()
            failed.append(
                {
                    "job_id": job.id,
                    "stock_id": stock_id,
                    "attempts": job.attempts,
                    "created_at": job.created_at.isoformat(),
                    "last_error": lines[-1] if lines else "",
                }
            )
        else:
            pending.setdefault(stock_id, []).append(job.created_at)
    stocks = []
    existing = set(all_stock_ids(session)) if stock_ids is None else set()
    known = existing | set(row_counts) | set(pending) | set(failed_per_stock) | set(stock_ids or ())
    for stock_id in sorted(known):
        created = pending.get(stock_id, [])
        oldest = min(created) if created else None
        stocks.append(
            {
                "stock_id": stock_id,
                "index_rows": int(row_counts.get(stock_id, 0)),
                "pending_jobs": len(created),
                "oldest_pending_age_seconds": (
                    round(max((now - oldest).total_seconds(), 0.0), 3) if oldest else None
                ),
                "failed_jobs": failed_per_stock.get(stock_id, 0),
            }
        )
    return {"stocks": stocks, "failed_jobs": failed}
