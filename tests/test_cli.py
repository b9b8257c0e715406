"""`openmsi migrate` and the start-up rule of `openmsi serve` (SQLite migrates itself, shared
servers must be migrated on purpose); the index commands `reindex`, `worker`, `index verify`
and `index status`."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from conftest import SERVER_URLS
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
)
from openmsi import db, jobs, schema
from openmsi.app import PendingMigrations, prepare_database
from openmsi.cli import app
from openmsi.models import StockIndexRow
from openmsi.settings import Settings, get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _database(url: str) -> db.Database:
    return db.Database(db.make_engine(Settings(database_url=url, _env_file=None)))  # type: ignore[call-arg]


def test_migrate_brings_an_empty_database_to_head(empty_database_url: str) -> None:
    result = runner.invoke(app, ["migrate"], env={"OPENMSI_DATABASE_URL": empty_database_url})
    assert result.exit_code == 0, result.output
    assert f"revision {schema.head_revision()}" in result.output
    database = _database(empty_database_url)
    try:
        assert schema.is_up_to_date(database.engine)
    finally:
        database.dispose()


def test_serve_refuses_a_server_database_with_pending_migrations(
    engine_name: str, empty_database_url: str
) -> None:
    if engine_name == "sqlite":
        pytest.skip("SQLite is migrated by `serve` itself")
    result = runner.invoke(app, ["serve", "--port", "1"], env={"OPENMSI_DATABASE_URL": empty_database_url})
    assert result.exit_code == 1
    assert "openmsi migrate" in result.output
    database = _database(empty_database_url)
    try:
        assert schema.current_revision(database.engine) is None
    finally:
        database.dispose()


def test_prepare_database_migrates_sqlite_only(engine_name: str, empty_database_url: str) -> None:
    database = _database(empty_database_url)
    try:
        if engine_name == "sqlite":
            prepare_database(database)
            assert schema.is_up_to_date(database.engine)
        else:
            with pytest.raises(PendingMigrations):
                prepare_database(database)
            schema.upgrade(database.engine)
            prepare_database(database)
    finally:
        database.dispose()


# --- Index operations: reindex, worker, index verify, index status -----------------------------


@pytest.fixture
def stocked(client: TestClient, auth_headers: dict[str, str], database: db.Database) -> db.Database:
    """Stock 10 with two items, the default stock with one, and every index row corrupted."""
    create_stock_with_items(client, auth_headers)
    assert differences(database) == []
    corrupt_index(database)
    return database


def test_reindex_rebuilds_every_stock(stocked: db.Database, database_url: str) -> None:
    result = invoke(database_url, "reindex")
    assert result.exit_code == 0, result.output
    assert re.search(r"Rebuilt 2 stock\(s\): 3 index row\(s\) in \d+\.\d\d s\.", result.stdout)
    assert "Rebuilding" in result.stderr  # the progress bar
    assert differences(stocked) == []
    assert index_rows(stocked) == EXPECTED_INDEX


def test_reindex_of_one_stock_leaves_the_others_alone(stocked: db.Database, database_url: str) -> None:
    result = invoke(database_url, "reindex", "--stock", "10")
    assert result.exit_code == 0, result.output
    assert "Rebuilt 1 stock(s): 2 index row(s)" in result.stdout
    assert [row[:2] for row in differences(stocked)] == [(1, "sku-c")]

    result = invoke(database_url, "reindex", "--stock", "1", "--stock", "10")
    assert result.exit_code == 0, result.output
    assert "Rebuilt 2 stock(s): 3 index row(s)" in result.stdout
    assert differences(stocked) == []


def test_reindex_of_an_unknown_stock_fails_and_changes_nothing(
    stocked: db.Database, database_url: str
) -> None:
    before = index_rows(stocked)
    result = invoke(database_url, "reindex", "--stock", "10", "--stock", "99")
    assert result.exit_code == 1
    assert "No stock with id 99." in result.stderr
    assert index_rows(stocked) == before
    result = invoke(database_url, "reindex", "--stock", "99", "--enqueue")
    assert result.exit_code == 1
    assert job_rows(stocked) == []


def test_reindex_enqueue_only_queues_and_worker_once_runs_the_jobs(
    stocked: db.Database, database_url: str
) -> None:
    before = index_rows(stocked)
    result = invoke(database_url, "reindex", "--enqueue", "--stock", "10")
    assert result.exit_code == 0, result.output
    assert "Queued a rebuild of 1 stock(s)" in result.stdout
    assert index_rows(stocked) == before
    assert [(job.status, job.payload["stock_id"]) for job in job_rows(stocked)] == [("queued", 10)]
    # Queued twice: still one job.
    assert invoke(database_url, "reindex", "--enqueue").exit_code == 0
    assert [(job.status, job.payload["stock_id"]) for job in job_rows(stocked)] == [
        ("queued", 10),
        ("queued", 1),
    ]

    result = invoke(database_url, "worker", "--once")
    assert result.exit_code == 0, result.output
    assert "Ran 2 job(s)." in result.stdout
    assert [(job.status, job.attempts) for job in job_rows(stocked)] == [("done", 1), ("done", 1)]
    assert differences(stocked) == []

    result = invoke(database_url, "worker", "--once")
    assert result.exit_code == 0, result.output
    assert "Ran 0 job(s)." in result.stdout


def test_index_verify_reports_every_difference(
    client: TestClient, auth_headers: dict[str, str], database: db.Database, database_url: str
) -> None:
    create_stock_with_items(client, auth_headers)
    result = invoke(database_url, "index", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout == "The index of 2 stock(s) matches a fresh aggregation.\n"

    corrupt_index(database)
    result = invoke(database_url, "index", "verify")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "stock 1 sku sku-c: index quantity=7 is_salable=no, fresh quantity=7 is_salable=yes",
        "stock 10 sku sku-a: index quantity=99 is_salable=yes, fresh quantity=8 is_salable=yes",
        "stock 10 sku sku-b: index quantity=- is_salable=-, fresh quantity=0 is_salable=no",
    ]
    assert "3 difference(s) in 2 of 2 stock(s): run `openmsi reindex`." in result.stderr

    result = invoke(database_url, "index", "verify", "--stock", "1")
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1
    assert "1 difference(s) in 1 of 1 stock(s)" in result.stderr

    assert invoke(database_url, "index", "verify", "--stock", "42").exit_code == 1
    assert invoke(database_url, "reindex").exit_code == 0
    assert invoke(database_url, "index", "verify").exit_code == 0


def test_index_verify_reports_rows_of_a_stock_that_no_longer_exists(
    client: TestClient, auth_headers: dict[str, str], database: db.Database, database_url: str
) -> None:
    create_stock_with_items(client, auth_headers)
    with database.write_sessions.begin() as session:
        session.execute(
            StockIndexRow.__table__.insert(),
            [{"stock_id": 77, "sku": "ghost", "quantity": Decimal(3), "is_salable": True}],
        )
    result = invoke(database_url, "index", "verify")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "stock 77 sku ghost: index quantity=3 is_salable=yes, fresh quantity=- is_salable=-"
    ]
    assert invoke(database_url, "index", "verify", "--stock", "10").exit_code == 0
    # A full reindex removes them.
    assert invoke(database_url, "reindex").exit_code == 0
    assert invoke(database_url, "index", "verify").exit_code == 0
    with database.read_sessions() as session:
        assert session.scalar(select(StockIndexRow.stock_id).where(StockIndexRow.stock_id == 77)) is None


def test_index_status_prints_what_the_endpoint_answers(
    stocked: db.Database, database_url: str, client: TestClient, auth_headers: dict[str, str]
) -> None:
    enqueue(stocked, 10)
    result = invoke(database_url, "index", "status", "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    answered = client.get(STATUS, headers=auth_headers).json()
    for report in (printed, answered):
        for entry in report["stocks"]:
            if entry["oldest_pending_age_seconds"] is not None:
                entry["oldest_pending_age_seconds"] = "some"
    assert printed == answered
    assert [entry["pending_jobs"] for entry in printed["stocks"]] == [0, 1]

    result = invoke(database_url, "index", "status")
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["stock", "index", "rows", "pending", "oldest", "(s)", "failed"]
    assert lines[1] == ["1", "1", "0", "-", "0"]
    assert lines[2][:3] == ["10", "1", "1"] and lines[2][4] == "0"  # sku-b's row is missing
    assert float(lines[2][3]) >= 0


@pytest.mark.parametrize(
    "command",
    [["reindex"], ["reindex", "--enqueue"], ["worker", "--once"], ["index", "verify"], ["index", "status"]],
)
def test_index_commands_refuse_a_server_database_with_pending_migrations(
    engine_name: str, empty_database_url: str, command: list[str]
) -> None:
    if engine_name == "sqlite":
        pytest.skip("SQLite is migrated by the command itself")
    result = invoke(empty_database_url, *command)
    assert result.exit_code == 1
    assert "run `openmsi migrate` first" in result.stderr


def test_worker_runs_until_sigterm_then_stops_gracefully(stocked: db.Database, database_url: str) -> None:
    enqueue(stocked, 1, 10)
    env = {**os.environ, "OPENMSI_DATABASE_URL": database_url, "OPENMSI_WORKER_POLL_SECONDS": "0.1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "openmsi", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        # Only the rebuilds: a starting worker also queues the reservation cleanup's next run.
        while {job.status for job in job_rows(stocked) if job.kind == jobs.REINDEX_STOCK} != {"done"}:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the worker did not run the jobs"
            time.sleep(0.1)
        assert differences(stocked) == []
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "waiting for jobs" in stderr
    assert "SIGTERM: stopping after the current job." in stderr
    assert stderr.rstrip().endswith("Worker stopped.")


# --- Admin users: list, unlock, password, deactivate, activate --------------------------------

TOKEN = "/rest/V1/integration/admin/token"
WEBSITES = "/rest/V1/store/websites"


def _login(client: TestClient, username: str, password: str) -> int:
    return client.post(TOKEN, json={"username": username, "password": password}).status_code


def _token(client: TestClient, username: str, password: str) -> dict[str, str]:
    response = client.post(TOKEN, json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()}"}


@pytest.fixture
def operator(client: TestClient, admin_token: str, database_url: str) -> str:
    """A second admin user, "operator" with password "operator-pw-1"."""
    result = invoke(database_url, "admin", "create", "--username", "operator", "--password", "operator-pw-1")
    assert result.exit_code == 0, result.output
    return "operator"


def _lock(client: TestClient, username: str) -> None:
    for _ in range(get_settings().login_max_failures):
        assert _login(client, username, "wrong") == 401


def test_admin_list_shows_who_is_active_and_who_is_locked(
    client: TestClient, operator: str, database_url: str
) -> None:
    # Not the session's "admin": deactivating it would revoke the token every other test uses.
    created = invoke(database_url, "admin", "create", "--username", "retired", "--password", "retired-pw-1")
    assert created.exit_code == 0, created.output
    assert invoke(database_url, "admin", "deactivate", "--username", "retired").exit_code == 0
    _lock(client, "operator")
    result = invoke(database_url, "admin", "list")
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["username", "active", "locked", "until"]
    assert lines[1] == ["admin", "yes", "-"]
    assert lines[2][:2] == ["operator", "yes"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", lines[2][2]) and re.fullmatch(r"\d\d:\d\d:\d\dZ", lines[2][3])
    assert lines[3] == ["retired", "no", "-"]
    assert len(lines) == 4


def test_admin_unlock_lifts_a_lockout(client: TestClient, operator: str, database_url: str) -> None:
    _lock(client, "operator")
    assert _login(client, "operator", "operator-pw-1") == 401
    result = invoke(database_url, "admin", "unlock", "--username", "OPERATOR")
    assert result.exit_code == 0, result.output
    assert result.stdout == 'Admin user "operator" unlocked.\n'
    assert _login(client, "operator", "operator-pw-1") == 200
    # Unlocking a user that is not locked is fine too.
    assert invoke(database_url, "admin", "unlock", "--username", "operator").exit_code == 0


def test_admin_password_sets_a_new_one_and_revokes_the_tokens(
    client: TestClient, operator: str, database_url: str
) -> None:
    headers = _token(client, "operator", "operator-pw-1")
    other_user = _token(client, "admin", "admin-password-1")
    result = invoke(database_url, "admin", "password", "--username", "operator", "--password", "new-secret-2")
    assert result.exit_code == 0, result.output
    assert result.stdout == 'Password of admin user "operator" changed; 1 token(s) revoked.\n'
    assert client.get(WEBSITES, headers=headers).status_code == 401
    assert client.get(WEBSITES, headers=other_user).status_code == 200
    assert _login(client, "operator", "operator-pw-1") == 401
    assert _login(client, "operator", "new-secret-2") == 200


def test_admin_password_prompts_hidden_and_confirmed(
    client: TestClient, operator: str, database_url: str
) -> None:
    result = runner.invoke(
        app,
        ["admin", "password", "--username", "operator"],
        input="prompted-pw-3\nprompted-pw-3\n",
        env={"OPENMSI_DATABASE_URL": database_url},
    )
    assert result.exit_code == 0, result.output
    assert "prompted-pw-3" not in result.output
    assert _login(client, "operator", "prompted-pw-3") == 200


def test_admin_password_keeps_the_length_rule(client: TestClient, operator: str, database_url: str) -> None:
    result = invoke(database_url, "admin", "password", "--username", "operator", "--password", "short")
    assert result.exit_code == 1
    assert "The password must be at least 7 characters long." in result.stderr
    assert _login(client, "operator", "operator-pw-1") == 200


def test_admin_deactivate_refuses_tokens_at_once_and_activate_restores_sign_in(
    client: TestClient, operator: str, database_url: str
) -> None:
    headers = _token(client, "operator", "operator-pw-1")
    assert client.get(WEBSITES, headers=headers).status_code == 200
    result = invoke(database_url, "admin", "deactivate", "--username", "operator")
    assert result.exit_code == 0, result.output
    assert result.stdout == 'Admin user "operator" deactivated; 1 token(s) revoked.\n'
    assert client.get(WEBSITES, headers=headers).status_code == 401
    assert _login(client, "operator", "operator-pw-1") == 401

    result = invoke(database_url, "admin", "activate", "--username", "operator")
    assert result.exit_code == 0, result.output
    assert result.stdout == 'Admin user "operator" activated.\n'
    assert client.get(WEBSITES, headers=headers).status_code == 401  # revoked stays revoked
    assert client.get(WEBSITES, headers=_token(client, "operator", "operator-pw-1")).status_code == 200


@pytest.mark.parametrize(
    "command",
    [
        ["unlock"],
        ["password", "--password", "long-enough-1"],
        ["deactivate"],
        ["activate"],
    ],
)
def test_admin_commands_refuse_an_unknown_user(
    admin_token: str, database_url: str, command: list[str]
) -> None:
    result = invoke(database_url, "admin", *command[:1], "--username", "nobody", *command[1:])
    assert result.exit_code == 1
    database_line, message = result.stderr.split("\n", 1)
    assert database_line.startswith("Database: ")
    assert message == 'There is no admin user named "nobody".\n'


def test_admin_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["admin", "--help"])
    assert result.exit_code == 0
    for name in ("create", "list", "unlock", "password", "deactivate", "activate"):
        assert re.search(rf"^\s*│?\s*{name}\s", result.stdout, re.MULTILINE), name


# --- Which database, and never an empty one made on the way -----------------------------------


UNREACHABLE = "postgresql+psycopg://openmsi:s3cret-pw@127.0.0.1:1/openmsi"


@pytest.mark.parametrize(
    "command",
    [["admin", "list"], ["index", "status", "--json"], ["migrate"], ["serve", "--port", "1"], ["worker"]],
    ids=lambda command: command[0],
)
def test_commands_name_their_database_on_stderr_with_the_password_masked(command: list[str]) -> None:
    result = invoke(UNREACHABLE, *command)
    assert result.exit_code == 1
    assert result.stderr.startswith("Database: postgresql+psycopg://openmsi:***@127.0.0.1:1/openmsi\n")
    assert "Cannot connect to the database:" in result.stderr
    assert "s3cret-pw" not in result.output
    assert result.stdout == ""


def test_json_output_stays_clean_beside_the_database_line(database: db.Database, database_url: str) -> None:
    result = invoke(database_url, "index", "status", "--json")
    assert result.exit_code == 0, result.output
    assert "stocks" in json.loads(result.stdout)
    assert result.stderr.startswith("Database: ")


MISSING_FILE_COMMANDS = [
    ["admin", "create", "--username", "someone", "--password", "long-enough"],
    ["admin", "list"],
    ["website", "create", "--code", "c1", "--name", "N"],
    ["reindex"],
    ["worker", "--once"],
    ["index", "status"],
    ["index", "verify"],
    ["reservations", "inconsistencies"],
]


@pytest.mark.parametrize("command", MISSING_FILE_COMMANDS, ids=lambda command: "-".join(command[:2]))
def test_a_command_on_a_missing_sqlite_file_says_so_and_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "missing.db"
    result = invoke(f"sqlite:///{path}", *command)
    assert result.exit_code == 1
    assert f"The database file {path} does not exist. Create it with `openmsi migrate`" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["migrate"]], ids=["serve", "migrate"])
def test_serve_and_migrate_say_when_a_sqlite_folder_is_missing(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "no" / "such" / "openmsi.db"
    result = invoke(f"sqlite:///{path}", *command)
    assert result.exit_code == 1
    assert f"Cannot open the database file {path}: unable to open database file" in result.stderr
    assert "Its folder must exist and be writable." in result.stderr


def test_migrate_creates_the_missing_sqlite_file_the_others_then_use(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert invoke(url, "admin", "list").exit_code == 1
    migrated = invoke(url, "migrate")
    assert migrated.exit_code == 0, migrated.output
    listed = invoke(url, "admin", "list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.startswith("username")


def test_a_command_on_a_missing_server_database_says_how_to_fix_it(engine_name: str) -> None:
    if engine_name == "sqlite":
        pytest.skip("a server database")
    url = make_url(SERVER_URLS[engine_name]).set(database="openmsi_no_such_database")
    result = invoke(url.render_as_string(hide_password=False), "admin", "list")
    assert result.exit_code == 1
    assert "Cannot connect to the database:" in result.stderr
    assert re.search(r'database "openmsi_no_such_database" does not exist|Unknown database', result.stderr)
    assert "then run `openmsi migrate`" in result.stderr


def test_a_command_on_an_unmigrated_server_database_says_how_to_fix_it(
    engine_name: str, empty_database_url: str
) -> None:
    if engine_name == "sqlite":
        pytest.skip("SQLite is migrated by the command itself")
    result = invoke(
        empty_database_url, "admin", "create", "--username", "someone", "--password", "long-enough"
    )
    assert result.exit_code == 1
    assert "The database has no openmsi schema yet: run `openmsi migrate` first." in result.stderr
    database = _database(empty_database_url)
    try:
        assert schema.current_revision(database.engine) is None
    finally:
        database.dispose()


# --- migrate --wait ------------------------------------------------------------------------------


def test_migrate_wait_gives_up_after_the_time_given() -> None:
    result = invoke(UNREACHABLE, "migrate", "--wait", "1")
    assert result.exit_code == 1
    assert "Waiting up to 1 s for the database to answer." in result.stderr
    assert "Cannot connect to the database:" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _LateServer:
    """A TCP port that refuses connections for ``delay`` seconds (a database server still
    starting), then forwards each connection to the real server."""

    def __init__(self, target: tuple[str, int], delay: float) -> None:
        self.target = target
        self.delay = delay
        self.port = _free_port()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> _LateServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)

    def _serve(self) -> None:
        if self.stopping.wait(self.delay):
            return
        with socket.create_server(("127.0.0.1", self.port)) as server:
            server.settimeout(0.1)
            while not self.stopping.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection(self.target)
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            end.close()


def test_migrate_wait_outlasts_a_server_that_is_still_starting(
    engine_name: str, empty_database_url: str
) -> None:
    if engine_name == "sqlite":
        pytest.skip("a server database")
    url = make_url(empty_database_url)
    with _LateServer((url.host or "127.0.0.1", url.port or 0), delay=1.5) as late:
        result = invoke(
            url.set(port=late.port).render_as_string(hide_password=False), "migrate", "--wait", "30"
        )
    assert result.exit_code == 0, result.output
    assert "Waiting up to 30 s for the database to answer." in result.stderr
    assert f"revision {schema.head_revision()}" in result.stdout
    database = _database(empty_database_url)
    try:
        assert schema.is_up_to_date(database.engine)
    finally:
        database.dispose()


# --- Help -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        ([], []),
        (["serve"], ["--host", "--port", "--workers"]),
        (["migrate"], ["--revision", "--wait"]),
        (["reindex"], ["--enqueue"]),
        (["worker"], ["--once"]),
        (["index", "status"], ["--json"]),
        (["reservations", "inconsistencies"], ["--json"]),
        (["admin", "create"], ["--username", "--password"]),
    ],
    ids=lambda value: "-".join(value) or "openmsi",
)
def test_help_shows_flags_without_a_value_type(command: list[str], flags: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.stdout
    for flag in flags:
        assert re.search(rf"^\s+{flag}\b", result.stdout, re.MULTILINE), flag
    assert re.search(r"^\s+--help\s+Show this message and exit\.$", result.stdout, re.MULTILINE)


def test_the_command_names_are_the_project_interface() -> None:
    result = runner.invoke(app, ["--help"])
    listed = set(re.findall(r"^  (\w+)\s", result.stdout.split("Commands:", 1)[1], re.MULTILINE))
    assert {"serve", "migrate", "admin", "website", "reindex", "worker", "index", "reservations"} <= listed
