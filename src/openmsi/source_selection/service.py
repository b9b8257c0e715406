"""Source selection (spec source-selection.md): from which sources of a stock to ship the
requested quantities. A computation over live data (links, sources, source items): it reserves
and deducts nothing and does not read the stock index.

``select`` is the one entry point, for the REST route and for callers inside openmsi (a
shipment that lets an algorithm choose its sources calls it in its own write transaction).
Its result is a plain value, ``SelectionResult``.

Algorithms, as GET source-selection-algorithm-list lists them:

- ``priority`` (Magento's default, ``PriorityBasedAlgorithm`` + ``GetDefaultSortedSourcesResult``):
  the stock's enabled sources in link-priority order; each requested SKU is taken from them
  in that order until its quantity is covered.
- ``distance`` (``DistanceBasedAlgorithm``): the same allocation, the sources ordered by their
  distance to the destination (``distance.sort_by_distance``).
- ``fewest-splits`` (openmsi's own, see ``fewest_splits``): ship from as few sources as
  possible.

Every algorithm answers one entry per candidate item (an in-stock item of a requested SKU on
an enabled linked source), ordered by source position and then by item creation, with the
quantity to deduct from it (0 included), and whether every requested quantity is covered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy.orm import Session

from openmsi import errors
from openmsi.inventory.service import STOCK_ID_MAX
from openmsi.source_selection import distance, repository
from openmsi.source_selection.distance import Address, LatLng
from openmsi.source_selection.repository import Candidate, SourcePlace

PRIORITY = "priority"
DISTANCE = "distance"
FEWEST_SPLITS = "fewest-splits"

NO_SUCH_ALGORITHM = "There is no such Source Selection Algorithm implemented: %1"
NO_DESTINATION = "No destination address was provided in the request"
STOCK_NOT_FOUND = 'Stock with id "%value" does not exist.'
QTY_NEGATIVE = 'The quantity requested of "%sku" is negative: a quantity must be 0 or more.'
# GetDefaultSortedSourcesResult::isZero: what remains below this counts as covered.
EPSILON = Decimal("0.0000001")
ZERO = Decimal(0)


@dataclass(frozen=True)
class Algorithm:
    """SourceSelectionAlgorithmInterface."""

    code: str
    title: str
    description: str


# InventorySourceSelectionApi/etc/di.xml, then InventoryDistanceBasedSourceSelection/etc/di.xml,
# then openmsi's own.
ALGORITHMS = (
    Algorithm(
        PRIORITY,
        "Source Priority",
        "Algorithm which provides Source Selections based on predefined priority of Source",
    ),
    Algorithm(
        DISTANCE,
        "Distance Priority",
        "Algorithm which provides Source Selections based on shipping address distance from the source",
    ),
    Algorithm(
        FEWEST_SPLITS,
        "Fewest Splits",
        "Algorithm which ships from as few sources as possible: a source that covers a whole line is "
        "preferred to splitting it, ties broken by source priority (openmsi)",
    ),
)
DEFAULT_ALGORITHM = PRIORITY


@dataclass(frozen=True)
class ItemRequest:
    """ItemRequestInterface: a SKU and the quantity to ship."""

    sku: str
    qty: Decimal


@dataclass(frozen=True)
class Destination:
    """Where the shipment goes: Magento's ``destination_address`` extension attribute, or the
    destination's coordinates (openmsi's ``destination_coordinates``), which then win."""

    address: Address | None = None
    coordinates: LatLng | None = None


class SelectionItem(NamedTuple):
    """SourceSelectionItemInterface."""

    source_code: str
    sku: str
    qty_to_deduct: Decimal
    qty_available: Decimal


@dataclass(frozen=True)
class SelectionResult:
    """SourceSelectionResultInterface."""

    items: tuple[SelectionItem, ...]
    shippable: bool


def get_algorithms() -> tuple[Algorithm, ...]:
    """GET /V1/inventory/source-selection-algorithm-list."""
    return ALGORITHMS


def select(
    session: Session,
    stock_id: int,
    items: Sequence[ItemRequest],
    algorithm_code: str = DEFAULT_ALGORITHM,
    destination: Destination | None = None,
    *,
    distance_provider: str = distance.GOOGLE,
) -> SelectionResult:
    """POST /V1/inventory/source-selection-algorithm-result, and the same for a shipment.

    Raises InputError (no items, a negative quantity), MagentoError (unknown algorithm code;
    ``distance`` without a destination; with the google provider nothing else fails), and
    NoSuchEntity (unknown stock; with the offline provider, a destination address it does not
    know). Reads only: in a write transaction, take the locks that keep the quantities it read
    (the stock's sources, then the stock: indexer.service's lock order) before calling it.
    """
    if not items:
        raise errors.InputError.of([errors.field_empty("items")])
    for item in items:
        if item.qty < 0:
            raise errors.InputError(QTY_NEGATIVE, {"sku": item.sku})
    algorithm = next((a for a in ALGORITHMS if a.code == algorithm_code), None)
    if algorithm is None:
        raise errors.MagentoError(NO_SUCH_ALGORITHM, [algorithm_code])
    if algorithm.code == DISTANCE and (
        destination is None or (destination.address is None and destination.coordinates is None)
    ):
        raise errors.MagentoError(NO_DESTINATION)
    with_places = algorithm.code == DISTANCE
    found: list[Candidate] = []
    places: dict[str, SourcePlace] = {}
    if 0 <= stock_id <= STOCK_ID_MAX:
        skus = [item.sku for item in items]
        found, places = repository.candidates(session, stock_id, skus, with_places=with_places)
    # Candidates come through the stock's links: finding one proves the stock exists.
    if not found and not (0 <= stock_id <= STOCK_ID_MAX and repository.stock_exists(session, stock_id)):
        raise errors.NoSuchEntity(STOCK_NOT_FOUND, {"value": stock_id})
    need = demand(items)
    # Only the sources that hold a candidate can appear in the answer: their priority order.
    ranks: dict[str, tuple[int, int]] = {}
    for candidate in found:
        ranks.setdefault(candidate.source_code, candidate.rank)
    codes = sorted(ranks, key=ranks.__getitem__)
    if algorithm.code == DISTANCE:
        assert destination is not None
        target = destination.coordinates or destination.address
        assert target is not None
        nearest = distance.sort_by_distance(
            session, distance_provider, [places[code] for code in codes], target
        )
        codes = [place.source_code for place in nearest]
    if algorithm.code == FEWEST_SPLITS:
        return fewest_splits(codes, found, need)
    return in_source_order(codes, found, need)


def demand(items: Sequence[ItemRequest]) -> dict[str, Decimal]:
    """The quantity to ship per SKU, keyed by the SKU lower-cased (PHP's mb_convert_case): a SKU
    requested twice keeps its last quantity, in the place of its first."""
    need: dict[str, Decimal] = {}
    for item in items:
        need[item.sku.lower()] = item.qty
    return need


def sorted_candidates(source_codes: Sequence[str], candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates on the given sources, by source position then item creation
    (``GetInStockSourceItemsBySkusAndSortedSource``); items on other sources are dropped."""
    position = {code.lower(): index for index, code in enumerate(source_codes)}
    kept = [c for c in candidates if c.source_code.lower() in position]
    return sorted(kept, key=lambda c: (position[c.source_code.lower()], c.source_item_id))


def in_source_order(
    source_codes: Sequence[str], candidates: Sequence[Candidate], need: Mapping[str, Decimal]
) -> SelectionResult:
    """``GetDefaultSortedSourcesResult``: each candidate in order gives what it has (never less
    than 0) toward what is still needed of its SKU, and is listed even when it gives nothing."""
    remaining = dict(need)
    selections = []
    for candidate in sorted_candidates(source_codes, candidates):
        key = candidate.sku.lower()
        # `?? 0.0`: an item the database matched although its lower-cased SKU differs (MariaDB's
        # collation also folds accents and trailing spaces) gives nothing.
        left = remaining.get(key, ZERO)
        qty = min(max(candidate.quantity, ZERO), left)
        remaining[key] = left - qty
        selections.append(SelectionItem(candidate.source_code, candidate.sku, qty, candidate.quantity))
    return SelectionResult(tuple(selections), _covered(remaining))


def _covered(remaining: Mapping[str, Decimal]) -> bool:
    """``shippable``: what remains of every SKU is below ``GetDefaultSortedSourcesResult::isZero``'s
    epsilon."""
    return all(left < EPSILON for left in remaining.values())


def fewest_splits(
    source_codes: Sequence[str], candidates: Sequence[Candidate], need: Mapping[str, Decimal]
) -> SelectionResult:
    """openmsi's ``fewest-splits``: ship from as few sources as possible.

    Deterministic and greedy, in two steps:

    1. *Whole lines.* Among the sources, take the one that can ship the most still-open lines
       entirely (its item's quantity covers the requested quantity); ties go to the source
       with the better priority. It ships those lines. Repeat until no source can ship a whole
       open line. So a line that one source can cover is never split, and lines go together
       to the sources that can carry many of them.
    2. *Split lines.* Each line still open (no single source holds enough), in request order,
       is taken first from the sources already shipping something (in priority order), then
       from the others with the most of it first (ties by priority), until covered.

    Greedy covering is not always minimal (finding the minimum is NP-hard), but a line that
    one source can ship always comes from one source, and the same data always gives the same
    answer. The answer has the shape of the others: every candidate in
    source order, with 0 for those it does not use; ``shippable`` as for ``priority``.
    """
    remaining = dict(need)
    ordered = sorted_candidates(source_codes, candidates)
    position = {code.lower(): index for index, code in enumerate(source_codes)}
    # Per source position, the candidate of each open SKU; the first one if collation folds two.
    stock_of: dict[int, dict[str, Candidate]] = {}
    for candidate in ordered:
        stock_of.setdefault(position[candidate.source_code.lower()], {}).setdefault(
            candidate.sku.lower(), candidate
        )
    open_lines = [key for key, qty in remaining.items() if qty > 0]
    plan: dict[int, Decimal] = {}  # source_item_id → quantity to deduct
    shipping: set[int] = set()

    # 1. Whole lines. A line's need does not change until it is shipped, so what each source
    # can cover entirely is known up front.
    coverable = {
        where: {key for key in open_lines if key in held and held[key].quantity >= remaining[key]}
        for where, held in stock_of.items()
    }
    still_open = set(open_lines)
    while True:
        best, best_lines = None, set[str]()
        for where in sorted(coverable):
            lines = coverable[where] & still_open
            if len(lines) > len(best_lines):
                best, best_lines = where, lines
        if best is None:
            break
        for key in best_lines:
            plan[stock_of[best][key].source_item_id] = remaining[key]
            remaining[key] = Decimal(0)
        still_open -= best_lines
        shipping.add(best)

    # 2. Split lines.
    for key in (key for key in open_lines if key in still_open):
        holders = [where for where, held in stock_of.items() if key in held and held[key].quantity > 0]
        holders.sort(key=lambda where: (where not in shipping, -stock_of[where][key].quantity, where))
        for where in holders:
            if remaining[key] <= 0:
                break
            candidate = stock_of[where][key]
            taken = min(candidate.quantity, remaining[key])
            plan[candidate.source_item_id] = taken
            remaining[key] -= taken
            shipping.add(where)

    selections = tuple(
        SelectionItem(c.source_code, c.sku, plan.get(c.source_item_id, ZERO), c.quantity) for c in ordered
    )
    return SelectionResult(selections, _covered(remaining))
