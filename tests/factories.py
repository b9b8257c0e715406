"""Helpers shared by the test modules: plain functions that create data through the REST API
(or, for bulk data, directly in the database), and the check of Magento's error envelope."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from openmsi.db import Database

JSON_UTF8 = "application/json; charset=utf-8"
ENVELOPE_KEYS = ("message", "errors", "code", "parameters", "trace")


def assert_envelope(response: Any, status: int, body: dict[str, Any]) -> None:
    """Exactly Magento's envelope: this status, JSON, these keys in Magento's order, nothing else."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON_UTF8
    received = response.json()
    assert received == body
    assert list(received) == [key for key in ENVELOPE_KEYS if key in received]


# --- Stock-source links ----------------------------------------------------------------------
# Magento's REST tutorial "Order processing with Inventory Management" (steps 1-4) and the
# api-functional fixtures of stock-source-links.md ("Worked example").

INVENTORY = "/rest/all/V1/inventory"

TUTORIAL_WEBSITES = (("na_site", "North America Website"), ("eu_site", "Europe Website"))

TUTORIAL_SOURCES: tuple[dict[str, Any], ...] = (
    {"source_code": "baltimore_wh", "name": "Baltimore Warehouse", "country_id": "US", "postcode": "21214",
     "city": "Baltimore", "street": "901 Harford Rd.", "region_id": 31, "contact_name": "Ethan Carter",
     "latitude": 39.290882, "longitude": -76.610759, "enabled": True},
    {"source_code": "austin_wh", "name": "Austin Warehouse", "country_id": "US", "postcode": "78758",
     "city": "Austin", "street": "10801 N Mopac Expy", "region_id": 57, "contact_name": "Samantha Jones",
     "latitude": 30.400351, "longitude": -97.719756, "enabled": True},
    {"source_code": "reno_wh", "name": "Reno Warehouse", "country_id": "US", "postcode": "89502",
     "city": "Reno", "street": "4121 S Virginia St", "region_id": 39, "contact_name": "Mike Taylor",
     "latitude": 39.482448, "longitude": -119.806052, "enabled": True},
    {"source_code": "hq", "name": "Headquarters", "country_id": "US", "postcode": "78701",
     "city": "Austin", "street": "100 Congress Ave", "region_id": 57, "contact_name": "Joe Smith",
     "enabled": True},
    {"source_code": "berlin_wh", "name": "Berlin Warehouse", "country_id": "DE", "postcode": "10178",
     "city": "Berlin", "street": "Alexanderplatz 1", "region_id": 82, "contact_name": "Kurt Schmidt",
     "latitude": 52.521918, "longitude": 13.413215, "enabled": True},
    {"source_code": "frankfurt_wh", "name": "Frankfurt Warehouse", "country_id": "DE", "postcode": "60311",
     "city": "Frankfurt", "street": "Zeil 106", "region_id": 87, "contact_name": "Anna Weber",
     "latitude": 50.114271, "longitude": 8.684225, "enabled": True},
)  # fmt: skip

TUTORIAL_STOCKS: tuple[tuple[str, str], ...] = (
    ("North America Stock", "na_site"),
    ("Europe Stock", "eu_site"),
)

# Step 4, "Link stocks and sources", verbatim.
TUTORIAL_LINKS: dict[str, Any] = {
    "links": [
        {"source_code": "baltimore_wh", "stock_id": 2, "priority": 1},
        {"source_code": "austin_wh", "stock_id": 2, "priority": 2},
        {"source_code": "reno_wh", "stock_id": 2, "priority": 3},
        {"source_code": "hq", "stock_id": 2, "priority": 4},
        {"source_code": "berlin_wh", "stock_id": 3, "priority": 1},
        {"source_code": "frankfurt_wh", "stock_id": 3, "priority": 2},
        {"source_code": "hq", "stock_id": 3, "priority": 3},
    ]
}


def create_tutorial_websites(database: Database) -> None:
    """Step 1 needs websites for the stocks' sales channels (`openmsi website create`)."""
    from openmsi.store.service import create_website

    with database.write_sessions.begin() as session:
        for code, name in TUTORIAL_WEBSITES:
            create_website(session, code, name)


def create_source(client: TestClient, headers: dict[str, str], source: dict[str, Any]) -> None:
    response = client.post(f"{INVENTORY}/sources", json={"source": source}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == []


def create_tutorial_sources(client: TestClient, headers: dict[str, str]) -> list[str]:
    """Step 2: four US sources and two German ones; returns their codes."""
    for source in TUTORIAL_SOURCES:
        create_source(client, headers, source)
    return [source["source_code"] for source in TUTORIAL_SOURCES]


def create_stock(
    client: TestClient,
    headers: dict[str, str],
    name: str,
    *,
    stock_id: int | None = None,
    websites: tuple[str, ...] = (),
) -> int:
    stock: dict[str, Any] = {"name": name}
    if stock_id is not None:
        stock["stock_id"] = stock_id
    if websites:
        channels = [{"type": "website", "code": code} for code in websites]
        stock["extension_attributes"] = {"sales_channels": channels}
    response = client.post(f"{INVENTORY}/stocks", json={"stock": stock}, headers=headers)
    assert response.status_code == 200, response.text
    new_id: int = response.json()
    return new_id


def create_tutorial_stocks(client: TestClient, headers: dict[str, str]) -> list[int]:
    """Step 3: "North America Stock" (na_site) and "Europe Stock" (eu_site); needs the websites."""
    return [create_stock(client, headers, name, websites=(website,)) for name, website in TUTORIAL_STOCKS]


def link_tutorial_sources(client: TestClient, headers: dict[str, str]) -> None:
    """Step 4."""
    response = client.post(f"{INVENTORY}/stock-source-links", json=TUTORIAL_LINKS, headers=headers)
    assert response.status_code == 200, response.text
    assert response.text == "[]"


# InventoryApi/Test/_files/{sources,stocks,stock_source_links}.php
LINK_FIXTURE_SOURCES: tuple[dict[str, Any], ...] = tuple(
    {"source_code": code, "name": name, "enabled": enabled, "country_id": country, "postcode": "postcode"}
    for code, name, enabled, country in (
        ("eu-1", "EU-source-1", True, "FR"),
        ("eu-2", "EU-source-2", True, "FR"),
        ("eu-3", "EU-source-3", True, "DE"),
        ("eu-disabled", "EU-source-disabled", False, "DE"),
        ("us-1", "US-source-1", True, "US"),
    )
)
LINK_FIXTURE_STOCKS = ((10, "EU-stock"), (20, "US-stock"), (30, "Global-stock"))
LINK_FIXTURE_LINKS: tuple[dict[str, Any], ...] = tuple(
    {"stock_id": stock_id, "source_code": code, "priority": priority}
    for stock_id, code, priority in (
        (10, "eu-1", 1), (10, "eu-2", 2), (10, "eu-3", 3), (10, "eu-disabled", 4),
        (20, "us-1", 1),
        (30, "eu-1", 5), (30, "eu-2", 4), (30, "eu-3", 3), (30, "eu-disabled", 2), (30, "us-1", 1),
    )
)  # fmt: skip


def create_link_fixture(client: TestClient, headers: dict[str, str], *, with_links: bool = True) -> None:
    """Sources eu-1, eu-2, eu-3, eu-disabled (disabled), us-1; stocks 10, 20, 30; their links."""
    for source in LINK_FIXTURE_SOURCES:
        create_source(client, headers, source)
    for stock_id, name in LINK_FIXTURE_STOCKS:
        assert create_stock(client, headers, name, stock_id=stock_id) == stock_id
    if with_links:
        response = client.post(
            f"{INVENTORY}/stock-source-links", json={"links": list(LINK_FIXTURE_LINKS)}, headers=headers
        )
        assert response.status_code == 200, response.text


def insert_sources(database: Database, codes: list[str]) -> None:
    """Many sources at once, straight into the table (for volume tests)."""
    from openmsi.models import Source, table_of

    rows = [{"source_code": code, "name": code, "country_id": "US", "postcode": "00000"} for code in codes]
    with database.write_sessions.begin() as session:
        for start in range(0, len(rows), 500):
            session.execute(table_of(Source).insert(), rows[start : start + 500])


# --- Websites ---------------------------------------------------------------------------------


def create_websites(database: Database, *codes: str) -> None:
    """Websites (with store group and store view) as `openmsi website create` adds them; each is
    assigned to the default stock, as Magento's AssignWebsiteToDefaultStockPlugin does."""
    from openmsi.store.service import create_website

    with database.write_sessions.begin() as session:
        for code in codes:
            create_website(session, code, code.replace("_", " ").title())


# --- Source items and the stock index -----------------------------------------------------------

SOURCE_ITEMS = f"{INVENTORY}/source-items"
SOURCE_ITEMS_DELETE = f"{INVENTORY}/source-items-delete"

# InventoryApi/Test/_files/source_items.php, on the sources of the link fixture.
SOURCE_ITEM_FIXTURE: tuple[dict[str, Any], ...] = tuple(
    {"sku": sku, "source_code": code, "quantity": quantity, "status": status}
    for sku, code, quantity, status in (
        ("SKU-1", "eu-1", 5.5, 1), ("SKU-1", "eu-2", 3, 1), ("SKU-1", "eu-3", 10, 0),
        ("SKU-1", "eu-disabled", 10, 1), ("SKU-2", "us-1", 5, 1), ("SKU-3", "eu-2", 6, 0),
    )
)  # fmt: skip


def source_item(sku: Any, source_code: Any, quantity: Any = 1, status: Any = 1) -> dict[str, Any]:
    return {"sku": sku, "source_code": source_code, "quantity": quantity, "status": status}


def save_source_items(client: Any, headers: dict[str, str], items: Any) -> Any:
    """POST /source-items as it is, for tests of its answers."""
    return client.post(SOURCE_ITEMS, json={"sourceItems": items}, headers=headers)


def put_source_items(client: Any, headers: dict[str, str], items: Any) -> None:
    response = save_source_items(client, headers, items)
    assert response.status_code == 200, response.text
    assert response.text == "[]"


def delete_source_items(client: Any, headers: dict[str, str], items: Any) -> Any:
    return client.post(SOURCE_ITEMS_DELETE, json={"sourceItems": items}, headers=headers)


def insert_source_items(database: Database, items: list[tuple[str, str, float, int]]) -> None:
    """Many (source_code, sku, quantity, status) items straight into the table, leaving the
    index alone (for volume tests and for tests of what a later write refreshes)."""
    from decimal import Decimal

    from openmsi.models import SourceItem, table_of

    rows = [
        {"source_code": code, "sku": sku, "quantity": Decimal(str(quantity)), "status": status}
        for code, sku, quantity, status in items
    ]
    with database.write_sessions.begin() as session:
        for start in range(0, len(rows), 500):
            session.execute(table_of(SourceItem).insert(), rows[start : start + 500])


def stored_source_items(session: Any) -> dict[tuple[str, str], tuple[float, int]]:
    """(source_code, sku) → (quantity, status), in a new read transaction."""
    from sqlalchemy import select

    from openmsi.models import SourceItem

    session.rollback()
    rows = session.execute(
        select(SourceItem.source_code, SourceItem.sku, SourceItem.quantity, SourceItem.status)
    )
    return {(code, sku): (round(float(quantity), 4), int(status)) for code, sku, quantity, status in rows}


def index_rows(
    session: Any, stock_ids: tuple[int, ...] | None = None
) -> dict[tuple[int, str], tuple[float, bool]]:
    """(stock_id, sku) → (quantity, is_salable) of inventory_stock_index, in a new read transaction."""
    from sqlalchemy import select

    from openmsi.models import StockIndexRow

    session.rollback()
    query = select(
        StockIndexRow.stock_id, StockIndexRow.sku, StockIndexRow.quantity, StockIndexRow.is_salable
    )
    if stock_ids is not None:
        query = query.where(StockIndexRow.stock_id.in_(stock_ids))
    return {
        (stock_id, sku): (round(float(quantity), 4), bool(salable))
        for stock_id, sku, quantity, salable in session.execute(query)
    }


def index_differences(session: Any, settings: Any) -> list[Any]:
    """What `openmsi index verify` reports: [] when the index equals a fresh aggregation."""
    from openmsi.indexer import service as indexer_service
    from openmsi.sales.configuration import StockItemConfiguration

    session.rollback()
    return indexer_service.verify(session, StockItemConfiguration.from_settings(settings))


def queued_reindex_jobs(session: Any) -> list[str | None]:
    """Dedupe keys of every job row, sorted."""
    from sqlalchemy import select

    from openmsi.models import Job

    session.rollback()
    return sorted(session.scalars(select(Job.dedupe_key)), key=str)


def deferring_client(settings: Any, database: Database) -> TestClient:
    """A client of an app that queues a rebuild for every link or source change touching at
    least one item (index_inline_limit=0), on the shared database."""
    from openmsi.app import create_app
    from openmsi.settings import Settings

    app = create_app(
        Settings(  # type: ignore[call-arg]
            database_url=settings.database_url, embedded_worker=False, index_inline_limit=0, _env_file=None
        ),
        database,
    )
    return TestClient(app)


# --- Bulk operations (spec bulk.md) ------------------------------------------------------------

BULK_ASSIGN = f"{INVENTORY}/bulk-product-source-assign"
BULK_UNASSIGN = f"{INVENTORY}/bulk-product-source-unassign"
BULK_TRANSFER = f"{INVENTORY}/bulk-product-source-transfer"
BULK_PARTIAL_TRANSFER = f"{INVENTORY}/bulk-partial-source-transfer"

# InventoryApi/Test/_files/source_items.php as Magento ships it today: SOURCE_ITEM_FIXTURE, then
# SKU-4 on eu-2 and SKU-6 (0, in stock) on eu-1.
BULK_ITEM_FIXTURE: tuple[dict[str, Any], ...] = (
    *SOURCE_ITEM_FIXTURE,
    source_item("SKU-4", "eu-2", 6, 1),
    source_item("SKU-6", "eu-1", 0, 1),
)


def low_quantity_settings(session: Any) -> dict[tuple[str, str], float | None]:
    """(source_code, sku) → notify_stock_qty of every low-quantity setting, in a new read
    transaction."""
    from sqlalchemy import select

    from openmsi.models import LowQuantityNotification as Setting

    session.rollback()
    rows = session.execute(select(Setting.source_code, Setting.sku, Setting.notify_stock_qty))
    return {(code, sku): None if value is None else float(value) for code, sku, value in rows}


def database_state(session: Any) -> tuple[Any, ...]:
    """What a refused or failed write must leave as it was: items, index rows, low-quantity
    settings and jobs."""
    return (
        stored_source_items(session),
        index_rows(session),
        low_quantity_settings(session),
        queued_reindex_jobs(session),
    )


@contextmanager
def failing_statements(database: Database, statement_start: str) -> Iterator[None]:
    """Every statement starting so (MariaDB's INSERT IGNORE counting as an INSERT) fails as a
    failing database makes SQLAlchemy fail it (an OperationalError wrapping the driver's error)."""
    from sqlalchemy import event, exc

    dbapi_error = database.engine.dialect.loaded_dbapi.OperationalError

    def fail(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if statement.lstrip().upper().replace("INSERT IGNORE ", "INSERT ", 1).startswith(statement_start):
            raise exc.OperationalError(statement, parameters, dbapi_error("injected failure"))

    event.listen(database.engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(database.engine, "before_cursor_execute", fail)
