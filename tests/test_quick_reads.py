"""The lean paths of the hot requests (README "Performance", bench/README.md "Quick reads"):
prepared reads on the DBAPI connection (``db.PreparedRead``), prepared upserts (``db.upsert``)
and the REST routes matched without FastAPI's routing (``runtime.RestRoutes``). Each must answer
exactly what the general path answers, on every engine."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.routing import Match

from factories import create_source, create_stock, insert_source_items, save_source_items, source_item
from openmsi import db, runtime
from openmsi.app import create_app
from openmsi.inventory import repository as inventory_repository
from openmsi.models import SourceItem
from openmsi.sales import repository as sales_repository
from openmsi.sales import salable

INVENTORY = "/rest/V1/inventory"


def _linked_stock(client: TestClient, headers: dict[str, str]) -> int:
    for code, latitude in (("quick_a", 39.290385), ("quick_b", None)):
        source: dict[str, Any] = {
            "source_code": code,
            "name": code.upper(),
            "country_id": "US",
            "postcode": "1",
        }
        if latitude is not None:
            source["latitude"] = latitude
        source["enabled"] = code == "quick_a"
        create_source(client, headers, source)
    stock_id = create_stock(client, headers, "Quick Stock")
    links = [
        {"source_code": "quick_b", "stock_id": stock_id, "priority": 1},
        {"source_code": "quick_a", "stock_id": stock_id, "priority": 2},
    ]
    response = client.post(f"{INVENTORY}/stock-source-links", json={"links": links}, headers=headers)
    assert response.status_code == 200, response.text
    return stock_id


def test_a_prepared_read_answers_what_sqlalchemy_answers(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    stock_id = _linked_stock(client, auth_headers)
    prepared = inventory_repository._SOURCES_ASSIGNED_TO_STOCK
    expected = [tuple(row) for row in session.execute(prepared.statement, {"stock_id": stock_id})]
    rows = db.Reader.of(session).all(prepared, {"stock_id": stock_id})
    assert [tuple(row) for row in rows] == expected
    assert [type(value) for row in rows for value in row] == [
        type(value) for row in expected for value in row
    ]
    assert [row.source_code for row in rows] == ["quick_b", "quick_a"]
    assert rows[1].latitude == Decimal("39.290385") and rows[1].enabled is True and rows[0].enabled is False


def test_one_sku_read_by_a_prepared_statement_matches_the_batched_reads(
    client: TestClient, auth_headers: dict[str, str], database: db.Database, session: Session
) -> None:
    stock_id = _linked_stock(client, auth_headers)
    save_source_items(
        client,
        auth_headers,
        [
            source_item("Quick-1", "quick_a", 7.5),
            source_item("quick-1", "quick_b", 2),
            source_item("q2", "quick_b", 0, 0),
        ],
    )
    cases = [
        (stock_id, "quick-1"), (stock_id, "QUICK-1"), (stock_id, "q2"), (stock_id, "nobody"),
        (1, "quick-1"), (999_999, "quick-1"), (2**40, "quick-1"), (-3, "q2"),
    ]  # fmt: skip
    for case_stock, sku in cases:
        with database.quick_reader() as reader:
            one = salable.one_salability(reader, case_stock, sku)
        # Two SKUs take the batched statements.
        batched = salable.salability(session, case_stock, [sku, "some-other-sku"])[sku]
        assert one == batched, (case_stock, sku)
    with database.quick_reader() as reader:
        facts = sales_repository.one_sku_facts(reader, stock_id, "quick-1")
    assert facts.items.available == Decimal("7.5000") and facts.items.known and facts.items.assigned


def test_a_prepared_upsert_inserts_then_updates_with_the_columns_types(
    database: db.Database, session: Session, client: TestClient, auth_headers: dict[str, str]
) -> None:
    create_source(
        client, auth_headers, {"source_code": "upsert_wh", "name": "U", "country_id": "US", "postcode": "1"}
    )
    table = inventory_repository.SOURCE_ITEM_TABLE
    rows = [{"source_code": "upsert_wh", "sku": "Up-1", "quantity": Decimal("1.2345"), "status": 1}]
    with database.write_sessions.begin() as write:
        db.upsert(write, table, rows, keys=("source_code", "sku"), update=("quantity", "status"))
    # The key compares as the column does: another case of the SKU is the same item.
    again = [{"source_code": "upsert_wh", "sku": "UP-1", "quantity": Decimal("3"), "status": 0}]
    with database.write_sessions.begin() as write:
        db.upsert(write, table, again, keys=("source_code", "sku"), update=("quantity", "status"))
    stored = session.execute(
        select(SourceItem.sku, SourceItem.quantity, SourceItem.status).where(
            SourceItem.source_code == "upsert_wh"
        )
    ).all()
    assert [(sku, Decimal(str(quantity)), status) for sku, quantity, status in stored] == [
        ("Up-1", Decimal("3"), 0)
    ]


def test_a_prepared_upsert_leaves_rows_with_missing_defaults_to_sqlalchemy(database: db.Database) -> None:
    # inventory_source has Python-side defaults (enabled, frontend_name ...): rows that leave
    # them out must get them, which only SQLAlchemy's execution fills in.
    table = inventory_repository.SOURCE_TABLE
    statement = db._upsert_statement(database.engine.dialect.name, table, ("source_code",), ("name",))
    names = ("source_code", "name", "country_id", "postcode")
    assert db._prepared_write(database.engine.dialect, statement, names) is None
    with database.write_sessions.begin() as write:
        row = {"source_code": "defaults_wh", "name": "D", "country_id": "US", "postcode": "1"}
        db.upsert(write, table, [row], keys=("source_code",), update=("name",))
    with database.read_sessions() as read:
        enabled = read.execute(
            select(table.c.enabled).where(table.c.source_code == "defaults_wh")
        ).scalar_one()
    assert bool(enabled) is True


def _sample(template: str) -> str:
    """The template with every placeholder filled in, as a client would send it."""
    parts = []
    for segment in template.split("/"):
        parts.append("Sample-1" if segment.startswith("{") else segment)
    return "/".join(parts)


def _fastapi_choice(app: FastAPI, method: str, path: str) -> str | None:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    for route in app.router.routes:
        match, _child = route.matches(scope)
        if match is Match.FULL:
            return getattr(route, "name", None)
    return None


def test_the_rest_routes_are_matched_as_fastapi_matches_them(app: FastAPI) -> None:
    rest = next(m for m in app.user_middleware if m.cls is runtime.RestRoutes)
    routes: list[runtime.Route] = rest.kwargs["routes"]
    matcher = runtime.RestRoutes(app, routes)
    for route in routes:
        for path in (_sample(route.template), route.template.replace("{", "x").replace("}", "y")):
            chosen = matcher.match(route.method, path)
            assert chosen is not None, (route.method, path)
            assert chosen[0].name == _fastapi_choice(app, route.method, path), (route.method, path)
    # Not a route: left to FastAPI, which answers Magento's 404.
    assert matcher.match("GET", "/rest/V1/inventory/nothing-here") is None
    assert matcher.match("PATCH", "/rest/V1/inventory/sources") is None
    assert matcher.match("GET", "/rest/V1/inventory/sources/a/b") is None


def test_every_answer_is_the_one_fastapi_routing_gave(
    client: TestClient, auth_headers: dict[str, str], database: db.Database, settings: Any
) -> None:
    create_source(
        client, auth_headers, {"source_code": "esc_wh", "name": "E", "country_id": "US", "postcode": "1"}
    )
    insert_source_items(database, [("esc_wh", "a b", 4, 1)])
    # The same application without RestRoutes: every request goes through FastAPI's routes.
    plain_app = create_app(settings, database)
    plain_app.user_middleware = [m for m in plain_app.user_middleware if m.cls is not runtime.RestRoutes]
    plain = TestClient(plain_app)
    requests: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = [
        ("GET", f"{INVENTORY}/sources/esc_wh", None, auth_headers),
        ("GET", "/rest/all/V1/inventory/sources/esc_wh", None, auth_headers),
        ("GET", "/rest/default/V1/inventory/sources/ESC_WH/", None, auth_headers),
        ("GET", f"{INVENTORY}/sources/esc_wh", None, {}),
        ("GET", f"{INVENTORY}/sources/nowhere", None, auth_headers),
        ("GET", f"{INVENTORY}/get-product-salable-quantity/a%20b/1", None, auth_headers),
        ("GET", f"{INVENTORY}/get-product-salable-quantity/a+b/1", None, auth_headers),
        ("GET", f"{INVENTORY}/get-product-salable-quantity/a%20b%2Fc/1", None, auth_headers),
        ("GET", f"{INVENTORY}/get-product-salable-quantity/a%20b/x", None, auth_headers),
        ("GET", f"{INVENTORY}/get-sources-assigned-to-stock-ordered-by-priority/1", None, auth_headers),
        ("GET", f"{INVENTORY}/sources?searchCriteria[pageSize]=1", None, auth_headers),
        ("POST", f"{INVENTORY}/sources/esc_wh", {"source": {}}, auth_headers),
        ("PUT", f"{INVENTORY}/sources/esc_wh", {"source": {"name": "E2"}}, auth_headers),
        ("POST", f"{INVENTORY}/stock-source-links", {"links": []}, auth_headers),
        ("DELETE", f"{INVENTORY}/sources/esc_wh", None, auth_headers),
    ]
    for method, url, body, headers in requests:
        fast = client.request(method, url, json=body, headers=headers)
        routed = plain.request(method, url, json=body, headers=headers)
        assert (fast.status_code, fast.content) == (routed.status_code, routed.content), (method, url)
        assert fast.headers["content-type"] == routed.headers["content-type"], (method, url)
