"""Work in pieces (``openmsi.pieces``, issue 7): the same results as the single calls they
replace, so that a large save holds the interpreter in short stretches and changes nothing else.
"""

from __future__ import annotations

import functools
import gc
import json
import re
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from factories import SOURCE_ITEMS, index_differences, source_item, stored_source_items
from openmsi import db, pieces, webapi
from openmsi.inventory import repository
from openmsi.settings import Settings


def tiny(test: Any) -> Any:
    """Runs the test with tiny pieces (a function-scoped fixture would be shared by every
    example hypothesis generates, which it warns about)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pieces, "PIECE", 3)
            patch.setattr(pieces, "TEXT_PIECE", 4)
            test(*args, **kwargs)

    return run


# Equal values of different types (1, 1.0, True) show whether equal elements keep their order.
NUMBERS = st.lists(st.one_of(st.integers(-3, 3), st.sampled_from([1.0, True, 0.0, -0.0, False])), max_size=40)


def kinds(values: list[Any]) -> list[tuple[Any, type]]:
    return [(value, type(value)) for value in values]


@given(NUMBERS)
@tiny
def test_sorted_in_pieces_is_sorted_and_stable(values: list[Any]) -> None:
    assert kinds(pieces.sorted_in_pieces(values)) == kinds(sorted(values))
    assert kinds(pieces.sorted_in_pieces(iter(values))) == kinds(sorted(values))
    assert pieces.sorted_in_pieces(sorted(values)) == sorted(values)


@given(st.lists(st.text("aAbB_-1", max_size=3), max_size=40))
@tiny
def test_unique_sorted_is_sorted_set(values: list[str]) -> None:
    assert pieces.unique_sorted(values) == sorted(set(values))
    assert pieces.unique_sorted(sorted(values)) == sorted(set(values))


@given(st.text("ab\\u0[{", max_size=30), st.text("ab\\u0[", min_size=1, max_size=6))
@tiny
def test_text_scans_in_pieces_find_what_the_whole_scans_find(text: str, part: str) -> None:
    assert pieces.contains(text, part) == (part in text)
    assert pieces.contains(text.encode(), part.encode()) == (part.encode() in text.encode())
    assert pieces.count_character(text, "[") == text.count("[")
    escape = re.compile(r"\\u[dD][89a-fA-F]")
    assert pieces.search(escape, text, longest_match=4) == (escape.search(text) is not None)


@tiny
def test_text_scans_at_piece_boundaries() -> None:
    for prefix in range(8):
        text = "x" * prefix + "\\uD800" + "x" * 5
        assert pieces.search(re.compile(r"\\u[dD][89a-fA-F]"), text, longest_match=4)
        assert pieces.contains(text.encode(), b"\\uD800")
    assert not pieces.contains("", "a")
    assert pieces.contains("", "")


def test_full_collections_are_deferred_until_the_last_block_ends() -> None:
    before = gc.get_threshold()
    entered = threading.Event()
    leave = threading.Event()

    def other() -> None:
        with pieces.full_collections_deferred():
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    with pieces.full_collections_deferred():
        assert gc.get_threshold()[:2] == before[:2]
        assert gc.get_threshold()[2] > 1_000_000
        thread.start()
        assert entered.wait(10)
    assert gc.get_threshold()[2] > 1_000_000  # the other thread's block still runs
    leave.set()
    thread.join(10)
    assert gc.get_threshold() == before


def test_a_large_save_runs_without_full_collections_and_in_small_statements(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More rows than one executemany takes and than one piece holds, in no order, one SKU twice
    in two spellings of its case: stored and indexed as a single save stores them."""
    monkeypatch.setattr(db, "EXECUTEMANY_ROWS", 7)
    monkeypatch.setattr(pieces, "PIECE", 50)
    thresholds: list[int] = []
    upsert = repository.upsert_source_items

    def recording_upsert(session: Session, rows: Any) -> None:
        thresholds.append(gc.get_threshold()[2])
        upsert(session, rows)

    monkeypatch.setattr(repository, "upsert_source_items", recording_upsert)
    numbers = [(n * 7919) % 3000 for n in range(3000)]
    items = [source_item(f"piece-{n:04}", "default", n % 89 + 0.25, n % 2) for n in numbers]
    items.append(source_item("PIECE-0001", "default", 42, 1))  # the same pair: the later one wins
    body = json.dumps({"sourceItems": items}, indent=2).encode()
    assert len(body) > webapi.PIECEWISE_DECODE_BYTES
    before = gc.get_threshold()

    response = client.post(
        SOURCE_ITEMS, content=body, headers={**auth_headers, "Content-Type": "application/json"}
    )

    assert response.status_code == 200, response.text
    assert thresholds and thresholds[0] > 1_000_000
    assert gc.get_threshold() == before
    stored = {
        key: value
        for key, value in stored_source_items(session).items()
        if key[1].lower().startswith("piece-")
    }
    expected = {("default", item["sku"]): (item["quantity"], item["status"]) for item in items[:-1]}
    del expected[("default", "piece-0001")]
    expected[("default", "PIECE-0001")] = (42.0, 1)
    assert stored == expected
    assert index_differences(session, settings) == []


@given(st.lists(st.dictionaries(st.text(max_size=3), st.integers(), max_size=3), max_size=40))
@tiny
def test_release_empties_a_list_and_frees_only_what_nothing_else_holds(items: list[dict[str, Any]]) -> None:
    kept = items[: len(items) // 2]
    copies = [dict(item) for item in kept]
    container = list(items)
    pieces.release(container)
    assert container == []
    # The elements someone else still holds are untouched.
    assert kept == copies


@given(st.dictionaries(st.integers(), st.lists(st.integers(), max_size=3), max_size=40))
@tiny
def test_release_empties_a_dict(mapping: dict[int, list[int]]) -> None:
    values = list(mapping.values())
    snapshot = [list(value) for value in values]
    container = dict(mapping)
    pieces.release(container)
    assert container == {} and values == snapshot


@tiny
def test_release_parameters_empties_the_large_lists_and_the_parameters() -> None:
    small = [1, 2]
    large = list(range(10))
    params: dict[str, Any] = {"sourceItems": large, "other": small, "name": "x"}
    pieces.release_parameters(params)
    assert params == {} and large == [] and small == [1, 2]
