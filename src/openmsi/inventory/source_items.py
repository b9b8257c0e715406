"""Use cases of source items (spec source-items.md): list, save and delete in batches.

A batch is one transaction: the items and the index rows of their SKUs, in every stock linked
to their sources, commit together or not at all. Items are written with one prepared
statement executed for the whole batch, never a query per item.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from openmsi import errors, pieces
from openmsi.errors import ErrorDetail, render_value
from openmsi.indexer import service as indexer
from openmsi.indexer.service import Indexing
from openmsi.inventory import repository
from openmsi.inventory.validators import validate_source_item
from openmsi.models import CODE_LENGTH, SKU_LENGTH, SourceItem
from openmsi.search_criteria import SearchCriteria

# decimal(12,4): 8 digits before the point.
QUANTITY_LIMIT = Decimal("100000000")
FOUR_PLACES = Decimal("0.0001")


def item_keys(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The distinct (source_code, sku) pairs of the items that can name a stored row, in one
    order for every writer (so their row locks never cross)."""
    return sorted(
        {
            (item["source_code"], item["sku"])
            for item in items
            if isinstance(item.get("source_code"), str)
            and isinstance(item.get("sku"), str)
            # Longer values cannot be stored, so they match nothing.
            and len(item["source_code"]) <= CODE_LENGTH
            and len(item["sku"]) <= SKU_LENGTH
        },
        key=lambda pair: (pair[0].lower(), pair[1].lower(), pair),
    )


def get_source_items(session: Session, criteria: SearchCriteria) -> tuple[list[SourceItem], int]:
    """GET /V1/inventory/source-items, in creation order unless sorted."""
    return repository.search(
        session,
        repository.select_source_items(),
        criteria,
        repository.SOURCE_ITEM_FIELDS,
        [SourceItem.source_item_id],
    )


def _first_error_message(problem: ErrorDetail) -> str:
    message = problem.message
    if isinstance(problem.parameters, dict):
        for name, value in sorted(problem.parameters.items(), key=lambda item: -len(item[0])):
            message = message.replace(f"%{name}", render_value(value))
    return message


def stored_quantity(value: float) -> Decimal | None:
    """The value as decimal(12,4) stores it, or None when the column cannot hold it."""
    try:
        quantity = Decimal(repr(float(value))).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError, OverflowError):
        return None
    return quantity if abs(quantity) < QUANTITY_LIMIT else None


def save_source_items(session: Session, indexing: Indexing, items: list[dict[str, Any]]) -> None:
    """POST /V1/inventory/source-items: an upsert keyed on (sku, source_code).

    Raises InputError("Input data is empty"), ValidationFailed("Validation Failed: <first
    error>") listing every problem, or CouldNotSave("Could not save Source Item") for an
    unknown source or a value the columns cannot hold; nothing is written then.
    """
    if not items:
        raise errors.InputError("Input data is empty")
    problems = [problem for item in items for problem in validate_source_item(item)]
    if problems:
        raise errors.ValidationFailed(problems, f"Validation Failed: {_first_error_message(problems[0])}")
    could_not_save = errors.CouldNotSave("Could not save Source Item")
    canonical = repository.existing_source_codes(session, [item["source_code"] for item in items])
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        code = canonical.get(item["source_code"].lower())
        quantity = stored_quantity(item["quantity"])
        if code is None or quantity is None or len(item["sku"]) > SKU_LENGTH or len(code) > CODE_LENGTH:
            raise could_not_save
        # The same pair twice: the later one wins, as in Magento's multi-row upsert.
        rows[(code, item["sku"].lower())] = {
            "source_code": code,
            "sku": item["sku"],
            "quantity": quantity,
            "status": int(item["status"]),
        }
    ordered = [rows[key] for key in pieces.sorted_in_pieces(rows)]
    stock_ids = lock_item_sources(session, [row["source_code"] for row in ordered])
    write_source_items(session, indexing, stock_ids, saved=ordered)
    pieces.release(ordered)
    pieces.release(rows)


def delete_source_items(session: Session, indexing: Indexing, items: list[dict[str, Any]]) -> None:
    """POST /V1/inventory/source-items-delete: pairs that do not exist are ignored.

    Also deletes the pairs' low-quantity notification settings. Raises InputError("Input data is
    empty") or CouldNotDelete("Could not delete Source Items").
    """
    if not items:
        raise errors.InputError("Input data is empty")
    pairs = item_keys(items)
    stock_ids = lock_item_sources(session, [code for code, _ in pairs])
    write_source_items(session, indexing, stock_ids, deleted=pairs)


# The write path of every source-item writer (these routes and the bulk ones, inventory.bulk),
# in the lock order of indexer.service.


def lock_item_sources(session: Session, source_codes: Sequence[str]) -> list[int]:
    """Levels 1 and 2 of the lock order for a writer of these sources' items: the source rows
    SHARED, then every stock linked to them (exclusive, by id). Returns the stocks' ids."""
    codes = pieces.unique_sorted(source_codes)
    indexer.lock_sources_shared(session, codes)
    return indexer.stocks_of_sources(session, codes)


def write_source_items(
    session: Session,
    indexing: Indexing,
    stock_ids: Sequence[int],
    *,
    saved: Sequence[dict[str, Any]] = (),
    added: Sequence[dict[str, Any]] = (),
    deleted: Sequence[tuple[str, str]] = (),
) -> None:
    """Level 3, after ``lock_item_sources``: upsert the ``saved`` rows, insert the ``added`` rows
    whose pair does not exist yet (an existing pair is left as it is), delete the ``deleted``
    (source_code, sku) pairs with their low-quantity settings; then refresh the index rows of
    all their SKUs in those stocks, in the same transaction. Rows and pairs come in (source,
    SKU) order, so that concurrent writers lock item rows in one order."""
    repository.upsert_source_items(session, saved)
    repository.add_source_items(session, added)
    repository.delete_source_items(session, deleted)
    skus = [row["sku"] for row in (*saved, *added)] + [sku for _, sku in deleted]
    indexer.refresh_items(session, indexing, stock_ids, skus, items_removed=bool(deleted))
