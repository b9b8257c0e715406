"""The job table and its workers (STYLE.md section 4): claim, dedupe, lease, retries, a worker
killed in the middle of a rebuild, and the worker embedded in the app."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from index_helpers import (
    EXPECTED_INDEX,
    STATUS,
    corrupt_index,
    create_stock_with_items,
    differences,
    enqueue,
    index_rows,
    invoke,
    job_rows,
    make_worker,
)
from openmsi import jobs
from openmsi.app import create_app
from openmsi.db import Database
from openmsi.indexer import repository
from openmsi.models import Job, utcnow
from openmsi.settings import Settings

LEASE = timedelta(seconds=60)


def claim(database: Database, worker_id: str, lease: timedelta = LEASE, **kw: Any) -> jobs.ClaimedJob | None:
    """A claim in its own transaction, as the worker makes it."""
    with database.write_sessions.begin() as session:
        return jobs.claim(session, worker_id, lease, **kw)


def set_job(database: Database, job_id: int, **values: Any) -> None:
    with database.write_sessions.begin() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))


# --- Claim and dedupe ------------------------------------------------------------------------


def test_a_due_job_is_claimed_once(database: Database) -> None:
    enqueue(database, 10)
    (queued,) = job_rows(database)

    job = claim(database, "w1")
    assert job == jobs.ClaimedJob(queued.id, jobs.REINDEX_STOCK, {"stock_id": 10, "reason": "test"}, 1, 10)
    assert claim(database, "w2") is None

    (running,) = job_rows(database)
    assert (running.status, running.locked_by, running.attempts, running.dedupe_key) == (
        "running",
        "w1",
        1,
        None,
    )
    assert running.locked_until is not None
    assert timedelta(seconds=58) <= running.locked_until - utcnow() <= LEASE


def test_a_job_is_not_claimed_before_its_run_after(database: Database) -> None:
    enqueue(database, 10)
    (queued,) = job_rows(database)
    set_job(database, queued.id, run_after=utcnow() + timedelta(minutes=5))
    assert claim(database, "w1") is None
    job = claim(database, "w1", now=utcnow() + timedelta(minutes=6))
    assert job is not None and job.id == queued.id


def test_enqueueing_a_queued_stock_again_is_a_no_op_until_a_worker_claims_it(database: Database) -> None:
    enqueue(database, 10)
    enqueue(database, 10)
    enqueue(database, 20, 10, 10)
    rows = job_rows(database)
    assert [(row.payload["stock_id"], row.dedupe_key) for row in rows] == [
        (10, "reindex:stock:10"),
        (20, "reindex:stock:20"),
    ]

    first = claim(database, "w1")
    assert first is not None and first.payload["stock_id"] == 10
    # Claimed: the key is free, so a change made during the rebuild queues the next one.
    enqueue(database, 10)
    rows = job_rows(database)
    assert [(row.payload["stock_id"], row.status, row.dedupe_key) for row in rows] == [
        (10, "running", None),
        (20, "queued", "reindex:stock:20"),
        (10, "queued", "reindex:stock:10"),
    ]

    second, third = claim(database, "w2"), claim(database, "w2")
    assert second is not None and third is not None
    assert (second.payload["stock_id"], third.payload["stock_id"]) == (20, 10)
    assert third.id != first.id
    assert claim(database, "w2") is None


def test_concurrent_claimers_never_get_the_same_job(database: Database) -> None:
    stock_ids = list(range(1000, 1030))
    enqueue(database, *stock_ids)
    claimed: dict[str, list[int]] = {}

    def drain(worker_id: str) -> None:
        mine = claimed.setdefault(worker_id, [])
        while (job := claim(database, worker_id)) is not None:
            mine.append(job.payload["stock_id"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(drain, [f"w{n}" for n in range(4)]))

    everything = [stock_id for ids in claimed.values() for stock_id in ids]
    assert sorted(everything) == stock_ids  # each exactly once
    owners = {row.payload["stock_id"]: row.locked_by for row in job_rows(database)}
    assert all(owners[stock_id] == worker for worker, ids in claimed.items() for stock_id in ids)
    assert {row.attempts for row in job_rows(database)} == {1}


def test_a_claimer_skips_a_job_locked_by_another_transaction(database: Database, engine_name: str) -> None:
    if engine_name == "sqlite":
        pytest.skip("SQLite has no row locks: its write lock serialises claimers")
    enqueue(database, 10, 20)
    first, second = job_rows(database)
    holder = database.write_sessions()
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        holder.execute(select(Job.id).where(Job.id == first.id).with_for_update())
        # Without SKIP LOCKED this claim would wait for the holder (forever on PostgreSQL).
        job = pool.submit(claim, database, "w2").result(timeout=10)
        assert job is not None and job.id == second.id
    finally:
        holder.rollback()  # first, so that a claim stuck on the lock can end
        holder.close()
        pool.shutdown()
    job = claim(database, "w3")
    assert job is not None and job.id == first.id


def test_queue_statements_leave_the_transaction_to_their_caller(database: Database) -> None:
    """Claim, failure, completion and purge are statements in the caller's session: rolled
    back, they leave the queue as it was."""
    enqueue(database, 10)
    (queued,) = job_rows(database)
    assert (queued.subject, queued.dedupe_key) == ("stock:10", "reindex:stock:10")
    with database.write_sessions() as session:
        job = jobs.claim(session, "w1", LEASE)
        assert job is not None
        jobs.mark_failed(session, job, "w1", "boom")
        session.rollback()
    (row,) = job_rows(database)
    assert (row.status, row.attempts, row.locked_by, row.dedupe_key, row.last_error) == (
        "queued", 0, None, "reindex:stock:10", None,
    )  # fmt: skip

    set_job(database, row.id, status="done", finished_at=utcnow() - timedelta(days=30))
    with database.write_sessions() as session:
        assert jobs.purge_finished(session, timedelta(days=7)) == 1
        session.rollback()
    assert [job.id for job in job_rows(database)] == [row.id]


# --- Lease -----------------------------------------------------------------------------------


def test_a_job_whose_worker_died_is_taken_again_after_its_lease(database: Database) -> None:
    enqueue(database, 10)
    dead = claim(database, "dead")
    assert dead is not None

    assert claim(database, "alive", now=utcnow() + timedelta(seconds=30)) is None  # still leased
    alive = claim(database, "alive", now=utcnow() + timedelta(seconds=61))
    assert alive is not None
    assert (alive.id, alive.attempts) == (dead.id, 2)
    (row,) = job_rows(database)
    assert (row.status, row.locked_by, row.attempts) == ("running", "alive", 2)

    # The first worker comes back and finishes: it must learn it lost the job.
    with database.write_sessions() as session:
        assert jobs.mark_done(session, dead, "dead") is False
        session.rollback()
    with database.write_sessions() as session:
        assert jobs.mark_done(session, alive, "alive") is True
        session.commit()
    (row,) = job_rows(database)
    assert (row.status, row.locked_by, row.locked_until, row.attempts) == ("done", "alive", None, 2)
    assert row.finished_at is not None


def test_a_job_that_kills_every_worker_fails_after_its_last_attempt(database: Database) -> None:
    enqueue(database, 10)
    (queued,) = job_rows(database)
    set_job(database, queued.id, max_attempts=2)
    assert claim(database, "w1") is not None
    second = claim(database, "w2", now=utcnow() + timedelta(seconds=61))
    assert second is not None and second.attempts == 2

    assert claim(database, "w3", now=utcnow() + timedelta(seconds=200)) is None
    (row,) = job_rows(database)
    assert (row.status, row.attempts, row.locked_by) == ("failed", 2, None)
    assert row.last_error == "lease expired on attempt 2 of 2: the worker running it died or stalled"


# --- Retries ---------------------------------------------------------------------------------


def test_a_failing_job_is_retried_with_back_off_then_marked_failed(
    client: TestClient, auth_headers: dict[str, str], database: Database, database_url: str
) -> None:
    create_stock_with_items(client, auth_headers)

    def broken(session: Session, payload: dict[str, Any]) -> None:
        repository.delete_stock_rows(session, int(payload["stock_id"]))
        raise RuntimeError("disk on fire")

    worker = make_worker(database, {jobs.REINDEX_STOCK: broken}, worker_id="w1")
    enqueue(database, 10)
    (queued,) = job_rows(database)
    set_job(database, queued.id, max_attempts=3)

    for attempt, delay in ((1, 2), (2, 4)):
        before = utcnow()
        assert worker.run_once() is True
        after = utcnow()
        (row,) = job_rows(database)
        assert (row.status, row.attempts, row.locked_by, row.locked_until) == ("queued", attempt, None, None)
        assert row.last_error is not None and "RuntimeError: disk on fire" in row.last_error
        # MariaDB's DATETIME keeps whole seconds: allow one second of truncation.
        assert before + timedelta(seconds=delay - 1) <= row.run_after <= after + timedelta(seconds=delay)
        # The handler's half-done work was rolled back with it.
        assert index_rows(database) == EXPECTED_INDEX
        assert worker.run_once() is False  # not due yet
        set_job(database, row.id, run_after=utcnow() - timedelta(seconds=1))

    assert worker.run_once() is True
    (row,) = job_rows(database)
    assert (row.status, row.attempts, row.locked_by) == ("failed", 3, None)
    assert row.finished_at is not None
    assert "RuntimeError: disk on fire" in (row.last_error or "")
    assert worker.run_once() is False

    response = client.get(STATUS, headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json()["failed_jobs"] == [
        {
            "job_id": row.id,
            "stock_id": 10,
            "attempts": 3,
            "created_at": row.created_at.isoformat(),
            "last_error": "RuntimeError: disk on fire",
        }
    ]
    stock_10 = [entry for entry in response.json()["stocks"] if entry["stock_id"] == 10]
    assert stock_10 == [
        {
            "stock_id": 10,
            "index_rows": 2,
            "pending_jobs": 0,
            "oldest_pending_age_seconds": None,
            "failed_jobs": 1,
        }
    ]
    result = invoke(database_url, "index", "status")
    assert result.exit_code == 0, result.output
    assert (
        f"failed job {row.id} (stock 10, 3 attempts, queued {row.created_at.isoformat()}): " in result.output
    )
    assert "RuntimeError: disk on fire" in result.output

    # A failed job does not block the next change of that stock.
    enqueue(database, 10)
    assert [(r.status, r.dedupe_key) for r in job_rows(database)] == [
        ("failed", None),
        ("queued", "reindex:stock:10"),
    ]

    # A successful rebuild of the stock closes the failure; its error stays for inspection.
    result = invoke(database_url, "reindex", "--stock", "10")
    assert result.exit_code == 0, result.output
    closed, pending = job_rows(database)
    assert (closed.status, pending.status) == ("done", "queued")
    assert "RuntimeError: disk on fire" in (closed.last_error or "")
    response = client.get(STATUS, headers=auth_headers)
    assert response.json()["failed_jobs"] == []


# --- A worker killed in the middle of a rebuild -----------------------------------------------

DOOMED_WORKER = """
import os, signal, sys
from datetime import timedelta
from openmsi import db, jobs
from openmsi.indexer import service
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.settings import Settings

settings = Settings(database_url=sys.argv[1], _env_file=None)
database = db.Database(db.make_engine(settings))
with database.write_sessions.begin() as session:
    job = jobs.claim(session, "doomed", timedelta(seconds=float(sys.argv[2])))
assert job is not None and job.kind == jobs.REINDEX_STOCK, job
session = database.write_sessions()
config = StockItemConfiguration.from_settings(settings)
rows = service.rebuild_stock(session, config, int(job.payload["stock_id"]))
session.flush()
print(job.id, rows, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_worker_killed_mid_rebuild_leaves_nothing_and_the_job_runs_again(
    client: TestClient, auth_headers: dict[str, str], database: Database, database_url: str
) -> None:
    create_stock_with_items(client, auth_headers)
    corrupt_index(database)
    stale = differences(database, [10])
    assert len(stale) == 2
    enqueue(database, 10)
    (queued,) = job_rows(database)

    process = subprocess.run(
        [sys.executable, "-c", DOOMED_WORKER, database_url, "2"], capture_output=True, text=True, timeout=120
    )
    assert process.returncode == -9, process.stderr
    assert process.stdout.split() == [str(queued.id), "2"]  # it had rebuilt both rows

    # Its uncommitted rebuild is gone; the job is still leased to the dead worker.
    assert differences(database, [10]) == stale
    (row,) = job_rows(database)
    assert (row.status, row.locked_by, row.attempts) == ("running", "doomed", 1)

    worker = make_worker(database)
    deadline = time.monotonic() + 20
    while not worker.run_once():
        assert time.monotonic() < deadline, "the expired lease was never taken over"
        time.sleep(0.1)

    assert differences(database) == [(1, "sku-c", pytest.approx(7), False, pytest.approx(7), True)]
    assert {key: value for key, value in index_rows(database).items() if key[0] == 10} == {
        key: value for key, value in EXPECTED_INDEX.items() if key[0] == 10
    }
    (row,) = job_rows(database)
    assert (row.status, row.locked_by, row.attempts, row.last_error) == ("done", worker.worker_id, 2, None)


# --- The worker embedded in the app ----------------------------------------------------------


def test_the_embedded_worker_runs_queued_jobs_and_stops_with_the_app(
    client: TestClient, auth_headers: dict[str, str], database: Database, settings: Settings, engine_name: str
) -> None:
    if engine_name != "sqlite":
        pytest.skip("the worker is embedded by default on SQLite only")
    create_stock_with_items(client, auth_headers)
    corrupt_index(database)
    app = create_app(
        settings.model_copy(update={"embedded_worker": True, "worker_poll_seconds": 0.05}), database
    )
    with TestClient(app):
        assert [t for t in threading.enumerate() if t.name == "openmsi-worker"]
        enqueue(database, 1, 10)
        deadline = time.monotonic() + 5
        # Only the rebuilds: a starting worker also queues the reservation cleanup's next run.
        while {row.status for row in job_rows(database) if row.kind == jobs.REINDEX_STOCK} != {"done"}:
            assert time.monotonic() < deadline, [(r.status, r.last_error) for r in job_rows(database)]
            time.sleep(0.05)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 2
    assert not [t for t in threading.enumerate() if t.name == "openmsi-worker" and t.is_alive()]
    assert differences(database) == []
    assert index_rows(database) == EXPECTED_INDEX
