"""Stock ↔ source links: /V1/inventory/stock-source-links (GET, save), stock-source-links-delete
and get-sources-assigned-to-stock-ordered-by-priority (spec stock-source-links.md)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from factories import (
    INVENTORY,
    LINK_FIXTURE_LINKS,
    SOURCE_ITEM_FIXTURE,
    TUTORIAL_LINKS,
    create_link_fixture,
    create_stock,
    create_tutorial_sources,
    create_tutorial_stocks,
    create_tutorial_websites,
    deferring_client,
    index_differences,
    index_rows,
    insert_source_items,
    insert_sources,
    link_tutorial_sources,
    put_source_items,
)
from openmsi.db import Database
from openmsi.indexer import service as indexer_service
from openmsi.models import Job, StockIndexRow, StockSourceLink
from openmsi.sales.configuration import StockItemConfiguration
from openmsi.settings import Settings

LINKS = f"{INVENTORY}/stock-source-links"
DELETE = f"{INVENTORY}/stock-source-links-delete"
ORDERED = f"{INVENTORY}/get-sources-assigned-to-stock-ordered-by-priority"

SEED_LINKS = {(1, "default"): 1}
FIXTURE_LINKS = {(item["stock_id"], item["source_code"]): item["priority"] for item in LINK_FIXTURE_LINKS}

EMPTY = '"%field" can not be empty.'
WHITESPACE = '"%field" can not contain whitespaces.'
NOT_POSITIVE = '"%field" should be greater then 0.'
DEFAULT_SAVE = "Can not save link related to Default Source or Default Stock"
DEFAULT_DELETE = {"message": "Can not delete link related to Default Source or Default Stock"}
COULD_NOT_SAVE = {"message": "Could not save StockSourceLinks"}
INPUT_EMPTY = {"message": "Input data is empty"}
ROUTE_NOT_FOUND = {"message": "Request does not match any route."}


def required(field_name: str) -> dict[str, Any]:
    return {
        "message": '"%fieldName" is required. Enter and try again.',
        "parameters": {"fieldName": field_name},
    }


def err(message: str, field: str | None = None) -> dict[str, Any]:
    return {"message": message, "parameters": {"field": field} if field is not None else []}


def validation_failed(*errors: dict[str, Any]) -> dict[str, Any]:
    return {"message": "Validation Failed", "errors": list(errors)}


def unauthorized(resource: str) -> dict[str, Any]:
    return {
        "message": "The consumer isn't authorized to access %resources.",
        "parameters": {"resources": resource},
    }


def link(stock_id: Any, source_code: Any, priority: Any) -> dict[str, Any]:
    return {"stock_id": stock_id, "source_code": source_code, "priority": priority}


def save(client: TestClient, headers: dict[str, str], links: Any) -> httpx.Response:
    return client.post(LINKS, json={"links": links}, headers=headers)


def stored_links(session: Session) -> dict[tuple[int, str], int]:
    """What the table holds now (a new read transaction: SQLite keeps a snapshot per transaction)."""
    session.rollback()
    rows = session.execute(
        select(StockSourceLink.stock_id, StockSourceLink.source_code, StockSourceLink.priority)
    )
    return {(stock_id, code): priority for stock_id, code, priority in rows}


def link_ids(session: Session) -> dict[tuple[int, str], int]:
    session.rollback()
    rows = session.execute(
        select(StockSourceLink.stock_id, StockSourceLink.source_code, StockSourceLink.link_id)
    )
    return {(stock_id, code): link_id for stock_id, code, link_id in rows}


def queued_jobs(session: Session) -> list[str | None]:
    session.rollback()
    return sorted(session.scalars(select(Job.dedupe_key)), key=str)


def ordered_codes(client: TestClient, headers: dict[str, str], stock_id: Any) -> list[str]:
    response = client.get(f"{ORDERED}/{stock_id}", headers=headers)
    assert response.status_code == 200, response.text
    return [source["source_code"] for source in response.json()]


def stock_filter(stock_id: int) -> dict[str, str]:
    return {
        "searchCriteria[filter_groups][0][filters][0][field]": "stock_id",
        "searchCriteria[filter_groups][0][filters][0][value]": str(stock_id),
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "eq",
    }


# --- Magento's REST tutorial, step 4 ---------------------------------------------------------


def test_tutorial_step_4_link_stocks_and_sources(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    create_tutorial_websites(database)
    create_tutorial_sources(client, auth_headers)
    assert create_tutorial_stocks(client, auth_headers) == [2, 3]

    response = client.post(LINKS, json=TUTORIAL_LINKS, headers=auth_headers)

    assert response.status_code == 200, response.text
    assert response.text == "[]"
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert ordered_codes(client, auth_headers, 2) == ["baltimore_wh", "austin_wh", "reno_wh", "hq"]
    assert ordered_codes(client, auth_headers, 3) == ["berlin_wh", "frankfurt_wh", "hq"]
    for stock_id in (2, 3):
        listed = client.get(LINKS, params=stock_filter(stock_id), headers=auth_headers)
        assert listed.status_code == 200, listed.text
        expected = [item for item in TUTORIAL_LINKS["links"] if item["stock_id"] == stock_id]
        assert listed.json()["items"] == [
            link(item["stock_id"], item["source_code"], item["priority"]) for item in expected
        ]
        assert listed.json()["total_count"] == len(expected)
    tutorial = {(item["stock_id"], item["source_code"]): item["priority"] for item in TUTORIAL_LINKS["links"]}
    assert stored_links(session) == {**SEED_LINKS, **tutorial}


def test_tutorial_helpers_compose(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    create_tutorial_websites(database)
    create_tutorial_sources(client, auth_headers)
    create_tutorial_stocks(client, auth_headers)
    link_tutorial_sources(client, auth_headers)
    # The stocks serve the tutorial's websites, so the stock resolver finds them.
    resolved = client.get(f"{INVENTORY}/stock-resolver/website/eu_site", headers=auth_headers)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["stock_id"] == 3
    assert len(stored_links(session)) == 1 + len(TUTORIAL_LINKS["links"])


# --- Pinned api-functional tests (fixture: stock-source-links.md "Worked example") -------------


def test_get_stock_source_links_test(client: TestClient, auth_headers: dict[str, str]) -> None:
    """InventoryApi/Test/Api/StockSourceLink/GetStockSourceLinksTest.php"""
    create_link_fixture(client, auth_headers)
    params = {
        **stock_filter(10),
        "searchCriteria[sort_orders][0][field]": "source_code",
        "searchCriteria[sort_orders][0][direction]": "DESC",
        "searchCriteria[current_page]": "2",
        "searchCriteria[page_size]": "2",
    }

    response = client.get(LINKS, params=params, headers=auth_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["items", "search_criteria", "total_count"]
    assert body["items"] == [link(10, "eu-2", 2), link(10, "eu-1", 1)]
    assert [list(item) for item in body["items"]] == [["stock_id", "source_code", "priority"]] * 2
    assert body["total_count"] == 4
    assert body["search_criteria"] == {
        "filter_groups": [{"filters": [{"field": "stock_id", "value": "10", "condition_type": "eq"}]}],
        "sort_orders": [{"field": "source_code", "direction": "DESC"}],
        "page_size": 2,
        "current_page": 2,
    }


def test_stock_source_links_save_test(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    """InventoryApi/Test/Api/StockSourceLink/StockSourceLinksSaveTest.php"""
    create_link_fixture(client, auth_headers, with_links=False)

    response = save(client, auth_headers, [link(10, "eu-1", 1), link(10, "eu-2", 2)])

    assert response.status_code == 200, response.text
    assert response.json() == []
    listed = client.get(LINKS, params=stock_filter(10), headers=auth_headers).json()
    assert listed["total_count"] == 2
    assert listed["items"] == [link(10, "eu-1", 1), link(10, "eu-2", 2)]
    assert stored_links(session) == {**SEED_LINKS, (10, "eu-1"): 1, (10, "eu-2"): 2}


@pytest.mark.parametrize(
    "links",
    [
        pytest.param([link(1, "default", 1), link(1, "eu-2", 1)], id="default-pair-allowed-other-source-not"),
        pytest.param([link(1, "eu-1", 1)], id="other-source-to-default-stock"),
    ],
)
def test_prevent_assign_sources_to_default_stock_test(
    client: TestClient, auth_headers: dict[str, str], session: Session, links: list[dict[str, Any]]
) -> None:
    """InventoryCatalog/Test/Api/StockSourceLink/PreventAssignSourcesToDefaultStockTest.php"""
    create_link_fixture(client, auth_headers)

    response = save(client, auth_headers, links)

    assert response.status_code == 400
    assert response.json() == validation_failed(err(DEFAULT_SAVE))
    assert stored_links(session) == {**SEED_LINKS, **FIXTURE_LINKS}


def test_stock_source_links_delete_test(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    """InventoryApi/Test/Api/StockSourceLink/StockSourceLinksDeleteTest.php: data in the query
    string, body ``[]``."""
    create_link_fixture(client, auth_headers)
    query = (
        "links[0][source_code]=eu-1&links[0][stock_id]=10&links[1][source_code]=eu-2&links[1][stock_id]=10"
    )

    response = client.post(
        f"{DELETE}?{query}", content=b"[]", headers={**auth_headers, "Content-Type": "application/json"}
    )

    assert response.status_code == 200, response.text
    assert response.text == "[]"
    listed = client.get(LINKS, params=stock_filter(10), headers=auth_headers).json()
    assert listed["total_count"] == 2
    assert listed["items"] == [link(10, "eu-3", 3), link(10, "eu-disabled", 4)]
    remaining = {**SEED_LINKS, **FIXTURE_LINKS}
    del remaining[(10, "eu-1")], remaining[(10, "eu-2")]
    assert stored_links(session) == remaining


@pytest.mark.parametrize(
    ("stock_id", "codes"),
    [
        pytest.param(
            30, ["us-1", "eu-disabled", "eu-3", "eu-2", "eu-1"], id="global-stock-disabled-included"
        ),
        pytest.param(10, ["eu-1", "eu-2", "eu-3", "eu-disabled"], id="eu-stock"),
        pytest.param(20, ["us-1"], id="us-stock"),
        pytest.param(1, ["default"], id="default-stock"),
        pytest.param(999, [], id="unknown-stock"),
        pytest.param(0, [], id="zero"),
        pytest.param(-1, [], id="negative"),
        pytest.param(99999999999999999999, [], id="huge"),
    ],
)
def test_get_sources_assigned_to_stock_ordered_by_priority_test(
    client: TestClient, auth_headers: dict[str, str], stock_id: int, codes: list[str]
) -> None:
    """InventoryApi/Test/Api/StockSourceLink/GetSourcesAssignedToStockOrderedByPriorityTest.php,
    InventoryCatalog/Test/Api/GetDefaultStockToSourceLinkTest.php"""
    create_link_fixture(client, auth_headers)
    assert ordered_codes(client, auth_headers, stock_id) == codes


def test_ordered_by_priority_returns_full_source_objects(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    create_link_fixture(client, auth_headers)
    response = client.get(f"{ORDERED}/20", headers=auth_headers)
    assert response.json() == [client.get(f"{INVENTORY}/sources/us-1", headers=auth_headers).json()]
    disabled = client.get(f"{ORDERED}/30", headers=auth_headers).json()[1]
    assert (disabled["source_code"], disabled["enabled"]) == ("eu-disabled", False)


def test_ordered_by_priority_not_numeric(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.get(f"{ORDERED}/not_numeric", headers=auth_headers)
    assert response.status_code == 400
    assert response.json() == {
        "message": 'The "not_numeric" value\'s type is invalid. '
        'The "int" type was expected. Verify and try again.'
    }


def test_ordered_by_priority_ties_keep_creation_order(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    create_link_fixture(client, auth_headers, with_links=False)
    # One request at a time, so link ids follow this order; code order would differ.
    for code, priority in (("eu-2", 1), ("us-1", 7), ("eu-3", 7), ("eu-1", 7)):
        assert save(client, auth_headers, [link(20, code, priority)]).status_code == 200
    assert ordered_codes(client, auth_headers, 20) == ["eu-2", "us-1", "eu-3", "eu-1"]
    assert save(client, auth_headers, [link(20, "eu-2", 9)]).status_code == 200
    assert ordered_codes(client, auth_headers, 20) == ["us-1", "eu-3", "eu-1", "eu-2"]
    # An upsert keeps the row, so among equal priorities eu-2 sorts by its original link id.
    assert save(client, auth_headers, [link(20, "eu-2", 7)]).status_code == 200
    assert ordered_codes(client, auth_headers, 20) == ["eu-2", "us-1", "eu-3", "eu-1"]
    ids = link_ids(session)
    assert ids[(20, "eu-2")] < ids[(20, "us-1")] < ids[(20, "eu-3")] < ids[(20, "eu-1")]


def test_ordered_by_priority_uses_the_source_resource(client: TestClient) -> None:
    response = client.get(f"{ORDERED}/1")
    assert response.status_code == 401
    assert response.json() == unauthorized("Magento_InventoryApi::source")


# --- Save: validators ---------------------------------------------------------------------------

SOURCE_CODE_EMPTY = err(EMPTY, "source_code")
SOURCE_CODE_WHITESPACE = err(WHITESPACE, "source_code")
STOCK_ID_EMPTY = err(EMPTY, "stock_id")
PRIORITY_ERROR = err(NOT_POSITIVE, "priority")
DEFAULT_ERROR = err(DEFAULT_SAVE)


@pytest.mark.parametrize(
    ("given", "errors"),
    [
        pytest.param(
            {"stock_id": 10, "source_code": "", "priority": 1}, [SOURCE_CODE_EMPTY], id="code-empty"
        ),
        pytest.param(
            {"stock_id": 10, "source_code": "  ", "priority": 1},
            [SOURCE_CODE_EMPTY, SOURCE_CODE_WHITESPACE],
            id="code-only-spaces",
        ),
        pytest.param({"stock_id": 10, "priority": 1}, [SOURCE_CODE_EMPTY], id="code-absent"),
        pytest.param(
            {"stock_id": 10, "source_code": None, "priority": 1}, [SOURCE_CODE_EMPTY], id="code-null"
        ),
        pytest.param(
            {"stock_id": 10, "source_code": "eu 1", "priority": 1}, [SOURCE_CODE_WHITESPACE], id="code-space"
        ),
        pytest.param(
            {"stock_id": 10, "source_code": "eu\t1", "priority": 1}, [SOURCE_CODE_WHITESPACE], id="code-tab"
        ),
        pytest.param(
            {"stock_id": 10, "source_code": "eu-1\n", "priority": 1},
            [SOURCE_CODE_WHITESPACE],
            id="code-newline",
        ),
        pytest.param(
            {"stock_id": 10, "source_code": "\f", "priority": 1},
            [SOURCE_CODE_WHITESPACE],
            id="code-form-feed-not-trimmed",
        ),
        pytest.param(5, [SOURCE_CODE_EMPTY, STOCK_ID_EMPTY, PRIORITY_ERROR], id="scalar-element"),
        pytest.param("eu-1", [SOURCE_CODE_EMPTY, STOCK_ID_EMPTY, PRIORITY_ERROR], id="string-element"),
        pytest.param({"source_code": "eu-1", "priority": 1}, [STOCK_ID_EMPTY], id="stock-absent"),
        pytest.param(
            {"stock_id": None, "source_code": "eu-1", "priority": 1}, [STOCK_ID_EMPTY], id="stock-null"
        ),
        pytest.param({"stock_id": 10, "source_code": "eu-1"}, [PRIORITY_ERROR], id="priority-absent"),
        pytest.param(
            {"stock_id": 10, "source_code": "eu-1", "priority": None}, [PRIORITY_ERROR], id="priority-null"
        ),
        pytest.param(
            {"stock_id": 10, "source_code": "eu-1", "priority": 0}, [PRIORITY_ERROR], id="priority-0"
        ),
        pytest.param(
            {"stock_id": 10, "source_code": "eu-1", "priority": -3}, [PRIORITY_ERROR], id="priority-neg"
        ),
        pytest.param(
            {"stock_id": 10, "source_code": "eu-1", "priority": 0.9},
            [PRIORITY_ERROR],
            id="priority-truncated-to-0",
        ),
        pytest.param(
            {"stock_id": 10, "source_code": "eu-1", "priority": "0"}, [PRIORITY_ERROR], id="priority-string-0"
        ),
        pytest.param(
            {"stock_id": 1, "source_code": "eu-1", "priority": 1}, [DEFAULT_ERROR], id="default-stock"
        ),
        pytest.param(
            {"stock_id": 10, "source_code": "default", "priority": 1}, [DEFAULT_ERROR], id="default-source"
        ),
        pytest.param(
            {"stock_id": 1, "source_code": "default", "priority": 0},
            [PRIORITY_ERROR],
            id="default-pair-priority-0",
        ),
        pytest.param({}, [SOURCE_CODE_EMPTY, STOCK_ID_EMPTY, PRIORITY_ERROR], id="empty-object"),
        pytest.param(
            {"stock_id": 1}, [SOURCE_CODE_EMPTY, PRIORITY_ERROR, DEFAULT_ERROR], id="only-default-stock"
        ),
        pytest.param(
            {"stock_id": 1, "source_code": " ", "priority": -1},
            [SOURCE_CODE_EMPTY, SOURCE_CODE_WHITESPACE, PRIORITY_ERROR, DEFAULT_ERROR],
            id="every-rule-but-stock",
        ),
        pytest.param(
            {"source_code": "default", "priority": 0},
            [STOCK_ID_EMPTY, PRIORITY_ERROR, DEFAULT_ERROR],
            id="default-no-stock",
        ),
    ],
)
def test_save_validation_errors(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    given: dict[str, Any],
    errors: list[dict[str, Any]],
) -> None:
    create_link_fixture(client, auth_headers, with_links=False)
    # A valid link before the invalid one is not written either.
    response = save(client, auth_headers, [link(20, "us-1", 1), given])
    assert response.status_code == 400
    assert response.json() == validation_failed(*errors)
    assert stored_links(session) == SEED_LINKS
    assert queued_jobs(session) == []


def test_save_validation_errors_of_all_links_in_link_order(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    links = [
        link(10, "eu-1", 1),
        link(10, "", 0),
        link(20, "us-1", 2),
        {"source_code": "a b", "priority": 5},
        link(1, "eu-2", 1),
        link(1, "default", 1),
        link(30, "default", -1),
    ]
    response = save(client, auth_headers, links)
    assert response.status_code == 400
    assert response.json() == validation_failed(
        SOURCE_CODE_EMPTY,
        PRIORITY_ERROR,
        SOURCE_CODE_WHITESPACE,
        STOCK_ID_EMPTY,
        DEFAULT_ERROR,
        PRIORITY_ERROR,
        DEFAULT_ERROR,
    )
    assert stored_links(session) == SEED_LINKS


@pytest.mark.parametrize(
    "given",
    [
        pytest.param(link(0, "eu-1", 1), id="stock-0-is-not-empty"),
        pytest.param(link("0", "eu-1", 1), id="stock-string-0"),
        pytest.param(link(999, "eu-1", 1), id="unknown-stock"),
        pytest.param(link(10, "nope", 1), id="unknown-source"),
        pytest.param(link(-1, "eu-1", 1), id="negative-stock"),
        pytest.param(link(99999999999999999999, "eu-1", 1), id="huge-stock"),
        pytest.param(link("99999999999999999999", "eu-1", 1), id="huge-stock-string"),
        pytest.param(link(4294967296, "eu-1", 1), id="stock-beyond-int-unsigned"),
        pytest.param(link(10, "eu-1", 70000), id="priority-70000"),
        pytest.param(link(10, "eu-1", 65536), id="priority-65536"),
        pytest.param(link(10, "eu-1", 99999999999999999999), id="priority-huge"),
        pytest.param(link(10, "x" * 10_000, 1), id="source-code-10000-chars"),
        pytest.param(link(10, "x" * 256, 1), id="source-code-256-chars"),
        pytest.param(link(10, "ünknown", 1), id="unknown-non-ascii-source"),
    ],
)
def test_save_could_not_save_writes_nothing(
    client: TestClient, auth_headers: dict[str, str], session: Session, given: dict[str, Any]
) -> None:
    create_link_fixture(client, auth_headers, with_links=False)
    response = save(
        client, auth_headers, [link(20, "us-1", 1), link(10, "eu-2", 2), given, link(30, "eu-3", 3)]
    )
    assert response.status_code == 400, response.text
    assert response.json() == COULD_NOT_SAVE
    assert stored_links(session) == SEED_LINKS
    assert queued_jobs(session) == []


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        pytest.param(link(10, "eu-1", 1.7), 1, id="float-truncated"),
        pytest.param(link(10, "eu-1", "1.9"), 1, id="numeric-string-truncated"),
        pytest.param(link(10, "eu-1", "3"), 3, id="numeric-string"),
        pytest.param(link(10, "eu-1", 65535), 65535, id="smallint-unsigned-max"),
        pytest.param(link("10", "eu-1", 4), 4, id="stock-id-string"),
        pytest.param(link(10.9, "eu-1", 4), 4, id="stock-id-float"),
        pytest.param({"stockId": 10, "sourceCode": "eu-1", "priority": 5}, 5, id="camel-case-keys"),
        pytest.param(
            {**link(10, "eu-1", 6), "extension_attributes": {"source_name": "x"}}, 6, id="ext-ignored"
        ),
    ],
)
def test_save_converts_values(
    client: TestClient, auth_headers: dict[str, str], session: Session, given: dict[str, Any], stored: int
) -> None:
    create_link_fixture(client, auth_headers, with_links=False)
    response = save(client, auth_headers, [given])
    assert response.status_code == 200, response.text
    assert stored_links(session) == {**SEED_LINKS, (10, "eu-1"): stored}
    listed = client.get(LINKS, params=stock_filter(10), headers=auth_headers).json()
    # extension_attributes (source_name) never appears in REST output.
    assert listed["items"] == [link(10, "eu-1", stored)]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        pytest.param(
            link(10, "eu-1", "high"),
            'Error occurred during "priority" processing. The "high" value\'s type is invalid. '
            'The "int" type was expected. Verify and try again.',
            id="priority-word",
        ),
        pytest.param(
            link("x", "eu-1", 1),
            'Error occurred during "stock_id" processing. The "x" value\'s type is invalid. '
            'The "int" type was expected. Verify and try again.',
            id="stock-id-word",
        ),
        pytest.param(
            {"stockId": "x", "source_code": "eu-1", "priority": 1},
            'Error occurred during "stockId" processing. The "x" value\'s type is invalid. '
            'The "int" type was expected. Verify and try again.',
            id="field-named-as-sent",
        ),
        pytest.param(
            link(10, ["eu-1"], 1),
            'Error occurred during "source_code" processing. The "array" value\'s type is invalid. '
            'The "string" type was expected. Verify and try again.',
            id="source-code-array",
        ),
    ],
)
def test_save_type_errors(
    client: TestClient, auth_headers: dict[str, str], session: Session, given: dict[str, Any], message: str
) -> None:
    create_link_fixture(client, auth_headers, with_links=False)
    response = save(client, auth_headers, [link(20, "us-1", 1), given])
    assert response.status_code == 400
    assert response.json() == {"message": message}
    assert stored_links(session) == SEED_LINKS


@pytest.mark.parametrize(
    ("key", "field_name"),
    [
        pytest.param("foo", "Foo", id="foo"),
        pytest.param("link_id", "LinkId", id="link-id-is-internal"),
        pytest.param("source_name", "SourceName", id="extension-field-at-top"),
    ],
)
def test_save_unknown_field_in_link(
    client: TestClient, auth_headers: dict[str, str], session: Session, key: str, field_name: str
) -> None:
    create_link_fixture(client, auth_headers, with_links=False)
    response = save(client, auth_headers, [link(20, "us-1", 1), {**link(10, "eu-1", 1), key: 1}])
    assert response.status_code == 400
    assert response.json() == {
        "message": '"%fieldName" is not supported. Correct the field name and try again.',
        "parameters": {"fieldName": field_name},
    }
    assert stored_links(session) == SEED_LINKS


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{}", id="no-links"),
        pytest.param(b'{"links":null}', id="links-null"),
        pytest.param(b'{"link":[{"stock_id":10,"source_code":"eu-1","priority":1}]}', id="misspelled"),
        pytest.param(b"5", id="json-number"),
        pytest.param(b'"links"', id="json-string"),
        pytest.param(b"null", id="json-null"),
        pytest.param(b'[{"stock_id":10,"source_code":"eu-1","priority":1}]', id="json-list"),
        pytest.param(b"[]", id="empty-json-list"),
    ],
)
@pytest.mark.parametrize("path", [pytest.param(LINKS, id="save"), pytest.param(DELETE, id="delete")])
def test_links_required(
    client: TestClient, auth_headers: dict[str, str], session: Session, body: bytes, path: str
) -> None:
    response = client.post(path, content=body, headers={**auth_headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == required("links")
    assert stored_links(session) == SEED_LINKS


@pytest.mark.parametrize("links", [pytest.param([], id="list"), pytest.param({}, id="object")])
@pytest.mark.parametrize("path", [pytest.param(LINKS, id="save"), pytest.param(DELETE, id="delete")])
def test_links_empty(client: TestClient, auth_headers: dict[str, str], links: Any, path: str) -> None:
    response = client.post(path, json={"links": links}, headers=auth_headers)
    assert response.status_code == 400
    assert response.json() == INPUT_EMPTY


@pytest.mark.parametrize("path", [pytest.param(LINKS, id="save"), pytest.param(DELETE, id="delete")])
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"links":[', id="truncated"),
        pytest.param(b"", id="empty"),
        pytest.param(b"{'a':1}", id="quotes"),
    ],
)
def test_malformed_json(client: TestClient, auth_headers: dict[str, str], path: str, body: bytes) -> None:
    response = client.post(path, content=body, headers={**auth_headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"message": "Decoding error."}


# --- Save: upsert semantics -------------------------------------------------------------------


def test_duplicate_pair_in_one_batch_later_priority_wins(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    create_link_fixture(client, auth_headers, with_links=False)
    response = save(
        client,
        auth_headers,
        [link(10, "eu-1", 5), link(10, "eu-2", 1), link(10, "eu-1", 2), link(10, "eu-1", 9)],
    )
    assert response.status_code == 200, response.text
    assert stored_links(session) == {**SEED_LINKS, (10, "eu-1"): 9, (10, "eu-2"): 1}


def test_duplicate_pair_spelled_differently_is_one_link(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    create_link_fixture(client, auth_headers, with_links=False)
    response = save(client, auth_headers, [link(10, "eu-1", 5), link(10, "EU-1", 2)])
    assert response.status_code == 200, response.text
    assert stored_links(session) == {**SEED_LINKS, (10, "eu-1"): 2}


def test_new_link_with_code_in_other_case_links_the_source(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    """The foreign key compares like MySQL's ci collation on every engine."""
    create_link_fixture(client, auth_headers, with_links=False)
    response = save(client, auth_headers, [link(20, "US-1", 1)])
    assert response.status_code == 200, response.text
    assert ordered_codes(client, auth_headers, 20) == ["us-1"]
    assert sorted((stock_id, code.lower()) for stock_id, code in stored_links(session)) == [
        (1, "default"),
        (20, "us-1"),
    ]
    removed = client.post(
        DELETE, json={"links": [{"stock_id": 20, "source_code": "us-1"}]}, headers=auth_headers
    )
    assert removed.status_code == 200, removed.text
    assert stored_links(session) == SEED_LINKS


def test_upsert_of_existing_pair_only_changes_priority(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    create_link_fixture(client, auth_headers)
    before = link_ids(session)

    response = save(client, auth_headers, [link(10, "eu-1", 42), link(20, "eu-1", 3)])

    assert response.status_code == 200, response.text
    assert stored_links(session) == {**SEED_LINKS, **FIXTURE_LINKS, (10, "eu-1"): 42, (20, "eu-1"): 3}
    after = link_ids(session)
    assert {key: after[key] for key in before} == before
    assert after[(20, "eu-1")] > max(before.values())


def test_upsert_with_other_spelling_of_code_keeps_the_row(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    """Codes are case-insensitive keys (MySQL collation): ``EU-1`` is the existing pair."""
    create_link_fixture(client, auth_headers)
    before = link_ids(session)
    response = save(client, auth_headers, [link(10, "EU-1", 8)])
    assert response.status_code == 200, response.text
    assert link_ids(session) == before
    assert stored_links(session)[(10, "eu-1")] == 8


@pytest.mark.parametrize("prefix", ["/rest/V1", "/rest/default/V1", "/rest/all/V1"])
def test_links_are_global_whatever_the_store_code(
    client: TestClient, auth_headers: dict[str, str], session: Session, prefix: str
) -> None:
    create_link_fixture(client, auth_headers, with_links=False)
    path = f"{prefix}/inventory/stock-source-links"
    response = client.post(path, json={"links": [link(20, "us-1", 3)]}, headers=auth_headers)
    assert response.status_code == 200, response.text
    assert ordered_codes(client, auth_headers, 20) == ["us-1"]
    assert stored_links(session) == {**SEED_LINKS, (20, "us-1"): 3}


def test_default_pair_may_be_saved(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    response = save(client, auth_headers, [link(1, "default", 5)])
    assert response.status_code == 200, response.text
    assert stored_links(session) == {(1, "default"): 5}
    assert queued_jobs(session) == []


# --- Save: volume -------------------------------------------------------------------------------

VOLUME = 10_000


# Items on three of the bulk sources, not yet in any stock's index.
VOLUME_ITEMS = [
    ("bulk-00000", "BULK-1", 5, 1),
    ("bulk-09999", "BULK-1", 2.5, 1),
    ("bulk-05000", "BULK-2", 4, 0),
]


def _volume_setup(client: TestClient, headers: dict[str, str], database: Database) -> list[str]:
    codes = [f"bulk-{index:05d}" for index in range(VOLUME)]
    insert_sources(database, codes)
    assert create_stock(client, headers, "Bulk Stock") == 2
    return codes


def test_save_ten_thousand_links_in_one_request(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    codes = _volume_setup(client, auth_headers, database)
    insert_source_items(database, VOLUME_ITEMS)

    response = save(
        client, auth_headers, [link(2, code, index % 65535 + 1) for index, code in enumerate(codes)]
    )

    assert response.status_code == 200, response.text
    assert response.json() == []
    session.rollback()
    assert session.scalar(select(func.count()).where(StockSourceLink.stock_id == 2)) == VOLUME
    assert (
        session.scalar(select(func.max(StockSourceLink.priority)).where(StockSourceLink.stock_id == 2))
        == VOLUME
    )
    # Few items on the new sources: the index follows in the same transaction, no job.
    assert queued_jobs(session) == []
    assert index_rows(session, (2,)) == {(2, "BULK-1"): (7.5, True), (2, "BULK-2"): (0.0, False)}
    listed = client.get(
        LINKS, params={**stock_filter(2), "searchCriteria[page_size]": "1"}, headers=auth_headers
    ).json()
    assert listed["total_count"] == VOLUME


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        pytest.param(link(2, "no-such-source", 1), COULD_NOT_SAVE, id="unknown-source"),
        pytest.param(link(3, "bulk-00000", 1), COULD_NOT_SAVE, id="unknown-stock"),
        pytest.param(link(2, "bulk-00000", 70000), COULD_NOT_SAVE, id="priority-out-of-range"),
        pytest.param(link(2, "bulk-00000", 0), validation_failed(PRIORITY_ERROR), id="invalid"),
    ],
)
def test_ten_thousand_links_with_one_bad_link_at_the_end_write_nothing(
    client: TestClient,
    auth_headers: dict[str, str],
    database: Database,
    session: Session,
    bad: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    codes = _volume_setup(client, auth_headers, database)
    insert_source_items(database, VOLUME_ITEMS)

    response = save(client, auth_headers, [*(link(2, code, 1) for code in codes), bad])

    assert response.status_code == 400
    assert response.json() == expected
    assert stored_links(session) == SEED_LINKS
    assert queued_jobs(session) == []
    assert index_rows(session) == {}


# --- Delete ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "links",
    [
        pytest.param([{"stock_id": 1, "source_code": "default"}], id="default-pair"),
        pytest.param([{"stock_id": 1, "source_code": "eu-1"}], id="default-stock"),
        pytest.param([{"stock_id": 10, "source_code": "default"}], id="default-source"),
        pytest.param([{"stock_id": 1}], id="default-stock-without-code"),
        pytest.param([{"source_code": "default"}], id="default-source-without-stock"),
        pytest.param(
            [
                {"stock_id": 10, "source_code": "eu-1"},
                {"stock_id": 20, "source_code": "us-1"},
                {"stock_id": 1},
            ],
            id="after-valid-links",
        ),
        pytest.param(
            [
                {"stock_id": 10, "source_code": "eu-1"},
                {"stock_id": 30, "source_code": "default", "priority": 1},
            ],
            id="priority-given",
        ),
    ],
)
def test_delete_default_links_is_refused(
    client: TestClient, auth_headers: dict[str, str], session: Session, links: list[dict[str, Any]]
) -> None:
    create_link_fixture(client, auth_headers)
    jobs_before = queued_jobs(session)

    response = client.post(DELETE, json={"links": links}, headers=auth_headers)

    assert response.status_code == 400
    assert response.json() == DEFAULT_DELETE
    assert stored_links(session) == {**SEED_LINKS, **FIXTURE_LINKS}
    assert queued_jobs(session) == jobs_before


@pytest.mark.parametrize(
    "links",
    [
        pytest.param([{"stock_id": 999, "source_code": "eu-1"}], id="unknown-stock"),
        pytest.param([{"stock_id": 20, "source_code": "eu-1"}], id="pair-not-linked"),
        pytest.param([{"stock_id": 10, "source_code": "nope"}], id="unknown-source"),
        pytest.param([{"source_code": "eu-1"}], id="without-stock"),
        pytest.param([{"stock_id": 10}], id="without-code"),
        pytest.param([{"stock_id": -1, "source_code": "eu-1"}], id="negative-stock"),
        pytest.param([{"stock_id": 99999999999999999999, "source_code": "eu-1"}], id="huge-stock"),
        pytest.param([{"stock_id": 10, "source_code": "x" * 10_000}], id="long-code"),
        pytest.param([{}], id="empty-object"),
    ],
)
def test_delete_missing_links_succeeds(
    client: TestClient, auth_headers: dict[str, str], session: Session, links: list[dict[str, Any]]
) -> None:
    create_link_fixture(client, auth_headers)
    response = client.post(DELETE, json={"links": links}, headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.text == "[]"
    assert stored_links(session) == {**SEED_LINKS, **FIXTURE_LINKS}


def test_delete_ignores_priority_and_matches_codes_case_insensitively(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    create_link_fixture(client, auth_headers)
    links = [{"stock_id": 10, "source_code": "eu-1", "priority": 99}, {"stock_id": 30, "source_code": "US-1"}]
    response = client.post(DELETE, json={"links": links}, headers=auth_headers)
    assert response.status_code == 200, response.text
    expected = {**SEED_LINKS, **FIXTURE_LINKS}
    del expected[(10, "eu-1")], expected[(30, "us-1")]
    assert stored_links(session) == expected


def test_delete_type_error(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.post(
        DELETE, json={"links": [{"stock_id": "x", "source_code": "eu-1"}]}, headers=auth_headers
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": 'Error occurred during "stock_id" processing. The "x" value\'s type is invalid. '
        'The "int" type was expected. Verify and try again.'
    }


# --- Index freshness ------------------------------------------------------------------------------
# Link changes refresh, in the stocks that gained or lost a link, the SKUs of the linked sources:
# inline up to index_inline_limit items at those sources, through a rebuild job above it.

# Index rows of the item fixture per stock, by the links in place (indexing.md): eu-disabled
# never contributes; out-of-stock items make a row worth 0.
SKU_1_EU = (8.5, True)  # eu-1 5.5 + eu-2 3 (eu-3 10 is out of stock)


def _mark_index(database: Database, stock_id: int, sku: str) -> None:
    """Give one index row a quantity no aggregation produces, to see whether a write refreshed it."""
    with database.write_sessions.begin() as write:
        write.execute(
            StockIndexRow.__table__.update()
            .where(StockIndexRow.stock_id == stock_id, StockIndexRow.sku == sku)
            .values(quantity=-777)
        )


def _rebuild(database: Database, settings: Settings, *stock_ids: int) -> None:
    config = StockItemConfiguration.from_settings(settings)
    with database.write_sessions.begin() as write:
        for stock_id in stock_ids:
            indexer_service.rebuild_stock(write, config, stock_id)


def test_link_changes_refresh_the_index_inline(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session, settings: Settings
) -> None:
    create_link_fixture(client, auth_headers, with_links=False)
    put_source_items(client, auth_headers, list(SOURCE_ITEM_FIXTURE))
    assert index_rows(session) == {}

    assert (
        save(
            client, auth_headers, [link(10, "eu-1", 1), link(10, "eu-2", 2), link(20, "us-1", 1)]
        ).status_code
        == 200
    )
    assert index_rows(session) == {
        (10, "SKU-1"): SKU_1_EU,
        (10, "SKU-3"): (0.0, False),
        (20, "SKU-2"): (5.0, True),
    }
    assert queued_jobs(session) == []

    # A disabled source adds no row; eu-3's out-of-stock item adds nothing to the quantity.
    assert save(client, auth_headers, [link(10, "eu-3", 3), link(20, "eu-1", 2)]).status_code == 200
    assert save(client, auth_headers, [link(10, "eu-disabled", 4)]).status_code == 200
    assert index_rows(session) == {
        (10, "SKU-1"): SKU_1_EU,
        (10, "SKU-3"): (0.0, False),
        (20, "SKU-1"): (5.5, True),
        (20, "SKU-2"): (5.0, True),
    }
    assert queued_jobs(session) == []

    # Priority-only changes do not change what a stock holds: its rows are not even rewritten.
    _mark_index(database, 10, "SKU-1")
    _mark_index(database, 20, "SKU-2")
    assert save(client, auth_headers, [link(10, "eu-1", 7), link(20, "us-1", 9)]).status_code == 200
    assert index_rows(session, (10, 20)) == {
        (10, "SKU-1"): (-777.0, True),
        (10, "SKU-3"): (0.0, False),
        (20, "SKU-1"): (5.5, True),
        (20, "SKU-2"): (-777.0, True),
    }

    # A new link next to a priority change: only the stock that gained a link is refreshed.
    assert save(client, auth_headers, [link(10, "eu-1", 1), link(30, "eu-1", 1)]).status_code == 200
    assert index_rows(session, (10, 30)) == {
        (10, "SKU-1"): (-777.0, True),
        (10, "SKU-3"): (0.0, False),
        (30, "SKU-1"): (5.5, True),
    }
    _rebuild(database, settings, 10, 20, 30)
    assert index_differences(session, settings) == []

    # Deleting: the stocks that lost a link, not those named by links that did not exist.
    _mark_index(database, 20, "SKU-2")
    links = [{"stock_id": 10, "source_code": "eu-2"}, {"stock_id": 20, "source_code": "eu-3"}]
    assert client.post(DELETE, json={"links": links}, headers=auth_headers).status_code == 200
    assert index_rows(session, (10, 20)) == {
        (10, "SKU-1"): (5.5, True),
        (20, "SKU-1"): (5.5, True),
        (20, "SKU-2"): (-777.0, True),
    }
    links = [{"stock_id": 20, "source_code": "us-1"}, {"stock_id": 10, "source_code": "eu-1"}]
    assert client.post(DELETE, json={"links": links}, headers=auth_headers).status_code == 200
    # eu-3's out-of-stock item still makes a row in stock 10.
    assert index_rows(session, (10, 20)) == {(10, "SKU-1"): (0.0, False), (20, "SKU-1"): (5.5, True)}
    assert queued_jobs(session) == []
    assert index_differences(session, settings) == []


def test_link_changes_above_the_inline_limit_queue_one_rebuild_per_affected_stock(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session, settings: Settings
) -> None:
    deferring = deferring_client(settings, database)
    create_link_fixture(client, auth_headers, with_links=False)
    put_source_items(client, auth_headers, list(SOURCE_ITEM_FIXTURE))
    assert queued_jobs(session) == []

    assert (
        save(
            deferring, auth_headers, [link(10, "eu-1", 1), link(10, "eu-2", 2), link(20, "us-1", 1)]
        ).status_code
        == 200
    )
    assert queued_jobs(session) == ["reindex:stock:10", "reindex:stock:20"]
    job = session.scalars(select(Job).where(Job.dedupe_key == "reindex:stock:10")).one()
    assert (job.kind, job.status, job.payload["stock_id"]) == ("reindex.stock", "queued", 10)
    # The rebuild is left to the job: the index has not moved yet.
    assert index_rows(session) == {}

    # More new links on the same stocks: still one waiting rebuild each.
    assert save(deferring, auth_headers, [link(10, "eu-3", 3), link(20, "eu-1", 2)]).status_code == 200
    assert save(deferring, auth_headers, [link(10, "eu-disabled", 4)]).status_code == 200
    assert queued_jobs(session) == ["reindex:stock:10", "reindex:stock:20"]

    # A worker has taken the rebuilds.
    with database.write_sessions.begin() as write:
        write.execute(delete(Job))

    # Priority-only changes do not change what a stock holds.
    assert save(deferring, auth_headers, [link(10, "eu-1", 7), link(20, "us-1", 9)]).status_code == 200
    assert queued_jobs(session) == []

    # A new link next to a priority change: only the stock that gained a link.
    assert save(deferring, auth_headers, [link(10, "eu-1", 1), link(30, "eu-1", 1)]).status_code == 200
    assert queued_jobs(session) == ["reindex:stock:30"]

    # A worker has run the rebuilds.
    with database.write_sessions.begin() as write:
        write.execute(delete(Job))
    _rebuild(database, settings, 10, 20, 30)

    # Deleting: the stocks that lost a link, not those named by links that did not exist.
    links = [{"stock_id": 10, "source_code": "eu-2"}, {"stock_id": 20, "source_code": "eu-3"}]
    assert client.post(DELETE, json={"links": links}, headers=auth_headers).status_code == 200
    assert queued_jobs(session) == []  # the shared app refreshes this small change inline
    assert index_differences(session, settings) == []
    after_inline_delete = index_rows(session)
    assert after_inline_delete[(10, "SKU-1")] == (5.5, True)
    links = [{"stock_id": 10, "source_code": "eu-3"}]
    assert deferring.post(DELETE, json={"links": links}, headers=auth_headers).status_code == 200
    assert queued_jobs(session) == ["reindex:stock:10"]
    links = [{"stock_id": 20, "source_code": "us-1"}, {"stock_id": 10, "source_code": "eu-1"}]
    assert deferring.post(DELETE, json={"links": links}, headers=auth_headers).status_code == 200
    assert queued_jobs(session) == ["reindex:stock:10", "reindex:stock:20"]
    # Only the inline delete wrote rows; the deferred ones leave the stocks' rows to their jobs.
    assert index_rows(session) == after_inline_delete


def test_links_of_sources_without_items_queue_nothing_above_the_limit(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session, settings: Settings
) -> None:
    create_link_fixture(client, auth_headers, with_links=False)
    deferring = deferring_client(settings, database)
    assert save(deferring, auth_headers, [link(10, "eu-1", 1), link(20, "us-1", 1)]).status_code == 200
    links = [{"stock_id": 10, "source_code": "eu-1"}]
    assert deferring.post(DELETE, json={"links": links}, headers=auth_headers).status_code == 200
    assert queued_jobs(session) == []
    assert index_rows(session) == {}


def test_failed_saves_change_no_index_and_queue_nothing(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session, settings: Settings
) -> None:
    create_link_fixture(client, auth_headers, with_links=False)
    put_source_items(client, auth_headers, list(SOURCE_ITEM_FIXTURE))
    # Inline (shared app) and deferred (limit 0): the refresh or the job rolls back with the links.
    for http in (client, deferring_client(settings, database)):
        assert save(http, auth_headers, [link(10, "eu-1", 1), link(999, "eu-1", 1)]).status_code == 400
        assert save(http, auth_headers, [link(10, "eu-1", 1), link(10, "eu-2", 0)]).status_code == 400
        assert save(http, auth_headers, [link(10, "eu-1", 1), link(10, "eu-2", "high")]).status_code == 400
        assert queued_jobs(session) == []
        assert stored_links(session) == SEED_LINKS
        assert index_rows(session) == {}


# --- GET /V1/inventory/stock-source-links ------------------------------------------------------


def test_list_requires_search_criteria(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.get(LINKS, headers=auth_headers)
    assert response.status_code == 400
    assert response.json() == required("searchCriteria")


@pytest.mark.parametrize(
    "query",
    [pytest.param("searchCriteria=", id="snake-empty"), pytest.param("search_criteria=", id="snake-case")],
)
def test_list_with_empty_search_criteria_returns_every_link(
    client: TestClient, auth_headers: dict[str, str], query: str
) -> None:
    create_link_fixture(client, auth_headers)
    response = client.get(f"{LINKS}?{query}", headers=auth_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["search_criteria"] == {"filter_groups": []}
    assert body["total_count"] == 1 + len(LINK_FIXTURE_LINKS)
    # Without sort orders: creation order.
    assert body["items"] == [link(1, "default", 1), *LINK_FIXTURE_LINKS]


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        pytest.param(
            {
                "searchCriteria[filter_groups][0][filters][0][field]": "source_code",
                "searchCriteria[filter_groups][0][filters][0][value]": "eu-3",
                "searchCriteria[sort_orders][0][field]": "stock_id",
                "searchCriteria[sort_orders][0][direction]": "ASC",
            },
            [link(10, "eu-3", 3), link(30, "eu-3", 3)],
            id="by-source",
        ),
        pytest.param(
            {
                "searchCriteria[filter_groups][0][filters][0][field]": "priority",
                "searchCriteria[filter_groups][0][filters][0][value]": "4",
                "searchCriteria[filter_groups][0][filters][0][condition_type]": "gteq",
                "searchCriteria[sort_orders][0][field]": "priority",
            },
            [link(30, "eu-1", 5), link(10, "eu-disabled", 4), link(30, "eu-2", 4)],
            id="priority-desc-by-default",
        ),
        pytest.param(
            {
                "searchCriteria[filter_groups][0][filters][0][field]": "stock_id",
                "searchCriteria[filter_groups][0][filters][0][value]": "20,30",
                "searchCriteria[filter_groups][0][filters][0][condition_type]": "in",
                "searchCriteria[filter_groups][1][filters][0][field]": "source_code",
                "searchCriteria[filter_groups][1][filters][0][value]": "us-1",
            },
            [link(20, "us-1", 1), link(30, "us-1", 1)],
            id="groups-and",
        ),
        pytest.param(
            {
                "searchCriteria[filter_groups][0][filters][0][field]": "stock_id",
                "searchCriteria[filter_groups][0][filters][0][value]": "20",
                "searchCriteria[filter_groups][0][filters][1][field]": "stock_id",
                "searchCriteria[filter_groups][0][filters][1][value]": "30",
                "searchCriteria[filter_groups][1][filters][0][field]": "priority",
                "searchCriteria[filter_groups][1][filters][0][value]": "3",
                "searchCriteria[filter_groups][1][filters][0][condition_type]": "lteq",
                "searchCriteria[sort_orders][0][field]": "link_id",
                "searchCriteria[sort_orders][0][direction]": "DESC",
            },
            [link(30, "us-1", 1), link(30, "eu-disabled", 2), link(30, "eu-3", 3), link(20, "us-1", 1)],
            id="or-in-group-internal-link-id-sort",
        ),
    ],
)
def test_list_filters_and_sorts(
    client: TestClient, auth_headers: dict[str, str], criteria: dict[str, str], expected: list[dict[str, Any]]
) -> None:
    create_link_fixture(client, auth_headers)
    response = client.get(LINKS, params=criteria, headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json()["items"] == expected
    assert response.json()["total_count"] == len(expected)


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        pytest.param("GET", LINKS, {"params": {"searchCriteria": ""}}, id="list"),
        pytest.param("POST", LINKS, {"json": {"links": [link(10, "eu-1", 1)]}}, id="save"),
        pytest.param(
            "POST", DELETE, {"json": {"links": [{"stock_id": 10, "source_code": "eu-1"}]}}, id="delete"
        ),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer not-a-token"}, id="unknown-token"),
        pytest.param({"Authorization": "Basic abc"}, id="other-scheme"),
    ],
)
def test_links_require_the_stock_source_link_resource(
    client: TestClient,
    session: Session,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    headers: dict[str, str],
) -> None:
    response = client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == 401
    assert response.json() == unauthorized("Magento_InventoryApi::stock_source_link")
    assert stored_links(session) == SEED_LINKS


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize("authorized", [pytest.param(True, id="token"), pytest.param(False, id="guest")])
def test_put_and_delete_on_links_are_not_routes(
    client: TestClient, auth_headers: dict[str, str], method: str, authorized: bool
) -> None:
    headers = auth_headers if authorized else {}
    for path in (LINKS, f"{LINKS}/1", DELETE):
        response = client.request(method, path, json={"links": [link(10, "eu-1", 1)]}, headers=headers)
        assert response.status_code == 404, path
        assert response.json() == ROUTE_NOT_FOUND


# --- Concurrency ------------------------------------------------------------------------------------

THREADS = 8
REQUESTS_PER_THREAD = 5


@pytest.mark.concurrency
def test_concurrent_overlapping_batches_serialize(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session, live_server: str
) -> None:
    """Every batch writes the same pairs with its own priority; whatever the interleaving, the
    result must be that of some serial order: all pairs carry one batch's priority."""
    codes = [f"conc-{index}" for index in range(6)]
    insert_sources(database, codes)
    insert_source_items(
        database, [(code, f"SKU-{index % 3}", index + 1, 1) for index, code in enumerate(codes)]
    )
    stock_ids = [create_stock(client, auth_headers, f"Concurrent {index}") for index in range(3)]
    pairs = [(stock_id, code) for stock_id in stock_ids for code in codes]
    barrier = threading.Barrier(THREADS)

    def worker(thread: int) -> list[tuple[int, int, str]]:
        # Each thread lists the pairs in its own order, so row locks are requested differently.
        shift = thread * 5 % len(pairs)
        ordered = pairs[shift:] + pairs[:shift]
        if thread % 2:
            ordered.reverse()
        results = []
        with httpx.Client(base_url=live_server, headers=auth_headers, timeout=120) as http:
            barrier.wait(timeout=60)
            for request in range(REQUESTS_PER_THREAD):
                priority = thread * 100 + request + 1
                batch = [link(stock_id, code, priority) for stock_id, code in ordered]
                response = http.post(LINKS, json={"links": batch})
                results.append((priority, response.status_code, response.text))
        return results

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = [item for result in pool.map(worker, range(THREADS)) for item in result]

    assert [(status, text) for _, status, text in outcomes] == [(200, "[]")] * (THREADS * REQUESTS_PER_THREAD)
    final = {key: value for key, value in stored_links(session).items() if key[0] in stock_ids}
    assert set(final) == set(pairs)
    assert len(set(final.values())) == 1, final
    assert set(final.values()) <= {priority for priority, _, _ in outcomes}
    # Each batch refreshed its stocks inline, under the same locks as its links.
    assert queued_jobs(session) == []
    expected = {
        (stock_id, f"SKU-{sku}"): (float(sku + 1 + sku + 4), True)
        for stock_id in stock_ids
        for sku in range(3)
    }
    assert index_rows(session, tuple(stock_ids)) == expected


@pytest.mark.concurrency
def test_concurrent_batches_on_adjacent_stocks_and_deletes(
    client: TestClient,
    auth_headers: dict[str, str],
    database: Database,
    session: Session,
    live_server: str,
    settings: Settings,
) -> None:
    """Batches on two neighbouring stocks of a ring (so every stock is shared by two threads,
    locked from either side), some saving and some deleting every pair of their stocks, rows
    shuffled. A serial order leaves each stock either without links or with all of them at one
    priority written by a thread that owns the stock."""
    codes = [f"ring-{index:02d}" for index in range(10)]
    insert_sources(database, codes)
    insert_source_items(
        database, [(code, f"RING-{index % 4}", index, index % 2) for index, code in enumerate(codes)]
    )
    stock_ids = [create_stock(client, auth_headers, f"Ring {index}") for index in range(4)]
    barrier = threading.Barrier(THREADS)

    def owned(thread: int) -> list[int]:
        return [stock_ids[thread % 4], stock_ids[(thread + 1) % 4]]

    def worker(thread: int) -> list[tuple[int, str]]:
        results = []
        with httpx.Client(base_url=live_server, headers=auth_headers, timeout=120) as http:
            barrier.wait(timeout=60)
            for request in range(REQUESTS_PER_THREAD):
                priority = thread * 100 + request + 1
                batch = [link(stock_id, code, priority) for stock_id in owned(thread) for code in codes]
                batch = batch[request * 7 % len(batch) :] + batch[: request * 7 % len(batch)]
                if thread % 2:
                    batch.reverse()
                path = DELETE if (thread + request) % 4 == 3 else LINKS
                response = http.post(path, json={"links": batch})
                results.append((response.status_code, response.text))
        return results

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = [item for result in pool.map(worker, range(THREADS)) for item in result]

    assert outcomes == [(200, "[]")] * (THREADS * REQUESTS_PER_THREAD)
    stored = stored_links(session)
    for stock_id in stock_ids:
        final = {
            code: priority for (linked_stock, code), priority in stored.items() if linked_stock == stock_id
        }
        if not final:
            continue
        assert set(final) == set(codes), (stock_id, final)
        assert len(set(final.values())) == 1, (stock_id, final)
        owners = [thread for thread in range(THREADS) if stock_id in owned(thread)]
        (priority,) = set(final.values())
        assert priority // 100 in owners and priority % 100 <= REQUESTS_PER_THREAD
    assert queued_jobs(session) == []
    assert index_differences(session, settings) == []


def test_a_small_link_change_on_a_stock_awaiting_its_rebuild_leaves_its_rows_exact(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session, settings: Settings
) -> None:
    """A large change queued a rebuild that has not run: the stock's rows lack that change, so
    a small change after it must not be applied as a delta on top of them (taking eu-1's items
    away from rows that never had them)."""
    deferring = deferring_client(settings, database)
    create_link_fixture(client, auth_headers, with_links=False)
    put_source_items(client, auth_headers, list(SOURCE_ITEM_FIXTURE))
    assert save(client, auth_headers, [link(10, "eu-2", 1)]).status_code == 200
    assert index_rows(session)[(10, "SKU-1")] == (3, True)
    assert save(deferring, auth_headers, [link(10, "eu-1", 2)]).status_code == 200
    assert queued_jobs(session) == ["reindex:stock:10"]
    assert index_rows(session)[(10, "SKU-1")] == (3, True)

    links = [{"stock_id": 10, "source_code": "eu-1"}]
    assert client.post(DELETE, json={"links": links}, headers=auth_headers).status_code == 200
    assert index_rows(session)[(10, "SKU-1")] == (3, True)
    assert index_differences(session, settings) == []
