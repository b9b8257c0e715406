"""Use cases of the low-quantity notification settings (spec low-quantity.md): read one pair,
upsert and delete in batches.

openmsi has no catalog, so "the product exists" means "the SKU has a source item on some
source", and Magento's legacy stock-item synchronisation on the default source (with its 404
for SKUs unknown to the catalog) has nothing to synchronise.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from openmsi import errors
from openmsi.inventory import repository as inventory_repository
from openmsi.inventory.source_items import item_keys
from openmsi.low_quantity import repository
from openmsi.models import CODE_LENGTH, SKU_LENGTH
from openmsi.phpjson import php_number

# decimal(12,4): 8 digits before the point.
VALUE_LIMIT = Decimal("100000000")
FOUR_PLACES = Decimal("0.0001")


def configuration_data(source_code: str, notify_stock_qty: Any, sku: str) -> dict[str, Any]:
    """SourceItemConfigurationInterface in getter order; extension attributes are never set."""
    return {"source_code": source_code, "notify_stock_qty": php_number(notify_stock_qty), "sku": sku}


def get_configuration(session: Session, default: float, source_code: str, sku: str) -> dict[str, Any]:
    """GET /V1/inventory/low-quantity-notification/:sourceCode/:sku.

    Raises InputError("Wrong input data") for an empty code or SKU (PHP ``empty()``, so "0"
    too), an unknown source or an unknown product.
    """
    if source_code in ("", "0") or sku in ("", "0"):
        raise errors.InputError("Wrong input data")
    # Source-item SKUs never end in spaces, and MySQL (PAD SPACE) finds "SKU-1 " as "SKU-1".
    product_sku = sku.rstrip(" ")
    if (
        inventory_repository.get_source(session, source_code) is None
        or len(product_sku) > SKU_LENGTH
        or not repository.sku_exists(session, product_sku)
    ):
        raise errors.InputError("Wrong input data")
    row = repository.stored_configuration(session, source_code, sku)
    if row is None:
        return configuration_data(source_code, default, sku)
    return configuration_data(row.source_code, row.notify_stock_qty, row.sku)


def _stored_value(value: float | None) -> Decimal | None:
    """The value as decimal(12,4) stores it; raises ValueError when the column cannot hold it."""
    if value is None:
        return None
    try:
        stored = Decimal(repr(float(value))).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)
    except (InvalidOperation, OverflowError) as error:
        raise ValueError(value) from error
    if abs(stored) >= VALUE_LIMIT:
        raise ValueError(value)
    return stored


def save_configurations(session: Session, configurations: list[dict[str, Any]]) -> None:
    """POST /V1/inventory/low-quantity-notification: one upsert keyed on (source_code, sku).

    No existence or range checks (as in Magento); a missing code or SKU, or a value the columns
    cannot hold, is MySQL's NOT NULL or strict-mode error there: CouldNotSave, nothing written.
    """
    if not configurations:
        raise errors.InputError("Input data is empty")
    could_not_save = errors.CouldNotSave("Could not save Source Item Configuration")
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for configuration in configurations:
        code, sku = configuration.get("source_code"), configuration.get("sku")
        if code is None or sku is None or len(code) > CODE_LENGTH or len(sku) > SKU_LENGTH:
            raise could_not_save
        try:
            value = _stored_value(configuration.get("notify_stock_qty"))
        except ValueError:
            raise could_not_save from None
        key = (code.lower(), sku.lower())
        if key in rows:
            # MySQL's multi-row upsert: the first row inserts, a later duplicate only updates
            # the value, so the first spelling stays and the last value wins.
            rows[key]["notify_stock_qty"] = value
        else:
            rows[key] = {"source_code": code, "sku": sku, "notify_stock_qty": value}
    # Key order, so that concurrent batches lock shared rows in the same order.
    repository.upsert(session, [rows[key] for key in sorted(rows)])


def delete_configurations(session: Session, items: list[dict[str, Any]]) -> None:
    """POST /V1/inventory/low-quantity-notifications-delete: pairs without a row are ignored,
    an empty list is fine. A database failure is the route's CouldNotDelete."""
    pairs = item_keys(items)
    repository.delete_pairs(session, pairs)
