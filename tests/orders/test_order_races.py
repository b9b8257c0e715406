"""No oversell under concurrency (spec orders.md, "No oversell"), and no needless waiting.

- 40 clients at once order 1 unit each of a SKU that has 10 salable units: exactly 10 orders
  are placed, the others get the 400 envelope, nothing is left to sell and the SKU's
  reservations sum to −10; 20 rounds, on every engine (one server process, its threads).
- On PostgreSQL and MariaDB the same from two `openmsi serve` processes on one database.
- Placements of different SKUs of one stock do not wait for each other there; placements of
  the same SKU do (the control that shows the locks are real).
- Mixed traffic (placements, cancellations, shipments, some of them by source selection,
  source-item saves, link changes at once) leaves the index equal to a fresh aggregation and
  every order's reservations equal to minus its open quantities.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import exc, select, text
from sqlalchemy.orm import Session

import order_helpers
from factories import INVENTORY, index_differences, put_source_items, source_item
from openmsi import db, errors
from openmsi.indexer.service import Indexing
from openmsi.inventory import service as inventory_service
from openmsi.models import Reservation
from openmsi.orders import repository as orders_repository
from openmsi.orders import service as orders_service
from openmsi.sales import consistency
from openmsi.settings import Settings
from order_helpers import ORDERS, order_body, reserved, salable_qty, stored_orders

tutorial = order_helpers.tutorial  # the setting of these tests (a fixture)
pytestmark = [pytest.mark.concurrency, pytest.mark.usefixtures("tutorial")]

CLIENTS = 40
UNITS = 10
ROUNDS = 20
NOT_ENOUGH = {
    "message": "Not enough items for sale",
    "errors": [{"message": "%1: %2", "parameters": ["<sku>", "Not enough items for sale"]}],
}


def _race(bases: list[str], headers: dict[str, str], rounds: int, prefix: str) -> list[list[tuple[int, Any]]]:
    """Each round, CLIENTS threads (clients spread over the servers) order 1 of SKU
    ``<prefix>-<round>`` at once; the answers of each round."""
    barrier = threading.Barrier(CLIENTS)
    clients = [
        httpx.Client(base_url=bases[n % len(bases)], headers=headers, timeout=120) for n in range(CLIENTS)
    ]

    def order(round_: int, client: int) -> tuple[int, Any]:
        barrier.wait(timeout=120)
        body = order_body(f"{prefix}-{round_}-{client}", (f"{prefix}-{round_}", 1))
        response = clients[client].post(ORDERS, json=body)
        return response.status_code, response.json()

    results = []
    try:
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            for round_ in range(rounds):
                results.append(list(pool.map(order, [round_] * CLIENTS, range(CLIENTS))))
    finally:
        for http in clients:
            http.close()
    return results


def _assert_no_oversell(
    results: list[list[tuple[int, Any]]], client: Any, headers: dict[str, str], session: Session, prefix: str
) -> None:
    for round_, answers in enumerate(results):
        sku = f"{prefix}-{round_}"
        statuses = sorted(status for status, _ in answers)
        assert statuses == [200] * UNITS + [400] * (CLIENTS - UNITS), (round_, answers)
        refused = [body for status, body in answers if status == 400]
        expected = {
            **NOT_ENOUGH,
            "errors": [{"message": "%1: %2", "parameters": [sku, "Not enough items for sale"]}],
        }
        assert all(body == expected for body in refused), refused
        assert salable_qty(client, headers, sku, 2) == 0
        assert reserved(session, 2, sku) == -UNITS
    placed = stored_orders(session)
    assert len(placed) == UNITS * len(results)


@pytest.fixture
def race_skus(client: TestClient, auth_headers: dict[str, str]) -> Any:
    def stock(prefix: str, rounds: int) -> None:
        items = [source_item(f"{prefix}-{round_}", "baltimore_wh", UNITS, 1) for round_ in range(rounds)]
        put_source_items(client, auth_headers, items)

    return stock


def test_concurrent_placements_never_oversell(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    settings: Settings,
    live_server: str,
    race_skus: Any,
) -> None:
    race_skus("RACE", ROUNDS)
    results = _race([live_server], auth_headers, ROUNDS, "RACE")
    _assert_no_oversell(results, client, auth_headers, session, "RACE")
    assert index_differences(session, settings) == []


# --- Two server processes --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_serving(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"openmsi serve exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"{base}/rest/V1/store/websites", timeout=1)
        except urllib.error.HTTPError:
            return  # 401 without a token: it is serving
        except OSError:
            time.sleep(0.1)
    raise AssertionError("openmsi serve did not start")


@pytest.fixture
def two_servers(database: db.Database, database_url: str, tmp_path: Path) -> Iterator[list[str]]:
    """Two `openmsi serve` processes on the test database."""
    if database.inline:
        pytest.skip("SQLite: one process serves a database file (README)")
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENMSI_")}
    # At most 20 connections each: with the test process's own and other suites on the same
    # server, PostgreSQL's default 100 clients must not run out ("too many clients": a 503).
    env.update(
        OPENMSI_DATABASE_URL=database_url,
        OPENMSI_EMBEDDED_WORKER="false",
        OPENMSI_POOL_SIZE="10",
        OPENMSI_POOL_MAX_OVERFLOW="10",
    )
    openmsi = str(Path(sys.executable).parent / "openmsi")
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Any] = []
    bases = []
    try:
        for number in range(2):
            port = _free_port()
            # The servers' own log lines, for a failure's report (request log, tracebacks).
            log = (tmp_path / f"serve-{number}.log").open("wb")
            logs.append(log)
            process = subprocess.Popen(
                [openmsi, "serve", "--port", str(port)],
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            processes.append(process)
            bases.append(f"http://127.0.0.1:{port}")
        for base, process in zip(bases, processes, strict=True):
            _wait_until_serving(base, process)
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for log in logs:
            log.close()


PROCESS_ROUNDS = 5


def test_placements_from_two_processes_never_oversell(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    settings: Settings,
    two_servers: list[str],
    race_skus: Any,
    tmp_path: Path,
) -> None:
    race_skus("PROC", PROCESS_ROUNDS)
    results = _race(two_servers, auth_headers, PROCESS_ROUNDS, "PROC")
    try:
        _assert_no_oversell(results, client, auth_headers, session, "PROC")
    except AssertionError as failure:
        logs = "\n".join(
            path.read_text(errors="replace")[-6000:] for path in sorted(tmp_path.glob("serve-*.log"))
        )
        raise AssertionError(f"{failure}\n--- the servers' logs ---\n{logs}") from None
    assert index_differences(session, settings) == []


# --- Who waits for whom ----------------------------------------------------------------------


def _lock_timeout(session: Session) -> None:
    """A lock wait in this transaction fails after 2 s instead of waiting (how a wait shows)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL lock_timeout = '2s'"))
    else:
        session.execute(text("SET SESSION innodb_lock_wait_timeout = 2"))


def test_placements_of_other_skus_do_not_wait_for_each_other(
    settings: Settings, client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    database = db.Database(db.make_engine(settings))  # its own connections, reset when disposed
    if database.inline:
        database.dispose()
        pytest.skip("SQLite serialises every writer (BEGIN IMMEDIATE)")
    indexing = Indexing.from_settings(settings)

    def request(increment_id: str, sku: str) -> dict[str, Any]:
        body: dict[str, Any] = order_body(increment_id, (sku, 1))["order"]
        return body

    try:
        with database.write_sessions() as holder:
            # Placed and not committed: its locks stay held.
            orders_service.place_order(holder, indexing, request("W-1", "24-WB01"))
            with database.write_sessions() as other:
                _lock_timeout(other)
                answer = orders_service.place_order(other, indexing, request("W-2", "24-WB03"))
                other.commit()
            assert answer["status"] == "placed"
            with database.write_sessions() as same, pytest.raises(exc.OperationalError):
                _lock_timeout(same)
                orders_service.place_order(same, indexing, request("W-3", "24-WB01"))
            holder.commit()
    finally:
        database.dispose()
    assert sorted(stored_orders(session)) == ["W-1", "W-2"]
    assert salable_qty(client, auth_headers, "24-WB01", 2) == 69
    assert salable_qty(client, auth_headers, "24-WB03", 2) == 43


# --- One increment id, placed concurrently ------------------------------------------------------


@pytest.mark.parametrize(
    ("sku", "outcome"),
    [
        pytest.param("24-WB03", "other content", id="other-content"),
        pytest.param("24-WB01", "retry", id="same-content"),
    ],
)
def test_a_placement_that_loses_the_increment_id_race(
    settings: Settings, session: Session, monkeypatch: pytest.MonkeyPatch, sku: str, outcome: str
) -> None:
    """The second placement of an increment id starts before the first commits (a placement does
    not look for its increment id first), and inserts its order only to find the key taken
    (having waited for the first's commit, on the index row or on the key, where that had not
    happened yet): it answers as to a retry (the same order) or with the 400 for other content,
    writes nothing, and never fails on the unique key."""
    database = db.Database(db.make_engine(settings))
    if database.inline:
        database.dispose()
        pytest.skip("SQLite serialises every writer (BEGIN IMMEDIATE)")
    indexing = Indexing.from_settings(settings)
    inserted: list[Any] = []
    insert_order, resolve_stock_id = orders_repository.insert_order, inventory_service.resolve_stock_id
    started = threading.Event()

    def spy_insert(*args: Any) -> Any:
        order = insert_order(*args)
        inserted.append(order)
        return order

    def spy_resolve(*args: Any) -> Any:
        stock_id = resolve_stock_id(*args)
        if threading.current_thread() is not threading.main_thread():
            started.set()
        return stock_id

    monkeypatch.setattr(orders_repository, "insert_order", spy_insert)
    monkeypatch.setattr(inventory_service, "resolve_stock_id", spy_resolve)
    first: dict[str, Any] = order_body("DUP-1", ("24-WB01", 2))["order"]
    second: dict[str, Any] = order_body("DUP-1", (sku, 2))["order"]
    result: list[Any] = []

    def place_second() -> None:
        with database.write_sessions() as other:
            try:
                result.append(orders_service.place_order(other, indexing, second))
                other.commit()
            except Exception as error:
                result.append(error)

    try:
        with database.write_sessions() as holder:
            orders_service.place_order(holder, indexing, first)
            thread = threading.Thread(target=place_second)
            thread.start()
            assert started.wait(timeout=60)
            holder.commit()
        thread.join(timeout=60)
    finally:
        database.dispose()
    (answer,) = result
    # The first placement inserted its order; the second found the key taken.
    assert [order is None for order in inserted] == [False, True]
    if outcome == "retry":
        assert answer["increment_id"] == "DUP-1" and answer["items"][0]["qty_open"] == 2
    else:
        assert isinstance(answer, errors.MagentoError)
        assert answer.envelope() == {
            "message": 'Order "%1" already exists with other content.',
            "parameters": ["DUP-1"],
        }
    assert list(stored_orders(session)) == ["DUP-1"]
    assert reserved(session, 2, "24-WB01") == -2
    assert reserved(session, 2, "24-WB03") == 0


def test_one_increment_id_from_many_clients(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings, live_server: str
) -> None:
    """Half the clients send one content, half another, with disjoint SKUs (so that they do not
    queue on the same index rows): one order is placed, every client gets it or the 400 for
    other content, and no request fails."""
    barrier = threading.Barrier(CLIENTS)

    def place_one(client_number: int) -> tuple[int, Any]:
        sku = ("24-WB01", "24-WB03")[client_number % 2]
        with httpx.Client(base_url=live_server, headers=auth_headers, timeout=120) as http:
            barrier.wait(timeout=60)
            response = http.post(ORDERS, json=order_body("SAME-1", (sku, 1)))
            return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = list(pool.map(place_one, range(CLIENTS)))
    placed = [body for status, body in answers if status == 200]
    refused = [body for status, body in answers if status != 200]
    assert placed and all(body == placed[0] for body in placed)
    assert len(placed) == CLIENTS // 2
    assert refused == [
        {"message": 'Order "%1" already exists with other content.', "parameters": ["SAME-1"]}
    ] * (CLIENTS // 2)
    sku = placed[0]["items"][0]["sku"]
    other = "24-WB03" if sku == "24-WB01" else "24-WB01"
    assert list(stored_orders(session)) == ["SAME-1"]
    assert reserved(session, 2, sku) == -1 and reserved(session, 2, other) == 0
    assert index_differences(session, settings) == []


# --- Mixed traffic -----------------------------------------------------------------------------

MIXED_THREADS = 8
MIXED_OPERATIONS = 25
MIXED_SKUS = ["MIX-0", "MIX-1", "MIX-2", "MIX-3"]
US_SOURCES = ["baltimore_wh", "austin_wh", "reno_wh"]


def test_mixed_traffic_keeps_index_and_reservations_consistent(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    settings: Settings,
    live_server: str,
) -> None:
    put_source_items(
        client, auth_headers, [source_item(sku, code, 30, 1) for sku in MIXED_SKUS for code in US_SOURCES]
    )
    barrier = threading.Barrier(MIXED_THREADS)

    def worker(thread: int) -> list[int]:
        rng = random.Random(thread)
        statuses = []
        with httpx.Client(base_url=live_server, headers=auth_headers, timeout=120) as http:
            barrier.wait(timeout=60)
            for n in range(MIXED_OPERATIONS):
                kind = rng.choice(["place", "place", "cancel", "ship", "items", "links"])
                target = f"MX-{thread}-{rng.randrange(max(n, 1))}"
                if kind == "place":
                    lines = [(sku, rng.randint(1, 3)) for sku in rng.sample(MIXED_SKUS, rng.randint(1, 3))]
                    response = http.post(ORDERS, json=order_body(f"MX-{thread}-{n}", *lines))
                elif kind == "cancel":
                    body = (
                        {"items": [{"sku": rng.choice(MIXED_SKUS), "qty": 1}]} if rng.random() < 0.5 else {}
                    )
                    response = http.post(f"{ORDERS}/{target}/cancel", json=body)
                elif kind == "ship" and rng.random() < 0.4:
                    # The algorithm chooses the sources of everything open (issue 9).
                    algorithm = {"algorithm_code": rng.choice(["priority", "fewest-splits"])}
                    response = http.post(f"{ORDERS}/{target}/shipments", json=algorithm)
                elif kind == "ship":
                    line = {"sku": rng.choice(MIXED_SKUS), "source_code": rng.choice(US_SOURCES), "qty": 1}
                    response = http.post(f"{ORDERS}/{target}/shipments", json={"items": [line]})
                elif kind == "items":
                    items = [
                        source_item(sku, rng.choice(US_SOURCES), rng.randint(0, 40), 1) for sku in MIXED_SKUS
                    ]
                    response = http.post(f"{INVENTORY}/source-items", json={"sourceItems": items})
                else:
                    link = {"stock_id": 2, "source_code": "reno_wh"}
                    if rng.random() < 0.5:
                        response = http.post(f"{INVENTORY}/stock-source-links-delete", json={"links": [link]})
                    else:
                        response = http.post(
                            f"{INVENTORY}/stock-source-links", json={"links": [{**link, "priority": 3}]}
                        )
                assert response.status_code < 500, response.text
                assert response.status_code in (200, 400, 404), response.text
                statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=MIXED_THREADS) as pool:
        statuses = [status for result in pool.map(worker, range(MIXED_THREADS)) for status in result]
    assert statuses.count(200) > len(statuses) // 4, statuses
    assert index_differences(session, settings) == []
    _assert_reservations_match_open_quantities(client, auth_headers, session)
    # What `openmsi reservations inconsistencies` reports.
    session.rollback()
    assert consistency.inconsistencies(session) == []


def _assert_reservations_match_open_quantities(
    client: TestClient, headers: dict[str, str], session: Session
) -> None:
    session.rollback()
    per_order: dict[tuple[str, int, str], Decimal] = defaultdict(Decimal)
    for reservation in session.scalars(select(Reservation)):
        increment_id = json.loads(reservation.metadata_ or "{}")["object_increment_id"]
        per_order[(increment_id, reservation.stock_id, reservation.sku.upper())] += Decimal(
            reservation.quantity
        )
    orders = client.get(ORDERS, params={"searchCriteria": ""}, headers=headers).json()["items"]
    assert orders
    expected: dict[tuple[str, int, str], Decimal] = {}
    for order in orders:
        for item in order["items"]:
            key = (order["increment_id"], order["stock_id"], item["sku"].upper())
            expected[key] = -Decimal(str(item["qty_open"]))
    four_places = Decimal("0.0001")
    assert {key: value.quantize(four_places) for key, value in per_order.items()} == {
        key: value.quantize(four_places) for key, value in expected.items()
    }
