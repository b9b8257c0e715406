"""Orders placed, canceled and shipped through openmsi's own routes (spec orders.md).

Magento's checkout checks salability and then appends reservations without a lock between the
two, so two checkouts can both take the last unit (magento2 #25653). Here the check and the
append run in one transaction, under locks that make placements of the same (stock, SKU)
queue, on every engine and across processes. The lock paths, in the order of the global lock
order (``openmsi.indexer.service``):

- **Placement**: the stock row SHARED (level 2): item, link, enable/disable and rebuild writers
  of that stock hold it exclusive, so source items, links and index rows of the stock stay as
  they are while the placement runs, and placements of one stock do not wait for each other
  there. Then the stock's index rows of the ordered SKUs FOR UPDATE, in SKU order (level 3):
  placements (and cancellations) of the same (stock, SKU) queue here, others pass. Only then
  are the salable facts read (at READ COMMITTED every statement sees the latest commits, so a
  placement that waited sees the reservations of the one it waited for), and the order row,
  its lines, the reservations and the rows' ``is_salable`` written. A SKU without an index row
  is only accepted when backorders or unmanaged stock accept any quantity, so that path needs
  no lock: with no row, no quantity check can pass, and no concurrent writer can create the
  row (only exclusive stock holders do).
- **Cancellation**: the same path (stock SHARED, index rows of its SKUs), then its order row
  FOR UPDATE, whose lines it reads again before checking the quantities.
- **Shipment**: a source-item writer, as a source-item save: its sources SHARED (level 1), every
  stock linked to them EXCLUSIVE (level 2; the order's stock is one of them), then its order
  row FOR UPDATE, and the rows written: source items, lines, reservations, the index rows of
  its SKUs in those stocks. A shipment whose sources an algorithm chooses takes every source
  linked to the order's stock SHARED, then every stock linked to them EXCLUSIVE, before the
  selection reads the source items: what it read is what it deducts from.

SQLite sends none of these statements: BEGIN IMMEDIATE serialises writers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from openmsi import errors
from openmsi.errors import ErrorDetail, field_empty, field_required
from openmsi.indexer import service as indexer
from openmsi.indexer.service import Indexing
from openmsi.inventory import repository as inventory_repository
from openmsi.inventory import service as inventory_service
from openmsi.inventory.validators import is_empty
from openmsi.models import ORDER_INCREMENT_ID_LENGTH, utcnow
from openmsi.orders import repository
from openmsi.orders import schemas as order_schemas
from openmsi.orders.repository import LineRecord, OrderRecord
from openmsi.phpjson import php_number
from openmsi.sales import reservations, salable
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.search_criteria import SearchCriteria
from openmsi.source_selection import distance
from openmsi.source_selection import service as selection

PLACED = "placed"
COMPLETE = "complete"
CANCELED = "canceled"
CLOSED = "closed"

ORDER_NOT_FOUND = 'Order "%1" does not exist.'
OTHER_CONTENT = 'Order "%1" already exists with other content.'
DUPLICATE_SKU = 'The SKU "%sku" appears in more than one line.'
QTY_NOT_POSITIVE = 'The quantity of "%sku" must be greater than 0.'
QTY_TOO_LARGE = 'The quantity of "%sku" can not be more than %max.'
NOT_IN_ORDER = 'The order has no line with SKU "%1".'
MORE_THAN_OPEN = 'The quantity %1 of "%2" is more than its open quantity %3.'
SOURCE_NOT_FOUND = 'Source with code "%value" does not exist.'
SOURCE_NOT_LINKED = 'Source "%1" is not linked to stock %2.'
# InventorySourceDeductionApi/Model/GetSourceItemBySourceCodeAndSku.php
SOURCE_ITEM_NOT_FOUND = "Source item not found by source code: %1 and sku: %2."
# InventorySourceDeductionApi/Model/SourceDeductionService.php
NOT_ALL_AVAILABLE = "Not all of your products are available in the requested quantity."
ITEMS_AND_ALGORITHM = 'A shipment takes either "items" or "algorithm_code", not both.'
NOTHING_OPEN = 'Order "%1" has no open quantity to ship.'
NOT_SHIPPABLE = 'The sources of stock %2 can not ship every open quantity of order "%1".'
SHORT_LINE = "%1: %2 of the open %3 can be shipped."
DISTANCE_NEEDS_DESTINATION = (
    'A shipment can not use the "distance" algorithm: it has no destination. Choose another '
    'algorithm, or list the "items" to ship.'
)
SOURCES_CHANGED = "The sources linked to stock %1 changed during the shipment; send it again."

FOUR_PLACES = Decimal("0.0001")
# inventory_reservation.quantity is decimal(10,4); every line's reservation must fit it.
QTY_MAX = Decimal("999999.9999")
# inventory_source_item.quantity is decimal(12,4).
SOURCE_QUANTITY_LIMIT = Decimal("100000000")
_LEADING_OR_TRAILING = '"%field" can not contain leading or trailing spaces.'
# PHP's trim(), as the validators use it.
_PHP_TRIM = " \t\n\r\0\x0b"


# Input


@dataclass(frozen=True)
class Line:
    sku: str
    qty: Decimal


@dataclass(frozen=True)
class OrderRequest:
    increment_id: str
    channel_type: str
    channel_code: str
    lines: tuple[Line, ...]


def _quantity(value: float) -> Decimal | None:
    """The quantity as the decimal(12,4) columns store it; None for what no column holds."""
    try:
        return Decimal(repr(float(value))).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError, OverflowError):
        return None


def _qty_problems(sku: str, qty: Decimal | None) -> list[ErrorDetail]:
    if qty is None or qty > QTY_MAX:
        return [ErrorDetail(QTY_TOO_LARGE, {"sku": sku, "max": str(QTY_MAX)})]
    if qty <= 0:
        return [ErrorDetail(QTY_NOT_POSITIVE, {"sku": sku})]
    return []


def _sku_problems(sku: Any) -> list[ErrorDetail]:
    if sku is None:
        return [field_required("sku")]
    if is_empty(sku):
        return [field_empty("sku")]
    if sku != sku.strip(_PHP_TRIM):
        return [ErrorDetail(_LEADING_OR_TRAILING, {"field": "sku"})]
    return []


def _lines(items: list[dict[str, Any]]) -> tuple[list[Line], list[ErrorDetail]]:
    """The ``{sku, qty}`` lines of a placement or cancellation, and every problem with them: a
    missing or blank SKU, a quantity that is missing, not above 0 or too large, a SKU twice
    (compared case-insensitively, as SKUs compare)."""
    problems: list[ErrorDetail] = []
    lines: list[Line] = []
    seen: set[str] = set()
    for item in items:
        sku, raw_qty = item.get("sku"), item.get("qty")
        line_problems = _sku_problems(sku)
        qty = None
        if raw_qty is None:
            line_problems.append(field_required("qty"))
        else:
            qty = _quantity(raw_qty)
            line_problems += _qty_problems(sku if isinstance(sku, str) else "", qty)
        if isinstance(sku, str) and not is_empty(sku):
            if sku.lower() in seen:
                line_problems.append(ErrorDetail(DUPLICATE_SKU, {"sku": sku}))
            seen.add(sku.lower())
        problems += line_problems
        if not line_problems and qty is not None and isinstance(sku, str):
            lines.append(Line(sku, qty))
    return lines, problems


def _increment_id_problems(increment_id: str) -> list[ErrorDetail]:
    field = {"field": "increment_id"}
    if is_empty(increment_id):
        return [field_empty("increment_id")]
    problems = []
    if increment_id != increment_id.strip(_PHP_TRIM):
        problems.append(ErrorDetail(_LEADING_OR_TRAILING, field))
    if len(increment_id) > ORDER_INCREMENT_ID_LENGTH:
        problems.append(
            ErrorDetail(
                '"%field" can not be longer than %max characters.',
                {**field, "max": ORDER_INCREMENT_ID_LENGTH},
            )
        )
    # "/" cannot be addressed in the order's URL; control characters would be escaped in the
    # reservations' metadata beyond its 255 characters.
    if "/" in increment_id or any(ord(char) < 32 or ord(char) == 127 for char in increment_id):
        problems.append(ErrorDetail('"%field" can not contain "/" or control characters.', field))
    return problems


def order_request(data: dict[str, Any]) -> OrderRequest:
    """The placement's ``order`` object, checked; raises InputError listing every problem."""
    problems: list[ErrorDetail] = []
    increment_id = data.get("increment_id")
    channel = data.get("sales_channel")
    items = data.get("items")
    if increment_id is None:
        problems.append(field_required("increment_id"))
    else:
        problems += _increment_id_problems(increment_id)
    if channel is None:
        problems.append(field_required("sales_channel"))
    else:
        problems += [field_required(name) for name in ("type", "code") if channel.get(name) is None]
    lines: list[Line] = []
    if items is None:
        problems.append(field_required("items"))
    elif not items:
        problems.append(field_empty("items"))
    else:
        lines, line_problems = _lines(items)
        problems += line_problems
    if problems:
        raise errors.InputError.of(problems)
    assert increment_id is not None and channel is not None
    return OrderRequest(increment_id, channel["type"], channel["code"], tuple(lines))


# Reads


def _answer(session: Session, order: OrderRecord) -> dict[str, Any]:
    return order_schemas.order_data(order, repository.order_lines(session, [order.order_id])[order.order_id])


def _find(session: Session, increment_id: str, *, for_update: bool = False) -> OrderRecord:
    order = repository.find_order(session, increment_id, for_update=for_update)
    if order is None:
        raise errors.NoSuchEntity(ORDER_NOT_FOUND, [increment_id])
    return order


def get_order(session: Session, increment_id: str) -> dict[str, Any]:
    """GET /V1/openmsi/orders/:incrementId. Raises NoSuchEntity."""
    return _answer(session, _find(session, increment_id))


def get_orders(session: Session, criteria: SearchCriteria) -> tuple[list[dict[str, Any]], int]:
    """GET /V1/openmsi/orders, in placement order unless sorted."""
    orders, total = inventory_repository.search(
        session, repository.select_orders(), criteria, repository.ORDER_FIELDS, [repository.ORDERS.c.order_id]
    )
    records = [repository.order_record(order) for order in orders]
    lines = repository.order_lines(session, [order.order_id for order in records])
    return [order_schemas.order_data(order, lines[order.order_id]) for order in records], total


def get_reservations(session: Session, criteria: SearchCriteria) -> tuple[list[dict[str, Any]], int]:
    """GET /V1/openmsi/reservations, in append order unless sorted."""
    rows, total = inventory_repository.search(
        session,
        repository.select_reservations(),
        criteria,
        repository.RESERVATION_FIELDS,
        [repository.RESERVATIONS.c.reservation_id],
    )
    return [order_schemas.reservation_data(row) for row in rows], total


# Placement


def _same_content(session: Session, order: OrderRecord, request: OrderRequest) -> bool:
    if (order.sales_channel_type.lower(), order.sales_channel_code.lower()) != (
        request.channel_type.lower(),
        request.channel_code.lower(),
    ):
        return False
    stored = {
        line.sku.lower(): line.qty_ordered
        for line in repository.order_lines(session, [order.order_id])[order.order_id]
    }
    return stored == {line.sku.lower(): line.qty for line in request.lines}


def _retried(session: Session, order: OrderRecord, request: OrderRequest) -> dict[str, Any]:
    """A placement whose increment id exists: the order as it is now if it is the same order,
    writing nothing; otherwise a 400."""
    if not _same_content(session, order, request):
        raise errors.MagentoError(OTHER_CONTENT, [request.increment_id])
    return _answer(session, order)


def _line_message(problems: list[salable.Error]) -> str:
    """The message that says why a line cannot be sold: the first error other than the two that
    only say which sufficient condition failed (back_order-disabled, manage_stock-enabled)."""
    generic = {"back_order-disabled", "manage_stock-enabled"}
    telling = [problem for problem in problems if problem["code"] not in generic]
    return (telling or problems)[0]["message"]


def _check_salable(
    session: Session, config: StockItemConfiguration, stock_id: int, lines: Sequence[Line]
) -> None:
    """Every line as is-product-salable-for-requested-qty checks it. Raises NoSuchEntity for
    unknown SKUs (all of them), MagentoError with every line that cannot be sold."""
    facts = salable.salability(session, stock_id, [line.sku for line in lines])
    unknown = [line.sku for line in lines if not facts[line.sku].known]
    if unknown:
        raise salable.skus_not_found(unknown)
    failures: list[tuple[str, str]] = []
    for line in lines:
        is_salable, problems = salable.requested_qty_result(config, stock_id, facts[line.sku], line.qty)
        if not is_salable:
            failures.append((line.sku, _line_message(problems)))
    if failures:
        raise errors.MagentoError(
            failures[0][1], errors=[ErrorDetail("%1: %2", [sku, message]) for sku, message in failures]
        )


def _now() -> datetime:
    # Whole seconds: the answer shows them, and searchCriteria compares with them.
    return utcnow().replace(microsecond=0)


def place_order(session: Session, indexing: Indexing, data: dict[str, Any]) -> dict[str, Any]:
    """POST /V1/openmsi/orders: check every line, reserve all of them or none.

    Raises InputError, NoSuchEntity ("No linked stock found", unknown SKUs), MagentoError (a
    line that cannot be sold; the increment id of another order).
    """
    request = order_request(data)
    # No look for the increment id first: a retry is rare, and the order INSERT finds it (one
    # statement less per placement). A retry that the steps before the INSERT refuse (its
    # channel, its SKUs, their quantities changed since) is recognised when they fail.
    config = indexing.config
    try:
        stock_id = inventory_service.resolve_stock_id(session, request.channel_type, request.channel_code)
        # A stock deleted since (it first had to lose its channels) has no links left: the
        # check below finds every known SKU not assigned to it.
        indexer.lock_stocks_shared(session, [stock_id])
        indexer.lock_index_rows(session, stock_id, [line.sku for line in request.lines])
        _check_salable(session, config, stock_id, request.lines)
    except errors.MagentoError:
        # Placed before, or meanwhile by a concurrent request: the retry's answer.
        existing = repository.find_order(session, request.increment_id)
        if existing is not None:
            return _retried(session, existing, request)
        raise
    now = _now()
    order = repository.insert_order(
        session,
        {
            "increment_id": request.increment_id,
            "stock_id": stock_id,
            "sales_channel_type": request.channel_type,
            "sales_channel_code": request.channel_code,
            "status": PLACED,
            "created_at": now,
            "updated_at": now,
        },
    )
    if order is None:
        # A retry, or placed meanwhile by a concurrent request (this one waited for its commit).
        existing = repository.find_order(session, request.increment_id)
        if existing is None:
            raise errors.CouldNotSave("Could not save Order")
        return _retried(session, existing, request)
    repository.insert_lines(session, order.order_id, [(line.sku, line.qty) for line in request.lines])
    metadata = reservations.sales_event_metadata(
        reservations.ORDER_PLACED, order.increment_id, order.increment_id
    )
    reservations.append_reservations_locked(
        session,
        config,
        [reservations.ReservationRow(stock_id, line.sku, -line.qty, metadata) for line in request.lines],
    )
    zero = Decimal(0)
    lines = [
        LineRecord(line.sku, number, line.qty, zero, zero) for number, line in enumerate(request.lines, 1)
    ]
    return order_schemas.order_data(order, lines)


# Cancellation and shipment


def order_status(lines: Sequence[LineRecord]) -> str:
    """placed while anything is open; then complete, canceled or closed (both)."""
    if any(line.qty_open > 0 for line in lines):
        return PLACED
    shipped = any(line.qty_shipped > 0 for line in lines)
    canceled = any(line.qty_canceled > 0 for line in lines)
    if shipped and canceled:
        return CLOSED
    return COMPLETE if shipped else CANCELED


def _line_of(lines: Sequence[LineRecord], sku: str) -> LineRecord:
    for line in lines:
        if line.sku.lower() == sku.lower():
            return line
    raise errors.MagentoError(NOT_IN_ORDER, [sku])


def _check_open(line: LineRecord, qty: Decimal) -> None:
    if qty > line.qty_open:
        raise errors.MagentoError(MORE_THAN_OPEN, [_php(qty), line.sku, _php(line.qty_open)])


def _php(value: Decimal) -> Any:
    return php_number(value)


def _save_lines(
    session: Session, order: OrderRecord, lines: list[LineRecord], changed: Sequence[LineRecord]
) -> OrderRecord:
    repository.update_lines(session, order.order_id, changed)
    status = order_status(lines)
    repository.update_order(session, order.order_id, status, _now())
    return replace(order, status=status)


def cancel_order(
    session: Session, indexing: Indexing, increment_id: str, items: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """POST /V1/openmsi/orders/:incrementId/cancel: release the given quantities, or (no
    ``items``) every open one, with +qty ``order_canceled`` reservations.

    Raises NoSuchEntity, InputError, MagentoError (a SKU not in the order, more than open).
    """
    order = _find(session, increment_id)
    lines = repository.order_lines(session, [order.order_id])[order.order_id]
    requested: dict[str, Decimal] | None = None
    if items is not None:
        if not items:
            raise errors.InputError.of([field_empty("items")])
        wanted, problems = _lines(items)
        if problems:
            raise errors.InputError.of(problems)
        requested = {_line_of(lines, line.sku).sku.lower(): line.qty for line in wanted}
    skus = [line.sku for line in lines if requested is None or line.sku.lower() in requested]
    indexer.lock_stocks_shared(session, [order.stock_id])
    indexer.lock_index_rows(session, order.stock_id, skus)
    order = _find(session, increment_id, for_update=True)
    lines = repository.order_lines(session, [order.order_id])[order.order_id]
    releases: list[tuple[LineRecord, Decimal]] = []
    for line in lines:
        if requested is None:
            qty = line.qty_open
        else:
            qty = requested.get(line.sku.lower(), Decimal(0))
            _check_open(line, qty)
        if qty > 0:
            releases.append((line, qty))
    if not releases:
        return order_schemas.order_data(order, lines)  # nothing open: nothing to release
    canceled = {line.sku: replace(line, qty_canceled=line.qty_canceled + qty) for line, qty in releases}
    lines = [canceled.get(line.sku, line) for line in lines]
    order = _save_lines(session, order, lines, list(canceled.values()))
    metadata = reservations.sales_event_metadata(
        reservations.ORDER_CANCELED, order.increment_id, order.increment_id
    )
    reservations.append_reservations_locked(
        session,
        indexing.config,
        [reservations.ReservationRow(order.stock_id, line.sku, qty, metadata) for line, qty in releases],
    )
    return order_schemas.order_data(order, lines)


@dataclass(frozen=True)
class _Deduction:
    line: LineRecord
    source_code: str  # as stored
    qty: Decimal


def _shipment_lines(
    lines: Sequence[LineRecord], items: list[dict[str, Any]]
) -> tuple[list[tuple[LineRecord, str, Decimal]], list[str]]:
    """The (order line, source code as sent, qty) of each distinct (SKU, source) pair, quantities
    of a pair given twice added; and the source codes. Raises InputError, MagentoError."""
    problems: list[ErrorDetail] = []
    pairs: dict[tuple[str, str], tuple[LineRecord, str, Decimal]] = {}
    for item in items:
        sku, code, raw_qty = item.get("sku"), item.get("source_code"), item.get("qty")
        item_problems = _sku_problems(sku)
        if code is None:
            item_problems.append(field_required("source_code"))
        elif is_empty(code):
            item_problems.append(field_empty("source_code"))
        qty = None
        if raw_qty is None:
            item_problems.append(field_required("qty"))
        else:
            qty = _quantity(raw_qty)
            item_problems += _qty_problems(sku if isinstance(sku, str) else "", qty)
        problems += item_problems
        if item_problems or problems:
            continue
        assert isinstance(sku, str) and isinstance(code, str) and qty is not None
        line = _line_of(lines, sku)
        key = (line.sku.lower(), code.lower())
        previous = pairs.get(key)
        pairs[key] = (line, code, qty + (previous[2] if previous else Decimal(0)))
    if problems:
        raise errors.InputError.of(problems)
    return list(pairs.values()), sorted({code for _, code, _ in pairs.values()}, key=str.lower)


def _deducted(
    config: StockItemConfiguration, quantity: Decimal, status: int, qty: Decimal
) -> tuple[Decimal, int]:
    """SourceDeductionService: the item's quantity less qty, never below 0 unless backorders
    (or unmanaged stock) allow it; out of stock when it reaches the out-of-stock threshold
    (adapted min_qty) without backorders; an item out of stock stays out of stock."""
    left = quantity - qty
    checked = config.manage_stock and not config.backorders
    if checked and left < 0:
        raise errors.MagentoError(NOT_ALL_AVAILABLE)
    if abs(left) >= SOURCE_QUANTITY_LIMIT:
        raise errors.CouldNotSave("Could not save Source Item")
    if checked and left == config.adapted_min_qty:
        status = 0
    return left, status


def create_shipment(
    session: Session,
    indexing: Indexing,
    increment_id: str,
    items: list[dict[str, Any]] | None,
    algorithm_code: str | None = None,
    *,
    distance_provider: str = distance.GOOGLE,
) -> dict[str, Any]:
    """POST /V1/openmsi/orders/:incrementId/shipments: deduct each line's quantity from its
    source item, release the reservation (+qty ``shipment_created``), refresh the index.
    Without ``items`` (no body, ``{}``, or ``{"algorithm_code": …}``), the algorithm (priority
    by default) chooses the sources of every open quantity: ``ship_by_algorithm``.

    Raises NoSuchEntity (order, source, source item), InputError, MagentoError (a SKU not in
    the order, a source not linked to the order's stock, more than open, not enough at the
    source, both ``items`` and ``algorithm_code``, and what ``ship_by_algorithm`` raises).
    """
    order = _find(session, increment_id)
    if items is not None and algorithm_code is not None:
        raise errors.MagentoError(ITEMS_AND_ALGORITHM)
    if items is None:
        return ship_by_algorithm(
            session,
            indexing,
            order,
            algorithm_code or selection.DEFAULT_ALGORITHM,
            distance_provider=distance_provider,
        )
    if not items:
        raise errors.InputError.of([field_empty("items")])
    lines = repository.order_lines(session, [order.order_id])[order.order_id]
    wanted, codes = _shipment_lines(lines, items)
    canonical = inventory_repository.existing_source_codes(session, codes)
    for code in codes:
        if code.lower() not in canonical:
            raise errors.NoSuchEntity(SOURCE_NOT_FOUND, {"value": code})
    source_codes = sorted(set(canonical.values()))
    # A source-item writer (lock order levels 1 and 2): links of these sources cannot change
    # from here on, nor anything else in the stocks they serve.
    indexer.lock_sources_shared(session, source_codes)
    linked = repository.linked_source_codes(session, order.stock_id, source_codes)
    for code in codes:
        if code.lower() not in linked:
            raise errors.MagentoError(SOURCE_NOT_LINKED, [canonical[code.lower()], order.stock_id])
    stock_ids = indexer.stocks_of_sources(session, source_codes)
    order = _find(session, increment_id, for_update=True)
    lines = repository.order_lines(session, [order.order_id])[order.order_id]
    by_sku = {line.sku.lower(): line for line in lines}
    deductions = [
        _Deduction(by_sku[line.sku.lower()], canonical[code.lower()], qty) for line, code, qty in wanted
    ]
    return _deduct(session, indexing, order, lines, deductions, stock_ids)


def ship_by_algorithm(
    session: Session,
    indexing: Indexing,
    order: OrderRecord,
    algorithm_code: str,
    *,
    distance_provider: str = distance.GOOGLE,
) -> dict[str, Any]:
    """A shipment whose sources the algorithm chooses (``source_selection.service.select``) for
    every open quantity of the order, on the order's stock, deducted as a shipment with lines.

    Locks first, as a source-item writer, so that the quantities the selection reads cannot
    change before they are deducted: the stock's linked sources SHARED (level 1), then every
    stock linked to them EXCLUSIVE (level 2, the order's stock among them), then the order row.

    Raises MagentoError (unknown algorithm; ``distance``, which needs a destination a shipment
    does not carry; nothing open; a selection that is not shippable; the stock's sources
    changed while the locks were taken).
    """
    if algorithm_code not in {algorithm.code for algorithm in selection.get_algorithms()}:
        raise errors.MagentoError(selection.NO_SUCH_ALGORITHM, [algorithm_code])
    if algorithm_code == selection.DISTANCE:
        raise errors.MagentoError(DISTANCE_NEEDS_DESTINATION)
    source_codes = repository.stock_source_codes(session, order.stock_id)
    indexer.lock_sources_shared(session, source_codes)
    stock_ids = indexer.stocks_of_sources(session, source_codes)
    # Links to the stock cannot change any more (their writers take it exclusive); a source
    # linked between the first read and the stock lock has not been locked at level 1.
    locked = {code.lower() for code in source_codes}
    if any(code.lower() not in locked for code in repository.stock_source_codes(session, order.stock_id)):
        raise errors.MagentoError(SOURCES_CHANGED, [order.stock_id])
    order = _find(session, order.increment_id, for_update=True)
    lines = repository.order_lines(session, [order.order_id])[order.order_id]
    open_lines = [line for line in lines if line.qty_open > 0]
    if not open_lines:
        raise errors.MagentoError(NOTHING_OPEN, [order.increment_id])
    result = selection.select(
        session,
        order.stock_id,
        [selection.ItemRequest(line.sku, line.qty_open) for line in open_lines],
        algorithm_code,
        distance_provider=distance_provider,
    )
    by_sku = {line.sku.lower(): line for line in lines}
    chosen = [item for item in result.items if item.qty_to_deduct > 0]
    if not result.shippable:
        covered: dict[str, Decimal] = {}
        for item in chosen:
            covered[item.sku.lower()] = covered.get(item.sku.lower(), Decimal(0)) + item.qty_to_deduct
        short = []
        for line in open_lines:
            got = covered.get(line.sku.lower(), Decimal(0))
            if got < line.qty_open:
                short.append(ErrorDetail(SHORT_LINE, [line.sku, _php(got), _php(line.qty_open)]))
        raise errors.MagentoError(NOT_SHIPPABLE, [order.increment_id, order.stock_id], errors=short)
    deductions = [
        _Deduction(by_sku[item.sku.lower()], item.source_code, item.qty_to_deduct) for item in chosen
    ]
    return _deduct(session, indexing, order, lines, deductions, stock_ids)


def _deduct(
    session: Session,
    indexing: Indexing,
    order: OrderRecord,
    lines: list[LineRecord],
    deductions: Sequence[_Deduction],
    stock_ids: Sequence[int],
) -> dict[str, Any]:
    """The deductions of a shipment, its sources and stocks and its order row locked, ``lines``
    read under that lock: checked against the open quantities and the source items, then
    written (source items, lines, order status, reservations, index rows)."""
    by_sku = {line.sku.lower(): line for line in lines}
    totals: dict[str, Decimal] = {}
    for deduction in deductions:
        totals[deduction.line.sku] = totals.get(deduction.line.sku, Decimal(0)) + deduction.qty
    for sku, total in totals.items():
        _check_open(by_sku[sku.lower()], total)
    config = indexing.config
    updates: list[tuple[int, Decimal, int]] = []
    for deduction in deductions:
        item = repository.get_source_item(session, deduction.source_code, deduction.line.sku)
        if item is None:
            raise errors.NoSuchEntity(SOURCE_ITEM_NOT_FOUND, [deduction.source_code, deduction.line.sku])
        quantity, status = _deducted(config, item.quantity, item.status, deduction.qty)
        updates.append((item.source_item_id, quantity, status))
    repository.update_source_items(session, updates)
    shipped = {
        sku: replace(by_sku[sku.lower()], qty_shipped=by_sku[sku.lower()].qty_shipped + total)
        for sku, total in totals.items()
    }
    lines = [shipped.get(line.sku, line) for line in lines]
    order = _save_lines(session, order, lines, list(shipped.values()))
    metadata = reservations.sales_event_metadata(
        reservations.SHIPMENT_CREATED, order.increment_id, order.increment_id
    )
    reservations.insert_reservations(
        session,
        [
            reservations.ReservationRow(order.stock_id, deduction.line.sku, deduction.qty, metadata)
            for deduction in deductions
        ],
    )
    indexer.refresh_items(session, indexing, stock_ids, sorted(totals), items_removed=False)
    return order_schemas.order_data(order, lines)
