"""The stock exports (spec export.md): per-SKU figures of the stock a sales channel resolves
to, produced as JSON fragments chunk by chunk.

A producer opens its own read sessions when first advanced (the request's session is gone by
then) and reads its rows through a streaming cursor, ``CHUNK`` at a time; each chunk's figures
are computed set-based and rendered at once. The fragments concatenate to exactly what
``phpjson.render_json`` makes of the whole answer.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from openmsi.db import Database
from openmsi.export import repository
from openmsi.inventory import service as inventory_service
from openmsi.phpjson import php_number, render_json
from openmsi.sales import salable
from openmsi.sales.configuration import StockItemConfiguration

CHUNK = 1000
EXPORT_FAILED = "Something went wrong. Export couldn't be executed, See log files for error details"


def stock_of_channel(session: Session, channel_type: str, channel_code: str) -> int:
    """The stock a sales channel uses. Raises NoSuchEntity("No linked stock found")."""
    stock, _channels = inventory_service.resolve_stock(session, channel_type, channel_code)
    return stock.stock_id


def _elements(items: list[dict[str, Any]]) -> bytes:
    """The items as the inside of a JSON array: one encoder call per chunk."""
    return render_json(items)[1:-1]


def _export_items(
    facts_session: Session, config: StockItemConfiguration, stock_id: int, skus: Sequence[str]
) -> list[dict[str, Any]]:
    """PreciseExportStockProcessor::getItem for each product; every openmsi SKU is a simple
    product, so rule 1 (composite types) never applies."""
    if not config.manage_stock:
        # GetQtyForNotManageStock: null by default, printed as 0.
        return [{"sku": sku, "qty": 0, "is_salable": True} for sku in skus]
    facts = salable.salability(facts_session, stock_id, skus)
    return [
        {
            "sku": sku,
            "qty": php_number(salable.salable_quantity(config, stock_id, facts[sku])),
            "is_salable": salable.is_salable(config, stock_id, facts[sku]),
        }
        for sku in skus
        # IsProductAssignedToStock: products without an item on a linked source are left out.
        if facts[sku].assigned
    ]


def salable_quantities(
    database: Database,
    config: StockItemConfiguration,
    stock_id: int,
    products: Select[Any],
    echo: dict[str, Any],
) -> Generator[bytes, None, None]:
    """GET export-stock-salable-qty: ``{"items": […], "search_criteria": …, "total_count": n}``
    with ``n`` the number of items sent, known only at the end (hence its place last)."""
    # Two sessions: MariaDB cannot run the salability queries on a connection whose streaming
    # cursor is still open.
    with database.streaming_sessions() as listing, database.read_sessions() as facts_session:
        # The result is closed before its session: PyMySQL warns when the session's rollback
        # finds a streaming result unfinished (a client that went away).
        with listing.execute(products, execution_options={"yield_per": CHUNK}) as result:
            pending = bytearray(b'{"items":[')
            count = 0
            for partition in result.partitions():
                items = _export_items(facts_session, config, stock_id, [row[0] for row in partition])
                if not items:
                    continue
                if count:
                    pending += b","
                pending += _elements(items)
                count += len(items)
                yield bytes(pending)
                pending.clear()
        pending += b'],"search_criteria":' + render_json(echo)
        pending += b',"total_count":' + str(count).encode() + b"}"
        yield bytes(pending)


def index_dump(
    database: Database, config: StockItemConfiguration, stock_id: int
) -> Generator[bytes, None, None]:
    """GET dump-stock-index-data: the stock's index rows as they are (no reservations).

    StockIndexDumpProcessor's union of unmanaged and managed products: with the global
    manage_stock off every known SKU is unmanaged (qty ``qtyForNotManageStock``, null → 0,
    salable) and the index part is empty; with it on, no SKU is unmanaged.
    """
    with database.streaming_sessions() as session:
        query = repository.index_rows(stock_id) if config.manage_stock else repository.known_skus()
        result = session.execute(query, execution_options={"yield_per": CHUNK})
        pending = bytearray(b"[")
        with result:  # before the session: see salable_quantities
            for number, partition in enumerate(result.partitions()):
                if number:
                    pending += b","
                if config.manage_stock:
                    items = [
                        {"sku": sku, "qty": php_number(quantity), "is_salable": bool(flag)}
                        for sku, quantity, flag in partition
                    ]
                else:
                    items = [{"sku": row[0], "qty": 0, "is_salable": True} for row in partition]
                pending += _elements(items)
                yield bytes(pending)
                pending.clear()
        pending += b"]"
        yield bytes(pending)
