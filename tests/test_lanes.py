"""Where ``Database.run`` runs a unit of work (db.Lane): on SQLite a quick read stays on the event
loop, every write runs on the one writer thread, long reads and CPU work run in a thread pool;
a write waiting for SQLite's write lock holds neither the loop nor the reads."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient

from openmsi import db
from openmsi.settings import Settings

SOURCES = "/rest/V1/inventory/sources"


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[db.Database]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'lanes.db'}", _env_file=None)  # type: ignore[call-arg]
    database = db.Database(db.make_engine(settings))
    try:
        yield database
    finally:
        database.dispose()


def threads_of(database: db.Database, lane: db.Lane, times: int = 3) -> tuple[int, list[int]]:
    """The event loop's thread and the threads ``times`` units of work of ``lane`` ran on."""

    async def main() -> tuple[int, list[int]]:
        loop_thread = threading.get_ident()
        return loop_thread, [await database.run(threading.get_ident, lane) for _ in range(times)]

    return anyio.run(main)


def test_sqlite_quick_read_runs_on_the_event_loop(sqlite_database: db.Database) -> None:
    loop_thread, ran_on = threads_of(sqlite_database, db.Lane.QUICK_READ)
    assert ran_on == [loop_thread] * 3


def test_sqlite_writes_all_run_on_one_writer_thread(sqlite_database: db.Database) -> None:
    loop_thread, ran_on = threads_of(sqlite_database, db.Lane.WRITE)
    assert loop_thread not in ran_on
    assert len(set(ran_on)) == 1
    (writer,) = [thread for thread in threading.enumerate() if thread.ident == ran_on[0]]
    assert writer.name.startswith("openmsi-writer")


@pytest.mark.parametrize("lane", [db.Lane.READ, db.Lane.CPU], ids=["read", "cpu"])
def test_sqlite_long_reads_and_cpu_work_leave_the_event_loop(
    sqlite_database: db.Database, lane: db.Lane
) -> None:
    loop_thread, ran_on = threads_of(sqlite_database, lane)
    assert loop_thread not in ran_on
    assert not any(
        thread.name.startswith("openmsi-writer") for thread in threading.enumerate() if thread.ident in ran_on
    )


def test_cpu_work_leaves_the_event_loop_on_every_engine(database: db.Database) -> None:
    loop_thread, ran_on = threads_of(database, db.Lane.CPU)
    assert loop_thread not in ran_on


def test_write_errors_reach_the_caller_and_the_writer_goes_on(sqlite_database: db.Database) -> None:
    def fail() -> None:
        raise ValueError("boom")

    async def main() -> int:
        with pytest.raises(ValueError, match="boom"):
            await sqlite_database.run(fail, db.Lane.WRITE)
        return await sqlite_database.run(lambda: 42, db.Lane.WRITE)

    assert anyio.run(main) == 42


def test_dispose_stops_the_writer_thread(sqlite_database: db.Database) -> None:
    _, (writer_id, *_) = threads_of(sqlite_database, db.Lane.WRITE)
    (writer,) = [thread for thread in threading.enumerate() if thread.ident == writer_id]
    sqlite_database.dispose()
    writer.join(timeout=10)
    assert not writer.is_alive()


def test_an_sqlite_app_serves_with_a_short_switch_interval(tmp_path: Path, settings: Settings) -> None:
    """On SQLite the loop gets the interpreter back from a busy writer thread within 1 ms, not
    Python's 5 ms; the interval is put back when the app stops. Other engines leave it alone."""
    from openmsi.app import SQLITE_SWITCH_INTERVAL_S, create_app

    before = sys.getswitchinterval()
    sqlite = Settings(database_url=f"sqlite:///{tmp_path / 'app.db'}", embedded_worker=False, _env_file=None)  # type: ignore[call-arg]
    for app_settings, expected in ((sqlite, SQLITE_SWITCH_INTERVAL_S), (settings, None)):
        with TestClient(create_app(app_settings)):
            if expected is not None or not settings.database_url.startswith("sqlite"):
                assert sys.getswitchinterval() == (before if expected is None else expected)
        assert sys.getswitchinterval() == before


def test_lifespan_stops_the_writer_thread(tmp_path: Path) -> None:
    from openmsi.app import create_app

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}", embedded_worker=False, _env_file=None
    )  # type: ignore[call-arg]
    before = set(threading.enumerate())
    with TestClient(create_app(settings)) as client:
        client.post(SOURCES, json={})  # 401, but through the writer thread
        writers = [
            thread
            for thread in set(threading.enumerate()) - before
            if thread.name.startswith("openmsi-writer")
        ]
        assert writers
    for writer in writers:
        writer.join(timeout=10)
        assert not writer.is_alive()


def test_a_write_waiting_for_sqlites_lock_holds_up_no_read(
    engine_name: str, database: db.Database, auth_headers: dict[str, str], live_server: str
) -> None:
    if engine_name != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    # Another process (here: another connection) holds the write lock: the write below waits
    # for it, up to the busy timeout.
    holder = sqlite3.connect(database.engine.url.database or "", isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")
    write_status: list[int] = []

    def write() -> None:
        body = {"source": {"source_code": "waiting", "name": "W", "country_id": "US", "postcode": "1"}}
        with httpx.Client(base_url=live_server, headers=auth_headers, timeout=60) as http:
            write_status.append(http.post(SOURCES, json=body).status_code)

    writer = threading.Thread(target=write)
    try:
        writer.start()
        writer.join(timeout=1.0)  # let the write reach the lock
        assert writer.is_alive(), "the write did not wait for the lock"
        with httpx.Client(base_url=live_server, headers=auth_headers, timeout=10) as http:
            assert http.get(f"{SOURCES}/default").status_code == 200
            assert http.get(SOURCES).status_code == 200
        assert writer.is_alive(), "the reads were answered only after the write"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        writer.join(timeout=60)
    assert write_status == [200]


def test_request_bodies_are_decoded_off_the_event_loop(
    client: TestClient, auth_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from openmsi import webapi

    decoded_on: list[str] = []
    decode = webapi.decode_json_body

    def recording_decode(body: bytes) -> dict[str, object]:
        try:
            asyncio.get_running_loop()
            decoded_on.append("the event loop")
        except RuntimeError:
            decoded_on.append(threading.current_thread().name)
        return decode(body)

    monkeypatch.setattr(webapi, "decode_json_body", recording_decode)
    body = {"source": {"source_code": "decoded", "name": "D", "country_id": "US", "postcode": "1"}}
    assert client.post(SOURCES, json=body, headers=auth_headers).status_code == 200
    assert len(decoded_on) == 1
    assert decoded_on != ["the event loop"]
