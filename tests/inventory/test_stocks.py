"""Stocks, their sales channels and the stock resolver (spec stocks.md).

Scenarios named after a Magento api-functional test reproduce what that test pins.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import create_websites, index_differences, index_rows, put_source_items, source_item
from openmsi.db import Database
from openmsi.models import Job, SalesChannel, Stock, StockSourceLink
from openmsi.settings import Settings

STOCKS = "/rest/V1/inventory/stocks"
RESOLVER = "/rest/V1/inventory/stock-resolver"
VALIDATION_FAILED = "Validation Failed"
CAN_NOT_BE_EMPTY = '"%field" can not be empty.'
WEBSITE_DOES_NOT_EXIST = 'The website with code "%code" does not exist.'
COULD_NOT_SAVE = {"message": "Could not save Stock"}
DEFAULT_STOCK = {
    "stock_id": 1,
    "name": "Default Stock",
    "extension_attributes": {"sales_channels": [{"type": "website", "code": "base"}]},
}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def website(code: str) -> dict[str, str]:
    return {"type": "website", "code": code}


def stock_payload(name: str, *channels: dict[str, Any], stock_id: int | None = None) -> dict[str, Any]:
    stock: dict[str, Any] = {"name": name}
    if stock_id is not None:
        stock["stock_id"] = stock_id
    if channels:
        stock["extension_attributes"] = {"sales_channels": list(channels)}
    return {"stock": stock}


def post_stock(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> Response:
    response: Response = client.post(STOCKS, json=body, headers=headers)
    return response


def put_stock(client: TestClient, headers: dict[str, str], stock_id: int, body: dict[str, Any]) -> Response:
    response: Response = client.put(f"{STOCKS}/{stock_id}", json=body, headers=headers)
    return response


def saved_id(response: Response) -> int:
    assert response.status_code == 200, response.text
    stock_id = response.json()
    assert isinstance(stock_id, int)
    assert response.text == str(stock_id)  # a bare JSON integer, not an object
    return stock_id


def get_stock(client: TestClient, headers: dict[str, str], stock_id: int) -> dict[str, Any]:
    response = client.get(f"{STOCKS}/{stock_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def api_channels(client: TestClient, headers: dict[str, str], stock_id: int) -> list[dict[str, str]]:
    channels: list[dict[str, str]] = get_stock(client, headers, stock_id)["extension_attributes"][
        "sales_channels"
    ]
    return channels


def exact(response: Response, status: int, body: Any) -> None:
    """Status and body, byte for byte (key order included)."""
    assert response.status_code == status, response.text
    assert response.text == json.dumps(body, separators=(",", ":")), response.text


def db_channels(session: Session) -> dict[int, list[tuple[str, str]]]:
    """Every channel row, per stock, in (type, code) order."""
    session.rollback()  # a fresh snapshot: the API committed in other transactions
    rows = session.execute(
        select(SalesChannel.stock_id, SalesChannel.type, SalesChannel.code).order_by(
            SalesChannel.stock_id, SalesChannel.type, SalesChannel.code
        )
    )
    result: dict[int, list[tuple[str, str]]] = {}
    for stock_id, type_, code in rows:
        result.setdefault(stock_id, []).append((type_, code))
    return result


def db_stocks(session: Session) -> dict[int, str]:
    session.rollback()
    rows = session.execute(select(Stock.stock_id, Stock.name).order_by(Stock.stock_id))
    return {stock_id: name for stock_id, name in rows}


def search(client: TestClient, headers: dict[str, str], params: dict[str, str]) -> dict[str, Any]:
    response = client.get(STOCKS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def validation_failed(*errors: tuple[str, dict[str, str]]) -> dict[str, Any]:
    return {
        "message": VALIDATION_FAILED,
        "errors": [{"message": message, "parameters": parameters} for message, parameters in errors],
    }


def empty(field: str) -> tuple[str, dict[str, str]]:
    return CAN_NOT_BE_EMPTY, {"field": field}


def unknown_website(code: str) -> tuple[str, dict[str, str]]:
    return WEBSITE_DOES_NOT_EXIST, {"code": code}


# --------------------------------------------------------------------------------------------
# GET
# --------------------------------------------------------------------------------------------


def test_default_stock_is_seeded(client: TestClient, auth_headers: dict[str, str]) -> None:
    exact(client.get(f"{STOCKS}/1", headers=auth_headers), 200, DEFAULT_STOCK)


def test_stock_list_without_search_criteria(client: TestClient, auth_headers: dict[str, str]) -> None:
    exact(
        client.get(STOCKS, headers=auth_headers),
        200,
        {"items": [DEFAULT_STOCK], "search_criteria": {"filter_groups": []}, "total_count": 1},
    )


def test_new_stock_without_channels_has_an_empty_channel_list(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    stock_id = saved_id(post_stock(client, auth_headers, stock_payload("EU-stock")))
    exact(
        client.get(f"{STOCKS}/{stock_id}", headers=auth_headers),
        200,
        {"stock_id": stock_id, "name": "EU-stock", "extension_attributes": {"sales_channels": []}},
    )


@pytest.mark.parametrize(
    "query",
    [pytest.param("", id="absent"), pytest.param("?searchCriteria=", id="empty-string")],
)
def test_stock_list_items_carry_their_channels(
    client: TestClient, auth_headers: dict[str, str], database: Database, query: str
) -> None:
    create_websites(database, "eu_website")
    saved_id(post_stock(client, auth_headers, stock_payload("EU-stock", website("eu_website"), stock_id=10)))
    saved_id(post_stock(client, auth_headers, stock_payload("US-stock", stock_id=20)))
    exact(
        client.get(f"{STOCKS}{query}", headers=auth_headers),
        200,
        {
            "items": [
                DEFAULT_STOCK,
                {
                    "stock_id": 10,
                    "name": "EU-stock",
                    "extension_attributes": {"sales_channels": [website("eu_website")]},
                },
                {"stock_id": 20, "name": "US-stock", "extension_attributes": {"sales_channels": []}},
            ],
            "search_criteria": {"filter_groups": []},
            "total_count": 3,
        },
    )


def _get_list_fixture(client: TestClient, headers: dict[str, str]) -> None:
    # InventoryApi/Test/_files/stock.php: stocks 10, 20, 30 beside the default stock.
    for stock_id, name in ((10, "EU-stock"), (20, "US-stock"), (30, "Global-stock")):
        assert saved_id(post_stock(client, headers, stock_payload(name, stock_id=stock_id))) == stock_id


@pytest.mark.parametrize(
    "value",
    [pytest.param("EU-stock", id="exact"), pytest.param("eu-STOCK", id="case-insensitive")],
)
def test_stock_list_filtered_by_name(client: TestClient, auth_headers: dict[str, str], value: str) -> None:
    """Pinned by InventoryApi/Test/Api/StockRepository/GetListTest.php (filter name eq EU-stock)."""
    _get_list_fixture(client, auth_headers)
    body = search(
        client,
        auth_headers,
        {
            "searchCriteria[filter_groups][0][filters][0][field]": "name",
            "searchCriteria[filter_groups][0][filters][0][value]": value,
            "searchCriteria[filter_groups][0][filters][0][condition_type]": "eq",
        },
    )
    assert body == {
        "items": [{"stock_id": 10, "name": "EU-stock", "extension_attributes": {"sales_channels": []}}],
        "search_criteria": {
            "filter_groups": [{"filters": [{"field": "name", "value": value, "condition_type": "eq"}]}]
        },
        "total_count": 1,
    }


def test_stock_list_sorted_and_paged(client: TestClient, auth_headers: dict[str, str]) -> None:
    """Pinned by GetListTest.php: name DESC, page 2 of size 2 starts with EU-stock."""
    _get_list_fixture(client, auth_headers)
    body = search(
        client,
        auth_headers,
        {
            "searchCriteria[sort_orders][0][field]": "name",
            "searchCriteria[sort_orders][0][direction]": "DESC",
            "searchCriteria[current_page]": "2",
            "searchCriteria[page_size]": "2",
        },
    )
    assert [item["name"] for item in body["items"]] == ["EU-stock", "Default Stock"]
    assert body["items"][1] == DEFAULT_STOCK
    assert body["search_criteria"] == {
        "filter_groups": [],
        "sort_orders": [{"field": "name", "direction": "DESC"}],
        "page_size": 2,
        "current_page": 2,
    }
    assert body["total_count"] == 4


def test_stock_list_filter_by_stock_id(client: TestClient, auth_headers: dict[str, str]) -> None:
    _get_list_fixture(client, auth_headers)
    body = search(
        client,
        auth_headers,
        {
            "searchCriteria[filter_groups][0][filters][0][field]": "stock_id",
            "searchCriteria[filter_groups][0][filters][0][value]": "10,30",
            "searchCriteria[filter_groups][0][filters][0][condition_type]": "in",
            "searchCriteria[sort_orders][0][field]": "stock_id",
            "searchCriteria[sort_orders][0][direction]": "ASC",
        },
    )
    assert [item["stock_id"] for item in body["items"]] == [10, 30]
    assert body["total_count"] == 2


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        pytest.param(
            "GET",
            "/stocks/abc",
            400,
            {
                "message": 'The "abc" value\'s type is invalid. The "int" type was expected. '
                "Verify and try again."
            },
            id="get-non-numeric",
        ),
        pytest.param(
            "DELETE",
            "/stocks/abc",
            400,
            {
                "message": 'The "abc" value\'s type is invalid. The "int" type was expected. '
                "Verify and try again."
            },
            id="delete-non-numeric",
        ),
        pytest.param(
            "GET",
            "/stocks/-1",
            404,
            {"message": 'Stock with id "%value" does not exist.', "parameters": {"value": -1}},
            id="get-negative",
        ),
        pytest.param(
            "GET",
            "/stocks/999",
            404,
            {"message": 'Stock with id "%value" does not exist.', "parameters": {"value": 999}},
            id="get-unknown",
        ),
        pytest.param(
            "GET",
            "/stocks/99999999999",
            404,
            {"message": 'Stock with id "%value" does not exist.', "parameters": {"value": 99999999999}},
            id="get-beyond-unsigned-int",
        ),
        pytest.param("GET", "/stocks/1.9", 200, DEFAULT_STOCK, id="get-float-string-truncated"),
        pytest.param("GET", "/stocks/1/", 200, DEFAULT_STOCK, id="trailing-slash"),
    ],
)
def test_stock_by_id_path_handling(
    client: TestClient, auth_headers: dict[str, str], method: str, path: str, status: int, body: Any
) -> None:
    exact(client.request(method, f"/rest/V1/inventory{path}", headers=auth_headers), status, body)


@pytest.mark.parametrize(
    ("method", "path", "resource"),
    [
        pytest.param("GET", "/stocks", "Magento_InventoryApi::stock", id="list"),
        pytest.param("GET", "/stocks/1", "Magento_InventoryApi::stock", id="get"),
        pytest.param("POST", "/stocks", "Magento_InventoryApi::stock_edit", id="post"),
        pytest.param("PUT", "/stocks/1", "Magento_InventoryApi::stock_edit", id="put"),
        pytest.param("DELETE", "/stocks/10", "Magento_InventoryApi::stock_delete", id="delete"),
        pytest.param(
            "GET", "/stock-resolver/website/base", "Magento_InventorySalesApi::stock", id="resolver"
        ),
    ],
)
def test_stock_routes_need_a_token(
    client: TestClient, session: Session, method: str, path: str, resource: str
) -> None:
    body = stock_payload("Guest stock") if method in ("POST", "PUT") else None
    response = client.request(method, f"/rest/V1/inventory{path}", json=body)
    exact(
        response,
        401,
        {
            "message": "The consumer isn't authorized to access %resources.",
            "parameters": {"resources": resource},
        },
    )
    assert db_stocks(session) == {1: "Default Stock"}


# --------------------------------------------------------------------------------------------
# POST / PUT: ids
# --------------------------------------------------------------------------------------------


def test_post_returns_generated_ids(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    """Pinned by InventoryApi/Test/Api/StockRepository/CreateTest.php: an id, then GET finds it."""
    assert saved_id(post_stock(client, auth_headers, stock_payload("EU-stock"))) == 2
    assert saved_id(post_stock(client, auth_headers, stock_payload("US-stock"))) == 3
    assert get_stock(client, auth_headers, 2)["name"] == "EU-stock"
    assert db_stocks(session) == {1: "Default Stock", 2: "EU-stock", 3: "US-stock"}


@pytest.mark.parametrize(
    "method",
    [pytest.param("POST", id="post-with-stock-id"), pytest.param("PUT", id="put-to-unknown-id")],
)
def test_caller_chosen_id_is_kept_and_generated_ids_follow_it(
    client: TestClient, auth_headers: dict[str, str], session: Session, method: str
) -> None:
    if method == "POST":
        response = post_stock(client, auth_headers, stock_payload("EU-stock", stock_id=10))
    else:
        response = put_stock(client, auth_headers, 10, stock_payload("EU-stock"))
    assert saved_id(response) == 10
    assert saved_id(post_stock(client, auth_headers, stock_payload("US-stock"))) == 11
    assert db_stocks(session) == {1: "Default Stock", 10: "EU-stock", 11: "US-stock"}


@pytest.mark.parametrize(
    "stock_id",
    [pytest.param(0, id="zero"), pytest.param("0", id="zero-string"), pytest.param(None, id="null")],
)
def test_stock_id_zero_or_null_means_a_generated_id(
    client: TestClient, auth_headers: dict[str, str], session: Session, stock_id: Any
) -> None:
    response = post_stock(client, auth_headers, {"stock": {"stock_id": stock_id, "name": "EU-stock"}})
    assert saved_id(response) == 2
    assert db_stocks(session) == {1: "Default Stock", 2: "EU-stock"}


def test_put_to_unknown_id_creates_the_stock(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    assert saved_id(put_stock(client, auth_headers, 25, stock_payload("Created by PUT"))) == 25
    exact(
        client.get(f"{STOCKS}/25", headers=auth_headers),
        200,
        {"stock_id": 25, "name": "Created by PUT", "extension_attributes": {"sales_channels": []}},
    )
    assert db_stocks(session) == {1: "Default Stock", 25: "Created by PUT"}


@pytest.mark.parametrize("key", ["stock_id", "stockId"])
def test_put_url_id_overrides_body_stock_id(
    client: TestClient, auth_headers: dict[str, str], session: Session, key: str
) -> None:
    saved_id(post_stock(client, auth_headers, stock_payload("EU-stock", stock_id=10)))
    response = put_stock(client, auth_headers, 10, {"stock": {key: 99, "name": "EU-stock renamed"}})
    assert saved_id(response) == 10
    assert get_stock(client, auth_headers, 10)["name"] == "EU-stock renamed"
    assert db_stocks(session) == {1: "Default Stock", 10: "EU-stock renamed"}


def test_put_renames_the_default_stock_keeping_its_website(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    assert saved_id(put_stock(client, auth_headers, 1, stock_payload("Main Stock", website("base")))) == 1
    exact(
        client.get(f"{STOCKS}/1", headers=auth_headers),
        200,
        {**DEFAULT_STOCK, "name": "Main Stock"},
    )
    assert db_channels(session) == {1: [("website", "base")]}


# --------------------------------------------------------------------------------------------
# POST / PUT: validation
# --------------------------------------------------------------------------------------------

NAME_ERRORS = validation_failed(empty("name"))


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize(
    "stock",
    [
        pytest.param({"extension_attributes": {"sales_channels": []}}, id="missing"),
        pytest.param({"name": ""}, id="empty"),
        pytest.param({"name": " "}, id="blank"),
        pytest.param({"name": " \t\n"}, id="whitespace"),
        pytest.param({"name": None}, id="null"),
    ],
)
def test_name_is_required(
    client: TestClient, auth_headers: dict[str, str], session: Session, method: str, stock: dict[str, Any]
) -> None:
    """Pinned by InventoryApi/Test/Api/StockRepository/ValidationTest.php (POST and PUT)."""
    if method == "POST":
        response = post_stock(client, auth_headers, {"stock": stock})
    else:
        response = put_stock(client, auth_headers, 1, {"stock": stock})
    exact(response, 400, NAME_ERRORS)
    assert db_stocks(session) == {1: "Default Stock"}
    assert db_channels(session) == {1: [("website", "base")]}


@pytest.mark.parametrize(
    ("stock", "errors"),
    [
        pytest.param(
            {"name": "Stock", "extension_attributes": {"sales_channels": [{"code": "base"}]}},
            [empty("type")],
            id="type-missing",
        ),
        pytest.param(
            {"name": "Stock", "extension_attributes": {"sales_channels": [{"type": "", "code": "base"}]}},
            [empty("type")],
            id="type-empty",
        ),
        pytest.param(
            {"name": "Stock", "extension_attributes": {"sales_channels": [{"type": " ", "code": "base"}]}},
            [empty("type")],
            id="type-blank",
        ),
        pytest.param(
            {"name": "Stock", "extension_attributes": {"sales_channels": [{"type": None, "code": "base"}]}},
            [empty("type")],
            id="type-null",
        ),
        pytest.param(
            {"name": "Stock", "extension_attributes": {"sales_channels": [{"type": "website"}]}},
            [empty("code"), unknown_website("")],
            id="code-missing",
        ),
        pytest.param(
            {"name": "Stock", "extension_attributes": {"sales_channels": [{"type": "website", "code": ""}]}},
            [empty("code"), unknown_website("")],
            id="code-empty",
        ),
        pytest.param(
            {
                "name": "Stock",
                "extension_attributes": {"sales_channels": [{"type": "website", "code": None}]},
            },
            [empty("code"), unknown_website("")],
            id="code-null",
        ),
        pytest.param(
            {"name": "Stock", "extension_attributes": {"sales_channels": [{}]}},
            [empty("type"), empty("code")],
            id="channel-empty-object",
        ),
        pytest.param(
            {"name": "Stock", "extension_attributes": {"sales_channels": [{"type": "custom", "code": ""}]}},
            [empty("code")],
            id="other-type-code-empty",
        ),
        pytest.param(
            {"name": "Stock", "extension_attributes": {"sales_channels": [website("NotExistingWebsite")]}},
            [unknown_website("NotExistingWebsite")],
            id="unknown-website",
        ),
        pytest.param(
            {"name": "", "extension_attributes": {"sales_channels": [website("NotExistingWebsite")]}},
            [empty("name"), unknown_website("NotExistingWebsite")],
            id="name-then-channels",
        ),
        pytest.param(
            {
                "name": "Stock",
                "extension_attributes": {
                    "sales_channels": [website("base"), website("nowhere"), {"type": "", "code": "x"}]
                },
            },
            [unknown_website("nowhere"), empty("type")],
            id="channels-in-list-order",
        ),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_sales_channels_are_validated(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    method: str,
    stock: dict[str, Any],
    errors: list[tuple[str, dict[str, str]]],
) -> None:
    """Pinned by SalesChannelManagementTest::testFailedValidationSalesChannelsAssignment and
    ValidationTest (NotExistingWebsite). Nothing is written."""
    if method == "POST":
        response = post_stock(client, auth_headers, {"stock": stock})
    else:
        response = put_stock(client, auth_headers, 1, {"stock": stock})
    exact(response, 400, validation_failed(*errors))
    assert db_stocks(session) == {1: "Default Stock"}
    assert db_channels(session) == {1: [("website", "base")]}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Default Stock", id="same"),
        pytest.param("default stock", id="lower-case"),
        pytest.param("DEFAULT STOCK", id="upper-case"),
        pytest.param("Default Stock ", id="trailing-space"),
        pytest.param(" Default Stock\t", id="surrounding-whitespace"),
    ],
)
def test_duplicate_name_on_create_is_refused(
    client: TestClient, auth_headers: dict[str, str], session: Session, name: str
) -> None:
    exact(post_stock(client, auth_headers, stock_payload(name)), 400, COULD_NOT_SAVE)
    exact(put_stock(client, auth_headers, 10, stock_payload(name)), 400, COULD_NOT_SAVE)
    assert db_stocks(session) == {1: "Default Stock"}
    # Nothing was inserted, so the next generated id is still 2.
    assert saved_id(post_stock(client, auth_headers, stock_payload("EU-stock"))) == 2


def test_duplicate_name_on_update_changes_nothing(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    create_websites(database, "eu_website")
    saved_id(post_stock(client, auth_headers, stock_payload("EU-stock", website("eu_website"), stock_id=10)))
    response = put_stock(client, auth_headers, 10, stock_payload("default STOCK"))
    exact(response, 400, COULD_NOT_SAVE)
    assert db_stocks(session) == {1: "Default Stock", 10: "EU-stock"}
    # The failed save did not hand the stock's website back to the default stock.
    assert db_channels(session) == {1: [("website", "base")], 10: [("website", "eu_website")]}


def test_stored_names_keep_their_spaces(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    """AbstractDb::_checkUnique trims the new name, MySQL ignores only trailing spaces of the stored
    one: a stored leading space makes the names differ."""
    assert saved_id(post_stock(client, auth_headers, stock_payload(" EU-stock "))) == 2
    assert get_stock(client, auth_headers, 2)["name"] == " EU-stock "
    assert saved_id(post_stock(client, auth_headers, stock_payload("EU-stock"))) == 3
    exact(post_stock(client, auth_headers, stock_payload(" eu-stock")), 400, COULD_NOT_SAVE)
    assert db_stocks(session) == {1: "Default Stock", 2: " EU-stock ", 3: "EU-stock"}


def test_a_stock_may_keep_its_own_name_in_another_case(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    assert saved_id(put_stock(client, auth_headers, 1, stock_payload("DEFAULT STOCK", website("base")))) == 1
    assert db_stocks(session) == {1: "DEFAULT STOCK"}


@pytest.mark.parametrize(
    ("length", "saved"),
    [pytest.param(255, True, id="255-fits"), pytest.param(256, False, id="256-too-long")],
)
def test_name_length(
    client: TestClient, auth_headers: dict[str, str], session: Session, length: int, saved: bool
) -> None:
    name = "n" * length
    response = post_stock(client, auth_headers, stock_payload(name))
    if saved:
        assert saved_id(response) == 2
        assert get_stock(client, auth_headers, 2)["name"] == name
        assert db_stocks(session) == {1: "Default Stock", 2: name}
    else:
        exact(response, 400, COULD_NOT_SAVE)
        assert db_stocks(session) == {1: "Default Stock"}


@pytest.mark.parametrize(
    ("method", "stock_id", "saved"),
    [
        pytest.param("PUT", 2147483647, True, id="put-largest-id"),
        pytest.param("POST", 2147483647, True, id="post-largest-id"),
        pytest.param("PUT", 2147483648, False, id="put-beyond-integer"),
        pytest.param("POST", 4294967295, False, id="post-beyond-integer"),
        pytest.param("PUT", 4294967296, False, id="put-beyond-unsigned-int"),
        pytest.param("PUT", -5, False, id="put-negative"),
        pytest.param("POST", -5, False, id="post-negative"),
    ],
)
def test_stock_id_range_is_the_same_on_every_engine(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    method: str,
    stock_id: int,
    saved: bool,
) -> None:
    """docs/compatibility.md: ids from 1 to 2147483647; anything else is refused before writing."""
    if method == "POST":
        response = post_stock(client, auth_headers, stock_payload("Far away", stock_id=stock_id))
    else:
        response = put_stock(client, auth_headers, stock_id, stock_payload("Far away"))
    if saved:
        assert saved_id(response) == stock_id
        assert get_stock(client, auth_headers, stock_id)["name"] == "Far away"
        assert db_stocks(session) == {1: "Default Stock", stock_id: "Far away"}
        exact(client.delete(f"{STOCKS}/{stock_id}", headers=auth_headers), 200, [])
    else:
        exact(response, 400, COULD_NOT_SAVE)
        assert db_stocks(session) == {1: "Default Stock"}
        exact(
            client.get(f"{STOCKS}/{stock_id}", headers=auth_headers),
            404,
            {"message": 'Stock with id "%value" does not exist.', "parameters": {"value": stock_id}},
        )
        exact(
            client.delete(f"{STOCKS}/{stock_id}", headers=auth_headers),
            404,
            {
                "message": 'There is no stock with "%fieldValue" for "%fieldName". Verify and try again.',
                "parameters": {"fieldName": "stock_id", "fieldValue": stock_id},
            },
        )


@pytest.mark.parametrize(
    ("channel", "saved"),
    [
        pytest.param({"type": "marketplace", "code": "c" * 64}, True, id="code-64"),
        pytest.param({"type": "marketplace", "code": "c" * 65}, False, id="code-65"),
        pytest.param({"type": "t" * 65, "code": "amazon"}, False, id="type-65"),
    ],
)
def test_sales_channel_length(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    channel: dict[str, str],
    saved: bool,
) -> None:
    response = post_stock(client, auth_headers, stock_payload("EU-stock", channel, stock_id=10))
    if saved:
        assert saved_id(response) == 10
        assert api_channels(client, auth_headers, 10) == [channel]
    else:
        exact(response, 400, {"message": "Could not replace Sales Channels for Stock"})
        # openmsi writes all of a request or nothing (docs/compatibility.md).
        assert db_stocks(session) == {1: "Default Stock"}
        assert db_channels(session) == {1: [("website", "base")]}


def test_post_may_carry_the_stock_in_the_query_string(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    """http.md: POST input merges the query string into the (here empty) JSON body."""
    query = (
        "stock[name]=Query-stock"
        "&stock[extension_attributes][sales_channels][0][type]=website"
        "&stock[extension_attributes][sales_channels][0][code]=base"
    )
    assert saved_id(client.post(f"{STOCKS}?{query}", json=[], headers=auth_headers)) == 2
    assert db_stocks(session) == {1: "Default Stock", 2: "Query-stock"}
    assert db_channels(session) == {2: [("website", "base")]}


def test_stock_parameter_is_required(client: TestClient, auth_headers: dict[str, str]) -> None:
    exact(
        client.post(STOCKS, json={"name": "EU-stock"}, headers=auth_headers),
        400,
        {"message": '"%fieldName" is required. Enter and try again.', "parameters": {"fieldName": "stock"}},
    )


# --------------------------------------------------------------------------------------------
# Sales channels on save
# --------------------------------------------------------------------------------------------


def test_removed_website_goes_back_to_the_default_stock(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    """Pinned by SalesChannelManagementTest::testValidateDeleteSalesChannelFromStock."""
    create_websites(database, "eu_website", "us_website", "global_website")
    assert db_channels(session) == {
        1: [
            ("website", "base"),
            ("website", "eu_website"),
            ("website", "global_website"),
            ("website", "us_website"),
        ]
    }
    body = stock_payload("EU-stock", website("eu_website"), website("us_website"), stock_id=10)
    assert saved_id(post_stock(client, auth_headers, body)) == 10
    assert api_channels(client, auth_headers, 1) == [website("base"), website("global_website")]

    response = put_stock(client, auth_headers, 10, stock_payload("EU-stock", website("us_website")))
    assert saved_id(response) == 10

    assert api_channels(client, auth_headers, 10) == [website("us_website")]
    assert api_channels(client, auth_headers, 1) == [
        website("base"),
        website("eu_website"),
        website("global_website"),
    ]
    assert db_channels(session) == {
        1: [("website", "base"), ("website", "eu_website"), ("website", "global_website")],
        10: [("website", "us_website")],
    }


@pytest.mark.parametrize(
    "stock",
    [
        pytest.param({"name": "EU-stock"}, id="no-extension-attributes"),
        pytest.param({"name": "EU-stock", "extension_attributes": None}, id="extension-attributes-null"),
        pytest.param({"name": "EU-stock", "extension_attributes": {}}, id="extension-attributes-empty"),
        pytest.param(
            {"name": "EU-stock", "extension_attributes": {"sales_channels": None}}, id="sales-channels-null"
        ),
        pytest.param(
            {"name": "EU-stock", "extension_attributes": {"sales_channels": []}}, id="sales-channels-empty"
        ),
    ],
)
def test_saving_without_channels_hands_websites_to_the_default_stock(
    client: TestClient,
    auth_headers: dict[str, str],
    database: Database,
    session: Session,
    stock: dict[str, Any],
) -> None:
    create_websites(database, "eu_website", "us_website")
    body = stock_payload("EU-stock", website("eu_website"), website("us_website"), stock_id=10)
    saved_id(post_stock(client, auth_headers, body))
    assert saved_id(put_stock(client, auth_headers, 10, {"stock": stock})) == 10
    assert api_channels(client, auth_headers, 10) == []
    assert db_channels(session) == {
        1: [("website", "base"), ("website", "eu_website"), ("website", "us_website")]
    }


def test_assigning_a_website_of_another_stock_moves_it(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    """SalesChannelManagementTest / StockResolverTest: re-assigning global_website to stock 20."""
    create_websites(database, "eu_website", "global_website")
    saved_id(
        post_stock(
            client,
            auth_headers,
            stock_payload("EU-stock", website("eu_website"), website("global_website"), stock_id=10),
        )
    )
    saved_id(
        post_stock(
            client, auth_headers, stock_payload("Global-stock", website("global_website"), stock_id=20)
        )
    )
    assert api_channels(client, auth_headers, 10) == [website("eu_website")]
    assert api_channels(client, auth_headers, 20) == [website("global_website")]
    # A website taken by another stock does not go back to the default stock.
    assert db_channels(session) == {
        1: [("website", "base")],
        10: [("website", "eu_website")],
        20: [("website", "global_website")],
    }
    exact(
        client.get(f"{RESOLVER}/website/global_website", headers=auth_headers),
        200,
        {
            "stock_id": 20,
            "name": "Global-stock",
            "extension_attributes": {"sales_channels": [website("global_website")]},
        },
    )


def test_the_default_website_can_move_to_a_custom_stock(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    saved_id(post_stock(client, auth_headers, stock_payload("EU-stock", website("base"), stock_id=10)))
    assert api_channels(client, auth_headers, 1) == []
    assert db_channels(session) == {10: [("website", "base")]}
    # And back: removing it from stock 10 returns it to the default stock.
    saved_id(put_stock(client, auth_headers, 10, stock_payload("EU-stock")))
    assert db_channels(session) == {1: [("website", "base")]}


@pytest.mark.parametrize(
    "stock",
    [
        pytest.param(stock_payload("Default Stock", website("base")), id="fewer-websites"),
        pytest.param(stock_payload("Default Stock"), id="without-extension-attributes"),
    ],
)
def test_the_default_stock_keeps_websites_it_is_saved_without(
    client: TestClient,
    auth_headers: dict[str, str],
    database: Database,
    session: Session,
    stock: dict[str, Any],
) -> None:
    create_websites(database, "eu_website")
    assert saved_id(put_stock(client, auth_headers, 1, stock)) == 1
    assert api_channels(client, auth_headers, 1) == [website("base"), website("eu_website")]
    assert db_channels(session) == {1: [("website", "base"), ("website", "eu_website")]}


def test_other_channel_types_are_stored_and_dropped_without_reassignment(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    create_websites(database, "eu_website", "us_website")
    channels = [website("us_website"), {"type": "marketplace", "code": "amazon"}, website("eu_website")]
    body = {
        "stock": {"stock_id": 10, "name": "EU-stock", "extension_attributes": {"sales_channels": channels}}
    }
    saved_id(post_stock(client, auth_headers, body))
    # Output order is (type, code), not the order sent.
    assert api_channels(client, auth_headers, 10) == [
        {"type": "marketplace", "code": "amazon"},
        website("eu_website"),
        website("us_website"),
    ]
    saved_id(put_stock(client, auth_headers, 10, stock_payload("EU-stock", website("eu_website"))))
    assert db_channels(session) == {
        1: [("website", "base"), ("website", "us_website")],
        10: [("website", "eu_website")],
    }
    saved_id(put_stock(client, auth_headers, 10, stock_payload("EU-stock")))
    assert db_channels(session) == {
        1: [("website", "base"), ("website", "eu_website"), ("website", "us_website")]
    }


def test_the_default_stock_drops_other_channel_types(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    amazon = {"type": "marketplace", "code": "amazon"}
    saved_id(put_stock(client, auth_headers, 1, stock_payload("Default Stock", website("base"), amazon)))
    assert api_channels(client, auth_headers, 1) == [amazon, website("base")]
    saved_id(put_stock(client, auth_headers, 1, stock_payload("Default Stock")))
    assert db_channels(session) == {1: [("website", "base")]}


def test_other_channel_type_moves_between_stocks(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    amazon = {"type": "marketplace", "code": "amazon"}
    saved_id(post_stock(client, auth_headers, stock_payload("EU-stock", amazon, stock_id=10)))
    saved_id(post_stock(client, auth_headers, stock_payload("US-stock", amazon, stock_id=20)))
    assert db_channels(session) == {1: [("website", "base")], 20: [("marketplace", "amazon")]}


def test_website_codes_match_case_insensitively(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    create_websites(database, "eu_website")
    saved_id(post_stock(client, auth_headers, stock_payload("EU-stock", website("EU_Website"), stock_id=10)))
    channels = db_channels(session)
    assert channels[1] == [("website", "base")]
    assert [(type_, code.lower()) for type_, code in channels[10]] == [("website", "eu_website")]


def test_the_same_channel_twice_is_saved_once(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    create_websites(database, "eu_website")
    body = stock_payload("EU-stock", website("eu_website"), website("eu_website"), stock_id=10)
    saved_id(post_stock(client, auth_headers, body))
    assert db_channels(session) == {1: [("website", "base")], 10: [("website", "eu_website")]}


# --------------------------------------------------------------------------------------------
# DELETE
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "stock_id", "status", "body"),
    [
        pytest.param(None, 1, 400, {"message": "Default Stock could not be deleted."}, id="default-stock"),
        pytest.param(
            website("base"),
            10,
            400,
            {"message": "Stock has at least one sale channel and could not be deleted."},
            id="has-website",
        ),
        pytest.param(
            {"type": "marketplace", "code": "amazon"},
            10,
            400,
            {"message": "Stock has at least one sale channel and could not be deleted."},
            id="has-other-channel",
        ),
        pytest.param(
            None,
            999,
            404,
            {
                "message": 'There is no stock with "%fieldValue" for "%fieldName". Verify and try again.',
                "parameters": {"fieldName": "stock_id", "fieldValue": 999},
            },
            id="unknown",
        ),
    ],
)
def test_delete_refused(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    channel: dict[str, str] | None,
    stock_id: int,
    status: int,
    body: dict[str, Any],
) -> None:
    """Pinned by PreventDefaultStockDeletingTest and PreventAssignedToSalesChannelsStockDeletingTest."""
    channels = [channel] if channel else []
    saved_id(post_stock(client, auth_headers, stock_payload("EU-stock", *channels, stock_id=10)))
    before = db_stocks(session), db_channels(session)
    exact(client.delete(f"{STOCKS}/{stock_id}", headers=auth_headers), status, body)
    assert (db_stocks(session), db_channels(session)) == before


def _create_source_linked_to(client: TestClient, headers: dict[str, str], stock_id: int) -> None:
    source = {"source_code": "eu-1", "name": "EU Source 1", "country_id": "DE", "postcode": "10115"}
    response = client.post("/rest/V1/inventory/sources", json={"source": source}, headers=headers)
    assert response.status_code == 200, response.text
    link = {"stock_id": stock_id, "source_code": "eu-1", "priority": 1}
    response = client.post("/rest/V1/inventory/stock-source-links", json={"links": [link]}, headers=headers)
    assert response.status_code == 200, response.text


def test_delete_stock(
    client: TestClient, auth_headers: dict[str, str], session: Session, settings: Settings
) -> None:
    """Pinned by InventoryApi/Test/Api/StockRepository/DeleteTest.php."""
    saved_id(post_stock(client, auth_headers, stock_payload("EU-stock", stock_id=10)))
    _create_source_linked_to(client, auth_headers, 10)
    put_source_items(
        client, auth_headers, [source_item("SKU-1", "eu-1", 5, 1), source_item("SKU-2", "default", 3)]
    )
    assert index_rows(session) == {(10, "SKU-1"): (5.0, True), (1, "SKU-2"): (3.0, True)}

    exact(client.delete(f"{STOCKS}/10", headers=auth_headers), 200, [])

    exact(
        client.get(f"{STOCKS}/10", headers=auth_headers),
        404,
        {"message": 'Stock with id "%value" does not exist.', "parameters": {"value": 10}},
    )
    assert db_stocks(session) == {1: "Default Stock"}
    links = session.execute(select(StockSourceLink.stock_id, StockSourceLink.source_code)).all()
    assert [tuple(link) for link in links] == [(1, "default")]
    # openmsi.md: deleting a stock drops its index rows in the same transaction, nothing queued;
    # other stocks keep theirs.
    assert index_rows(session) == {(1, "SKU-2"): (3.0, True)}
    assert session.scalar(select(func.count()).select_from(Job)) == 0
    assert index_differences(session, settings) == []
    # The source itself stays.
    assert client.get("/rest/V1/inventory/sources/eu-1", headers=auth_headers).status_code == 200


def test_delete_after_moving_websites_away(
    client: TestClient, auth_headers: dict[str, str], database: Database, session: Session
) -> None:
    """stocks.md: PUT the stock with ``sales_channels: []`` first, then it can be deleted."""
    create_websites(database, "eu_website")
    saved_id(post_stock(client, auth_headers, stock_payload("EU-stock", website("eu_website"), stock_id=10)))
    assert client.delete(f"{STOCKS}/10", headers=auth_headers).status_code == 400
    body = {"stock": {"name": "EU-stock", "extension_attributes": {"sales_channels": []}}}
    saved_id(put_stock(client, auth_headers, 10, body))
    exact(client.delete(f"{STOCKS}/10", headers=auth_headers), 200, [])
    assert db_stocks(session) == {1: "Default Stock"}
    assert db_channels(session) == {1: [("website", "base"), ("website", "eu_website")]}
    # A deleted id is not handed out again.
    assert saved_id(post_stock(client, auth_headers, stock_payload("US-stock"))) == 11


# --------------------------------------------------------------------------------------------
# Stock resolver
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        pytest.param("website/admin", 200, DEFAULT_STOCK, id="admin-website"),
        pytest.param("website/base", 200, DEFAULT_STOCK, id="base-website"),
        pytest.param("website/BASE", 200, DEFAULT_STOCK, id="code-case-insensitive"),
        pytest.param("WEBSITE/base", 200, DEFAULT_STOCK, id="type-case-insensitive"),
        pytest.param("website/nowhere", 404, {"message": "No linked stock found"}, id="unknown-website"),
        pytest.param("marketplace/base", 404, {"message": "No linked stock found"}, id="unknown-type"),
        pytest.param("website/" + "x" * 70, 404, {"message": "No linked stock found"}, id="over-long-code"),
    ],
)
def test_stock_resolver_on_the_seed(
    client: TestClient, auth_headers: dict[str, str], path: str, status: int, body: dict[str, Any]
) -> None:
    """Pinned message: StockResolverTest::testResolveStockStockError."""
    exact(client.get(f"{RESOLVER}/{path}", headers=auth_headers), status, body)


@pytest.mark.parametrize("code", ["eu_website", "EU_WEBSITE"])
def test_stock_resolver_finds_the_stock_of_a_website(
    client: TestClient, auth_headers: dict[str, str], database: Database, code: str
) -> None:
    """Pinned by StockResolverTest: website/eu_website → stock 10 with exactly one channel."""
    create_websites(database, "eu_website", "us_website")
    saved_id(post_stock(client, auth_headers, stock_payload("EU-stock", website("eu_website"), stock_id=10)))
    saved_id(post_stock(client, auth_headers, stock_payload("US-stock", website("us_website"), stock_id=20)))
    exact(
        client.get(f"{RESOLVER}/website/{code}", headers=auth_headers),
        200,
        {
            "stock_id": 10,
            "name": "EU-stock",
            "extension_attributes": {"sales_channels": [website("eu_website")]},
        },
    )


def test_stock_resolver_answers_the_default_stock_for_admin_always(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    saved_id(post_stock(client, auth_headers, stock_payload("EU-stock", website("admin"), stock_id=10)))
    exact(client.get(f"{RESOLVER}/website/admin", headers=auth_headers), 200, DEFAULT_STOCK)


def test_stock_resolver_finds_other_channel_types(client: TestClient, auth_headers: dict[str, str]) -> None:
    amazon = {"type": "marketplace", "code": "amazon"}
    saved_id(post_stock(client, auth_headers, stock_payload("EU-stock", amazon, stock_id=10)))
    response = client.get(f"{RESOLVER}/marketplace/amazon", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json()["stock_id"] == 10
