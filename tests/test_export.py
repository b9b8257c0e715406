"""Stock exports: GET export-stock-salable-qty and dump-stock-index-data (spec export.md),
streamed in chunks."""

from __future__ import annotations

import asyncio
import tracemalloc
from dataclasses import replace
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Integer, String, cast, insert, literal, select, true, union_all
from starlette.requests import ClientDisconnect

from factories import (
    INVENTORY,
    JSON_UTF8,
    SOURCE_ITEM_FIXTURE,
    assert_envelope,
    create_link_fixture,
    create_websites,
    put_source_items,
    source_item,
)
from openmsi import search_criteria
from openmsi.db import Database
from openmsi.export import service as export_service
from openmsi.indexer.service import Indexing
from openmsi.models import Source, SourceItem, StockIndexRow, table_of
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.sales.reservations import ReservationRow, append_reservations
from openmsi.webapi import render_json

EXPORT = f"{INVENTORY}/export-stock-salable-qty"
DUMP = f"{INVENTORY}/dump-stock-index-data"
SALABLE_QTY = f"{INVENTORY}/get-product-salable-quantity"
IS_SALABLE = f"{INVENTORY}/is-product-salable"
ALL = {"searchCriteria": ""}
NO_LINKED_STOCK = {"message": "No linked stock found"}
# A SKU whose JSON needs \u escapes for non-ASCII, as PHP writes them.
ODD_SKU = "zürich-é"


def item(sku: str, qty: Any, is_salable: bool) -> dict[str, Any]:
    return {"sku": sku, "qty": qty, "is_salable": is_salable}


def export(client: TestClient, headers: dict[str, str], channel: str, params: Any = None) -> httpx.Response:
    return client.get(
        f"{EXPORT}/website/{channel}", params=ALL if params is None else params, headers=headers
    )


def dump(client: TestClient, headers: dict[str, str], channel: str) -> httpx.Response:
    return client.get(f"{DUMP}/website/{channel}", headers=headers)


def exact(response: httpx.Response, body: Any) -> None:
    """This body, and the very bytes ``render_json`` makes of it."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON_UTF8
    assert response.json() == body
    assert response.content == render_json(body)


def results(items: list[dict[str, Any]], criteria: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "items": items,
        "search_criteria": criteria or {"filter_groups": []},
        "total_count": len(items),
    }


def sku_filter(value: str, condition: str = "eq") -> dict[str, str]:
    prefix = "searchCriteria[filter_groups][0][filters][0]"
    return {f"{prefix}[field]": "sku", f"{prefix}[value]": value, f"{prefix}[condition_type]": condition}


@pytest.fixture
def fixture(client: TestClient, auth_headers: dict[str, str], database: Database) -> None:
    """Magento's export fixtures on openmsi's sources: stock 10 (eu-1, eu-2, eu-3, eu-disabled)
    serves website eu_website, the default stock serves base.

    SKU-1: default 5.5; stock 10: 5.5 + 3 (eu-3 out of stock, eu-disabled disabled) = 8.5.
    SKU-2: only us-1 (stock 20). SKU-3: eu-2 out of stock. SKU-4: only on the disabled source.
    virtual-product: default 100. zürich-é: default 2.
    """
    create_link_fixture(client, auth_headers)
    create_websites(database, "eu_website")
    stock = {"stock_id": 10, "name": "EU-stock"}
    stock["extension_attributes"] = {"sales_channels": [{"type": "website", "code": "eu_website"}]}  # type: ignore[assignment]
    response = client.put(f"{INVENTORY}/stocks/10", json={"stock": stock}, headers=auth_headers)
    assert response.status_code == 200, response.text
    put_source_items(
        client,
        auth_headers,
        [
            *SOURCE_ITEM_FIXTURE,
            source_item("SKU-1", "default", 5.5),
            source_item("SKU-4", "eu-disabled", 10),
            source_item("virtual-product", "default", 100),
            source_item(ODD_SKU, "default", 2),
        ],
    )


BASE_ITEMS = [item("SKU-1", 5.5, True), item("virtual-product", 100, True), item(ODD_SKU, 2, True)]
EU_ITEMS = [item("SKU-1", 8.5, True), item("SKU-3", 0, False), item("SKU-4", 0, False)]


# --- export-stock-salable-qty --------------------------------------------------------------


@pytest.mark.usefixtures("fixture")
@pytest.mark.parametrize(
    ("channel", "expected"),
    [("base", BASE_ITEMS), ("admin", BASE_ITEMS), ("EU_Website", EU_ITEMS)],
)
def test_export_lists_the_assigned_skus_of_the_channels_stock(
    client: TestClient, auth_headers: dict[str, str], channel: str, expected: list[dict[str, Any]]
) -> None:
    # SKUs without an item on a source linked to the stock are left out: SKU-2 to SKU-4 on the
    # default stock, SKU-2, virtual-product and zürich-é on stock 10 (SKU-4 is in: a disabled
    # linked source still assigns).
    exact(export(client, auth_headers, channel), results(expected))


@pytest.mark.usefixtures("fixture")
@pytest.mark.parametrize(("channel", "stock_id"), [("base", 1), ("eu_website", 10)])
def test_export_equals_the_single_salability_routes(
    client: TestClient, auth_headers: dict[str, str], database: Database, channel: str, stock_id: int
) -> None:
    def check() -> list[dict[str, Any]]:
        exported = export(client, auth_headers, channel).json()["items"]
        for entry in exported:
            sku = quote(entry["sku"], safe="")
            assert client.get(f"{SALABLE_QTY}/{sku}/{stock_id}", headers=auth_headers).json() == entry["qty"]
            assert (
                client.get(f"{IS_SALABLE}/{sku}/{stock_id}", headers=auth_headers).json()
                is entry["is_salable"]
            )
        return [{k: e[k] for k in ("sku", "qty")} for e in exported]

    before = check()
    config = client.app.state.indexing.config  # type: ignore[attr-defined]
    with database.write_sessions.begin() as session:
        append_reservations(
            session,
            config,
            [
                ReservationRow(stock_id, "SKU-1", Decimal(-1)),
                ReservationRow(stock_id, "virtual-product", Decimal("-99.5")),
                ReservationRow(stock_id, "SKU-3", Decimal(-1)),
            ],
        )

    after = check()

    # Reservations count at once (ExportStockSalableQtyTest: 5.5 → 4.5, 100 → 99).
    assert [e for e in before if e["sku"] == "SKU-1"] == [
        {"sku": "SKU-1", "qty": 5.5 if stock_id == 1 else 8.5}
    ]
    assert [e for e in after if e["sku"] == "SKU-1"] == [
        {"sku": "SKU-1", "qty": 4.5 if stock_id == 1 else 7.5}
    ]
    if stock_id == 1:
        assert [e for e in after if e["sku"] == "virtual-product"] == [{"sku": "virtual-product", "qty": 0.5}]


@pytest.mark.usefixtures("fixture")
def test_export_filters_sorts_and_pages_the_product_list(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    # The product list is SKU-1, SKU-2, SKU-3, SKU-4, virtual-product, zürich-é; pages are cut
    # from it before unassigned products are left out, and total_count counts what is sent.
    criteria = {
        "filter_groups": [{"filters": [{"field": "sku", "value": "sku-%", "condition_type": "like"}]}]
    }
    exact(
        export(client, auth_headers, "base", sku_filter("sku-%", "like")), results([BASE_ITEMS[0]], criteria)
    )

    paging = {"searchCriteria[pageSize]": "2", "searchCriteria[currentPage]": "2"}
    paged = {"filter_groups": [], "page_size": 2, "current_page": 2}
    exact(export(client, auth_headers, "base", paging), results([], paged))
    exact(export(client, auth_headers, "eu_website", paging), results(EU_ITEMS[1:], paged))
    # Past the last page: the last page (Magento's Collection::getCurPage).
    beyond = {"searchCriteria[pageSize]": "2", "searchCriteria[currentPage]": "9"}
    beyond_echo = {"filter_groups": [], "page_size": 2, "current_page": 9}
    exact(export(client, auth_headers, "base", beyond), results(BASE_ITEMS[1:], beyond_echo))

    descending = {
        "searchCriteria[sortOrders][0][field]": "sku",
        "searchCriteria[sortOrders][0][direction]": "DESC",
    }
    sorted_echo = {"filter_groups": [], "sort_orders": [{"field": "sku", "direction": "DESC"}]}
    exact(export(client, auth_headers, "base", descending), results(BASE_ITEMS[::-1], sorted_echo))

    several = sku_filter(f"SKU-3,virtual-product,{ODD_SKU}", "in")
    response = export(client, auth_headers, "base", several)
    assert response.json()["items"] == BASE_ITEMS[1:]
    assert response.json()["total_count"] == 2


@pytest.mark.usefixtures("fixture")
def test_export_refuses_unknown_fields(client: TestClient, auth_headers: dict[str, str]) -> None:
    params = sku_filter("simple") | {"searchCriteria[filter_groups][0][filters][0][field]": "type_id"}

    assert_envelope(
        export(client, auth_headers, "base", params),
        400,
        {
            "message": '"%fieldName" is not a searchable field. Use one of: %fields.',
            "parameters": {"fieldName": "type_id", "fields": "sku"},
        },
    )


def test_export_requires_search_criteria_after_the_channel(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    assert_envelope(
        export(client, auth_headers, "base", {}),
        400,
        {
            "message": '"%fieldName" is required. Enter and try again.',
            "parameters": {"fieldName": "searchCriteria"},
        },
    )
    # The channel is resolved first: an unknown one is a 404 even without criteria.
    assert_envelope(export(client, auth_headers, "nowhere", {}), 404, NO_LINKED_STOCK)


def test_an_empty_default_stock_exports_nothing(client: TestClient, auth_headers: dict[str, str]) -> None:
    exact(export(client, auth_headers, "base"), results([]))
    exact(dump(client, auth_headers, "base"), [])


@pytest.mark.parametrize("route", [EXPORT, DUMP])
@pytest.mark.parametrize("path", ["website/nowhere", "store/base", "website/" + "w" * 65])
def test_unknown_channels_are_404(
    client: TestClient, auth_headers: dict[str, str], route: str, path: str
) -> None:
    assert_envelope(client.get(f"{route}/{path}", params=ALL, headers=auth_headers), 404, NO_LINKED_STOCK)


@pytest.mark.parametrize("route", [EXPORT, DUMP])
def test_routes_need_the_stock_resource(client: TestClient, route: str) -> None:
    assert_envelope(
        client.get(f"{route}/website/base", params=ALL),
        401,
        {
            "message": "The consumer isn't authorized to access %resources.",
            "parameters": {"resources": "Magento_InventoryApi::stock"},
        },
    )


# --- dump-stock-index-data -----------------------------------------------------------------


@pytest.mark.usefixtures("fixture")
def test_dump_is_the_raw_index(client: TestClient, auth_headers: dict[str, str], database: Database) -> None:
    config = client.app.state.indexing.config  # type: ignore[attr-defined]
    with database.write_sessions.begin() as session:
        append_reservations(session, config, [ReservationRow(1, "SKU-1", Decimal(-1))])

    # No reservations, no min_qty: the index as written. SKU-4 has no row (disabled source).
    exact(dump(client, auth_headers, "base"), BASE_ITEMS)
    exact(dump(client, auth_headers, "admin"), BASE_ITEMS)
    exact(dump(client, auth_headers, "eu_website"), [item("SKU-1", 8.5, True), item("SKU-3", 0, False)])


@pytest.mark.usefixtures("fixture")
def test_dump_follows_a_link_delete_at_once(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.post(
        f"{INVENTORY}/stock-source-links-delete",
        json={"links": [{"stock_id": 10, "source_code": "eu-2", "priority": 2}]},
        headers=auth_headers,
    )
    assert response.status_code == 200, response.text

    exact(dump(client, auth_headers, "eu_website"), [item("SKU-1", 5.5, True)])
    # SKU-3 is no longer assigned to stock 10 either.
    exact(
        export(client, auth_headers, "eu_website"),
        results([item("SKU-1", 5.5, True), item("SKU-4", 0, False)]),
    )


@pytest.mark.usefixtures("fixture")
def test_without_stock_management_every_sku_is_unmanaged(
    client: TestClient, auth_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = client.app.state._state  # type: ignore[attr-defined]
    indexing: Indexing = state["indexing"]
    monkeypatch.setitem(
        state, "indexing", replace(indexing, config=replace(indexing.config, manage_stock=False))
    )
    everything = [
        item(sku, 0, True) for sku in ("SKU-1", "SKU-2", "SKU-3", "SKU-4", "virtual-product", ODD_SKU)
    ]

    # Rule 2 comes before the assignment check: unassigned SKUs are in.
    exact(export(client, auth_headers, "eu_website"), results(everything))
    exact(dump(client, auth_headers, "eu_website"), everything)


# --- Streaming -----------------------------------------------------------------------------

BULK = 50_000


def _insert_bulk(database: Database, count: int = BULK) -> None:
    """SKUs BULK-0 … on the default source and in stock 1's index, generated by the database."""
    digits = union_all(*(select(literal(d, Integer).label("d")) for d in range(10))).cte("digits")
    tables = [digits.alias(f"d{i}") for i in range(5)]
    number = sum((t.c.d * 10**i for i, t in enumerate(tables)), literal(0, Integer))
    product = tables[0]
    for table in tables[1:]:
        # Always true (digits are 0-9), and it names both sides: a cross join without
        # SQLAlchemy's cartesian-product warning.
        product = product.join(table, table.c.d > tables[0].c.d - 10)  # type: ignore[assignment]
    numbers = select(number.label("n")).select_from(product).where(number < count).subquery()
    items = table_of(SourceItem)
    index = table_of(StockIndexRow)
    with database.write_sessions.begin() as session:
        session.execute(
            insert(items).from_select(
                ["source_code", "sku", "quantity", "status"],
                select(
                    literal("default", String),
                    literal("BULK-", String) + cast(numbers.c.n, String),
                    cast(numbers.c.n % 7 + 1, Integer),
                    literal(1, Integer),
                ),
            )
        )
        session.execute(
            insert(index).from_select(
                ["stock_id", "sku", "quantity", "is_salable"],
                select(literal(1, Integer), items.c.sku, items.c.quantity, true()),
            )
        )


def _scope(path: str, query: bytes, token: str) -> dict[str, Any]:
    """An ASGI request as uvicorn hands it over (ASGI 2.4: no disconnect listener needed)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"test"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "state": {},
    }


Streamed = tuple[int, list[int], int, bytes, bytes]


async def _stream(app: FastAPI, path: str, query: bytes, token: str) -> Streamed:
    """Drive the app directly and count what each body message holds, keeping none of it:
    (status, sizes of the body messages, number of items, first 80 and last 160 bytes)."""
    scope = _scope(path, query, token)
    status, sizes, items = 0, [], 0
    head, tail = b"", b""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, items, head, tail
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and message.get("body"):
            body: bytes = message["body"]
            sizes.append(len(body))
            items += body.count(b'"sku":')
            head = head or body[:80]
            tail = (tail + body)[-160:]

    await app(scope, receive, send)
    return status, sizes, items, head, tail


def _peak_memory(app: FastAPI, path: str, query: bytes, token: str) -> tuple[Streamed, int]:
    tracemalloc.start()
    try:
        streamed = asyncio.run(_stream(app, path, query, token))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return streamed, peak


# The whole answer is about 2.5 MB of JSON and ten times that as Python objects; a chunk is a
# fiftieth of it.
PEAK_LIMIT = 8 * 1024 * 1024


def test_a_large_index_is_dumped_in_chunks(client: TestClient, database: Database, admin_token: str) -> None:
    _insert_bulk(database)

    (status, sizes, items, head, tail), peak = _peak_memory(
        client.app, f"{DUMP}/website/base", b"", admin_token
    )  # type: ignore[arg-type]

    assert status == 200
    assert items == BULK
    assert len(sizes) >= BULK // export_service.CHUNK
    assert max(sizes) < 100 * export_service.CHUNK
    assert head.startswith(b'[{"sku":"BULK-0","qty":1,"is_salable":true},')
    assert tail.endswith(b'{"sku":"BULK-9999","qty":4,"is_salable":true}]')
    assert peak < PEAK_LIMIT, peak


def test_a_large_product_list_is_exported_in_chunks(
    client: TestClient, database: Database, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without stock management no SKU needs the salability queries, whose cost per SKU would
    # make 50,000 of them slow under tracemalloc; the listing streams the same way either way.
    _insert_bulk(database)
    state = client.app.state._state  # type: ignore[attr-defined]
    indexing: Indexing = state["indexing"]
    monkeypatch.setitem(
        state, "indexing", replace(indexing, config=replace(indexing.config, manage_stock=False))
    )

    (status, sizes, items, head, tail), peak = _peak_memory(
        client.app,  # type: ignore[arg-type]
        f"{EXPORT}/website/base",
        b"searchCriteria=",
        admin_token,
    )

    assert status == 200
    assert items == BULK
    assert len(sizes) >= BULK // export_service.CHUNK
    assert max(sizes) < 100 * export_service.CHUNK
    assert head.startswith(b'{"items":[{"sku":"BULK-0","qty":0,"is_salable":true},')
    assert tail.endswith(
        b'{"sku":"BULK-9999","qty":0,"is_salable":true}],"search_criteria":{"filter_groups":[]},"total_count":50000}'
    )
    assert peak < PEAK_LIMIT, peak


def test_salable_quantities_are_computed_chunk_by_chunk(
    client: TestClient, database: Database, admin_token: str
) -> None:
    # SKUs BULK-0 … BULK-2499 (2.5 chunks) plus SKU-X on a source stock 1 does not use.
    _insert_bulk(database, 2500)
    with database.write_sessions.begin() as session:
        session.execute(
            insert(table_of(Source)).values(source_code="other", name="other", country_id="US", postcode="1")
        )
        session.execute(
            insert(table_of(SourceItem)).values(source_code="other", sku="SKU-X", quantity=5, status=1)
        )

    status, sizes, items, head, tail = asyncio.run(
        _stream(client.app, f"{EXPORT}/website/base", b"searchCriteria=", admin_token)  # type: ignore[arg-type]
    )

    assert status == 200
    assert items == 2500
    assert len(sizes) >= 3
    assert head.startswith(b'{"items":[{"sku":"BULK-0","qty":1,"is_salable":true},')
    # BULK-999 sorts last; SKU-X is left out, and counted out.
    assert tail.endswith(
        b'{"sku":"BULK-999","qty":6,"is_salable":true}],"search_criteria":{"filter_groups":[]},"total_count":2500}'
    )


@pytest.mark.parametrize("route", [DUMP, EXPORT])
def test_a_client_that_goes_away_frees_the_connections(
    client: TestClient, database: Database, admin_token: str, route: str
) -> None:
    _insert_bulk(database, 2500)
    app: FastAPI = client.app  # type: ignore[assignment]
    checked_out = database.engine.pool.checkedout()  # type: ignore[attr-defined]
    sent: list[bytes] = []
    scope = _scope(f"{route}/website/base", b"searchCriteria=", admin_token)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if sent:
                raise OSError("connection reset by peer")
            sent.append(message["body"])

    with pytest.raises(ClientDisconnect):
        asyncio.run(app(scope, receive, send))

    assert len(sent) == 1
    assert database.engine.pool.checkedout() == checked_out  # type: ignore[attr-defined]


def test_fragments_concatenate_to_render_json(database: Database) -> None:
    put = [("default", f"S/{n}", n % 3, n % 2) for n in range(5)]
    with database.write_sessions.begin() as session:
        session.execute(
            insert(table_of(SourceItem)),
            [{"source_code": c, "sku": s, "quantity": Decimal(q), "status": st} for c, s, q, st in put],
        )
    config = StockItemConfiguration()
    criteria = search_criteria.parse({"pageSize": "4"})
    with database.read_sessions() as session:
        from openmsi.export import repository

        products = repository.products(session, criteria)
    fragments = list(export_service.salable_quantities(database, config, 1, products, criteria.echo()))

    assert b"".join(fragments) == render_json(
        {
            "items": [item(f"S/{n}", 0, False) for n in range(4)],
            "search_criteria": criteria.echo(),
            "total_count": 4,
        }
    )
