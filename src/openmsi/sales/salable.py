"""Salable quantity and "is salable" (spec salable.md), batched so that the export routes can
ask for thousands of SKUs with a few queries per chunk.

``salability`` reads everything the rules need for a list of SKUs in one stock; the pure
functions below it apply Magento's rules to one SKU's facts:

- ``salable_quantity``: ``GetProductSalableQty`` (get-product-salable-quantity);
- ``is_salable``: ``IsProductSalableConditionChain`` (is-product-salable, are-products-salable);
- ``requested_qty_result``: ``IsProductSalableForRequestedQtyConditionChain``, the "add to cart"
  chain both requested-qty routes use.

openmsi has no catalog (spec openmsi.md): a SKU is known iff it has a source item on some
source, and every known SKU is a simple product with the global ``StockItemConfiguration``, so
the type checks reduce to "known or not".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal

from sqlalchemy.orm import Session

from openmsi import errors
from openmsi.db import Reader
from openmsi.indexer.repository import DEFAULT_STOCK_ID, chunks
from openmsi.inventory.service import STOCK_ID_MAX
from openmsi.sales import repository
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.service_input import php_float_to_string

NOT_ASSIGNED = "The requested sku is not assigned to given stock."
NO_STOCK_DATA = "Could not receive Stock Item data"
SKUS_NOT_FOUND = "Following products with requested skus were not found: %1"

Error = dict[str, str]


@dataclass(frozen=True)
class SkuSalability:
    sku: str  # as requested
    stock_exists: bool  # the stock (not the SKU) exists: Magento's index table is there
    known: bool  # has a source item on any source
    assigned: bool  # has an item on any source linked to the stock (enabled or not)
    index_quantity: Decimal | None  # None when no index row
    index_is_salable: bool | None
    available: Decimal  # live: sum of in-stock items on enabled linked sources
    any_in_stock: bool  # live: an in-stock item on an enabled linked source
    reserved: Decimal  # sum of reservations for (stock, sku)

    def not_assigned(self, stock_id: int) -> bool:
        """GetStockItemConfiguration's SkuIsNotAssignedToStockException condition."""
        return stock_id != DEFAULT_STOCK_ID and self.known and not self.assigned

    @property
    def live_salable(self) -> Decimal:
        return self.available + self.reserved


def salability(session: Session, stock_id: int, skus: Sequence[str]) -> dict[str, SkuSalability]:
    """The facts of each distinct requested SKU in the stock, keyed by the SKU as requested.

    Three queries per chunk of up to 500 distinct SKUs, plus one for the stock.
    """
    distinct = list(dict.fromkeys(skus))
    # No stock exists beyond the column's range, and SQLite cannot even bind such integers.
    in_range = 0 <= stock_id <= STOCK_ID_MAX
    if len(distinct) == 1:
        return {distinct[0]: one_salability(Reader.of(session), stock_id, distinct[0])}
    exists = in_range and repository.stock_exists(session, stock_id)
    result: dict[str, SkuSalability] = {}
    for chunk in chunks(distinct):
        # Out of range, no stock, link or index row can match: -1 stands for "none".
        facts = repository.item_facts(session, stock_id if in_range else -1, chunk)
        rows: list[tuple[Decimal, bool] | None] = [None] * len(chunk)
        reserved = [Decimal(0)] * len(chunk)
        if in_range:
            rows = repository.index_rows(session, stock_id, chunk)
            reserved = repository.reserved_quantities(session, stock_id, chunk)
        for sku, fact, row, reservation in zip(chunk, facts, rows, reserved, strict=True):
            result[sku] = SkuSalability(
                sku=sku,
                stock_exists=exists,
                known=fact.known,
                assigned=fact.assigned,
                index_quantity=None if row is None else row[0],
                index_is_salable=None if row is None else row[1],
                available=fact.available,
                any_in_stock=fact.any_in_stock,
                reserved=reservation,
            )
    return result


def one_salability(reader: Reader, stock_id: int, sku: str) -> SkuSalability:
    """The facts of one SKU in the stock, in one prepared statement: the hot reads' path."""
    # Out of range, no stock, link, index row or reservation can match: -1 stands for "none".
    facts = repository.one_sku_facts(reader, stock_id if 0 <= stock_id <= STOCK_ID_MAX else -1, sku)
    return SkuSalability(
        sku=sku,
        stock_exists=facts.stock_exists,
        known=facts.items.known,
        assigned=facts.items.assigned,
        index_quantity=None if facts.index_row is None else facts.index_row[0],
        index_is_salable=None if facts.index_row is None else facts.index_row[1],
        available=facts.items.available,
        any_in_stock=facts.items.any_in_stock,
        reserved=facts.reserved,
    )


def skus_not_found(skus: Sequence[str]) -> errors.NoSuchEntity:
    # GetProductIdsBySkus: implode(', ', $notFoundedSkus).
    return errors.NoSuchEntity(SKUS_NOT_FOUND, [", ".join(dict.fromkeys(skus))])


def salable_quantity(config: StockItemConfiguration, stock_id: int, s: SkuSalability) -> Decimal:
    """GET get-product-salable-quantity: index quantity + reservations − adapted min_qty, 0
    without a salable index row. Raises MagentoError (unknown stock, "not assigned") and
    NoSuchEntity (stock 1 and an unknown SKU)."""
    if stock_id == DEFAULT_STOCK_ID:
        if not s.known:
            raise skus_not_found([s.sku])
    elif not s.stock_exists:
        raise errors.MagentoError(NO_STOCK_DATA)
    if s.index_quantity is None or not s.index_is_salable:
        return Decimal(0)
    if s.not_assigned(stock_id):
        # Only while a link change waits in a rebuild job: otherwise a row implies an item.
        raise errors.MagentoError(NOT_ASSIGNED)
    return s.index_quantity + s.reserved - config.adapted_min_qty


def is_salable(config: StockItemConfiguration, stock_id: int, s: SkuSalability) -> bool:
    """GET is-product-salable: the required conditions, then the first sufficient one."""
    if not s.known:
        # R1: the empty legacy stock item of a SKU missing from the catalog is out of stock.
        return False
    if s.not_assigned(stock_id):
        # Also every known SKU on a stock that does not exist: it has no links.
        return False
    if config.manage_stock and not s.any_in_stock:
        return False
    if _backorders_pass(config) or not config.manage_stock:
        return True
    return s.index_quantity is not None and s.live_salable - config.adapted_min_qty > 0


def requested_qty_result(
    config: StockItemConfiguration, stock_id: int, s: SkuSalability, qty: Decimal
) -> tuple[bool, list[Error]]:
    """GET is-product-salable-for-requested-qty: (salable, errors). Raises NoSuchEntity for an
    unknown SKU, where Magento fails with a PHP TypeError (500)."""
    if not s.known:
        raise skus_not_found([s.sku])
    if s.not_assigned(stock_id):
        return False, [_error("requested-sku-is-not-assigned-to-given-stock", NOT_ASSIGNED)]
    required = _qty_errors(config, qty)
    if config.manage_stock and not s.any_in_stock:
        required.append(
            _error(
                "is_any_source_item_in_stock-no_source_items_in_stock",
                "There are no source items with the in stock status",
            )
        )
    if required:
        return False, required
    if _backorders_pass(config) or not config.manage_stock:
        return True, []
    if s.index_quantity is None:
        last = _error(
            "is_salable_with_reservations-no_data", "The requested sku is not assigned to given stock"
        )
    else:
        left = s.live_salable - config.adapted_min_qty
        # bccomp((string)$qtyLeftInStock, (string)$requestedQty, 4) >= 0
        if _truncate(left) >= _truncate(qty):
            return True, []
        message = "Not enough items for sale"
        if config.not_available_message == 1:
            message = f"Only {_php(left)} of {_php(qty)} available"
        last = _error("is_salable_with_reservations-not_enough_qty", message)
    return False, [
        _error("back_order-disabled", "Backorders are disabled"),
        _error("manage_stock-enabled", "Manage stock is enabled"),
        last,
    ]


def _qty_errors(config: StockItemConfiguration, qty: Decimal) -> list[Error]:
    """IsCorrectQtyCondition: the first failing check only."""
    if config.min_sale_qty and qty < config.min_sale_qty:
        message = f"The fewest you may purchase is {_php(config.min_sale_qty)}."
        return [_error("is_correct_qty-min_sale_qty", message)]
    if config.max_sale_qty and qty > config.max_sale_qty:
        message = "The requested qty exceeds the maximum qty allowed in shopping cart"
        return [_error("is_correct_qty-max_sale_qty", message)]
    increments = config.effective_qty_increments
    if increments and not _is_multiple(qty, increments):
        return [
            _error(
                "is_correct_qty-qty_increment",
                f"You can buy this product only in quantities of {_php(increments)} at a time.",
            )
        ]
    if not config.is_qty_decimal and qty != qty.to_integral_value(ROUND_FLOOR):
        return [_error("is_correct_qty-is_qty_decimal", "You cannot use decimal quantity for this product.")]
    return []


def _is_multiple(dividend: Decimal, divisor: Decimal) -> bool:
    """Magento\\Framework\\Math\\Division::getExactDivision() == 0: fmod within divisor/10000."""
    epsilon = divisor / 10000
    remainder = dividend % divisor  # the sign of the dividend, as fmod
    return abs(remainder - divisor) < epsilon or abs(remainder) < epsilon


def _backorders_pass(config: StockItemConfiguration) -> bool:
    """BackOrderCondition (C1)."""
    return config.backorders != 0 and config.adapted_min_qty >= 0


def _truncate(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"), rounding=ROUND_DOWN)


def _php(value: Decimal) -> str:
    return php_float_to_string(float(value))


def _error(code: str, message: str) -> Error:
    return {"code": code, "message": message}
