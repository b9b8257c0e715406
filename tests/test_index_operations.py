"""GET /V1/openmsi/index-status, large link changes that go through a rebuild job, and the
atomicity of a stock rebuild for readers (spec openmsi.md, "Index freshness")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest.mock import ANY

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from factories import INVENTORY, create_source, create_stock
from index_helpers import (
    CONFIG,
    STATUS,
    create_stock_with_items,
    differences,
    enqueue,
    index_rows,
    job_rows,
    make_worker,
    save_items,
)
from openmsi.app import create_app
from openmsi.db import Database
from openmsi.indexer import service as indexer
from openmsi.models import Job, SourceItem, StockIndexRow, utcnow
from openmsi.settings import Settings


def stock_entry(
    stock_id: int, rows: int, pending: int = 0, age: Any = None, failed: int = 0
) -> dict[str, Any]:
    return {
        "stock_id": stock_id,
        "index_rows": rows,
        "pending_jobs": pending,
        "oldest_pending_age_seconds": age,
        "failed_jobs": failed,
    }


# --- The status endpoint ---------------------------------------------------------------------


def test_index_status_on_a_fresh_install(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.get(STATUS, headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"stocks": [stock_entry(1, 0)], "failed_jobs": []}


def test_index_status_reports_rows_pending_jobs_with_their_age_and_failed_jobs(
    client: TestClient, auth_headers: dict[str, str], database: Database
) -> None:
    create_stock_with_items(client, auth_headers)
    response = client.get(STATUS, headers=auth_headers)
    assert response.json() == {"stocks": [stock_entry(1, 1), stock_entry(10, 2)], "failed_jobs": []}

    enqueue(database, 10)
    with database.write_sessions.begin() as session:
        session.execute(update(Job).values(created_at=utcnow() - timedelta(seconds=120)))
        session.add(
            Job(
                kind="reindex.stock",
                payload={"stock_id": 1, "reason": "test"},
                subject="stock:1",
                status="failed",
                attempts=10,
                max_attempts=10,
                last_error="Traceback (most recent call last):\n  ...\nOperationalError: server closed\n",
                created_at=utcnow() - timedelta(hours=1),
            )
        )
    (pending, failed) = job_rows(database)

    response = client.get(STATUS, headers=auth_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    age = body["stocks"][1]["oldest_pending_age_seconds"]
    assert isinstance(age, float) and 119 <= age < 130
    assert body == {
        "stocks": [stock_entry(1, 1, failed=1), stock_entry(10, 2, pending=1, age=age)],
        "failed_jobs": [
            {
                "job_id": failed.id,
                "stock_id": 1,
                "attempts": 10,
                "created_at": failed.created_at.isoformat(),
                "last_error": "OperationalError: server closed",
            }
        ],
    }

    # A running job is still pending; a done one is not.
    make_worker(database).run_once()
    assert client.get(STATUS, headers=auth_headers).json()["stocks"][1] == stock_entry(10, 2)
    assert [job.status for job in job_rows(database)] == ["done", "failed"]
    assert pending.id == job_rows(database)[0].id


def test_jobs_are_found_by_their_subject_not_their_payload(
    client: TestClient, auth_headers: dict[str, str], database: Database
) -> None:
    """Status, dedupe and the closing of failed rebuilds look at the indexed ``subject``."""
    create_stock_with_items(client, auth_headers)
    with database.write_sessions.begin() as session:
        for status in ("failed", "queued"):
            # A payload from another version of openmsi: no stock id in it.
            error = "RuntimeError: old" if status == "failed" else None
            session.add(
                Job(kind="reindex.stock", payload={}, subject="stock:10", status=status, last_error=error)
            )
    failed, queued = job_rows(database)
    body = client.get(STATUS, headers=auth_headers).json()
    assert body["stocks"][1] == {**stock_entry(10, 2, pending=1, failed=1), "oldest_pending_age_seconds": ANY}
    assert [(job["job_id"], job["stock_id"]) for job in body["failed_jobs"]] == [(failed.id, 10)]

    # The queued job's dedupe key is the subject's: enqueueing stock 10 again adds nothing.
    with database.write_sessions.begin() as session:
        session.execute(update(Job).where(Job.id == queued.id).values(dedupe_key="reindex:stock:10"))
    enqueue(database, 10)
    assert [job.id for job in job_rows(database)] == [failed.id, queued.id]

    with database.write_sessions.begin() as session:
        indexer.rebuild_stock(session, CONFIG, 10)
    assert [job.status for job in job_rows(database)] == ["done", "queued"]
    assert client.get(STATUS, headers=auth_headers).json()["failed_jobs"] == []


def test_index_status_requires_a_token(client: TestClient) -> None:
    response = client.get(STATUS)
    assert response.status_code == 401
    assert response.json() == {
        "message": "The consumer isn't authorized to access %resources.",
        "parameters": {"resources": "Magento_InventoryApi::stock"},
    }


# --- A link change too large to apply inline -------------------------------------------------


@pytest.fixture
def deferring_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    """A second app on the same database that never refreshes links inline."""
    app = create_app(
        settings.model_copy(update={"index_inline_limit": 0, "embedded_worker": False}), database
    )
    yield TestClient(app)


def test_a_large_link_change_is_queued_shown_as_pending_and_applied_by_the_worker(
    deferring_client: TestClient, auth_headers: dict[str, str], database: Database
) -> None:
    client = deferring_client
    create_source(
        client,
        auth_headers,
        {"source_code": "eu-1", "name": "eu-1", "enabled": True, "country_id": "FR", "postcode": "1"},
    )
    assert create_stock(client, auth_headers, "EU", stock_id=10) == 10
    save_items(client, auth_headers, [{"sku": "sku-a", "source_code": "eu-1", "quantity": 4, "status": 1}])
    assert index_rows(database) == {}

    links = [{"stock_id": 10, "source_code": "eu-1", "priority": 1}]
    response = client.post(f"{INVENTORY}/stock-source-links", json={"links": links}, headers=auth_headers)
    assert response.status_code == 200, response.text

    # Not applied yet, but queued in the link's transaction and visible as lag.
    assert index_rows(database) == {}
    (job,) = job_rows(database)
    assert (job.kind, job.status, job.payload["stock_id"], job.dedupe_key) == (
        "reindex.stock",
        "queued",
        10,
        "reindex:stock:10",
    )
    body = client.get(STATUS, headers=auth_headers).json()
    (entry,) = [stock for stock in body["stocks"] if stock["stock_id"] == 10]
    assert entry["pending_jobs"] == 1
    assert isinstance(entry["oldest_pending_age_seconds"], float)
    assert 0 <= entry["oldest_pending_age_seconds"] < 60
    assert differences(database, [10]) != []

    assert make_worker(database).run_until_idle() == 1
    assert index_rows(database) == {(10, "sku-a"): (4.0, True)}
    assert differences(database) == []
    body = client.get(STATUS, headers=auth_headers).json()
    assert [stock for stock in body["stocks"] if stock["stock_id"] == 10] == [stock_entry(10, 1)]

    # Source items themselves are still refreshed in their own transaction.
    save_items(client, auth_headers, [{"sku": "sku-a", "source_code": "eu-1", "quantity": 0, "status": 0}])
    assert index_rows(database) == {(10, "sku-a"): (0.0, False)}
    assert job_rows(database)[-1].status == "done"


# --- Rebuilds and readers --------------------------------------------------------------------


def test_a_stock_rebuild_is_atomic_for_readers(
    client: TestClient, auth_headers: dict[str, str], database: Database
) -> None:
    create_stock_with_items(client, auth_headers)
    # The items change behind the index's back: the rebuild will have something to do.
    with database.write_sessions.begin() as session:
        session.execute(
            update(SourceItem)
            .where(SourceItem.sku == "sku-a", SourceItem.source_code == "eu-1")
            .values(quantity=50)
        )

    def stock_10(session: Any) -> dict[str, float]:
        query = select(StockIndexRow.sku, StockIndexRow.quantity).where(StockIndexRow.stock_id == 10)
        return {sku: float(quantity) for sku, quantity in session.execute(query)}

    writer = database.write_sessions()
    try:
        assert indexer.rebuild_stock(writer, CONFIG, 10) == 2
        writer.flush()
        assert stock_10(writer) == {"sku-a": 53.0, "sku-b": 0.0}
        # Another session, while the rebuild's DELETE and INSERT are not committed.
        with database.read_sessions() as reader:
            assert stock_10(reader) == {"sku-a": 8.0, "sku-b": 0.0}
        writer.commit()
    finally:
        writer.close()
    with database.read_sessions() as reader:
        assert stock_10(reader) == {"sku-a": 53.0, "sku-b": 0.0}
    assert differences(database) == []
