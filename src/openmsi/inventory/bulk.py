"""Bulk operations on source items (spec bulk.md; Magento's InventoryCatalogApi): assign and
unassign sources for many SKUs, move whole quantities (transfer) or parts of them (partial
transfer) from one source to another.

Each call is one transaction, through the source-item write path of ``source_items``
(``lock_item_sources``, then ``write_source_items``): the source rows SHARED, the stocks linked
to them, the items (read with their row locks where the new values depend on the old ones),
then the index rows of the SKUs in every stock concerned and the low-quantity settings. So the
index is fresh when the answer leaves, and a refused request (a validation error, an unknown
SKU, a quantity that is not there) or a database failure writes nothing at all.

Where openmsi departs from Magento (docs/compatibility.md, "Bulk operations"):

- Magento crashes (a PHP TypeError, a plain-text 500) on a SKU its catalog does not know, or
  spells with another letter case, and has already written part of the work by then. openmsi
  has no catalog: a SKU is known while a source item stores it (spec openmsi.md). An unknown
  SKU is Magento's own 404 ``Following products with requested skus were not found: %1``; a
  SKU known only under another spelling is a 400 that names the stored spelling.
- Assign refreshes the index (Magento's reindex gets source codes for item ids and does
  nothing); empty lists answer 0 for unassign too (Magento builds ``IN ()``, a 500); a full
  transfer of a SKU that is on neither source changes nothing (Magento: a PHP warning, 500).
- Origin and destination are the same source whatever the letter case (Magento compares the
  strings exactly and then doubles the quantity on the one source).
- A partial transfer is refused when the items of one SKU ask for more than the origin holds
  in total (Magento checks each item alone), and for a negative quantity (Magento takes the
  amount the other way).
- A quantity a source item cannot hold (decimal(12,4)) is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from openmsi import errors
from openmsi.errors import ErrorDetail
from openmsi.indexer.service import Indexing
from openmsi.inventory import repository, source_items
from openmsi.inventory.source_items import QUANTITY_LIMIT, stored_quantity
from openmsi.inventory.validators import DEFAULT_SOURCE_CODE
from openmsi.models import CODE_LENGTH, SKU_LENGTH

# Magento's messages (InventoryCatalog's validators and GetProductIdsBySkus).
VALIDATION_FAILED = "Validation Failed"
TRANSFER_VALIDATION_ERROR = "Validation Error: Select different sources for origin and destination."
PARTIAL_TRANSFER_FAILED = "Transfer validation failed"
SOURCE_DOES_NOT_EXIST = "Source %sourceCode does not exist"
ORIGIN_DOES_NOT_EXIST = "Origin source %sourceCode does not exist"
DESTINATION_DOES_NOT_EXIST = "Destination source %sourceCode does not exist"
SAME_SOURCE = "Cannot transfer a source on itself"
NOT_AVAILABLE = "Requested transfer amount for sku %sku is not available"
PRERENDERED = "%message"
SKUS_NOT_FOUND = "Following products with requested skus were not found: %1"
# openmsi's own, where Magento crashes or corrupts.
SKU_SPELLING = 'Product "%sku" is stored as "%storedSku": send the SKU as it is stored.'
NEGATIVE_AMOUNT = "Requested transfer amount for sku %sku must not be negative"
TOO_LARGE = "Source item for %sku and %sourceCode cannot hold %quantity"

STATUS_OUT_OF_STOCK = 0
STATUS_IN_STOCK = 1
ZERO = Decimal(0)

Key = tuple[str, str]  # (lower-case source code, lower-case SKU)


def _key(source_code: str, sku: str) -> Key:
    return source_code.lower(), sku.lower()


def _distinct(skus: Sequence[str]) -> list[str]:
    """The SKUs in request order, each once (compared as the database compares them)."""
    seen: set[str] = set()
    result = []
    for sku in skus:
        if sku.lower() not in seen:
            seen.add(sku.lower())
            result.append(sku)
    return result


def _known_sources(session: Session, codes: Sequence[str]) -> dict[str, str]:
    """Stored spelling of each existing source among the codes, keyed by its lower case."""
    return repository.existing_source_codes(session, [code for code in codes if len(code) <= CODE_LENGTH])


def _require_known_skus(session: Session, skus: Sequence[str]) -> None:
    """Where Magento's catalog lookup crashes (magento2#35171): every SKU must be stored by a
    source item, spelled as stored. Raises NoSuchEntity or InputError."""
    stored = repository.stored_skus(session, [sku for sku in skus if len(sku) <= SKU_LENGTH])
    spelling: dict[str, str] = {}
    for sku in sorted(stored):
        spelling.setdefault(sku.lower(), sku)
    unknown = [sku for sku in skus if sku not in stored and sku.lower() not in spelling]
    if unknown:
        raise errors.NoSuchEntity(SKUS_NOT_FOUND, [", ".join(unknown)])
    misspelled = [
        ErrorDetail(SKU_SPELLING, {"sku": sku, "storedSku": spelling[sku.lower()]})
        for sku in skus
        if sku not in stored
    ]
    if misspelled:
        raise errors.InputError.of(misspelled)


def _require_known_products(session: Session, skus: Sequence[str]) -> None:
    """Magento's GetProductIdsBySkus (any letter case): NoSuchEntity naming the unknown SKUs."""
    stored = {
        sku.lower() for sku in repository.stored_skus(session, [s for s in skus if len(s) <= SKU_LENGTH])
    }
    unknown = [sku for sku in skus if sku.lower() not in stored]
    if unknown:
        raise errors.NoSuchEntity(SKUS_NOT_FOUND, [", ".join(unknown)])


def _source_problems(
    session: Session, source_codes: Sequence[str]
) -> tuple[dict[str, str], list[ErrorDetail]]:
    """AssignSourcesValidator / UnassignSourcesValidator: one error per unknown code, in order,
    repeated as often as the code is."""
    known = _known_sources(session, source_codes)
    problems = [
        ErrorDetail(SOURCE_DOES_NOT_EXIST, {"sourceCode": code})
        for code in source_codes
        if known.get(code.lower()) is None
    ]
    return known, problems


def _transfer_problems(
    session: Session, origin: str, destination: str
) -> tuple[str | None, str | None, list[ErrorDetail]]:
    """TransferSourceValidator / PartialTransferSourceValidator: the stored codes of origin and
    destination (None when unknown) and the errors, in Magento's order."""
    known = _known_sources(session, [origin, destination])
    origin_code, destination_code = known.get(origin.lower()), known.get(destination.lower())
    problems = []
    if origin_code is None:
        problems.append(ErrorDetail(ORIGIN_DOES_NOT_EXIST, {"sourceCode": origin}))
    if destination_code is None:
        problems.append(ErrorDetail(DESTINATION_DOES_NOT_EXIST, {"sourceCode": destination}))
    if origin.lower() == destination.lower():
        problems.append(ErrorDetail(SAME_SOURCE))
    return origin_code, destination_code, problems


def _too_large(sku: str, source_code: str, quantity: Decimal) -> ErrorDetail:
    text = format(quantity.normalize(), "f")
    return ErrorDetail(TOO_LARGE, {"sku": sku, "sourceCode": source_code, "quantity": text})


# Assign and unassign


def assign_sources(session: Session, indexing: Indexing, skus: list[str], source_codes: list[str]) -> int:
    """POST /V1/inventory/bulk-product-source-assign: an out-of-stock item with quantity 0 (and a
    default low-quantity setting) for every SKU × source pair that has none; answers how many
    items were created.

    Raises ValidationFailed("Validation Failed") for unknown sources, NoSuchEntity or InputError
    for SKUs no source item stores (as spelled).
    """
    known, problems = _source_problems(session, source_codes)
    if problems:
        raise errors.ValidationFailed(problems, VALIDATION_FAILED)
    skus = _distinct(skus)
    if not skus or not source_codes:
        return 0
    _require_known_skus(session, skus)
    codes = sorted({known[code.lower()] for code in source_codes}, key=str.lower)
    stock_ids = source_items.lock_item_sources(session, codes)
    # The stock locks keep other item writers of linked sources out until this commits, so the
    # count is exact there. On a source linked to no stock a concurrent save may insert one of
    # these pairs meanwhile: the insert then leaves that item alone (it is counted all the same).
    existing = {_key(row.source_code, row.sku) for row in repository.source_items_of(session, codes, skus)}
    added = [
        {"source_code": code, "sku": sku, "quantity": ZERO, "status": STATUS_OUT_OF_STOCK}
        for code in codes
        for sku in sorted(skus, key=str.lower)
        if _key(code, sku) not in existing
    ]
    source_items.write_source_items(session, indexing, stock_ids, added=added)
    # BulkConfigurationAssign: every pair gets a setting (null: the default) unless it has one.
    repository.add_low_quantity_settings(
        session,
        [
            {"source_code": code, "sku": sku, "notify_stock_qty": None}
            for code in codes
            for sku in sorted(skus, key=str.lower)
        ],
    )
    return len(added)


def unassign_sources(session: Session, indexing: Indexing, skus: list[str], source_codes: list[str]) -> int:
    """POST /V1/inventory/bulk-product-source-unassign: delete the items (and low-quantity
    settings) of the SKUs on the sources; answers how many items were deleted.

    Raises ValidationFailed("Validation Failed") for unknown sources, and NoSuchEntity when the
    default source is among them and a SKU is stored by no source item (Magento resolves the
    SKUs to products to zero their legacy stock items).
    """
    known, problems = _source_problems(session, source_codes)
    if problems:
        raise errors.ValidationFailed(problems, VALIDATION_FAILED)
    if not skus or not source_codes:
        return 0
    codes = sorted({known[code.lower()] for code in source_codes}, key=str.lower)
    if DEFAULT_SOURCE_CODE in codes:
        _require_known_products(session, _distinct(skus))
    searched = [sku for sku in _distinct(skus) if len(sku) <= SKU_LENGTH]
    stock_ids = source_items.lock_item_sources(session, codes)
    deleted = [
        (row.source_code, row.sku) for row in repository.source_items_of(session, codes, searched, lock=True)
    ]
    source_items.write_source_items(session, indexing, stock_ids, deleted=deleted)
    repository.delete_low_quantity_settings(session, codes, searched)
    return len(deleted)


# Transfers


def transfer_inventory(
    session: Session,
    indexing: Indexing,
    skus: list[str],
    origin: str,
    destination: str,
    unassign_from_origin: bool,
) -> bool:
    """POST /V1/inventory/bulk-product-source-transfer: each SKU's whole origin quantity is added
    to its destination item (created if missing), which takes the origin's status; the origin
    item is then set to 0 and out of stock, or deleted with ``unassign_from_origin``.

    Raises NoSuchEntity or InputError for SKUs no source item stores (as spelled), then
    ValidationFailed("Validation Error: Select different sources …") for an unknown or the same
    source, InputError when a destination cannot hold the sum.
    """
    skus = _distinct(skus)
    if skus:
        _require_known_skus(session, skus)
    origin_code, destination_code, problems = _transfer_problems(session, origin, destination)
    if problems:
        raise errors.ValidationFailed(problems, TRANSFER_VALIDATION_ERROR)
    assert origin_code is not None and destination_code is not None
    if not skus:
        return True
    stock_ids = source_items.lock_item_sources(session, [origin_code, destination_code])
    items = {
        _key(row.source_code, row.sku): row
        for row in repository.source_items_of(session, [origin_code, destination_code], skus, lock=True)
    }
    saved: list[dict[str, Any]] = []
    cleared: list[dict[str, Any]] = []
    too_large: list[ErrorDetail] = []
    for sku in skus:
        moved = items.get(_key(origin_code, sku))
        if moved is None:
            continue  # nothing at the origin: the destination stays as it is
        kept = items.get(_key(destination_code, sku))
        quantity = Decimal(moved.quantity) + (Decimal(kept.quantity) if kept is not None else ZERO)
        if abs(quantity) >= QUANTITY_LIMIT:
            too_large.append(_too_large(sku, destination, quantity))
        saved.append(
            {
                "source_code": destination_code,
                "sku": kept.sku if kept is not None else moved.sku,
                "quantity": quantity,
                "status": moved.status,
            }
        )
        cleared.append(
            {"source_code": origin_code, "sku": moved.sku, "quantity": ZERO, "status": STATUS_OUT_OF_STOCK}
        )
    if too_large:
        raise errors.InputError.of(too_large)
    # BulkConfigurationTransfer: a SKU without a setting at the destination gets the origin's
    # (or the default); with unassign the origin's settings go (BulkConfigurationUnassign).
    origin_settings = {
        sku.lower(): value for sku, value in repository.low_quantity_settings_of(session, origin_code, skus)
    }
    configured = {
        sku.lower() for sku, _ in repository.low_quantity_settings_of(session, destination_code, skus)
    }
    settings = [
        {"source_code": destination_code, "sku": sku, "notify_stock_qty": origin_settings.get(sku.lower())}
        for sku in sorted(skus, key=str.lower)
        if sku.lower() not in configured
    ]
    if unassign_from_origin:
        deleted = [(row["source_code"], row["sku"]) for row in cleared]
        source_items.write_source_items(
            session, indexing, stock_ids, saved=_ordered(saved), deleted=_pairs(deleted)
        )
        repository.delete_low_quantity_settings(session, [origin_code], skus)
    else:
        source_items.write_source_items(session, indexing, stock_ids, saved=_ordered(saved + cleared))
    repository.add_low_quantity_settings(session, settings)
    return True


def transfer_inventory_partially(
    session: Session, indexing: Indexing, origin: str, destination: str, items: list[dict[str, Any]]
) -> None:
    """POST /V1/inventory/bulk-partial-source-transfer: move each item's quantity from the
    origin item to the destination item, which is set in stock; the origin keeps its status.

    Raises InputError for an item without ``sku`` or ``qty``, ValidationFailed("Transfer
    validation failed") listing every problem: unknown or same sources, items missing on
    either source, amounts the origin does not hold (the items of one SKU counted together),
    negative amounts, destinations that cannot hold the result.
    """
    # Magento: a TypeError (plain-text 500) from the item's typed getter.
    missing = [name for name in ("sku", "qty") if any(item.get(name) is None for item in items)]
    if missing:
        raise errors.InputError.required(*missing)
    origin_code, destination_code, problems = _transfer_problems(session, origin, destination)
    codes = [code for code in (origin_code, destination_code) if code is not None]
    stock_ids = source_items.lock_item_sources(session, codes) if codes else []
    skus = [item["sku"] for item in items if len(item["sku"]) <= SKU_LENGTH]
    stored = {
        _key(row.source_code, row.sku): row
        for row in repository.source_items_of(session, codes, skus, lock=True)
    }

    def stored_item(code: str | None, sku: str) -> Any:
        return stored.get(_key(code, sku)) if code is not None else None

    requested: dict[str, Decimal] = {}
    for item in items:
        sku, amount = item["sku"], stored_quantity(item["qty"])
        origin_item = stored_item(origin_code, sku)
        if origin_item is None:
            rendered = f"Source item for {sku} and {origin} does not exist"
            problems.append(ErrorDetail(PRERENDERED, {"message": rendered}))
            continue
        if amount is None or amount < 0:
            if item["qty"] < 0:
                problems.append(ErrorDetail(NEGATIVE_AMOUNT, {"sku": sku}))
            else:  # more than any source item can hold
                problems.append(ErrorDetail(NOT_AVAILABLE, {"sku": sku}))
        else:
            total = requested[sku.lower()] = requested.get(sku.lower(), ZERO) + amount
            if Decimal(origin_item.quantity) < total:
                problems.append(ErrorDetail(NOT_AVAILABLE, {"sku": sku}))
        if stored_item(destination_code, sku) is None:
            rendered = f"Source item for {sku} and {destination} does not exist"
            problems.append(ErrorDetail(PRERENDERED, {"message": rendered}))
    if not problems:
        assert origin_code is not None and destination_code is not None
        for sku, total in requested.items():
            kept = stored[_key(destination_code, sku)]
            if abs(Decimal(kept.quantity) + total) >= QUANTITY_LIMIT:
                problems.append(_too_large(kept.sku, destination, Decimal(kept.quantity) + total))
    if problems:
        raise errors.ValidationFailed(problems, PARTIAL_TRANSFER_FAILED)
    assert origin_code is not None and destination_code is not None
    saved = []
    for sku, total in requested.items():
        moved, kept = stored[_key(origin_code, sku)], stored[_key(destination_code, sku)]
        saved.append(
            {
                "source_code": moved.source_code,
                "sku": moved.sku,
                "quantity": Decimal(moved.quantity) - total,
                "status": moved.status,
            }
        )
        saved.append(
            {
                "source_code": kept.source_code,
                "sku": kept.sku,
                "quantity": Decimal(kept.quantity) + total,
                "status": STATUS_IN_STOCK,
            }
        )
    source_items.write_source_items(session, indexing, stock_ids, saved=_ordered(saved))


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: _key(row["source_code"], row["sku"]))


def _pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(pairs, key=lambda pair: _key(*pair))
