"""Data and helpers shared by the tests of index maintenance (jobs, CLI, status endpoint)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from factories import INVENTORY, create_source, create_stock
from openmsi import jobs
from openmsi.cli import app as cli_app
from openmsi.db import Database
from openmsi.indexer import service as indexer
from openmsi.models import Job, StockIndexRow
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.settings import Settings, get_settings
from openmsi.worker import Handler, Worker

STATUS = "/rest/V1/openmsi/index-status"
CONFIG = StockItemConfiguration.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]

# Stock 10 holds eu-1 and eu-2; the default stock holds the default source.
STOCK_ITEMS: tuple[dict[str, Any], ...] = (
    {"sku": "sku-a", "source_code": "eu-1", "quantity": 5, "status": 1},
    {"sku": "sku-a", "source_code": "eu-2", "quantity": 3, "status": 1},
    {"sku": "sku-b", "source_code": "eu-1", "quantity": 0, "status": 0},
    {"sku": "sku-c", "source_code": "default", "quantity": 7, "status": 1},
)
# What the index holds for them: (stock_id, sku) -> (quantity, is_salable).
EXPECTED_INDEX = {(1, "sku-c"): (7.0, True), (10, "sku-a"): (8.0, True), (10, "sku-b"): (0.0, False)}


def create_stock_with_items(client: TestClient, headers: dict[str, str]) -> None:
    """Sources eu-1 and eu-2 linked to stock 10, and the items of STOCK_ITEMS."""
    for code in ("eu-1", "eu-2"):
        create_source(
            client,
            headers,
            {"source_code": code, "name": code, "enabled": True, "country_id": "FR", "postcode": "1"},
        )
    assert create_stock(client, headers, "EU", stock_id=10) == 10
    links = [
        {"stock_id": 10, "source_code": code, "priority": n} for n, code in enumerate(("eu-1", "eu-2"), 1)
    ]
    response = client.post(f"{INVENTORY}/stock-source-links", json={"links": links}, headers=headers)
    assert response.status_code == 200, response.text
    save_items(client, headers, list(STOCK_ITEMS))


def save_items(client: TestClient, headers: dict[str, str], items: list[dict[str, Any]]) -> None:
    response = client.post(f"{INVENTORY}/source-items", json={"sourceItems": items}, headers=headers)
    assert response.status_code == 200, response.text


def index_rows(database: Database) -> dict[tuple[int, str], tuple[float, bool]]:
    with database.read_sessions() as session:
        rows = session.execute(select(StockIndexRow.stock_id, StockIndexRow.sku, StockIndexRow.quantity,
                                      StockIndexRow.is_salable))  # fmt: skip
        return {(row[0], row[1]): (float(row[2]), bool(row[3])) for row in rows}


def differences(database: Database, stock_ids: list[int] | None = None) -> list[tuple[Any, ...]]:
    with database.read_sessions() as session:
        return [tuple(row) for row in indexer.verify(session, CONFIG, stock_ids)]


def corrupt_index(database: Database) -> None:
    """sku-a in stock 10 gets a wrong quantity, sku-b's row in stock 10 goes missing, and
    sku-c in stock 1 is flagged not salable: what a lost update would leave behind."""
    with database.write_sessions.begin() as session:
        index = StockIndexRow.__table__
        session.execute(
            update(index).where(index.c.stock_id == 10, index.c.sku == "sku-a").values(quantity=99)
        )
        session.execute(delete(index).where(index.c.stock_id == 10, index.c.sku == "sku-b"))
        session.execute(
            update(index).where(index.c.stock_id == 1, index.c.sku == "sku-c").values(is_salable=False)
        )


def enqueue(database: Database, *stock_ids: int) -> None:
    with database.write_sessions.begin() as session:
        jobs.enqueue_stock_reindex(session, stock_ids, reason="test")


def job_rows(database: Database) -> list[Any]:
    with database.read_sessions() as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def make_worker(database: Database, handlers: dict[str, Handler] | None = None, **kw: Any) -> Worker:
    return Worker(
        database,
        handlers if handlers is not None else indexer.job_handlers(CONFIG),
        lease=kw.pop("lease", timedelta(seconds=60)),
        poll_seconds=kw.pop("poll_seconds", 0.05),
        retention=timedelta(days=7),
        **kw,
    )


def invoke(database_url: str, *args: str) -> Result:
    """Run the `openmsi` command in-process against the test database."""
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli_app, list(args), env={"OPENMSI_DATABASE_URL": database_url})
    finally:
        get_settings.cache_clear()
