"""The job queue: durable background work, queued in the same transaction as the write that
needs it. Statements only: every function here runs in the caller's session and never commits;
``openmsi.worker`` owns the transactions that claim and run jobs.

A row in ``job`` becomes visible to workers when the writer commits and vanishes if it rolls
back, so a change that needs the index refreshed can never be lost or run for nothing. Each job
names its ``subject`` ("stock:2", indexed): status, dedupe and the closing of failed jobs find a
stock's jobs by it. ``dedupe_key`` is UNIQUE and set to NULL when a worker claims the job: a
burst of link changes on one stock queues a single rebuild, and a change made while that
rebuild runs queues the next one.

A claim takes the oldest due job (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL and
MariaDB; SQLite's write lock serialises claimers) and leases it to one worker. A failing job is
put back with exponential back-off and marked ``failed``, with its last error, after
``max_attempts``; so is a job whose lease ran out on its last attempt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from openmsi.db import insert_ignore
from openmsi.models import Job, table_of, utcnow

REINDEX_STOCK = "reindex.stock"
RESERVATIONS_CLEANUP = "reservations.cleanup"
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
MAX_ATTEMPTS = 10
# Back-off after the n-th failure: 2, 4, 8 … seconds, at most 10 minutes.
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 600.0

jobs = table_of(Job)
STOCK_SUBJECT_PREFIX = "stock:"


def stock_subject(stock_id: int) -> str:
    return f"{STOCK_SUBJECT_PREFIX}{stock_id}"


def stock_of_subject(subject: str | None) -> int | None:
    """The stock id a subject names, None for any other subject."""
    if subject is None or not subject.startswith(STOCK_SUBJECT_PREFIX):
        return None
    return int(subject.removeprefix(STOCK_SUBJECT_PREFIX))


def reindex_stock_key(stock_id: int) -> str:
    return f"reindex:{stock_subject(stock_id)}"


def enqueue_stock_reindex(session: Session, stock_ids: Iterable[int], reason: str) -> None:
    """Queue one rebuild per stock unless one is already waiting.

    Keys are inserted in ascending order so that concurrent writers lock them in one order.
    """
    now = utcnow()
    rows = [
        {
            "kind": REINDEX_STOCK,
            "payload": {"stock_id": stock_id, "reason": reason},
            "subject": stock_subject(stock_id),
            "status": QUEUED,
            "run_after": now,
            "attempts": 0,
            "max_attempts": MAX_ATTEMPTS,
            "dedupe_key": reindex_stock_key(stock_id),
            "created_at": now,
        }
        for stock_id in sorted(set(stock_ids))
    ]
    insert_ignore(session, jobs, rows)


def enqueue_once(
    session: Session, kind: str, payload: dict[str, Any], *, dedupe_key: str, run_after: datetime
) -> None:
    """Queue a job to run at ``run_after`` unless one with this dedupe key is waiting."""
    row = {
        "kind": kind,
        "payload": payload,
        "status": QUEUED,
        "run_after": run_after,
        "attempts": 0,
        "max_attempts": MAX_ATTEMPTS,
        "dedupe_key": dedupe_key,
        "created_at": utcnow(),
    }
    insert_ignore(session, jobs, [row])


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


def _due(now: datetime) -> Any:
    return or_(
        and_(jobs.c.status == QUEUED, jobs.c.run_after <= now),
        and_(jobs.c.status == RUNNING, jobs.c.locked_until < now),
    )


def any_due(session: Session) -> bool:
    """Whether ``claim`` would find something: a plain read, so idle polling never takes
    SQLite's write lock or a row lock."""
    return session.scalar(select(jobs.c.id).where(_due(utcnow())).limit(1)) is not None


def claim(
    session: Session, worker_id: str, lease: timedelta, now: datetime | None = None
) -> ClaimedJob | None:
    """Lease the oldest due job, or one whose lease ran out, to ``worker_id``. The caller
    commits at once: until then the claim holds the job's row lock (others skip it).

    A job whose lease ran out on its last allowed attempt is not run again but marked
    ``failed``: a job that kills every worker running it (out of memory, a crash in a driver)
    would otherwise be retried for ever, since its handler never gets to record the failure.
    """
    now = now or utcnow()
    query = (
        select(jobs.c.id, jobs.c.kind, jobs.c.payload, jobs.c.status, jobs.c.attempts, jobs.c.max_attempts)
        .where(_due(now))
        .order_by(jobs.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    while True:
        row = session.execute(query).first()
        if row is None:
            return None
        if row.status == RUNNING and row.attempts >= row.max_attempts:
            session.execute(
                update(jobs)
                .where(jobs.c.id == row.id)
                .values(
                    status=FAILED,
                    finished_at=now,
                    locked_by=None,
                    locked_until=None,
                    dedupe_key=None,
                    last_error=f"lease expired on attempt {row.attempts} of {row.max_attempts}: "
                    "the worker running it died or stalled",
                )
            )
            continue
        session.execute(
            update(jobs)
            .where(jobs.c.id == row.id)
            .values(
                status=RUNNING,
                locked_by=worker_id,
                locked_until=now + lease,
                attempts=jobs.c.attempts + 1,
                dedupe_key=None,
            )
        )
        return ClaimedJob(row.id, row.kind, dict(row.payload), row.attempts + 1, row.max_attempts)


def mark_done(session: Session, job: ClaimedJob, worker_id: str) -> bool:
    """Mark the job done in the handler's transaction; False if another worker took it over
    (the lease ran out), in which case the caller must roll back."""
    result = session.execute(
        update(jobs)
        .where(jobs.c.id == job.id, jobs.c.locked_by == worker_id, jobs.c.status == RUNNING)
        .values(status=DONE, finished_at=utcnow(), locked_until=None, last_error=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_failed(session: Session, job: ClaimedJob, worker_id: str, error: str) -> None:
    """Put the job back with a back-off, or give up after ``max_attempts``."""
    now = utcnow()
    values: dict[str, Any] = {"last_error": error[-4000:], "locked_until": None, "locked_by": None}
    if job.attempts >= job.max_attempts:
        values.update(status=FAILED, finished_at=now)
    else:
        delay = min(BACKOFF_BASE_SECONDS * 2 ** (job.attempts - 1), BACKOFF_MAX_SECONDS)
        values.update(status=QUEUED, run_after=now + timedelta(seconds=delay))
    session.execute(update(jobs).where(jobs.c.id == job.id, jobs.c.locked_by == worker_id).values(**values))


def resolve_failed_rebuilds(session: Session, stock_id: int) -> None:
    """Close the failed rebuilds of a stock that has just been rebuilt successfully: the
    problem they report is gone. They keep their ``last_error`` for whoever investigates."""
    session.execute(
        update(jobs)
        .where(jobs.c.subject == stock_subject(stock_id), jobs.c.status == FAILED)
        .where(jobs.c.kind == REINDEX_STOCK)
        .values(status=DONE, finished_at=utcnow())
    )


def stocks_awaiting_rebuild(session: Session, stock_ids: Sequence[int]) -> set[int]:
    """Those of the stocks with a rebuild queued, running or failed: their rows may not yet hold
    every committed change, so a delta must not be applied on top of them."""
    if not stock_ids:
        return set()
    subjects = [stock_subject(stock_id) for stock_id in sorted(set(stock_ids))]
    found = session.scalars(
        select(jobs.c.subject).where(
            jobs.c.subject.in_(subjects),
            jobs.c.kind == REINDEX_STOCK,
            jobs.c.status.in_([QUEUED, RUNNING, FAILED]),
        )
    )
    return {stock_id for subject in found if (stock_id := stock_of_subject(subject)) is not None}


def open_jobs(session: Session, kind: str) -> Any:
    """Jobs of a kind that are queued, running or failed, oldest first."""
    return session.execute(
        select(
            jobs.c.id,
            jobs.c.subject,
            jobs.c.status,
            jobs.c.created_at,
            jobs.c.attempts,
            jobs.c.last_error,
        )
        .where(jobs.c.kind == kind, jobs.c.status.in_([QUEUED, RUNNING, FAILED]))
        .order_by(jobs.c.id)
    )


def purge_finished(session: Session, older_than: timedelta, batch: int = 500) -> int:
    """Delete a batch of ``done`` jobs finished before the retention window; returns how many."""
    cutoff = utcnow() - older_than
    ids = list(
        session.scalars(
            select(jobs.c.id).where(jobs.c.status == DONE, jobs.c.finished_at < cutoff).limit(batch)
        )
    )
    if ids:
        session.execute(delete(jobs).where(jobs.c.id.in_(ids)))
    return len(ids)
