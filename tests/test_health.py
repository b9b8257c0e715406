"""GET /health/live and /health/ready (spec admin.md, "Metrics, logs, health"), and the same
readiness test as a command (`python -m openmsi.health`, the worker's health check)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from openmsi import db, schema
from openmsi.app import create_app
from openmsi.settings import Settings


def _settings(url: str) -> Settings:
    return Settings(database_url=url, embedded_worker=False, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def unmigrated_client(empty_database_url: str) -> Iterator[TestClient]:
    """The app on a database without a single table (nothing has migrated it)."""
    database = db.Database(db.make_engine(_settings(empty_database_url)))
    try:
        yield TestClient(create_app(_settings(empty_database_url), database))
    finally:
        database.dispose()


def test_live_answers_without_a_token(client: TestClient) -> None:
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_on_a_migrated_database(client: TestClient) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


def test_ready_is_503_on_a_database_that_was_never_migrated(unmigrated_client: TestClient) -> None:
    response = unmigrated_client.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "reason": f"The database schema has no openmsi tables, not at the latest migration "
        f"{schema.head_revision()}: run `openmsi migrate`.",
    }
    # The process itself is fine.
    assert unmigrated_client.get("/health/live").status_code == 200


def test_ready_is_503_on_a_schema_behind_the_latest_migration(empty_database_url: str) -> None:
    database = db.Database(db.make_engine(_settings(empty_database_url)))
    try:
        schema.upgrade(database.engine, "0001")
        client = TestClient(create_app(_settings(empty_database_url), database))
        response = client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["reason"] == (
            f"The database schema is at revision 0001, not at the latest migration "
            f"{schema.head_revision()}: run `openmsi migrate`."
        )
        schema.upgrade(database.engine)
        assert client.get("/health/ready").status_code == 200
    finally:
        database.dispose()


def test_ready_is_503_when_the_database_does_not_answer(engine_name: str, tmp_path: object) -> None:
    url = {
        "sqlite": f"sqlite:///{tmp_path}/no/such/folder/openmsi.db",
        "postgresql": "postgresql+psycopg://postgres@127.0.0.1:1/openmsi",
        "mariadb": "mysql+pymysql://root@127.0.0.1:1/openmsi",
    }[engine_name]
    database = db.Database(db.make_engine(_settings(url)))
    try:
        response = TestClient(create_app(_settings(url), database)).get("/health/ready")
    finally:
        database.dispose()
    assert response.status_code == 503
    # The driver's message (host, port, path) goes to the log only: anyone may ask this route.
    assert response.json() == {
        "status": "unavailable",
        "reason": "The database does not answer (OperationalError).",
    }


def _health_command(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENMSI_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "openmsi.health"], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_health_command_checks_what_ready_checks(database_url: str, empty_database_url: str) -> None:
    ready = _health_command(database_url)
    assert (ready.returncode, ready.stderr) == (0, "")
    unmigrated = _health_command(empty_database_url)
    assert unmigrated.returncode == 1
    assert "has no openmsi tables" in unmigrated.stderr
    assert "run `openmsi migrate`" in unmigrated.stderr
