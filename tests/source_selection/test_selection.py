"""Source selection: GET source-selection-algorithm-list and POST source-selection-algorithm-result
with the priority, distance and fewest-splits algorithms (spec source-selection.md), through HTTP
and the database, on every engine."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from factories import (
    INVENTORY,
    SOURCE_ITEM_FIXTURE,
    TUTORIAL_SOURCES,
    assert_envelope,
    create_link_fixture,
    create_source,
    create_stock,
    put_source_items,
    source_item,
)
from openmsi.app import create_app
from openmsi.cli import app as cli
from openmsi.db import Database
from openmsi.settings import Settings, get_settings
from openmsi.source_selection.repository import Candidate
from openmsi.source_selection.service import fewest_splits, in_source_order

LIST = f"{INVENTORY}/source-selection-algorithm-list"
RESULT = f"{INVENTORY}/source-selection-algorithm-result"
ALGORITHM = "Magento_InventorySourceSelectionApi::source_selection_algorithm"
ALGORITHM_POST = "Magento_InventorySourceSelectionApi::source_selection_algorithm_post"
FIXTURE = Path(__file__).parent / "geonames_postcodes.txt"

# InventoryApi/Test/_files/source_items.php in full (factories holds its first six items).
ITEMS = (
    *SOURCE_ITEM_FIXTURE,
    source_item("SKU-4", "eu-2", 6, 1),
    source_item("SKU-6", "eu-1", 0, 1),
)


def required(*names: str) -> dict[str, Any]:
    template = '"%fieldName" is required. Enter and try again.'
    if len(names) == 1:
        return {"message": template, "parameters": {"fieldName": names[0]}}
    return {
        "message": "One or more input exceptions have occurred.",
        "errors": [{"message": template, "parameters": {"fieldName": name}} for name in names],
    }


def request(stock_id: Any, items: Any, algorithm: str = "priority", **extension: Any) -> dict[str, Any]:
    inventory_request: dict[str, Any] = {"stockId": stock_id, "items": items}
    if extension:
        inventory_request["extension_attributes"] = extension
    return {"inventoryRequest": inventory_request, "algorithmCode": algorithm}


def lines(*pairs: tuple[str, Any]) -> list[dict[str, Any]]:
    return [{"sku": sku, "qty": qty} for sku, qty in pairs]


def selection(*entries: tuple[str, str, Any, Any], shippable: bool) -> dict[str, Any]:
    return {
        "source_selection_items": [
            {"source_code": code, "sku": sku, "qty_to_deduct": deduct, "qty_available": available}
            for code, sku, deduct, available in entries
        ],
        "shippable": shippable,
    }


def post(client: TestClient, headers: dict[str, str], body: Any) -> Any:
    return client.post(RESULT, json=body, headers=headers)


def select(client: TestClient, headers: dict[str, str], body: Any) -> dict[str, Any]:
    response = post(client, headers, body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


ONE = lines(("SKU-1", 1))


@pytest.fixture
def fixture_items(client: TestClient, auth_headers: dict[str, str]) -> None:
    """Magento's api-functional fixtures: sources eu-1, eu-2, eu-3, eu-disabled, us-1; stocks 10,
    20, 30 and their links; the source items."""
    create_link_fixture(client, auth_headers)
    put_source_items(client, auth_headers, list(ITEMS))


# --- The algorithm list ------------------------------------------------------------------------


def test_the_list_names_magentos_two_algorithms_then_fewest_splits(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    response = client.get(LIST, headers=auth_headers)
    assert response.status_code == 200
    assert response.json() == [
        {
            "code": "priority",
            "title": "Source Priority",
            "description": "Algorithm which provides Source Selections based on predefined priority of "
            "Source",
        },
        {
            "code": "distance",
            "title": "Distance Priority",
            "description": "Algorithm which provides Source Selections based on shipping address distance "
            "from the source",
        },
        {
            "code": "fewest-splits",
            "title": "Fewest Splits",
            "description": "Algorithm which ships from as few sources as possible: a source that covers a "
            "whole line is preferred to splitting it, ties broken by source priority (openmsi)",
        },
    ]


@pytest.mark.parametrize(
    ("method", "path", "resource"),
    [
        pytest.param("GET", LIST, ALGORITHM, id="list"),
        pytest.param("POST", RESULT, ALGORITHM_POST, id="result"),
    ],
)
def test_routes_need_their_acl_resource(client: TestClient, method: str, path: str, resource: str) -> None:
    response = client.request(method, path, json=request(10, lines(("SKU-1", 1))))
    assert_envelope(
        response,
        401,
        {
            "message": "The consumer isn't authorized to access %resources.",
            "parameters": {"resources": resource},
        },
    )


# --- Priority ----------------------------------------------------------------------------------


def test_magentos_pinned_example(
    client: TestClient, auth_headers: dict[str, str], fixture_items: None
) -> None:
    """InventorySourceSelectionApi/Test/Api/SourceSelectionServiceTest.php, compared in full:
    eu-3's SKU-1 is out of stock and eu-disabled is disabled, so neither is listed."""
    body = request(10, lines(("SKU-1", 8), ("SKU-4", 4)))
    assert select(client, auth_headers, body) == selection(
        ("eu-1", "SKU-1", 5.5, 5.5),
        ("eu-2", "SKU-1", 2.5, 3),
        ("eu-2", "SKU-4", 4, 6),
        shippable=True,
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"inventory_request": {"stockId": 10, "items": ONE}, "algorithm_code": "priority"},
            selection(("eu-1", "SKU-1", 1, 5.5), ("eu-2", "SKU-1", 0, 3), shippable=True),
            id="snake-case-parameters",
        ),
        pytest.param(
            {"inventoryRequest": {"stock_id": 10, "items": ONE}, "algorithmCode": "priority"},
            selection(("eu-1", "SKU-1", 1, 5.5), ("eu-2", "SKU-1", 0, 3), shippable=True),
            id="stock_id-inside",
        ),
        pytest.param(
            {"inventoryRequest": {"stockId": "10", "items": {"a": {"sku": "SKU-4", "qty": "4.5"}}},
             "algorithmCode": "priority"},
            selection(("eu-2", "SKU-4", 4.5, 6), shippable=True),
            id="strings-and-object-list",
        ),
    ],
)  # fmt: skip
def test_both_spellings_and_php_conversions(
    client: TestClient, auth_headers: dict[str, str], fixture_items: None, body: Any, expected: Any
) -> None:
    assert select(client, auth_headers, body) == expected


@pytest.mark.parametrize(
    ("stock_id", "items", "expected"),
    [
        pytest.param(
            10, lines(("SKU-1", 2)),
            selection(("eu-1", "SKU-1", 2, 5.5), ("eu-2", "SKU-1", 0, 3), shippable=True),
            id="covered-by-the-first-source-the-next-is-listed-with-0",
        ),
        pytest.param(
            10, lines(("SKU-1", 20)),
            selection(("eu-1", "SKU-1", 5.5, 5.5), ("eu-2", "SKU-1", 3, 3), shippable=False),
            id="not-enough-out-of-stock-and-disabled-sources-give-nothing",
        ),
        pytest.param(
            10, lines(("SKU-2", 1)), selection(shippable=False),
            id="item-only-on-an-unlinked-source",
        ),
        pytest.param(
            10, lines(("SKU-3", 1)), selection(shippable=False),
            id="item-out-of-stock-whatever-its-quantity",
        ),
        pytest.param(
            10, lines(("SKU-6", 1)), selection(("eu-1", "SKU-6", 0, 0), shippable=False),
            id="in-stock-with-quantity-0-is-listed",
        ),
        pytest.param(
            10, lines(("SKU-6", 0), ("no-such-sku", 0)), selection(("eu-1", "SKU-6", 0, 0), shippable=True),
            id="quantity-0-is-covered",
        ),
        pytest.param(
            30, lines(("SKU-1", 8)),
            selection(("eu-2", "SKU-1", 3, 3), ("eu-1", "SKU-1", 5, 5.5), shippable=True),
            id="stock-30-has-the-priorities-reversed",
        ),
        pytest.param(
            10, lines(("sku-1", 1), ("SKU-4", 1), ("Sku-1", 7)),
            selection(("eu-1", "SKU-1", 5.5, 5.5), ("eu-2", "SKU-1", 1.5, 3), ("eu-2", "SKU-4", 1, 6),
                      shippable=True),
            id="a-sku-twice-in-any-case-keeps-its-last-quantity",
        ),
        pytest.param(
            2, lines(("SKU-1", 1)), selection(shippable=False),
            id="a-stock-without-links",
        ),
    ],
)  # fmt: skip
def test_priority_allocation(
    client: TestClient,
    auth_headers: dict[str, str],
    fixture_items: None,
    stock_id: int,
    items: Any,
    expected: Any,
) -> None:
    if stock_id == 2:
        create_stock(client, auth_headers, "Empty", stock_id=2)
    assert select(client, auth_headers, request(stock_id, items)) == expected


def test_live_data_a_disabled_source_drops_out_at_once(
    client: TestClient, auth_headers: dict[str, str], fixture_items: None
) -> None:
    source = {"source_code": "eu-1", "name": "EU-source-1", "enabled": False, "country_id": "FR",
              "postcode": "postcode"}  # fmt: skip
    response = client.put(f"{INVENTORY}/sources/eu-1", json={"source": source}, headers=auth_headers)
    assert response.status_code == 200, response.text
    assert select(client, auth_headers, request(10, lines(("SKU-1", 8)))) == selection(
        ("eu-2", "SKU-1", 3, 3), shippable=False
    )


def test_decimals_are_exact(client: TestClient, auth_headers: dict[str, str]) -> None:
    create_source(
        client, auth_headers, {"source_code": "a", "name": "A", "country_id": "US", "postcode": "1"}
    )
    create_source(
        client, auth_headers, {"source_code": "b", "name": "B", "country_id": "US", "postcode": "1"}
    )
    create_stock(client, auth_headers, "Decimals", stock_id=5)
    links = [
        {"stock_id": 5, "source_code": "a", "priority": 1},
        {"stock_id": 5, "source_code": "b", "priority": 2},
    ]
    assert (
        client.post(
            f"{INVENTORY}/stock-source-links", json={"links": links}, headers=auth_headers
        ).status_code
        == 200
    )
    put_source_items(
        client,
        auth_headers,
        [source_item("D", "a", 0.1), source_item("D", "b", 0.2), source_item("E", "a", 1.2345),
         source_item("E", "b", 7.0001)],
    )  # fmt: skip
    # 0.1 + 0.2 is not 0.3 in floats; the remainder would be 5.5e-17 and still count as shipped.
    assert select(client, auth_headers, request(5, lines(("D", 0.3), ("E", "1.2346")))) == selection(
        ("a", "D", 0.1, 0.1),
        ("a", "E", 1.2345, 1.2345),
        ("b", "D", 0.2, 0.2),
        ("b", "E", 0.0001, 7.0001),
        shippable=True,
    )
    # What remains counts as nothing below 0.0000001 (GetDefaultSortedSourcesResult::isZero).
    assert select(client, auth_headers, request(5, lines(("D", 0.30000009))))["shippable"] is True
    assert select(client, auth_headers, request(5, lines(("D", 0.3000001))))["shippable"] is False


# --- Bad input: always a 4xx envelope ------------------------------------------------------------

NO_SUCH_ALGORITHM = "There is no such Source Selection Algorithm implemented: %1"
NEGATIVE = 'The quantity requested of "%sku" is negative: a quantity must be 0 or more.'


PRIORITY = {"algorithmCode": "priority"}


def no_stock(stock_id: int) -> dict[str, Any]:
    return {"message": 'Stock with id "%value" does not exist.', "parameters": {"value": stock_id}}


def bad_type(value: str, expected: str, *fields: str) -> dict[str, Any]:
    prefix = "".join(f'Error occurred during "{field}" processing. ' for field in fields)
    return {
        "message": f'{prefix}The "{value}" value\'s type is invalid. '
        f'The "{expected}" type was expected. Verify and try again.'
    }


@pytest.mark.parametrize(
    ("body", "status", "envelope"),
    [
        pytest.param({}, 400, required("inventoryRequest", "algorithmCode"), id="nothing"),
        pytest.param({"inventoryRequest": {"stockId": 10, "items": ONE}}, 400, required("algorithmCode"),
                     id="no-algorithm-code"),
        pytest.param({"inventoryRequest": None, **PRIORITY}, 400, required("inventoryRequest"),
                     id="null-request"),
        pytest.param(request(10, ONE, "nearest"), 400,
                     {"message": NO_SUCH_ALGORITHM, "parameters": ["nearest"]}, id="unknown-algorithm"),
        pytest.param(request(999, ONE), 404, no_stock(999), id="unknown-stock"),
        pytest.param(request(2**40, ONE), 404, no_stock(2**40), id="stock-id-beyond-any-column"),
        pytest.param(request(-1, ONE), 404, no_stock(-1), id="negative-stock-id"),
        pytest.param(request("ten", ONE), 400, bad_type("ten", "int", "stockId"), id="stock-id-not-a-number"),
        pytest.param(request(10, []), 400,
                     {"message": '"%field" can not be empty.', "parameters": {"field": "items"}},
                     id="no-items"),
        pytest.param({"inventoryRequest": {"items": ONE}, **PRIORITY}, 400, required("stockId"),
                     id="no-stock-id"),
        pytest.param({"inventoryRequest": {"stockId": 10}, **PRIORITY}, 400, required("items"),
                     id="no-items-key"),
        pytest.param({"inventoryRequest": "x", **PRIORITY}, 400, required("stockId", "items"),
                     id="request-not-an-object"),
        pytest.param(request(10, [{"qty": 1}]), 400, required("sku"), id="item-without-sku"),
        pytest.param(request(10, [{}]), 400, required("sku", "qty"), id="empty-item"),
        pytest.param(request(10, [5]), 400, required("sku", "qty"), id="item-not-an-object"),
        pytest.param(request(10, lines(("SKU-1", "two"))), 400, bad_type("two", "float", "items", "qty"),
                     id="qty-not-a-number"),
        pytest.param(request(10, lines(("SKU-1", True))), 400, bad_type("1", "float", "items", "qty"),
                     id="qty-boolean"),
        pytest.param(request(10, lines(("SKU-1", -1))), 400,
                     {"message": NEGATIVE, "parameters": {"sku": "SKU-1"}}, id="qty-negative"),
        pytest.param({"inventoryRequest": {"stockId": 10, "items": ONE, "priority": 1}, **PRIORITY}, 400,
                     {"message": '"%fieldName" is not supported. Correct the field name and try again.',
                      "parameters": {"fieldName": "Priority"}}, id="unknown-field"),
        pytest.param(request(10, ONE, "distance"), 400,
                     {"message": "No destination address was provided in the request"},
                     id="distance-no-address"),
        pytest.param(request(10, ONE, "distance", destination_address={"country": "US"}), 400,
                     required("postcode", "street", "region", "city"), id="distance-incomplete-address"),
        pytest.param(request(10, ONE, "distance", destination_coordinates={"latitude": 91, "longitude": 0}),
                     400, {"message": '"%field" must be between %min and %max.',
                           "parameters": {"field": "latitude", "min": -90, "max": 90}},
                     id="latitude-out-of-range"),
        pytest.param(request(10, ONE, "distance", destination_coordinates={"latitude": 1}), 400,
                     required("longitude"), id="coordinates-without-longitude"),
    ],
)  # fmt: skip
def test_bad_input_is_a_4xx_envelope(
    client: TestClient,
    auth_headers: dict[str, str],
    fixture_items: None,
    body: Any,
    status: int,
    envelope: Any,
) -> None:
    assert_envelope(post(client, auth_headers, body), status, envelope)


# --- Distance --------------------------------------------------------------------------------------


@pytest.fixture
def north_america(client: TestClient, auth_headers: dict[str, str]) -> None:
    """Stock 7: the tutorial's four US sources (hq has no coordinates; its postcode 78701 is
    Austin's) and one without coordinates whose postcode no geoname has; SKU W on each."""
    codes = []
    for source in TUTORIAL_SOURCES[:4]:
        create_source(client, auth_headers, source)
        codes.append(source["source_code"])
    create_source(client, auth_headers, {"source_code": "nowhere", "name": "Nowhere", "country_id": "US",
                                         "postcode": "00001", "city": "Atlantis"})  # fmt: skip
    codes.append("nowhere")
    create_stock(client, auth_headers, "North America", stock_id=7)
    # Priorities: nowhere first, then the tutorial's order.
    links = [
        {"stock_id": 7, "source_code": code, "priority": n}
        for n, code in enumerate(["nowhere", *codes[:4]], 1)
    ]
    response = client.post(f"{INVENTORY}/stock-source-links", json={"links": links}, headers=auth_headers)
    assert response.status_code == 200, response.text
    put_source_items(client, auth_headers, [source_item("W", code, 1) for code in codes])


@pytest.fixture
def offline_client(settings: Settings, database: Database) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={"distance_provider": "offline"}), database))


@pytest.fixture
def geonames_imported(database_url: str) -> Iterator[None]:
    get_settings.cache_clear()
    result = CliRunner().invoke(
        cli, ["geonames", "import", str(FIXTURE)], env={"OPENMSI_DATABASE_URL": database_url}
    )
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    yield


def _order(result: dict[str, Any]) -> list[str]:
    return [entry["source_code"] for entry in result["source_selection_items"]]


NEW_YORK = {
    "country": "US",
    "postcode": "10001",
    "street": "5th Avenue",
    "region": "New York",
    "city": "New York",
}
RENO = {"country": "US", "postcode": "89501", "street": "1 Virginia St", "region": "Nevada", "city": "Reno"}


def test_distance_with_the_default_google_provider_is_the_priority_order(
    client: TestClient, auth_headers: dict[str, str], north_america: None
) -> None:
    """Without an API key every distance fails and every source is put aside, in priority order."""
    body = request(7, lines(("W", 2)), "distance", destination_address=NEW_YORK)
    assert select(client, auth_headers, body) == select(client, auth_headers, request(7, lines(("W", 2))))
    assert _order(select(client, auth_headers, body)) == [
        "nowhere",
        "baltimore_wh",
        "austin_wh",
        "reno_wh",
        "hq",
    ]
    assert client.get(f"{INVENTORY}/get-distance-provider-code", headers=auth_headers).json() == "google"


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        pytest.param({"destination_address": NEW_YORK},
                     ["baltimore_wh", "austin_wh", "hq", "reno_wh", "nowhere"], id="new-york-by-postcode"),
        pytest.param({"destination_address": RENO},
                     ["reno_wh", "austin_wh", "hq", "baltimore_wh", "nowhere"], id="reno-by-postcode"),
        pytest.param({"destination_address": {**RENO, "postcode": "89599", "city": "RENO"}},
                     ["reno_wh", "austin_wh", "hq", "baltimore_wh", "nowhere"], id="reno-by-city"),
        pytest.param({"destination_address": {**NEW_YORK, "postcode": "", "city": "", "region": "Texas"}},
                     ["hq", "austin_wh", "baltimore_wh", "reno_wh", "nowhere"], id="texas-by-region"),
        pytest.param({"destination_coordinates": {"latitude": 39.5296, "longitude": -119.8138}},
                     ["reno_wh", "austin_wh", "hq", "baltimore_wh", "nowhere"], id="reno-by-coordinates"),
        pytest.param({"destination_address": {**NEW_YORK, "postcode": "00000"},
                      "destination_coordinates": {"latitude": 39.5296, "longitude": -119.8138}},
                     ["reno_wh", "austin_wh", "hq", "baltimore_wh", "nowhere"], id="coordinates-win"),
    ],
)  # fmt: skip
def test_distance_orders_the_sources_nearest_first(
    offline_client: TestClient,
    auth_headers: dict[str, str],
    north_america: None,
    geonames_imported: None,
    destination: dict[str, Any],
    expected: list[str],
) -> None:
    """Baltimore, Austin and Reno have coordinates; hq is geocoded from its postcode (Austin,
    downtown, 78701); nowhere's address is unknown, so it is put aside, after the others."""
    result = select(offline_client, auth_headers, request(7, lines(("W", 2)), "distance", **destination))
    assert _order(result) == expected
    assert [entry["qty_to_deduct"] for entry in result["source_selection_items"]] == [1, 1, 0, 0, 0]
    assert result["shippable"] is True


def test_coordinates_need_no_geonames(
    offline_client: TestClient, auth_headers: dict[str, str], north_america: None
) -> None:
    """Sources with coordinates are measured; hq and nowhere, which the empty table cannot
    locate, follow in priority order."""
    body = request(
        7, lines(("W", 1)), "distance", destination_coordinates={"latitude": 30.3, "longitude": -97.7}
    )
    assert _order(select(offline_client, auth_headers, body)) == [
        "austin_wh", "baltimore_wh", "reno_wh", "nowhere", "hq",
    ]  # fmt: skip


def test_an_unknown_destination_is_a_404(
    offline_client: TestClient, auth_headers: dict[str, str], north_america: None, geonames_imported: None
) -> None:
    address = {
        "country": "US",
        "postcode": "99999",
        "street": "1 Main St",
        "region": "Nowhere",
        "city": "Atlantis",
    }
    body = request(7, lines(("W", 1)), "distance", destination_address=address)
    assert_envelope(
        post(offline_client, auth_headers, body),
        404,
        {"message": "Unknown geoname for %1", "parameters": ["1 Main St 99999 Atlantis Nowhere US"]},
    )


# --- Fewest splits -----------------------------------------------------------------------------


@pytest.fixture
def three_sources(client: TestClient, auth_headers: dict[str, str]) -> None:
    """Stock 4: sources p1, p2, p3 by priority."""
    for code in ("p1", "p2", "p3"):
        create_source(
            client, auth_headers, {"source_code": code, "name": code, "country_id": "US", "postcode": "1"}
        )
    create_stock(client, auth_headers, "Three", stock_id=4)
    links = [
        {"stock_id": 4, "source_code": code, "priority": n} for n, code in enumerate(("p1", "p2", "p3"), 1)
    ]
    assert (
        client.post(
            f"{INVENTORY}/stock-source-links", json={"links": links}, headers=auth_headers
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("stock", "order", "priority", "fewest"),
    [
        pytest.param(
            [("A", "p1", 3), ("A", "p2", 10)], [("A", 5)],
            [("p1", "A", 3, 3), ("p2", "A", 2, 10)],
            [("p1", "A", 0, 3), ("p2", "A", 5, 10)],
            id="one-source-covers-the-line",
        ),
        pytest.param(
            [("A", "p1", 5), ("A", "p2", 5), ("B", "p2", 5)], [("A", 2), ("B", 2)],
            [("p1", "A", 2, 5), ("p2", "A", 0, 5), ("p2", "B", 2, 5)],
            [("p1", "A", 0, 5), ("p2", "A", 2, 5), ("p2", "B", 2, 5)],
            id="one-source-covers-the-order",
        ),
        pytest.param(
            [("A", "p1", 10), ("A", "p2", 25), ("A", "p3", 20)], [("A", 30)],
            [("p1", "A", 10, 10), ("p2", "A", 20, 25), ("p3", "A", 0, 20)],
            [("p1", "A", 0, 10), ("p2", "A", 25, 25), ("p3", "A", 5, 20)],
            id="split-the-most-first",
        ),
        pytest.param(
            [("A", "p1", 4), ("A", "p2", 9), ("B", "p1", 9), ("C", "p3", 1), ("C", "p2", 1)],
            [("A", 6), ("B", 2), ("C", 1)],
            [("p1", "A", 4, 4), ("p1", "B", 2, 9), ("p2", "A", 2, 9), ("p2", "C", 1, 1), ("p3", "C", 0, 1)],
            [("p1", "A", 0, 4), ("p1", "B", 2, 9), ("p2", "A", 6, 9), ("p2", "C", 1, 1), ("p3", "C", 0, 1)],
            id="whole-lines-go-together",
        ),
        pytest.param(
            [("A", "p1", 2), ("A", "p2", 5), ("A", "p3", 5)], [("A", 4)],
            [("p1", "A", 2, 2), ("p2", "A", 2, 5), ("p3", "A", 0, 5)],
            [("p1", "A", 0, 2), ("p2", "A", 4, 5), ("p3", "A", 0, 5)],
            id="ties-go-to-priority",
        ),
        pytest.param(
            [("A", "p1", 5), ("A", "p2", 5)], [("A", 3)],
            [("p1", "A", 3, 5), ("p2", "A", 0, 5)],
            [("p1", "A", 3, 5), ("p2", "A", 0, 5)],
            id="same-as-priority-when-the-first-source-covers",
        ),
    ],
)  # fmt: skip
def test_fewest_splits_against_priority(
    client: TestClient,
    auth_headers: dict[str, str],
    three_sources: None,
    stock: list[tuple[str, str, float]],
    order: list[tuple[str, float]],
    priority: list[tuple[str, str, float, float]],
    fewest: list[tuple[str, str, float, float]],
) -> None:
    put_source_items(client, auth_headers, [source_item(sku, code, qty) for sku, code, qty in stock])
    assert select(client, auth_headers, request(4, lines(*order))) == selection(*priority, shippable=True)
    assert select(client, auth_headers, request(4, lines(*order), "fewest-splits")) == selection(
        *fewest, shippable=True
    )


def test_fewest_splits_says_what_it_cannot_ship(
    client: TestClient, auth_headers: dict[str, str], three_sources: None
) -> None:
    put_source_items(client, auth_headers, [source_item("A", "p1", 2), source_item("A", "p3", 1, 0)])
    assert select(client, auth_headers, request(4, lines(("A", 5)), "fewest-splits")) == selection(
        ("p1", "A", 2, 2), shippable=False
    )


# Pure tables: the algorithms over already-loaded candidates.


def _candidates(*rows: tuple[str, str, str]) -> list[Candidate]:
    return [
        Candidate((int(code[1:]), 0), n, code, sku, Decimal(qty))
        for n, (code, sku, qty) in enumerate(rows, start=1)
    ]


def test_fewest_splits_prefers_sources_already_shipping_for_a_split_line() -> None:
    # No source holds 6 of b. s3 ships a anyway, so b's first unit comes from it, and then s1,
    # which holds the most: two sources in all, where taking the most first (s1, s2) needs three.
    candidates = _candidates(("s1", "b", "5"), ("s2", "b", "3"), ("s3", "a", "5"), ("s3", "b", "1"))
    result = fewest_splits(["s1", "s2", "s3"], candidates, {"a": Decimal(5), "b": Decimal(6)})
    assert [(i.source_code, i.sku, i.qty_to_deduct) for i in result.items] == [
        ("s1", "b", 5), ("s2", "b", 0), ("s3", "a", 5), ("s3", "b", 1),
    ]  # fmt: skip
    assert result.shippable is True


def test_fewest_splits_is_deterministic_and_covers_greedily() -> None:
    candidates = _candidates(
        ("s1", "a", "1"), ("s1", "b", "1"), ("s2", "c", "1"), ("s2", "d", "1"), ("s3", "a", "1"),
        ("s3", "b", "1"), ("s3", "c", "1"),
    )  # fmt: skip
    need = {key: Decimal(1) for key in "abcd"}
    first = fewest_splits(["s1", "s2", "s3"], candidates, need)
    assert first == fewest_splits(["s1", "s2", "s3"], list(reversed(candidates)), dict(need))
    # s3 covers three lines, then s2 the last one.
    assert [(i.source_code, i.sku, i.qty_to_deduct) for i in first.items] == [
        ("s1", "a", 0), ("s1", "b", 0), ("s2", "c", 0), ("s2", "d", 1), ("s3", "a", 1), ("s3", "b", 1),
        ("s3", "c", 1),
    ]  # fmt: skip
    assert need == {key: Decimal(1) for key in "abcd"}  # the caller's demand is left alone
    assert in_source_order(["s1", "s2", "s3"], candidates, need).shippable is True
