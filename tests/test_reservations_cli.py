"""Reservation consistency and cleanup (spec orders.md, "Reservations and consistency";
reservations.md, "Cleanup"): `openmsi reservations inconsistencies | compensate | cleanup`, and
the cleanup job the workers run.

Orders are inserted straight into their tables (the order routes are another module's), and
their reservations are appended through the internal hook, as the order routes append them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from index_helpers import create_stock_with_items, differences, invoke, save_items
from openmsi import jobs
from openmsi.db import Database
from openmsi.indexer import service as indexer
from openmsi.models import Job, Order, OrderItem, Reservation, StockIndexRow, table_of
from openmsi.sales import consistency, consistency_repository
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.sales.reservations import ReservationRow, append_reservations
from openmsi.settings import Settings

CONFIG = StockItemConfiguration()
SALABLE_QTY = "/rest/V1/inventory/get-product-salable-quantity"


# --- Orders and their reservations, as the order routes would write them -----------------------


def metadata(event: str, object_id: str, *, style: str = "compact") -> str:
    document = {
        "event_type": event,
        "object_type": "order",
        "object_id": object_id,
        "object_increment_id": object_id,
    }
    if style == "python":  # json.dumps' own separators, non-ASCII escaped
        return json.dumps(document)
    if style == "magento":  # json_encode: "/" escaped too
        return json.dumps(document, separators=(",", ":")).replace("/", "\\/")
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def resv(stock_id: int, sku: str, quantity: float | str, event: str, object_id: str) -> ReservationRow:
    """A reservation for ``event`` of order ``object_id``."""
    return ReservationRow(stock_id, sku, Decimal(str(quantity)), metadata(event, object_id))


def _status(lines: dict[str, tuple[float, float, float]]) -> str:
    if any(ordered - shipped - canceled > 0 for ordered, shipped, canceled in lines.values()):
        return "placed"
    shipped = any(line[1] for line in lines.values())
    canceled = any(line[2] for line in lines.values())
    return "closed" if shipped and canceled else ("complete" if shipped else "canceled")


def insert_orders(
    session: Session, orders: list[tuple[str, int, dict[str, tuple[float, float, float]]]]
) -> None:
    """(increment_id, stock_id, {sku: (ordered, shipped, canceled)}) rows, without reservations."""
    table = table_of(Order)
    for start in range(0, len(orders), 500):
        chunk = orders[start : start + 500]
        session.execute(
            table.insert(),
            [
                {"increment_id": increment_id, "stock_id": stock_id, "sales_channel_type": "website",
                 "sales_channel_code": "base", "status": _status(lines)}
                for increment_id, stock_id, lines in chunk
            ],
        )  # fmt: skip
        chosen = select(table.c.increment_id, table.c.order_id).where(
            table.c.increment_id.in_([increment_id for increment_id, _, _ in chunk])
        )
        ids = {increment_id: order_id for increment_id, order_id in session.execute(chosen)}
        session.execute(
            table_of(OrderItem).insert(),
            [
                {"order_id": ids[increment_id], "sku": sku, "line_number": number,
                 "qty_ordered": Decimal(str(ordered)), "qty_shipped": Decimal(str(shipped)),
                 "qty_canceled": Decimal(str(canceled))}
                for increment_id, _, lines in chunk
                for number, (sku, (ordered, shipped, canceled)) in enumerate(lines.items(), 1)
            ],
        )  # fmt: skip


def history(
    increment_id: str, stock_id: int, lines: dict[str, tuple[float, float, float]], *, style: str = "compact"
) -> list[ReservationRow]:
    """The reservations of a correct history: placed −ordered, shipped +shipped, canceled +canceled."""
    rows = []
    for event, position, sign in (
        ("order_placed", 0, -1),
        ("shipment_created", 1, 1),
        ("order_canceled", 2, 1),
    ):
        for sku, quantities in lines.items():
            if quantities[position]:
                quantity = Decimal(str(quantities[position])) * sign
                rows.append(
                    ReservationRow(stock_id, sku, quantity, metadata(event, increment_id, style=style))
                )
    return rows


def place(
    database: Database,
    increment_id: str,
    stock_id: int,
    lines: dict[str, tuple[float, float, float]],
    *,
    extra: list[ReservationRow] = (),  # type: ignore[assignment]
    drop: int = 0,
    style: str = "compact",
) -> None:
    """An order and its history's reservations, less the last ``drop`` ones, plus ``extra``."""
    rows = history(increment_id, stock_id, lines, style=style)
    rows = rows[: len(rows) - drop] + list(extra)
    with database.write_sessions.begin() as session:
        insert_orders(session, [(increment_id, stock_id, lines)])
        append_reservations(session, CONFIG, rows)


def reserve(database: Database, *rows: ReservationRow) -> None:
    with database.write_sessions.begin() as session:
        append_reservations(session, CONFIG, list(rows))


def reservation_rows(database: Database) -> list[tuple[int, str, Decimal, str | None]]:
    with database.read_sessions() as session:
        rows = session.execute(
            select(
                Reservation.stock_id, Reservation.sku, Reservation.quantity, Reservation.metadata_
            ).order_by(Reservation.reservation_id)
        )
        return [
            (stock_id, sku, Decimal(str(quantity)).quantize(Decimal("0.0001")), meta)
            for stock_id, sku, quantity, meta in rows
        ]


def salable_quantities(
    client: TestClient, headers: dict[str, str], database: Database
) -> dict[tuple[int, str], Any]:
    """get-product-salable-quantity of every (stock, SKU) the index holds."""
    with database.read_sessions() as session:
        keys = sorted(session.execute(select(StockIndexRow.stock_id, StockIndexRow.sku)).tuples())
    answers = {}
    for stock_id, sku in keys:
        response = client.get(f"{SALABLE_QTY}/{sku}/{stock_id}", headers=headers)
        assert response.status_code == 200, response.text
        answers[(stock_id, sku)] = response.json()
    return answers


@pytest.fixture
def stocked(client: TestClient, auth_headers: dict[str, str], database: Database) -> Database:
    """Stock 10 (eu-1, eu-2): sku-a 8 and sku-d 4 salable, sku-b out of stock; the default
    stock: sku-c 7 and sku-d 2."""
    create_stock_with_items(client, auth_headers)
    save_items(
        client,
        auth_headers,
        [
            {"sku": "sku-d", "source_code": "eu-1", "quantity": 4, "status": 1},
            {"sku": "sku-d", "source_code": "default", "quantity": 2, "status": 1},
        ],
    )
    return database


def inconsistencies_json(database_url: str) -> tuple[int, list[dict[str, Any]]]:
    result = invoke(database_url, "reservations", "inconsistencies", "--json")
    assert result.exit_code in (0, 1), result.output
    found: list[dict[str, Any]] = json.loads(result.stdout)["inconsistencies"]
    return result.exit_code, found


# --- inconsistencies -----------------------------------------------------------------------------


def test_a_consistent_history_has_no_inconsistencies(stocked: Database, database_url: str) -> None:
    place(stocked, "000000001", 10, {"sku-a": (3, 0, 0), "sku-d": (1, 0, 0)})  # open
    place(stocked, "000000002", 10, {"sku-a": (2, 1, 0)})  # partly shipped
    place(stocked, "000000003", 10, {"sku-a": (2, 2, 0), "sku-d": (1, 0, 1)})  # closed
    place(stocked, "000000004", 1, {"sku-c": (1.5, 0, 1.5)})  # canceled, decimals
    reserve(stocked, resv(1, "sku-c", 2, "order_placed", "gone"),
            resv(1, "sku-c", -2, "order_canceled", "gone"))  # fmt: skip

    result = invoke(database_url, "reservations", "inconsistencies")
    assert result.exit_code == 0, result.output
    assert result.stdout == "The reservations of every order match its open quantities.\n"
    assert inconsistencies_json(database_url) == (0, [])


def test_inconsistencies_lists_every_wrong_group(stocked: Database, database_url: str) -> None:
    place(stocked, "000000001", 10, {"sku-a": (3, 0, 0)}, drop=1)  # its placement reservation lost
    place(stocked, "000000002", 10, {"sku-a": (2, 2, 0)}, drop=1)  # shipped, not released
    place(stocked, "000000003", 10, {"sku-a": (1, 0, 0)})  # fine
    # Reserved in the wrong stock and on a SKU it does not have.
    place(stocked, "000000004", 10, {"sku-d": (1, 0, 0)},
          extra=[resv(1, "sku-d", -1, "order_placed", "000000004"),
                 resv(10, "sku-a", -0.5, "order_placed", "000000004")])  # fmt: skip
    # Case does not matter, for object ids and SKUs alike.
    place(stocked, "ORDER-A", 10, {"sku-a": (1, 0, 0)}, drop=1,
          extra=[resv(10, "SKU-A", -1, "order_placed", "order-a")])  # fmt: skip
    reserve(
        stocked,
        resv(10, "sku-a", -4, "order_placed", "999"),  # names no order
        resv(10, "sku-a", -1, "order_placed", "998"),
        resv(10, "sku-a", 1, "order_canceled", "998"),  # sums to 0: fine
        ReservationRow(1, "sku-c", Decimal(-1), None),  # names nothing at all
        ReservationRow(1, "sku-c", Decimal(-2), "not json"),
    )

    result = invoke(database_url, "reservations", "inconsistencies")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "object_id  order  stock  sku    reserved  expected  compensation",
        '""         no     1      sku-c  -3        0         3',
        "000000001  yes    10     sku-a  0         -3        -3",
        "000000002  yes    10     sku-a  -2        0         2",
        "000000004  yes    1      sku-d  -1        0         1",
        "000000004  yes    10     sku-a  -0.5      0         0.5",
        "999        no     10     sku-a  -4        0         4",
    ]
    assert result.stderr.split("\n", 1)[1] == (
        "6 inconsistent reservation group(s): "
        "`openmsi reservations compensate` appends what makes them consistent.\n"
    )
    code, found = inconsistencies_json(database_url)
    assert code == 1
    assert found[1] == {
        "object_id": "000000001", "order_exists": True, "stock_id": 10, "sku": "sku-a",
        "reserved": 0.0, "expected": -3.0, "compensation": -3.0,
    }  # fmt: skip
    assert [(entry["object_id"], entry["stock_id"], entry["compensation"]) for entry in found] == [
        ("", 1, 3.0), ("000000001", 10, -3.0), ("000000002", 10, 2.0), ("000000004", 1, 1.0),
        ("000000004", 10, 0.5), ("999", 10, 4.0),
    ]  # fmt: skip


@pytest.mark.parametrize("style", ["compact", "python", "magento"])
def test_metadata_is_read_as_json_whatever_its_spelling(
    stocked: Database, database_url: str, style: str
) -> None:
    # Escaped as json.dumps escapes (ü as \u00fc) or as Magento's json_encode does (/ as \/).
    place(stocked, "Bestellung/ü-1", 10, {"sku-a": (2, 1, 0)}, style=style)
    place(stocked, 'quote"d\\1', 10, {"sku-a": (1, 0, 0)}, style=style)
    assert inconsistencies_json(database_url) == (0, [])
    reserve(
        stocked,
        ReservationRow(10, "sku-a", Decimal(-1), metadata("order_placed", "BESTELLUNG/ü-1", style=style)),
    )
    _, found = inconsistencies_json(database_url)
    assert [(entry["object_id"], entry["reserved"], entry["expected"]) for entry in found] == [
        ("Bestellung/ü-1", -2.0, -1.0)
    ]


OBJECT_IDS = [
    ('{"object_id":"42"}', "42"),
    ('{"event_type": "order_placed", "object_id": "AbC"}', "AbC"),  # json.dumps' separators
    (' {\n "object_id" :\t"x" } ', "x"),
    ('{"object_id":"\\u00fc\\/x"}', "ü/x"),  # json_encode's escapes
    ('{"object_id":"a\\"b\\\\c"}', 'a"b\\c'),
    ('{"object_id":"\\ud83d\\ude00"}', "\U0001f600"),
    (None, ""),
    ("not json", ""),
    ('{"object_id":"x"', ""),
    ('{"object_id":42}', ""),  # strings only: the engines spell numbers differently
    ('{"object_id":null}', ""),
    ('{"object_id":true}', ""),
    ('{"object_id":{"a":"b"}}', ""),
    ('{"other":"x"}', ""),
    ('["x"]', ""),
    ('"x"', ""),
    ('{"object_id":"\\ud83d"}', ""),  # an unpaired surrogate: PostgreSQL cannot decode it
    ('{"object_id":"\\u0000"}', ""),  # NUL: neither can PostgreSQL, nor does openmsi accept it
]


def test_every_engine_reads_the_same_object_from_metadata(database: Database) -> None:
    with database.write_sessions.begin() as session:
        session.execute(
            table_of(Reservation).insert(),
            [
                {"stock_id": 1, "sku": f"s{n}", "quantity": 0, "metadata": meta}
                for n, (meta, _) in enumerate(OBJECT_IDS)
            ],
        )
    with database.read_sessions() as session:
        read = dict(
            session.execute(select(Reservation.sku, consistency_repository.object_key())).tuples().all()
        )
    assert [read[f"s{n}"] for n in range(len(OBJECT_IDS))] == [expected for _, expected in OBJECT_IDS]


def test_postgresql_reads_no_object_in_metadata_with_nested_values(
    database: Database, engine_name: str
) -> None:
    """The one difference: PostgreSQL 15 cannot test JSON without an error but by a pattern,
    which cannot describe nesting (db.FLAT_JSON_OBJECT)."""
    with database.write_sessions.begin() as session:
        session.execute(
            table_of(Reservation).insert(),
            [{"stock_id": 1, "sku": "s", "quantity": 0, "metadata": '{"object_id":"x","more":{"a":[1]}}'}],
        )
    with database.read_sessions() as session:
        read = session.scalar(select(consistency_repository.object_key()))
    assert read == ("" if engine_name == "postgresql" else "x")


# --- compensate ----------------------------------------------------------------------------------


def compensated(stock_id: int, sku: str, quantity: str, object_id: str, increment_id: str = "") -> str:
    """A line of `openmsi reservations compensate`."""
    meta = {"event_type": "manual_compensation", "object_type": "order", "object_id": object_id,
            "object_increment_id": increment_id}  # fmt: skip
    return f"stock {stock_id} sku {sku}: {quantity} {json.dumps(meta, separators=(',', ':'))}"


def test_compensate_appends_what_makes_every_group_consistent(
    stocked: Database, database_url: str, client: TestClient, auth_headers: dict[str, str]
) -> None:
    place(stocked, "000000001", 10, {"sku-a": (3, 0, 0)}, drop=1)
    place(stocked, "000000002", 10, {"sku-a": (2, 2, 0)}, drop=1)
    reserve(stocked, resv(10, "sku-a", -4, "order_placed", "999"),
            ReservationRow(1, "sku-c", Decimal(-7), None))  # fmt: skip
    before = salable_quantities(client, auth_headers, stocked)
    assert before[(10, "sku-a")] == 2  # 8 − 2 − 4
    assert before[(1, "sku-c")] == 0
    assert differences(stocked) == []

    result = invoke(database_url, "reservations", "compensate")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        compensated(1, "sku-c", "+7", ""),
        compensated(10, "sku-a", "-3", "000000001", "000000001"),
        compensated(10, "sku-a", "+2", "000000002", "000000002"),
        compensated(10, "sku-a", "+4", "999"),
        "Appended 4 compensating reservation(s).",
    ]
    assert inconsistencies_json(database_url) == (0, [])
    after = salable_quantities(client, auth_headers, stocked)
    # 8 − 3 (order 1's open quantity); sku-c's 7 are salable again.
    assert after == {**before, (10, "sku-a"): 5, (1, "sku-c"): 7}
    # The index's is_salable followed (sku-c was not salable with −7 reserved).
    assert differences(stocked) == []

    again = invoke(database_url, "reservations", "compensate")
    assert again.exit_code == 0, again.output
    assert again.stdout == "Nothing to compensate.\n"


def test_compensate_writes_nothing_when_a_compensation_cannot_be_recorded(
    stocked: Database, database_url: str
) -> None:
    long_id = "x" * 200  # fits its own metadata, not a compensation's
    reserve(stocked, ReservationRow(10, "sku-a", Decimal(-1), json.dumps({"object_id": long_id})),
            ReservationRow(1, "sku-c", Decimal(-1), None))  # fmt: skip
    before = reservation_rows(stocked)
    result = invoke(database_url, "reservations", "compensate")
    assert result.exit_code == 1
    assert (
        result.stderr.split("\n", 1)[1]
        == f'The compensation of object "{long_id}" needs metadata longer than 255 characters.\n'
    )
    assert reservation_rows(stocked) == before


# --- cleanup -------------------------------------------------------------------------------------


def test_cleanup_deletes_zero_sum_groups_of_orders_with_nothing_open_only(
    stocked: Database, database_url: str, client: TestClient, auth_headers: dict[str, str]
) -> None:
    place(stocked, "000000001", 10, {"sku-a": (2, 2, 0), "sku-d": (1, 0, 1)})  # closed: deleted
    place(stocked, "000000002", 1, {"sku-c": (1.5, 0, 1.5)})  # canceled: deleted
    place(stocked, "000000003", 10, {"sku-a": (3, 1, 0), "sku-d": (1, 1, 0)})  # sku-a open: all kept
    # Complete, but its sku-d group is wrong (kept, and listed); its sku-a group goes.
    place(stocked, "000000004", 10, {"sku-a": (1, 1, 0), "sku-d": (2, 2, 0)}, drop=1)
    # Complete, then compensated on two SKUs that net to 0 over the order but not per SKU:
    # Magento's cleanup deletes the lot (reservations.md, "Cleanup"), openmsi neither group.
    place(stocked, "000000005", 10, {"sku-a": (1, 1, 0)},
          extra=[resv(10, "sku-a", -1, "manual_compensation", "000000005"),
                 resv(10, "sku-d", 1, "manual_compensation", "000000005")])  # fmt: skip
    reserve(
        stocked,
        resv(10, "sku-a", -1, "order_placed", "998"),  # no order, sums to 0:
        resv(10, "sku-a", 1, "order_canceled", "998"),  # deleted
        resv(10, "sku-a", -2, "order_placed", "999"),  # no order, −2: kept
        ReservationRow(1, "sku-c", Decimal(-1), None),  # no object, sums to 0: deleted
        ReservationRow(1, "sku-c", Decimal(1), "not json"),
    )
    salable_before = salable_quantities(client, auth_headers, stocked)
    problems_before = inconsistencies_json(database_url)
    rows = reservation_rows(stocked)
    kept = [
        reservation for reservation in rows
        if any(f'"object_id":"{key}"' in (reservation[3] or "") for key in ("000000003", "000000005", "999"))
        or ('"object_id":"000000004"' in (reservation[3] or "") and reservation[1] == "sku-d")
    ]  # fmt: skip
    assert len(kept) == 4 + 4 + 1 + 1

    result = invoke(database_url, "reservations", "cleanup")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Deleted {len(rows) - len(kept)} reservation(s).\n"
    assert sorted(reservation_rows(stocked), key=repr) == sorted(kept, key=repr)
    assert salable_quantities(client, auth_headers, stocked) == salable_before
    assert inconsistencies_json(database_url) == problems_before
    assert differences(stocked) == []

    again = invoke(database_url, "reservations", "cleanup")
    assert again.stdout == "Deleted 0 reservation(s).\n"


def test_cleanup_leaves_an_order_whose_shipment_is_not_committed_yet(
    stocked: Database, database_url: str, engine_name: str
) -> None:
    """Cleanup takes no lock: it runs beside an uncommitted shipment that holds the stock's lock
    and has appended its release, and it reads the order as still open."""
    if engine_name == "sqlite":
        pytest.skip("SQLite lets one writer in at a time")
    place(stocked, "000000001", 10, {"sku-a": (2, 0, 0)})
    place(stocked, "000000002", 10, {"sku-a": (1, 1, 0)})
    shipment = stocked.write_sessions()
    try:
        indexer.lock_stocks(shipment, [10])
        shipment.execute(
            table_of(OrderItem)
            .update()
            .where(
                OrderItem.order_id
                == select(Order.order_id).where(Order.increment_id == "000000001").scalar_subquery()
            )
            .values(qty_shipped=2)
        )
        append_reservations(
            shipment,
            CONFIG,
            [resv(10, "sku-a", 2, "shipment_created", "000000001")],
        )
        with stocked.write_sessions.begin() as session, _no_lock_waits(session, engine_name):
            assert consistency.cleanup(session) == 2  # order 2's, not order 1's
        shipment.commit()
    finally:
        shipment.close()
    assert [row[3] for row in reservation_rows(stocked)] == [
        metadata("order_placed", "000000001"),
        metadata("shipment_created", "000000001"),
    ]
    with stocked.write_sessions.begin() as session:
        assert consistency.cleanup(session) == 2


@contextmanager
def _no_lock_waits(session: Session, engine_name: str) -> Iterator[None]:
    """A lock wait in this transaction fails within 2 s instead of hanging the test."""
    if engine_name == "postgresql":
        session.execute(text("SET LOCAL lock_timeout = '2s'"))
        yield
        return
    session.execute(text("SET SESSION innodb_lock_wait_timeout = 2"))
    try:
        yield
    finally:
        session.execute(text("SET SESSION innodb_lock_wait_timeout = DEFAULT"))


# --- the cleanup job -------------------------------------------------------------------------------


def _cleanup_jobs(database: Database) -> list[Job]:
    with database.read_sessions() as session:
        return list(
            session.scalars(select(Job).where(Job.kind == jobs.RESERVATIONS_CLEANUP).order_by(Job.id))
        )


@pytest.fixture
def running_worker(stocked: Database, settings: Settings) -> Iterator[Any]:
    """Starts a worker of `openmsi worker` (indexer.make_worker) in a thread, on demand."""
    started: list[tuple[Any, threading.Thread]] = []

    def start() -> Any:
        worker = indexer.make_worker(stocked, settings.model_copy(update={"worker_poll_seconds": 0.02}))
        thread = threading.Thread(target=worker.run_forever, daemon=True)
        thread.start()
        started.append((worker, thread))
        return worker

    yield start
    for worker, thread in started:
        worker.stop()
        thread.join()


def _wait_for(condition: Any) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the worker did not get there"
        time.sleep(0.02)


def test_a_starting_worker_runs_the_cleanup_and_queues_the_next_run(
    stocked: Database, running_worker: Any, settings: Settings, database_url: str
) -> None:
    place(stocked, "000000001", 10, {"sku-a": (2, 2, 0)})
    place(stocked, "000000002", 10, {"sku-a": (1, 0, 0)})
    worker = running_worker()
    _wait_for(lambda: [job.status for job in _cleanup_jobs(stocked)] == ["done", "queued"])
    worker.stop()
    done, queued = _cleanup_jobs(stocked)
    assert [row[3] for row in reservation_rows(stocked)] == [metadata("order_placed", "000000002")]
    interval = timedelta(seconds=settings.reservation_cleanup_interval_seconds)
    assert interval == timedelta(days=1)
    assert queued.run_after - done.finished_at == pytest.approx(interval, abs=timedelta(minutes=5))
    assert queued.dedupe_key == consistency.CLEANUP_DEDUPE_KEY

    # A worker starting now finds the next run queued and adds none; nothing is due.
    with stocked.write_sessions.begin() as session:
        consistency.CleanupSchedule(interval).ensure_scheduled(session)
    assert [job.status for job in _cleanup_jobs(stocked)] == ["done", "queued"]
    assert invoke(database_url, "worker", "--once").stdout == "Ran 0 job(s).\n"


def test_a_failing_cleanup_is_retried_like_any_job(stocked: Database, settings: Settings) -> None:
    with stocked.write_sessions.begin() as session:
        consistency.schedule_cleanup(session, timedelta(0))
    worker = indexer.make_worker(stocked, settings)
    broken = {jobs.RESERVATIONS_CLEANUP: _broken}
    worker.handlers = {**worker.handlers, **broken}
    assert worker.run_until_idle() == 1
    (job,) = _cleanup_jobs(stocked)
    assert (job.status, job.attempts) == ("queued", 1)
    assert "cleanup broke" in (job.last_error or "")


def _broken(_session: Session, _payload: dict[str, Any]) -> None:
    raise RuntimeError("cleanup broke")


# --- volume ----------------------------------------------------------------------------------------


def test_five_thousand_orders(stocked: Database, database_url: str) -> None:
    """5,000 orders: 4,900 shipped (their reservations go), 100 open of which 3 are wrong."""
    orders = [(f"{n:09d}", 10, {"sku-a": (1.0, 1.0 if n >= 100 else 0.0, 0.0)}) for n in range(5000)]
    rows = [row for increment_id, stock_id, lines in orders for row in history(increment_id, stock_id, lines)]
    wrong = {"000000007", "000000042", "000000099"}
    rows = [row for row in rows if json.loads(row.metadata or "{}")["object_id"] not in wrong]
    with stocked.write_sessions.begin() as session:
        insert_orders(session, orders)
        append_reservations(session, CONFIG, rows)

    code, found = inconsistencies_json(database_url)
    assert (code, sorted(entry["object_id"] for entry in found)) == (1, sorted(wrong))
    with stocked.write_sessions.begin() as session:
        assert consistency.cleanup(session) == 2 * 4900
    assert len(reservation_rows(stocked)) == 97
    assert invoke(database_url, "reservations", "compensate").exit_code == 0
    assert inconsistencies_json(database_url) == (0, [])
    assert len(reservation_rows(stocked)) == 100


# --- the schema rule of every command --------------------------------------------------------------


@pytest.mark.parametrize("command", [["inconsistencies"], ["compensate"], ["cleanup"]])
def test_reservation_commands_refuse_a_server_database_with_pending_migrations(
    engine_name: str, empty_database_url: str, command: list[str]
) -> None:
    if engine_name == "sqlite":
        pytest.skip("SQLite is migrated by the command itself")
    result = invoke(empty_database_url, "reservations", *command)
    assert result.exit_code == 1
    assert "run `openmsi migrate` first" in result.stderr
