"""GET /metrics (spec admin.md, "Metrics, logs, health"), read with prometheus-client's own
parser: request counters and durations by route template, the per-stock figures read from the
database, the pool gauge, OPENMSI_METRICS=false, and several API processes adding up."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from index_helpers import create_stock_with_items, enqueue
from openmsi import db, jobs
from openmsi.app import create_app
from openmsi.models import Job, utcnow
from openmsi.sales import repository as sales_repository
from openmsi.settings import Settings

STOCK = "/rest/V1/inventory/stocks/{stockId}"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def requests(samples: Samples, method: str, route: str, status: int) -> float | None:
    return value(samples, "openmsi_http_requests_total", method=method, route=route, status=str(status))


@pytest.fixture
def fresh_client(settings: Settings, database: db.Database) -> TestClient:
    """An app of its own, so that its counters start at zero; a body limit of 100 bytes."""
    return TestClient(create_app(settings.model_copy(update={"max_body_bytes": 100}), database))


def test_requests_are_counted_by_route_template_method_and_status(
    fresh_client: TestClient, auth_headers: dict[str, str]
) -> None:
    client = fresh_client
    assert client.get("/rest/V1/inventory/stocks/1", headers=auth_headers).status_code == 200
    # The store-code form of the same route, and another stock: one route.
    assert client.get("/rest/default/V1/inventory/stocks/1", headers=auth_headers).status_code == 200
    assert client.get("/rest/V1/inventory/stocks/99", headers=auth_headers).status_code == 404
    assert client.get("/rest/V1/inventory/stocks/1").status_code == 401
    # Answers that never reach runtime.serve: no such route, a body over the limit.
    assert client.get("/rest/V1/no/such/route/12345").status_code == 404
    assert client.post("/rest/V1/inventory/sources", content=b"x" * 101).status_code == 413
    # A made-up method must not become a label value of its own.
    assert client.request("BREW", "/health/live").status_code == 404

    response = client.get("/metrics")
    samples = parse(response.text)
    assert requests(samples, "GET", STOCK, 200) == 2
    assert requests(samples, "GET", STOCK, 404) == 1
    assert requests(samples, "GET", STOCK, 401) == 1
    assert requests(samples, "GET", "unmatched", 404) == 1
    assert requests(samples, "POST", "unmatched", 413) == 1
    assert requests(samples, "other", "/health/live", 404) == 1
    duration = "openmsi_http_request_duration_seconds"
    assert value(samples, f"{duration}_count", method="GET", route=STOCK) == 4
    assert value(samples, f"{duration}_bucket", method="GET", route=STOCK, le="+Inf") == 4
    total = value(samples, f"{duration}_sum", method="GET", route=STOCK)
    assert total is not None and total > 0
    # Templates only: nothing a client typed becomes a series.
    assert "/stocks/1" not in response.text
    assert "12345" not in response.text
    assert "/rest/default" not in response.text
    assert "BREW" not in response.text
    # The scrape itself is counted once it has been answered.
    assert requests(scrape(client), "GET", "/metrics", 200) == 1


def test_the_database_figures_per_stock(
    client: TestClient, auth_headers: dict[str, str], database: db.Database
) -> None:
    create_stock_with_items(client, auth_headers)  # stock 10: 2 index rows; stock 1: 1
    enqueue(database, 10, 1)
    with database.write_sessions.begin() as session:
        session.execute(
            update(Job)
            .where(Job.subject == jobs.stock_subject(10))
            .values(created_at=utcnow() - timedelta(seconds=120))
        )
        session.execute(update(Job).where(Job.subject == jobs.stock_subject(1)).values(status=jobs.FAILED))
        sales_repository.insert_reservations(
            session,
            [
                {"stock_id": 10, "sku": "sku-a", "quantity": -2, "metadata_": None},
                {"stock_id": 10, "sku": "sku-a", "quantity": -1.5, "metadata_": None},
                {"stock_id": 1, "sku": "sku-c", "quantity": 3, "metadata_": None},
            ],
        )

    samples = scrape(client)
    assert value(samples, "openmsi_database_up") == 1
    assert value(samples, "openmsi_index_rows", stock_id="10") == 2
    assert value(samples, "openmsi_index_rows", stock_id="1") == 1
    assert value(samples, "openmsi_index_pending_jobs", stock_id="10") == 1
    assert value(samples, "openmsi_index_pending_jobs", stock_id="1") == 0
    age = value(samples, "openmsi_index_oldest_pending_job_age_seconds", stock_id="10")
    assert age is not None and 120 <= age < 3600
    assert value(samples, "openmsi_index_oldest_pending_job_age_seconds", stock_id="1") == 0
    assert value(samples, "openmsi_index_failed_jobs", stock_id="1") == 1
    assert value(samples, "openmsi_index_failed_jobs", stock_id="10") == 0
    assert value(samples, "openmsi_reservation_rows", stock_id="10") == 2
    assert value(samples, "openmsi_reservation_quantity", stock_id="10") == -3.5
    assert value(samples, "openmsi_reservation_rows", stock_id="1") == 1
    assert value(samples, "openmsi_reservation_quantity", stock_id="1") == 3


def test_the_pool_gauge_counts_connections_in_use(client: TestClient, database: db.Database) -> None:
    gauge = "openmsi_db_pool_checked_out_connections"
    with database.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
        held = value(scrape(client), gauge)
    released = value(scrape(client), gauge)
    assert held is not None and released is not None
    assert held == released + 1


def test_metrics_answer_without_the_database(engine_name: str, tmp_path: Path) -> None:
    """A database that does not answer costs the per-stock figures, never the page."""
    url = {
        "sqlite": f"sqlite:///{tmp_path}/no/such/folder/openmsi.db",
        "postgresql": "postgresql+psycopg://postgres@127.0.0.1:1/openmsi",
        "mariadb": "mysql+pymysql://root@127.0.0.1:1/openmsi",
    }[engine_name]
    settings = Settings(database_url=url, embedded_worker=False, _env_file=None)  # type: ignore[call-arg]
    database = db.Database(db.make_engine(settings))
    try:
        client = TestClient(create_app(settings, database))
        client.get("/health/live")
        samples = scrape(client)
    finally:
        database.dispose()
    assert value(samples, "openmsi_database_up") == 0
    assert requests(samples, "GET", "/health/live", 200) == 1
    assert not any(name.startswith("openmsi_index_") for name, _ in samples)


def test_metrics_can_be_turned_off(settings: Settings, database: db.Database) -> None:
    client = TestClient(create_app(settings.model_copy(update={"metrics": False}), database))
    response = client.get("/metrics")
    assert response.status_code == 404
    # Request ids and health stay.
    live = client.get("/health/live")
    assert live.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", live.headers["x-request-id"])


def test_metrics_is_on_by_default() -> None:
    assert Settings(_env_file=None).metrics is True  # type: ignore[call-arg]


# --- Several API processes --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _wait_until_live(base: str, process: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if _get(f"{base}/health/live")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"openmsi serve did not start:\n{log.read_text()}")


def _pids(folder: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[1] for path in folder.glob("gauge_livesum_*.db")}


@pytest.mark.concurrency
def test_several_processes_add_their_counters_up(database_url: str, tmp_path: Path) -> None:
    """`openmsi serve --workers 2`: whichever process answers /metrics reports every process's
    requests (prometheus-client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR)."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"left by an earlier run")  # emptied by serve
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "OPENMSI_DATABASE_URL": database_url,
        "OPENMSI_EMBEDDED_WORKER": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "openmsi", "serve", "--port", str(port), "--workers", "2"],
            env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_until_live(base, process, log)
        # Both processes keep their figures in the folder: each has its pool gauge's file as soon
        # as its application exists.
        deadline = time.monotonic() + 60
        while len(_pids(folder)) < 2:
            assert time.monotonic() < deadline, sorted(path.name for path in folder.iterdir())
            time.sleep(0.2)
        sent = 40
        for _ in range(sent):  # a new connection each: the kernel hands them to either process
            assert _get(f"{base}/rest/V1/inventory/stocks/1")[0] == 401
        for _ in range(8):
            status, text = _get(f"{base}/metrics")
            assert status == 200, text
            assert requests(parse(text), "GET", STOCK, 401) == sent
        assert len(_pids(folder)) == 2
        assert not (folder / "counter_1.db").exists()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
