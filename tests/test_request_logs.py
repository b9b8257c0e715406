"""Request logs (spec admin.md, "Metrics, logs, health"): one line per request with method, route
template, status, duration, admin user and request id; X-Request-ID echoed or generated; the id
in every line of the request; text or JSON lines; no token, password or cookie in any line."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from openmsi import db, observability, runtime
from openmsi.app import create_app
from openmsi.db import Lane
from openmsi.settings import Settings

STOCK = "/rest/V1/inventory/stocks/{stockId}"
TOKEN_ROUTE = "/rest/V1/integration/admin/token"
GENERATED = re.compile(r"[0-9a-f]{32}")
# <date> <time> INFO openmsi.access [<id>] GET <route> <status> <ms> ms user=<user>
TEXT_ACCESS = re.compile(
    r"\S+ \S+ INFO openmsi\.access \[(?P<request_id>\S+)\] (?P<method>\S+) (?P<route>\S+) "
    r"(?P<status>\d{3}) (?P<duration_ms>\d+\.\d\d) ms user=(?P<user>\S+)"
)
# Where a text line (a log record's first line) starts.
TEXT_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")

Logs = Callable[[], str]


@pytest.fixture(params=["text", "json"])
def log_format(request: pytest.FixtureRequest) -> str:
    fmt: str = request.param
    return fmt


@pytest.fixture
def service_logs(log_format: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Logs]:
    """The logging configuration `openmsi serve` installs (observability.log_config), writing to
    a buffer instead of stderr; the test run's own logging is put back afterwards."""
    root = logging.getLogger()
    names = ("openmsi", "uvicorn", "uvicorn.access")
    saved_root = (root.handlers[:], root.level)
    loggers = [logging.getLogger(name) for name in names]
    saved = {logger.name: (logger.handlers[:], logger.level, logger.propagate) for logger in loggers}
    stream = io.StringIO()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stderr", stream)  # "ext://sys.stderr" is looked up now
        logging.config.dictConfig(observability.log_config(_settings(log_format)))
    try:
        yield stream.getvalue
    finally:
        root.handlers[:], root.level = saved_root
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


def _settings(log_format: str, **overrides: Any) -> Settings:
    return Settings(log_format=log_format, _env_file=None, **overrides)  # type: ignore[call-arg]


def records(text: str, log_format: str) -> list[dict[str, Any]]:
    """Every log record written: JSON objects, or the text lines that start a record."""
    if log_format == "json":
        return [json.loads(line) for line in text.splitlines()]
    entries = []
    for line in text.splitlines():
        if not TEXT_RECORD.match(line):
            continue  # a traceback's continuation lines belong to the record above
        access = TEXT_ACCESS.fullmatch(line)
        request_id = re.search(r" \[(\S+)\] ", line)
        entry: dict[str, Any] = {"line": line, "request_id": request_id.group(1) if request_id else None}
        if access is not None:
            entry.update(access.groupdict(), logger="openmsi.access")
            entry["status"] = int(entry["status"])
            entry["duration_ms"] = float(entry["duration_ms"])
            entry["user"] = None if entry["user"] == "-" else entry["user"]
        entries.append(entry)
    return entries


def access_records(text: str, log_format: str) -> list[dict[str, Any]]:
    return [entry for entry in records(text, log_format) if entry.get("logger") == "openmsi.access"]


def test_one_line_per_request(
    client: TestClient, auth_headers: dict[str, str], service_logs: Logs, log_format: str
) -> None:
    response = client.get("/rest/V1/inventory/stocks/1", headers={**auth_headers, "X-Request-ID": "req-42"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-42"
    assert client.get("/rest/default/V1/inventory/stocks/1").status_code == 401
    assert client.get("/rest/V1/no/such/route").status_code == 404

    first, refused, unmatched = access_records(service_logs(), log_format)
    assert first["request_id"] == "req-42"
    assert (first["method"], first["route"], first["status"], first["user"]) == ("GET", STOCK, 200, "admin")
    assert first["duration_ms"] >= 0
    assert (refused["route"], refused["status"], refused["user"]) == (STOCK, 401, None)
    assert (unmatched["route"], unmatched["status"]) == ("unmatched", 404)
    assert GENERATED.fullmatch(refused["request_id"])
    assert refused["request_id"] != unmatched["request_id"]
    if log_format == "json":
        assert (first["logger"], first["level"]) == ("openmsi.access", "info")
        assert first["message"] == f"GET {STOCK} 200 {first['duration_ms']:.2f} ms user=admin"


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(None, id="absent"),
        pytest.param(b"", id="empty"),
        pytest.param(b"has space", id="space"),
        pytest.param(b"x" * 129, id="too-long"),
        pytest.param(b"caf\xc3\xa9", id="not-ascii"),
        pytest.param(b"line\tbreak", id="control"),
    ],
)
def test_a_missing_or_implausible_request_id_is_replaced(
    client: TestClient, service_logs: Logs, log_format: str, sent: bytes | None
) -> None:
    headers = {} if sent is None else {"X-Request-ID": sent}
    response = client.get("/health/live", headers=headers)  # type: ignore[arg-type]
    request_id = response.headers["x-request-id"]
    assert GENERATED.fullmatch(request_id)
    (line,) = access_records(service_logs(), log_format)
    assert line["request_id"] == request_id


@pytest.mark.parametrize("sent", ["x" * 128, "a-B_9.~:/=+", "!"])
def test_a_plausible_request_id_is_kept(client: TestClient, sent: str) -> None:
    assert client.get("/health/live", headers={"X-Request-ID": sent}).headers["x-request-id"] == sent


@pytest.mark.parametrize("lane", [Lane.READ, Lane.WRITE], ids=["read-thread", "writer-thread"])
def test_every_line_of_a_request_carries_its_id(
    settings: Settings,
    database: db.Database,
    auth_headers: dict[str, str],
    service_logs: Logs,
    log_format: str,
    lane: Lane,
) -> None:
    """Lines written by the work (in a thread) and by the 500 handler (outside the middleware)."""

    def crash(_call: runtime.Call) -> None:
        logging.getLogger("openmsi.test").warning("inside the work")
        raise RuntimeError("the work failed")

    app = create_app(settings, database)
    runtime.mount(
        app, [runtime.Route("POST", "/V1/test/crash", "Magento_InventoryApi::source", lane, work=crash)]
    )
    client = TestClient(app, raise_server_exceptions=False)
    response = client.post(
        "/rest/V1/test/crash", json={}, headers={**auth_headers, "X-Request-ID": "trace-me"}
    )
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-me"

    written = records(service_logs(), log_format)
    assert [entry["request_id"] for entry in written] == ["trace-me"] * 3
    # The access line is written as the error leaves the middleware, before the 500 handler's.
    work, access, error = written
    assert "inside the work" in (work.get("message") or work["line"])
    assert (access["route"], access["status"], access["user"]) == ("/rest/V1/test/crash", 500, "admin")
    assert "unhandled error on POST /rest/V1/test/crash" in (error.get("message") or error["line"])
    if log_format == "json":
        assert "RuntimeError: the work failed" in error["exception"]


COOKIE = "session=cookie-secret-value-1"


def test_no_password_token_or_cookie_is_logged(
    client: TestClient, admin_token: str, service_logs: Logs, log_format: str
) -> None:
    wrong = client.post(TOKEN_ROUTE, json={"username": ADMIN_USERNAME, "password": "wrong-password-xyz"})
    assert wrong.status_code == 401
    issued = client.post(TOKEN_ROUTE, json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    assert issued.status_code == 200
    token = issued.json()
    headers = {"Authorization": f"Bearer {token}", "Cookie": COOKIE}
    assert client.get("/rest/V1/inventory/stocks/1", headers=headers).status_code == 200
    headers = {"Authorization": f"Bearer {admin_token}", "Cookie": COOKIE}
    assert client.get("/rest/V1/inventory/stocks/1", headers=headers).status_code == 200

    written = service_logs()
    lines = access_records(written, log_format)
    assert [(line["route"], line["status"], line["user"]) for line in lines] == [
        (TOKEN_ROUTE, 401, None), (TOKEN_ROUTE, 200, None), (STOCK, 200, "admin"), (STOCK, 200, "admin"),
    ]  # fmt: skip
    for secret in (
        "wrong-password-xyz",
        ADMIN_PASSWORD,
        token,
        admin_token,
        "cookie-secret-value-1",
        "Bearer",
    ):
        assert secret not in written


def test_text_is_the_default_format() -> None:
    config = observability.log_config(Settings(_env_file=None))  # type: ignore[call-arg]
    assert config["formatters"]["openmsi"]["()"] == "openmsi.observability.TextFormatter"
    # uvicorn's access lines would repeat openmsi's.
    assert config["loggers"]["uvicorn.access"]["handlers"] == []


# --- A real `openmsi serve` ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _request(url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_serve_writes_json_lines_once_per_request(
    database_url: str, admin_token: str, tmp_path: Path
) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "OPENMSI_DATABASE_URL": database_url, "OPENMSI_EMBEDDED_WORKER": "false",
           "OPENMSI_LOG_FORMAT": "json"}  # fmt: skip
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "openmsi", "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                _request(f"{base}/health/live")
                break
            except OSError:
                time.sleep(0.1)
        token = _request(f"{base}{TOKEN_ROUTE}", {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
        headers = {"Authorization": f"Bearer {token}", "Cookie": COOKIE, "X-Request-ID": "e2e-1"}
        assert _request(f"{base}/rest/V1/inventory/stocks/1", headers=headers)["stock_id"] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    written = log.read_text()
    entries = [json.loads(line) for line in written.splitlines()]  # every line is JSON
    assert entries[0]["message"].startswith("Database: ")
    assert any(entry["logger"].startswith("uvicorn") for entry in entries)
    access = [entry for entry in entries if entry["logger"] == "openmsi.access"]
    assert [(entry["route"], entry["user"]) for entry in access if entry["route"] != "/health/live"] == [
        (TOKEN_ROUTE, None), (STOCK, "admin"),
    ]  # fmt: skip
    assert access[-1]["request_id"] == "e2e-1"
    for secret in (ADMIN_PASSWORD, token, "cookie-secret-value-1", "Bearer"):
        assert secret not in written


def test_admin_pages_log_their_user_and_never_the_session_cookie(
    app: FastAPI, admin_token: str, service_logs: Logs, log_format: str
) -> None:
    from admin_pages import sign_in

    pages = sign_in(app)
    assert pages.get("/admin/stocks").status_code == 200
    written = service_logs()
    lines = access_records(written, log_format)
    assert (lines[-1]["method"], lines[-1]["route"], lines[-1]["status"], lines[-1]["user"]) == (
        "GET",
        "/admin/stocks",
        200,
        ADMIN_USERNAME,
    )
    for value in pages.cookies.values():
        assert value not in written


def test_the_text_formatter_writes_the_time_as_logging_does() -> None:
    """TextFormatter formats the date once per second: the same text as logging's own."""
    ours = observability.TextFormatter()
    reference = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    base = time.time()
    for offset in (0.0, 0.0004, 0.5, 0.9996, 1.0, 1.001, 59.999, 60.0, 3600.25, -0.001):
        record = logging.LogRecord("openmsi.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
        record.created = base + offset
        record.msecs = (record.created - int(record.created)) * 1000
        record.request_id = "abc"
        assert ours.format(record) == reference.format(record), offset
