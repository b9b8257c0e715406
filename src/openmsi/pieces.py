"""Work over very large collections in pieces, so that no single call holds the interpreter long.

Python runs one thread at a time and hands the interpreter lock over between bytecodes
(``sys.getswitchinterval()``), never inside one C call. On SQLite the event loop answers quick
reads itself while the writer thread runs a save; a ``sorted()`` of 280,000 keys, a set built
from them in one call, a search through a 20 MB body, or a full garbage collection over the
millions of objects of a 20 MB request is one such call and stalls every other request for its
whole length (ISSUE 7, README "One request does not freeze the others"). The helpers here do
the same work in pieces of ``PIECE`` elements (``TEXT_PIECE`` characters or bytes), each short,
with the switch points in between.
"""

from __future__ import annotations

import gc
import heapq
import re
import threading
from collections.abc import Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice, pairwise
from typing import Any, AnyStr, TypeVar

T = TypeVar("T")
H = TypeVar("H", bound=Hashable)

# Sorting 20,000 strings takes 5–10 ms on this project's machine; below that a single call is
# as short as a piece, and the fastest.
PIECE = 20_000


def sorted_in_pieces(values: Iterable[T]) -> list[T]:
    """``sorted(values)``: each piece is sorted by ``sorted``, the pieces are merged in
    Python (``heapq.merge``), which gives the lock away between elements. Stable, like
    ``sorted``: equal elements keep their order."""
    values = values if isinstance(values, list) else list(values)
    if len(values) <= PIECE:
        return sorted(values)
    runs = [sorted(values[start : start + PIECE]) for start in range(0, len(values), PIECE)]
    if all(not later[0] < earlier[-1] for earlier, later in pairwise(runs)):
        # Already in order from one piece to the next (a client's sorted list): joined as they are.
        joined: list[T] = []
        for run in runs:
            joined.extend(run)
        return joined
    # heapq.merge takes the earlier run's element first among equal ones: stable as sorted.
    return list(heapq.merge(*runs))


def unique_sorted(values: Sequence[H]) -> list[H]:
    """``sorted(set(values))``, the duplicates dropped and the sort done in pieces."""
    if len(values) <= PIECE:
        return sorted(set(values))  # type: ignore[type-var]
    # A dict, not a set: it keeps the values in their order, often sorted already.
    first_seen: dict[H, None] = {}
    for start in range(0, len(values), PIECE):
        first_seen.update(dict.fromkeys(values[start : start + PIECE]))
    return sorted_in_pieces(_in_pieces(first_seen))


def release(container: list[Any] | dict[Any, Any]) -> None:
    """Empty a list or dict a piece at a time, so that freeing its elements is many short calls
    instead of one long one when its last reference goes: the 280,000 items of a 20 MB save,
    freed in one piece as the service returned, held the interpreter for 130 ms. Only for a
    container nothing else will read again."""
    if isinstance(container, dict):
        while container:
            for _ in range(min(PIECE, len(container))):
                container.popitem()
    else:
        while container:
            del container[-PIECE:]


def release_parameters(params: dict[str, Any]) -> None:
    """``release`` for the large lists among a request's decoded parameters (one level down:
    ``{"sourceItems": [...]}``), then the parameters themselves."""
    for value in params.values():
        if isinstance(value, list | dict) and len(value) > PIECE:
            release(value)
    release(params)


def _in_pieces(values: Iterable[T]) -> Iterator[T]:
    # list(a_set) would copy it in one call; islice hands it over a piece at a time.
    iterator = iter(values)
    while piece := list(islice(iterator, PIECE)):
        yield from piece


# Full (generation 2) collections deferred while large requests run: how many run now, and the
# third threshold to put back when the last one ends.
_large_work = 0
_saved_threshold = 0
_lock = threading.Lock()
# A full collection waits until generation 1 has been collected this many times, and, in
# CPython, until the objects that survived into generation 2 since the last full collection
# reach a quarter of those it holds. A 20 MB save's millions of live objects met both about
# every 2 s, each full collection 50–270 ms in one piece.
_DEFERRED = 1 << 30


@contextmanager
def full_collections_deferred() -> Iterator[None]:
    """No full (generation 2) garbage collection while the block runs, in any thread.

    Generations 0 and 1, where short-lived cycles die, are still collected as usual; what is
    deferred is the pass over every tracked object of the process, which a large request's own
    objects make long and pointless (they are alive until it ends, then freed by reference
    counting, cycle-free). A cycle that survived into generation 2 meanwhile waits for the next
    full collection, once the last large request has ended: memory held a few seconds longer,
    never lost. Nested and concurrent blocks share one count; the threshold set elsewhere
    (``gc.set_threshold``) is restored by the last one out.

    Why this and not the alternatives, in a server that runs for months: ``gc.disable()`` would
    stop the young collections too, and with them the quick reclaiming of the cycles every
    request leaves (exceptions with their tracebacks, asyncio's futures); ``gc.freeze()``
    moves objects out of the collector's sight until ``gc.unfreeze()``, which is for objects
    that live as long as the process, not for a request's. A process that receives large
    bodies back to back, overlapping on several threads (a server engine), may go long without
    a full collection: only cycles that lived through two young collections wait for it.
    """
    global _large_work, _saved_threshold
    with _lock:
        if _large_work == 0:
            first, second, _saved_threshold = gc.get_threshold()
            gc.set_threshold(first, second, _DEFERRED)
        _large_work += 1
    try:
        yield
    finally:
        with _lock:
            _large_work -= 1
            if _large_work == 0:
                first, second, _ = gc.get_threshold()
                gc.set_threshold(first, second, _saved_threshold)


# str.count, bytes.find and a simple regular expression's search cover 1 MB in about a
# millisecond; over a 20 MB body one call held the interpreter for 20 ms and more.
TEXT_PIECE = 1 << 20


def contains(text: AnyStr, part: AnyStr) -> bool:
    """``part in text``, searched a piece at a time."""
    step = TEXT_PIECE
    overlap = max(len(part) - 1, 0)
    return any(
        text.find(part, start, start + step + overlap) != -1 for start in range(0, len(text) or 1, step)
    )


def count_character(text: str, character: str) -> int:
    """``text.count(character)`` for one character, counted a piece at a time."""
    if len(character) != 1:
        raise ValueError("one character")
    return sum(text.count(character, start, start + TEXT_PIECE) for start in range(0, len(text), TEXT_PIECE))


def search(pattern: re.Pattern[str], text: str, longest_match: int) -> bool:
    """Whether ``pattern``, which matches at most ``longest_match`` characters and has no
    anchors or lookaround, matches somewhere in ``text``; searched a piece at a time."""
    overlap = longest_match - 1
    return any(
        pattern.search(text, start, start + TEXT_PIECE + overlap) is not None
        for start in range(0, len(text) or 1, TEXT_PIECE)
    )
