"""Bounded work per request: the body size (413), regexp filters that cannot run away, and the
largest page a list answers (400)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from factories import assert_envelope
from openmsi import db
from openmsi.app import create_app
from openmsi.settings import Settings

SOURCES = "/rest/V1/inventory/sources"
TOO_LARGE = "The request body exceeds the maximum size of %1 bytes."


def source_body(code: str) -> dict[str, Any]:
    return {"source": {"source_code": code, "name": f"Source {code}", "country_id": "US", "postcode": "1"}}


# ---- body size --------------------------------------------------------------------------------


@pytest.fixture
def small_body_client(settings: Settings, database: db.Database) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={"max_body_bytes": 200}), database))


def test_a_body_over_the_limit_by_content_length_is_413(
    small_body_client: TestClient, auth_headers: dict[str, str]
) -> None:
    body = source_body("x" * 300)
    response = small_body_client.post(SOURCES, json=body, headers=auth_headers)
    assert_envelope(response, 413, {"message": TOO_LARGE, "parameters": [200]})


def test_a_chunked_body_over_the_limit_is_413(
    small_body_client: TestClient, auth_headers: dict[str, str]
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"source":{"source_code":"'
        for _ in range(10):
            yield b"x" * 50
        yield b'"}}'

    headers = {**auth_headers, "Content-Type": "application/json"}
    response = small_body_client.post(SOURCES, content=chunks(), headers=headers)
    assert "content-length" not in {name.lower() for name in response.request.headers}
    assert_envelope(response, 413, {"message": TOO_LARGE, "parameters": [200]})


def test_a_body_within_the_limit_is_served(
    small_body_client: TestClient, auth_headers: dict[str, str]
) -> None:
    response = small_body_client.post(SOURCES, json=source_body("fits"), headers=auth_headers)
    assert response.status_code == 200, response.text


def test_the_default_limit_takes_a_large_bulk_save() -> None:
    # A 20 MB source-items save (about 280,000 items) is a legitimate request.
    assert Settings(_env_file=None).max_body_bytes >= 20 * 2**20  # type: ignore[call-arg]


# ---- regexp -----------------------------------------------------------------------------------

ADVERSARIAL = [
    pytest.param("^(a+)+$", id="nested-plus"),
    pytest.param("(a|aa)+$", id="overlapping-alternation"),
    pytest.param("^(a?){30}a{30}$", id="optional-run"),
    pytest.param("((a+)+)+$", id="triple-nesting"),
]


def filter_query(field: str, value: str, condition: str) -> dict[str, str]:
    prefix = "searchCriteria[filter_groups][0][filters][0]"
    return {f"{prefix}[field]": field, f"{prefix}[value]": value, f"{prefix}[condition_type]": condition}


def answered_within(seconds: float, call: Any) -> Any:
    """``call()``'s result, or a failure when it has not returned after ``seconds``: a
    backtracking engine takes minutes to hours on these inputs, a linear one milliseconds."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert result, f"no answer after {seconds} s"
    return result[0]


@pytest.mark.parametrize("pattern", ADVERSARIAL)
def test_an_adversarial_regexp_filter_cannot_run_away(
    client: TestClient, auth_headers: dict[str, str], pattern: str
) -> None:
    for name in ("a" * 30 + "!", "a" * 254 + "!"):
        code = f"s{len(name)}"
        response = client.post(
            SOURCES, json={"source": {**source_body(code)["source"], "name": name}}, headers=auth_headers
        )
        assert response.status_code == 200, response.text
    response = answered_within(
        20, lambda: client.get(SOURCES, params=filter_query("name", pattern, "regexp"), headers=auth_headers)
    )
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


def test_sqlites_regexp_is_linear(engine_name: str, database: db.Database) -> None:
    if engine_name != "sqlite":
        pytest.skip("the REGEXP function openmsi registers on SQLite")
    engine: Engine = database.engine

    def evaluate() -> Any:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT :value REGEXP :pattern"), {"value": "a" * 60 + "!", "pattern": "^(a+)+$"}
            ).scalar()

    assert answered_within(20, evaluate) == 0


@pytest.mark.parametrize(
    "pattern",
    [
        # Backtracking-only syntax: RE2 runs in linear time because it has none of it.
        pytest.param(r"^(a)\1$", id="backreference"),
        pytest.param("^a(?=b)", id="lookahead"),
        pytest.param("(?<!a)b", id="lookbehind"),
        # PostgreSQL's regular expressions have no named groups nor flag groups after the
        # start, and repeat at most 255 times: refused on every engine alike, never a database
        # error.
        pytest.param("a{256}", id="count-over-255"),
        pytest.param("a{2,300}", id="range-over-255"),
        pytest.param("(?P<n>a)", id="named-group"),
        pytest.param("(?s).", id="flag-group"),
        pytest.param("(?i:a)", id="scoped-flags"),
    ],
)
def test_a_pattern_outside_the_dialect_every_engine_runs_is_not_a_valid_regexp(
    client: TestClient, auth_headers: dict[str, str], pattern: str
) -> None:
    response = client.get(SOURCES, params=filter_query("name", pattern, "regexp"), headers=auth_headers)
    assert_envelope(
        response,
        400,
        {
            "message": 'The "%value" value is not a valid regular expression.',
            "parameters": {"value": pattern},
        },
    )


# ---- page size --------------------------------------------------------------------------------


@pytest.fixture
def max_page_size(app: FastAPI) -> Iterator[int]:
    """The app's OPENMSI_MAX_PAGE_SIZE is 3 for this test."""
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"max_page_size": 3})
    try:
        yield 3
    finally:
        app.state.settings = settings


@pytest.fixture
def four_sources(client: TestClient, auth_headers: dict[str, str]) -> None:
    for code in ("p1", "p2", "p3"):  # and "default"
        response = client.post(SOURCES, json=source_body(code), headers=auth_headers)
        assert response.status_code == 200, response.text


PAGE_TOO_LARGE = "The page size %1 is larger than %2, the most this server returns at once."
UNPAGED_TOO_LARGE = (
    "The search matches more than %1 items, the most this server returns at once: "
    "ask for pages with searchCriteria[pageSize]."
)


@pytest.mark.usefixtures("four_sources")
def test_a_page_size_over_the_maximum_is_400(
    client: TestClient, auth_headers: dict[str, str], max_page_size: int
) -> None:
    response = client.get(SOURCES, params={"searchCriteria[pageSize]": "10000000"}, headers=auth_headers)
    assert_envelope(response, 400, {"message": PAGE_TOO_LARGE, "parameters": [10000000, max_page_size]})


@pytest.mark.usefixtures("four_sources")
def test_a_page_of_the_maximum_size_is_served(
    client: TestClient, auth_headers: dict[str, str], max_page_size: int
) -> None:
    params = {"searchCriteria[pageSize]": str(max_page_size), "searchCriteria[currentPage]": "2"}
    response = client.get(SOURCES, params=params, headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json()["total_count"] == 4
    assert len(response.json()["items"]) == 1


@pytest.mark.usefixtures("four_sources")
def test_an_unpaged_search_over_the_maximum_is_400(
    client: TestClient, auth_headers: dict[str, str], max_page_size: int
) -> None:
    response = client.get(SOURCES, headers=auth_headers)
    assert_envelope(response, 400, {"message": UNPAGED_TOO_LARGE, "parameters": [max_page_size]})
    filtered = filter_query("source_code", "p%", "like")
    response = client.get(SOURCES, params=filtered, headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json()["total_count"] == 3


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        pytest.param("[{]300}", ["brace {300}"], id="brace-in-a-class"),
        pytest.param(r"\(?P", ["(P", "P"], id="escaped-parenthesis"),
        pytest.param("^(?:br|\\()[ap]", ["brace {300}", "(P"], id="non-capturing-group"),
        pytest.param("^bra{1,255}c", ["brace {300}"], id="count-of-255"),
    ],
)
def test_common_syntax_is_a_valid_regexp(
    client: TestClient, auth_headers: dict[str, str], pattern: str, names: list[str]
) -> None:
    for code, name in (("s1", "brace {300}"), ("s2", "(P"), ("s3", "P")):
        response = client.post(
            SOURCES, json={"source": {**source_body(code)["source"], "name": name}}, headers=auth_headers
        )
        assert response.status_code == 200, response.text
    response = client.get(SOURCES, params=filter_query("name", pattern, "regexp"), headers=auth_headers)
    assert response.status_code == 200, response.text
    assert sorted(item["name"] for item in response.json()["items"]) == sorted(names)
