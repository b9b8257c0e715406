"""HTTP tests of the source routes (spec sources.md): list, get, create, update, validation,
save semantics, index freshness. Every test runs on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from factories import (
    LINK_FIXTURE_SOURCES,
    assert_envelope,
    create_source,
    create_stock,
    deferring_client,
    index_differences,
    index_rows,
    put_source_items,
    source_item,
)
from openmsi import db, jobs
from openmsi.models import Job, Source

SOURCES = "/rest/V1/inventory/sources"
LINKS = "/rest/V1/inventory/stock-source-links"

VALIDATION_FAILED = "Validation Failed"
COULD_NOT_SAVE = {"message": "Could not save Source"}
EMPTY = '"%field" can not be empty.'
WHITESPACE = '"%field" can not contain whitespaces.'
PICKUP_EMPTY = '"%field" can not be empty for Pickup Location.'
DEFAULT_DISABLED = {"message": "Default source can not be disabled.", "parameters": []}
DEFAULT_PICKUP = {
    "message": "The Default Source can not be used for In-Store Pickup Delivery.",
    "parameters": [],
}
SPECIAL_CHARS = {"message": VALIDATION_FAILED, "parameters": []}
CARRIER_LINKS = {
    "message": 'You can\'t configure "%field" because you have chosen Global Shipping configuration.',
    "parameters": {"field": "carrier_links"},
}

DEFAULT_SOURCE_OUTPUT = {
    "source_code": "default",
    "name": "Default Source",
    "enabled": True,
    "description": "Default Source",
    "latitude": 0,
    "longitude": 0,
    "country_id": "US",
    "postcode": "00000",
    "use_default_carrier_config": True,
    "carrier_links": [],
    "extension_attributes": {"is_pickup_location_active": False, "frontend_name": ""},
}


def empty(field: str) -> dict[str, Any]:
    return {"message": EMPTY, "parameters": {"field": field}}


def whitespace(field: str) -> dict[str, Any]:
    return {"message": WHITESPACE, "parameters": {"field": field}}


def pickup_empty(field: str) -> dict[str, Any]:
    return {"message": PICKUP_EMPTY, "parameters": {"field": field}}


def valid_source(code: str = "source-code-1", **fields: Any) -> dict[str, Any]:
    """ValidationTest's $validData plus overrides."""
    return {
        "source_code": code,
        "name": f"name of {code}",
        "postcode": "source-postcode",
        "country_id": "US",
        **fields,
    }


def assert_validation_failed(response: httpx.Response, errors: list[dict[str, Any]]) -> None:
    assert_envelope(response, 400, {"message": VALIDATION_FAILED, "errors": errors})


def assert_void(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.text == "[]"


def post_source(client: TestClient, headers: dict[str, str], body: Any) -> httpx.Response:
    return client.post(SOURCES, json=body, headers=headers)


def put_source(client: TestClient, headers: dict[str, str], code: str, body: Any) -> httpx.Response:
    return client.put(f"{SOURCES}/{code}", json=body, headers=headers)


def get_source(client: TestClient, headers: dict[str, str], code: str) -> dict[str, Any]:
    response = client.get(f"{SOURCES}/{code}", headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def stored(session: Session, code: str) -> Source | None:
    """The row as committed now (a new transaction, nothing cached)."""
    session.rollback()
    session.expire_all()
    return session.get(Source, code)


def stored_row(session: Session, code: str) -> dict[str, Any] | None:
    session.rollback()
    row = session.execute(select(Source.__table__).where(Source.source_code == code)).mappings().first()
    return None if row is None else dict(row)


def source_count(session: Session) -> int:
    session.rollback()
    return len(session.scalars(select(Source.source_code)).all())


# --------------------------------------------------------------------------------------------
# GET /V1/inventory/sources/:sourceCode
# --------------------------------------------------------------------------------------------


def test_get_seeded_default_source(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.get(f"{SOURCES}/default", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body == DEFAULT_SOURCE_OUTPUT
    assert list(body) == list(DEFAULT_SOURCE_OUTPUT)
    # json_encode prints the integral decimal(8,6) 0.000000 as 0.
    assert '"latitude":0,"longitude":0,' in response.text


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("does-not-exist", id="unknown"),
        pytest.param("x" * 256, id="longer-than-column"),
        pytest.param("default-", id="prefix-of-existing"),
    ],
)
def test_get_unknown_source_is_404(client: TestClient, auth_headers: dict[str, str], code: str) -> None:
    response = client.get(f"{SOURCES}/{code}", headers=auth_headers)
    assert_envelope(
        response,
        404,
        {"message": 'Source with code "%value" does not exist.', "parameters": {"value": code}},
    )


def test_get_unknown_source_reports_decoded_path_value(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    # PHP urldecode: "+" is a space, %XX is decoded.
    response = client.get(f"{SOURCES}/no+such%2Dsource", headers=auth_headers)
    assert_envelope(
        response,
        404,
        {"message": 'Source with code "%value" does not exist.', "parameters": {"value": "no such-source"}},
    )


def test_get_is_case_insensitive(client: TestClient, auth_headers: dict[str, str]) -> None:
    create_source(client, auth_headers, valid_source("eu-1", name="EU-source-1"))
    for code in ("eu-1", "EU-1", "Eu-1"):
        assert get_source(client, auth_headers, code)["source_code"] == "eu-1"


@pytest.mark.parametrize(
    "path_code",
    [
        pytest.param("default%20", id="one-space"),
        pytest.param("DEFAULT%20%20%20", id="spaces-and-case"),
    ],
)
def test_get_ignores_trailing_spaces_like_mysql(
    client: TestClient, auth_headers: dict[str, str], path_code: str
) -> None:
    """MySQL's PAD SPACE collation: "default " finds "default" (on every engine)."""
    assert get_source(client, auth_headers, path_code) == DEFAULT_SOURCE_OUTPUT


def test_get_with_store_code_and_trailing_slash(client: TestClient, auth_headers: dict[str, str]) -> None:
    for path in (
        "/rest/default/V1/inventory/sources/default",
        "/rest/all/V1/inventory/sources/default",
        "/rest/V1/inventory/sources/default/",
    ):
        response = client.get(path, headers=auth_headers)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == DEFAULT_SOURCE_OUTPUT


# --------------------------------------------------------------------------------------------
# GET /V1/inventory/sources
# --------------------------------------------------------------------------------------------


def test_list_without_search_criteria(client: TestClient, auth_headers: dict[str, str]) -> None:
    # Created out of code order: the list comes in primary-key order, case-insensitively.
    for code in ("c-src", "B-src", "a-src"):
        create_source(client, auth_headers, valid_source(code))
    response = client.get(SOURCES, headers=auth_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["items", "search_criteria", "total_count"]
    assert body["search_criteria"] == {"filter_groups": []}
    assert body["total_count"] == 4
    assert [item["source_code"] for item in body["items"]] == ["a-src", "B-src", "c-src", "default"]
    assert body["items"][3] == DEFAULT_SOURCE_OUTPUT
    assert body["items"][0] == {
        "source_code": "a-src",
        "name": "name of a-src",
        "enabled": True,
        "country_id": "US",
        "postcode": "source-postcode",
        "use_default_carrier_config": True,
        "carrier_links": [],
        "extension_attributes": {"is_pickup_location_active": False, "frontend_name": "name of a-src"},
    }


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("", id="absent"),
        pytest.param("?searchCriteria=", id="empty-string"),
        pytest.param("?search_criteria=", id="snake-case-empty-string"),
    ],
)
def test_list_with_empty_criteria_returns_everything(
    client: TestClient, auth_headers: dict[str, str], query: str
) -> None:
    response = client.get(SOURCES + query, headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "items": [DEFAULT_SOURCE_OUTPUT],
        "search_criteria": {"filter_groups": []},
        "total_count": 1,
    }


def test_get_list_pinned_scenario(client: TestClient, auth_headers: dict[str, str]) -> None:
    """InventoryApi/Test/Api/SourceRepository/GetListTest.php on the sources.php fixture."""
    for source in LINK_FIXTURE_SOURCES:
        create_source(client, auth_headers, source)
    params = {
        "searchCriteria[filter_groups][0][filters][0][field]": "enabled",
        "searchCriteria[filter_groups][0][filters][0][value]": "1",
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "eq",
        "searchCriteria[sort_orders][0][field]": "name",
        "searchCriteria[sort_orders][0][direction]": "DESC",
        "searchCriteria[current_page]": "2",
        "searchCriteria[page_size]": "2",
    }
    response = client.get(SOURCES, params=params, headers=auth_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(item["name"], item["enabled"]) for item in body["items"]] == [
        ("EU-source-2", True),
        ("EU-source-1", True),
    ]
    # Default Source, EU-source-1..3 and US-source-1 are enabled.
    assert body["total_count"] == 5
    assert body["search_criteria"] == {
        "filter_groups": [{"filters": [{"field": "enabled", "value": "1", "condition_type": "eq"}]}],
        "sort_orders": [{"field": "name", "direction": "DESC"}],
        "page_size": 2,
        "current_page": 2,
    }
    assert list(body["search_criteria"]) == ["filter_groups", "sort_orders", "page_size", "current_page"]
    assert body["items"][0] == {
        "source_code": "eu-2",
        "name": "EU-source-2",
        "enabled": True,
        "country_id": "FR",
        "postcode": "postcode",
        "use_default_carrier_config": True,
        "carrier_links": [],
        "extension_attributes": {"is_pickup_location_active": False, "frontend_name": "EU-source-2"},
    }


@pytest.mark.parametrize(
    ("filters", "expected_codes"),
    [
        pytest.param({"field": "country_id", "value": "DE"}, ["eu-3", "eu-disabled"], id="eq-default"),
        pytest.param(
            {"field": "enabled", "value": "0", "condition_type": "eq"}, ["eu-disabled"], id="disabled"
        ),
        pytest.param(
            {"field": "source_code", "value": "us-1,eu-2", "condition_type": "in"},
            ["eu-2", "us-1"],
            id="in-list",
        ),
        pytest.param(
            {"field": "name", "value": "eu-source-%", "condition_type": "like"},
            ["eu-1", "eu-2", "eu-3", "eu-disabled"],
            id="like-case-insensitive",
        ),
        pytest.param(
            {"field": "frontend_name", "value": "US-source-1"}, ["us-1"], id="extension-column-frontend-name"
        ),
        pytest.param(
            {"field": "is_pickup_location_active", "value": "0"},
            ["default", "eu-1", "eu-2", "eu-3", "eu-disabled", "us-1"],
            id="extension-column-pickup",
        ),
    ],
)
def test_list_filters(
    client: TestClient, auth_headers: dict[str, str], filters: dict[str, str], expected_codes: list[str]
) -> None:
    for source in LINK_FIXTURE_SOURCES:
        create_source(client, auth_headers, source)
    params = {f"searchCriteria[filterGroups][0][filters][0][{key}]": value for key, value in filters.items()}
    params["searchCriteria[sortOrders][0][field]"] = "source_code"
    params["searchCriteria[sortOrders][0][direction]"] = "ASC"
    response = client.get(SOURCES, params=params, headers=auth_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["source_code"] for item in body["items"]] == expected_codes
    assert body["total_count"] == len(expected_codes)
    assert body["search_criteria"]["filter_groups"] == [{"filters": [filters]}]


# --------------------------------------------------------------------------------------------
# POST /V1/inventory/sources: create and the full round trip
# --------------------------------------------------------------------------------------------


def test_create_answers_empty_list_and_defaults(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    response = post_source(client, auth_headers, {"source": valid_source("new-1", name="New")})
    assert_void(response)
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert get_source(client, auth_headers, "new-1") == {
        "source_code": "new-1",
        "name": "New",
        "enabled": True,
        "country_id": "US",
        "postcode": "source-postcode",
        "use_default_carrier_config": True,
        "carrier_links": [],
        "extension_attributes": {"is_pickup_location_active": False, "frontend_name": "New"},
    }
    row = stored_row(session, "new-1")
    assert row is not None
    assert row["enabled"] and row["use_default_carrier_config"]
    assert not row["is_pickup_location_active"]
    for column in ("description", "latitude", "longitude", "region_id", "region", "city", "street"):
        assert row[column] is None, column
    assert row["frontend_description"] is None


FULL_SOURCE: dict[str, Any] = {
    "source_code": "full-1",
    "name": "Full Source",
    "email": "full@example.com",
    "contact_name": "Jane Doe",
    "enabled": True,
    "description": "A description",
    "latitude": 11.12345678,
    "longitude": -12.1234567,
    "country_id": "UK",
    "region_id": 10,
    "region": "custom-region",
    "city": "Austin",
    "street": "1 Main St",
    "postcode": "78701",
    "phone": "555-0100",
    "fax": "555-0101",
    "use_default_carrier_config": False,
    "carrier_links": [],
    "extension_attributes": {
        "is_pickup_location_active": True,
        "frontend_name": "Front name",
        "frontend_description": "Front description",
    },
}


def test_create_round_trip_of_every_field(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    assert_void(post_source(client, auth_headers, {"source": FULL_SOURCE}))
    expected = {
        **FULL_SOURCE,
        # decimal(8,6) / decimal(9,6): rounded to 6 decimals.
        "latitude": 11.123457,
        "longitude": -12.123457,
        # The getter is hard-coded (Inventory/Model/Source.php).
        "use_default_carrier_config": True,
    }
    body = get_source(client, auth_headers, "full-1")
    assert body == expected
    assert list(body) == list(expected)
    assert list(body["extension_attributes"]) == [
        "is_pickup_location_active",
        "frontend_name",
        "frontend_description",
    ]
    row = stored_row(session, "full-1")
    assert row is not None
    assert row["latitude"] == Decimal("11.123457")
    assert row["longitude"] == Decimal("-12.123457")
    # What was sent is stored; only the output is forced to true.
    assert not row["use_default_carrier_config"]
    assert row["is_pickup_location_active"]


def test_create_pinned_create_test_data(client: TestClient, auth_headers: dict[str, str]) -> None:
    """InventoryApi/Test/Api/SourceRepository/CreateTest.php."""
    data = {
        "source_code": "source-code-1",
        "name": "source-name-1",
        "contact_name": "source-contact-name",
        "email": "source-email",
        "enabled": True,
        "description": "source-description",
        "latitude": 11.123456,
        "longitude": 12.123456,
        "country_id": "US",
        "region_id": 10,
        "city": "source-city",
        "street": "source-street",
        "postcode": "source-postcode",
        "phone": "source-phone",
        "fax": "source-fax",
        "use_default_carrier_config": 1,
        "carrier_links": [],
    }
    assert_void(post_source(client, auth_headers, {"source": data}))
    body = get_source(client, auth_headers, "source-code-1")
    for key, value in data.items():
        assert body[key] == value, key
    assert body["use_default_carrier_config"] is True
    assert "region" not in body


@pytest.mark.parametrize(
    ("latitude", "longitude", "text"),
    [
        pytest.param(10.0, -20.0, '"latitude":10,"longitude":-20,', id="integral-floats"),
        pytest.param(10, 0, '"latitude":10,"longitude":0,', id="integers"),
        pytest.param("10.50", "-0.25", '"latitude":10.5,"longitude":-0.25,', id="numeric-strings"),
        pytest.param(99.999999, -999.999999, '"latitude":99.999999,"longitude":-999.999999,', id="limits"),
        pytest.param(1.0000004, 2.0000006, '"latitude":1,"longitude":2.000001,', id="rounded-to-6"),
        pytest.param(-0.0000001, 0.5e-7, '"latitude":0,"longitude":0,', id="rounded-to-zero"),
    ],
)
def test_coordinates_are_rounded_and_printed_like_php(
    client: TestClient, auth_headers: dict[str, str], latitude: Any, longitude: Any, text: str
) -> None:
    source = valid_source("geo-1", latitude=latitude, longitude=longitude)
    assert_void(post_source(client, auth_headers, {"source": source}))
    response = client.get(f"{SOURCES}/geo-1", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert text in response.text


@pytest.mark.parametrize(
    ("fields", "present", "absent"),
    [
        pytest.param({"region_id": 10}, {"region_id": 10}, "region", id="region-id-only"),
        pytest.param(
            {"region": "custom-region-name"}, {"region": "custom-region-name"}, "region_id", id="region-only"
        ),
        pytest.param(
            {"region_id": 10, "region": "custom-region-name"},
            {"region_id": 10, "region": "custom-region-name"},
            None,
            id="both",
        ),
        pytest.param({"region_id": "12"}, {"region_id": 12}, "region", id="region-id-numeric-string"),
    ],
)
def test_region_processing(
    client: TestClient,
    auth_headers: dict[str, str],
    fields: dict[str, Any],
    present: dict[str, Any],
    absent: str | None,
) -> None:
    """InventoryApi/Test/Api/SourceRepository/RegionProcessingTest.php."""
    source = {
        "source_code": "source-code-1",
        "name": "source-name-1",
        "postcode": "source-postcode",
        "country_id": "US",
        **fields,
    }
    assert_void(post_source(client, auth_headers, {"source": source}))
    body = get_source(client, auth_headers, "source-code-1")
    for key, value in present.items():
        assert body[key] == value
    if absent is not None:
        assert absent not in body


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        pytest.param(False, False, id="false"),
        pytest.param(0, False, id="zero"),
        pytest.param("0", False, id="string-zero"),
        pytest.param("no", False, id="string-no"),
        pytest.param(True, True, id="true"),
        pytest.param("yes", True, id="string-yes"),
        pytest.param(1, True, id="one"),
    ],
)
def test_enabled_is_stored_as_boolean(
    client: TestClient, auth_headers: dict[str, str], session: Session, sent: Any, expected: bool
) -> None:
    assert_void(post_source(client, auth_headers, {"source": valid_source("flag-1", enabled=sent)}))
    assert get_source(client, auth_headers, "flag-1")["enabled"] is expected
    row = stored(session, "flag-1")
    assert row is not None and bool(row.enabled) is expected


@pytest.mark.parametrize(
    ("extension", "expected"),
    [
        pytest.param(None, {"is_pickup_location_active": False, "frontend_name": "Shop"}, id="absent"),
        pytest.param({}, {"is_pickup_location_active": False, "frontend_name": "Shop"}, id="empty"),
        pytest.param(
            {"frontend_name": ""},
            {"is_pickup_location_active": False, "frontend_name": "Shop"},
            id="empty-frontend-name-defaults-to-name",
        ),
        pytest.param(
            {"frontend_name": "Front"},
            {"is_pickup_location_active": False, "frontend_name": "Front"},
            id="frontend-name",
        ),
        pytest.param(
            {"frontend_description": "About"},
            {"is_pickup_location_active": False, "frontend_name": "Shop", "frontend_description": "About"},
            id="frontend-description",
        ),
        pytest.param(
            {"is_pickup_location_active": False, "frontend_description": None},
            {"is_pickup_location_active": False, "frontend_name": "Shop"},
            id="null-frontend-description",
        ),
    ],
)
def test_extension_attributes_on_create(
    client: TestClient,
    auth_headers: dict[str, str],
    extension: dict[str, Any] | None,
    expected: dict[str, Any],
) -> None:
    source = valid_source("ext-1", name="Shop")
    if extension is not None:
        source["extension_attributes"] = extension
    assert_void(post_source(client, auth_headers, {"source": source}))
    body = get_source(client, auth_headers, "ext-1")
    assert body["extension_attributes"] == expected
    assert list(body["extension_attributes"]) == list(expected)


def test_camel_case_keys_are_accepted(client: TestClient, auth_headers: dict[str, str]) -> None:
    source = {
        "sourceCode": "camel-1",
        "name": "Camel",
        "contactName": "Contact",
        "countryId": "DE",
        "regionId": 5,
        "postcode": "12345",
        "useDefaultCarrierConfig": False,
        "carrierLinks": [],
        "extensionAttributes": {"frontendName": "Camel front", "frontendDescription": "Camel text"},
    }
    assert_void(post_source(client, auth_headers, {"source": source}))
    assert get_source(client, auth_headers, "camel-1") == {
        "source_code": "camel-1",
        "name": "Camel",
        "contact_name": "Contact",
        "enabled": True,
        "country_id": "DE",
        "region_id": 5,
        "postcode": "12345",
        "use_default_carrier_config": True,
        "carrier_links": [],
        "extension_attributes": {
            "is_pickup_location_active": False,
            "frontend_name": "Camel front",
            "frontend_description": "Camel text",
        },
    }


def test_create_from_query_string(client: TestClient, auth_headers: dict[str, str]) -> None:
    """POST parameters may come from the query string (body `[]`)."""
    params = {
        "source[source_code]": "query-1",
        "source[name]": "From query",
        "source[postcode]": "1000",
        "source[country_id]": "BE",
        "source[enabled]": "0",
        "source[latitude]": "50.85",
    }
    response = client.post(
        SOURCES, params=params, content=b"[]", headers={**auth_headers, "Content-Type": "application/json"}
    )
    assert_void(response)
    body = get_source(client, auth_headers, "query-1")
    assert (body["name"], body["enabled"], body["latitude"], body["country_id"]) == (
        "From query",
        False,
        50.85,
        "BE",
    )


def test_post_with_existing_code_updates(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    create_source(client, auth_headers, valid_source("up-1", name="Before", city="Paris"))
    assert_void(post_source(client, auth_headers, {"source": valid_source("up-1", name="After")}))
    body = get_source(client, auth_headers, "up-1")
    assert (body["name"], body["city"]) == ("After", "Paris")
    assert source_count(session) == 2


def test_post_with_differently_cased_existing_code_updates(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    create_source(client, auth_headers, valid_source("case-1", name="Before"))
    assert_void(post_source(client, auth_headers, {"source": valid_source("CASE-1", name="After")}))
    assert source_count(session) == 2
    assert get_source(client, auth_headers, "case-1")["name"] == "After"


# --------------------------------------------------------------------------------------------
# PUT /V1/inventory/sources/:sourceCode
# --------------------------------------------------------------------------------------------


def test_put_without_source_code_in_body_updates_every_field(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    """InventoryApi/Test/Api/SourceRepository/UpdateTest.php: the body omits source_code."""
    create_source(client, auth_headers, valid_source("upd-1", name="Old", enabled=True))
    update = {key: value for key, value in FULL_SOURCE.items() if key != "source_code"}
    update["enabled"] = False
    update["extension_attributes"] = {"frontend_name": "Upd front"}
    assert_void(put_source(client, auth_headers, "upd-1", {"source": update}))
    assert get_source(client, auth_headers, "upd-1") == {
        **FULL_SOURCE,
        "source_code": "upd-1",
        "enabled": False,
        "latitude": 11.123457,
        "longitude": -12.123457,
        "use_default_carrier_config": True,
        "extension_attributes": {"is_pickup_location_active": False, "frontend_name": "Upd front"},
    }
    row = stored(session, "upd-1")
    assert row is not None and not row.enabled
    assert source_count(session) == 2


@pytest.mark.parametrize(
    "body_code",
    [
        pytest.param("other-code", id="snake-case"),
        pytest.param(None, id="null"),
    ],
)
def test_put_url_code_wins_over_body(
    client: TestClient, auth_headers: dict[str, str], session: Session, body_code: str | None
) -> None:
    create_source(client, auth_headers, valid_source("url-1", name="Url"))
    assert_void(put_source(client, auth_headers, "url-1", {"source": _with(body_code, name="Renamed")}))
    assert get_source(client, auth_headers, "url-1")["name"] == "Renamed"
    assert stored(session, "other-code") is None
    assert source_count(session) == 2


def test_put_url_code_wins_over_camel_case_body_key(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    create_source(client, auth_headers, valid_source("url-2", name="Url"))
    body = {"source": {"sourceCode": "other-code", "name": "Renamed", "postcode": "1", "countryId": "US"}}
    assert_void(put_source(client, auth_headers, "url-2", body))
    assert get_source(client, auth_headers, "url-2")["name"] == "Renamed"
    assert stored(session, "other-code") is None


def test_put_url_code_goes_to_top_level_when_body_has_several_keys(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    """http.md: the id is written into the object only when the body has exactly one key."""
    body = {"source": _with(None, name="Two keys"), "other": {"a": 1}}
    response = put_source(client, auth_headers, "two-keys", body)
    assert_validation_failed(response, [empty("source_code")])
    # With a code in the body, that code is saved, not the one of the URL.
    body = {"source": _with("body-code", name="Two keys"), "other": 1}
    assert_void(put_source(client, auth_headers, "two-keys", body))
    assert stored(session, "two-keys") is None
    assert get_source(client, auth_headers, "body-code")["name"] == "Two keys"


@pytest.mark.parametrize(
    ("body_keys", "saved_code"),
    [
        # The camelCase key gets the URL value; whichever spelling comes last is the one saved.
        pytest.param({"source_code": "snake", "sourceCode": "camel"}, "url-3", id="camel-last"),
        pytest.param({"sourceCode": "camel", "source_code": "snake"}, "snake", id="snake-last"),
    ],
)
def test_put_with_both_spellings_of_the_code(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    body_keys: dict[str, str],
    saved_code: str,
) -> None:
    source = {**body_keys, "name": "Both spellings", "postcode": "1", "country_id": "US"}
    assert_void(put_source(client, auth_headers, "url-3", {"source": source}))
    assert get_source(client, auth_headers, saved_code)["name"] == "Both spellings"
    assert source_count(session) == 2


def test_post_with_both_spellings_of_the_code_keeps_the_last(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    source = {"source_code": "first", "sourceCode": "last", "name": "N", "postcode": "1", "country_id": "US"}
    assert_void(post_source(client, auth_headers, {"source": source}))
    assert stored(session, "first") is None
    assert get_source(client, auth_headers, "last")["name"] == "N"


def test_put_unknown_code_creates(client: TestClient, auth_headers: dict[str, str], session: Session) -> None:
    body = {"source": {"name": "Created by PUT", "postcode": "1", "country_id": "US"}}
    assert_void(put_source(client, auth_headers, "put-new", body))
    created = get_source(client, auth_headers, "put-new")
    assert (created["name"], created["enabled"]) == ("Created by PUT", True)
    assert source_count(session) == 2


def test_put_partial_update_keeps_absent_fields(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    create_source(client, auth_headers, dict(FULL_SOURCE, enabled=False))
    body = {"source": {"name": "Renamed", "postcode": "99999", "country_id": "FR"}}
    assert_void(put_source(client, auth_headers, "full-1", body))
    assert get_source(client, auth_headers, "full-1") == {
        **FULL_SOURCE,
        "name": "Renamed",
        "postcode": "99999",
        "country_id": "FR",
        "enabled": False,
        "latitude": 11.123457,
        "longitude": -12.123457,
        "use_default_carrier_config": True,
        # Rewritten on every save: frontend_name := name, frontend_description cleared;
        # is_pickup_location_active unchanged when omitted.
        "extension_attributes": {"is_pickup_location_active": True, "frontend_name": "Renamed"},
    }
    row = stored(session, "full-1")
    assert row is not None
    assert row.frontend_description is None
    assert not row.use_default_carrier_config


NULLABLE_FIELDS = (
    "email", "contact_name", "description", "latitude", "longitude", "region_id", "region", "phone", "fax",
)  # fmt: skip


def test_put_null_clears_nullable_fields_and_ignores_non_nullable(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    create_source(client, auth_headers, dict(FULL_SOURCE, enabled=False))
    update: dict[str, Any] = {name: None for name in NULLABLE_FIELDS}
    update.update(
        {
            "name": "Full Source",
            "postcode": "78701",
            "country_id": "UK",
            "enabled": None,
            "use_default_carrier_config": None,
            # city and street stay: the source is still a pickup location.
            "extension_attributes": {"is_pickup_location_active": None, "frontend_name": None},
        }
    )
    assert_void(put_source(client, auth_headers, "full-1", {"source": update}))
    body = get_source(client, auth_headers, "full-1")
    assert body == {
        "source_code": "full-1",
        "name": "Full Source",
        "enabled": False,
        "country_id": "UK",
        "city": "Austin",
        "street": "1 Main St",
        "postcode": "78701",
        "use_default_carrier_config": True,
        "carrier_links": [],
        "extension_attributes": {"is_pickup_location_active": True, "frontend_name": "Full Source"},
    }
    row = stored_row(session, "full-1")
    assert row is not None
    for name in NULLABLE_FIELDS:
        assert row[name] is None, name
    assert not row["enabled"]
    assert not row["use_default_carrier_config"]


def test_put_can_enable_and_disable(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    create_source(client, auth_headers, valid_source("toggle-1"))
    assert_void(
        put_source(client, auth_headers, "toggle-1", {"source": valid_source("toggle-1", enabled=False)})
    )
    assert get_source(client, auth_headers, "toggle-1")["enabled"] is False
    # Omitting enabled keeps the stored value (for every source but the default one).
    assert_void(put_source(client, auth_headers, "toggle-1", {"source": valid_source("toggle-1")}))
    assert get_source(client, auth_headers, "toggle-1")["enabled"] is False
    assert_void(
        put_source(client, auth_headers, "toggle-1", {"source": valid_source("toggle-1", enabled=True)})
    )
    assert get_source(client, auth_headers, "toggle-1")["enabled"] is True


def test_put_pickup_location_can_be_switched_off(client: TestClient, auth_headers: dict[str, str]) -> None:
    create_source(client, auth_headers, FULL_SOURCE)
    body = {
        "source": {
            "name": "Full Source",
            "postcode": "1",
            "country_id": "US",
            "extension_attributes": {"is_pickup_location_active": False},
        }
    }
    assert_void(put_source(client, auth_headers, "full-1", body))
    extension = get_source(client, auth_headers, "full-1")["extension_attributes"]
    assert extension == {"is_pickup_location_active": False, "frontend_name": "Full Source"}


def test_default_source_can_be_updated_when_kept_enabled(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    body = {"source": {"name": "Main Source", "postcode": "00000", "country_id": "US", "enabled": True}}
    assert_void(put_source(client, auth_headers, "default", body))
    updated = get_source(client, auth_headers, "default")
    assert updated["name"] == "Main Source"
    assert updated["enabled"] is True
    # Partial update: the stored description and coordinates stay; frontend_name := name.
    assert (updated["description"], updated["latitude"], updated["longitude"]) == ("Default Source", 0, 0)
    assert updated["extension_attributes"] == {
        "is_pickup_location_active": False,
        "frontend_name": "Main Source",
    }


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

_MISSING = object()


def _with(code: str | None = "source-code-1", **changes: Any) -> dict[str, Any]:
    """ValidationTest's valid data with fields replaced (_MISSING removes a field)."""
    data: dict[str, Any] = {
        "source_code": code,
        "name": "source-name-1",
        "postcode": "source-postcode",
        "country_id": "US",
    }
    for key, value in changes.items():
        if value is _MISSING:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def _empty_value_cases() -> list[Any]:
    cases = []
    for field in ("name", "source_code", "postcode", "country_id"):
        for label, value in (("missing", _MISSING), ("null", None), ("empty", ""), ("blank", " ")):
            errors = [empty(field)]
            if field == "source_code" and value == " ":
                # A string of only spaces fails both rules, empty first.
                errors.append(whitespace(field))
            cases.append(pytest.param({field: value}, errors, id=f"{field}-{label}"))
    return cases


CREATE_VALIDATION_CASES = [
    *_empty_value_cases(),
    pytest.param({"name": "\t\n"}, [empty("name")], id="name-php-trim-whitespace"),
    pytest.param({"source_code": "source code"}, [whitespace("source_code")], id="code-with-space"),
    pytest.param({"source_code": "tab\tcode"}, [whitespace("source_code")], id="code-with-tab"),
    pytest.param({"source_code": "line\ncode"}, [whitespace("source_code")], id="code-with-newline"),
    pytest.param({"source_code": " code"}, [whitespace("source_code")], id="code-leading-space"),
    pytest.param({"name": "${var}"}, [SPECIAL_CHARS], id="name-template"),
    pytest.param({"name": "A $:{var} B"}, [SPECIAL_CHARS], id="name-colon-template"),
    pytest.param({"source_code": "${var}"}, [SPECIAL_CHARS], id="code-template"),
    pytest.param({"source_code": "a$::{x}b"}, [SPECIAL_CHARS], id="code-double-colon-template"),
    pytest.param(
        {"source_code": "a ${x}"},
        [whitespace("source_code"), SPECIAL_CHARS],
        id="code-whitespace-and-template",
    ),
    pytest.param(
        {"name": "${x}", "source_code": "${y}"}, [SPECIAL_CHARS, SPECIAL_CHARS], id="name-and-code-template"
    ),
    pytest.param(
        {"name": _MISSING, "source_code": " ", "postcode": "", "country_id": None},
        [
            empty("name"),
            empty("source_code"),
            whitespace("source_code"),
            empty("postcode"),
            empty("country_id"),
        ],
        id="all-required-in-chain-order",
    ),
    pytest.param(
        {"extension_attributes": {"is_pickup_location_active": True}},
        [pickup_empty("city"), pickup_empty("street"), pickup_empty("phone")],
        id="pickup-without-address",
    ),
    pytest.param(
        {"extension_attributes": {"is_pickup_location_active": True}, "city": "Austin"},
        [pickup_empty("street")],
        id="pickup-without-street",
    ),
    pytest.param(
        # Magento's PhoneValidator tests the city: a missing city reports phone too, even with a phone.
        {"extension_attributes": {"is_pickup_location_active": True}, "street": "Main", "phone": "555"},
        [pickup_empty("city"), pickup_empty("phone")],
        id="pickup-without-city-reports-phone",
    ),
    pytest.param(
        {"extension_attributes": {"is_pickup_location_active": "1"}, "city": " ", "street": ""},
        [pickup_empty("city"), pickup_empty("street"), pickup_empty("phone")],
        id="pickup-blank-address",
    ),
    pytest.param(
        {"carrier_links": [{"carrier_code": "flatrate", "position": 1}]}, [CARRIER_LINKS], id="carrier-links"
    ),
    pytest.param(
        {"carrier_links": [{}], "use_default_carrier_config": False},
        [CARRIER_LINKS],
        id="carrier-links-empty-item",
    ),
    pytest.param(
        {
            "name": "",
            "source_code": "default",
            "enabled": False,
            "extension_attributes": {"is_pickup_location_active": True},
            "carrier_links": [{"carrier_code": "flatrate"}],
        },
        [
            empty("name"),
            DEFAULT_DISABLED,
            pickup_empty("city"),
            pickup_empty("street"),
            pickup_empty("phone"),
            DEFAULT_PICKUP,
            CARRIER_LINKS,
        ],
        id="whole-chain-in-order",
    ),
    pytest.param(
        {"source_code": "default", "enabled": False}, [DEFAULT_DISABLED], id="post-default-disabled"
    ),
    pytest.param({"source_code": "default"}, [DEFAULT_DISABLED], id="post-default-enabled-omitted"),
    # openmsi: codes are case-insensitive keys, so "DEFAULT" names the default source too.
    pytest.param(
        {"source_code": "DEFAULT", "enabled": False}, [DEFAULT_DISABLED], id="post-default-upper-case"
    ),
    pytest.param(
        {"source_code": "default", "enabled": "0"}, [DEFAULT_DISABLED], id="post-default-enabled-string-zero"
    ),
]


@pytest.mark.parametrize(("changes", "errors"), CREATE_VALIDATION_CASES)
def test_create_validation(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    changes: dict[str, Any],
    errors: list[dict[str, Any]],
) -> None:
    response = post_source(client, auth_headers, {"source": _with(**changes)})
    assert_validation_failed(response, errors)
    assert source_count(session) == 1
    default = stored_row(session, "default")
    assert default is not None and default["enabled"] and default["name"] == "Default Source"


UPDATE_VALIDATION_CASES = [
    pytest.param({"name": None}, [empty("name")], id="name-null"),
    pytest.param({"name": ""}, [empty("name")], id="name-empty"),
    pytest.param({"name": " "}, [empty("name")], id="name-blank"),
    pytest.param({"name": _MISSING}, [empty("name")], id="name-missing"),
    pytest.param({"postcode": ""}, [empty("postcode")], id="postcode-empty"),
    pytest.param({"postcode": " "}, [empty("postcode")], id="postcode-blank"),
    pytest.param({"postcode": None}, [empty("postcode")], id="postcode-null"),
    pytest.param({"country_id": ""}, [empty("country_id")], id="country-empty"),
    pytest.param({"country_id": " "}, [empty("country_id")], id="country-blank"),
    pytest.param({"country_id": None}, [empty("country_id")], id="country-null"),
    pytest.param({"name": "${x}"}, [SPECIAL_CHARS], id="name-template"),
    pytest.param(
        {"extension_attributes": {"is_pickup_location_active": True}, "street": "Main"},
        [pickup_empty("city"), pickup_empty("phone")],
        id="pickup-without-city",
    ),
    pytest.param({"carrier_links": [{"carrier_code": "ups"}]}, [CARRIER_LINKS], id="carrier-links"),
]


@pytest.mark.parametrize(("changes", "errors"), UPDATE_VALIDATION_CASES)
def test_update_validation(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    changes: dict[str, Any],
    errors: list[dict[str, Any]],
) -> None:
    """ValidationTest::testFailedValidationOnUpdate: PUT on an existing source; nothing changes."""
    create_source(client, auth_headers, _with())
    before = stored_row(session, "source-code-1")
    response = put_source(client, auth_headers, "source-code-1", {"source": _with(**changes)})
    assert_validation_failed(response, errors)
    assert stored_row(session, "source-code-1") == before


@pytest.mark.parametrize(
    ("path_code", "errors"),
    [
        pytest.param("a+b", [whitespace("source_code")], id="plus-is-space"),
        pytest.param("a%20b", [whitespace("source_code")], id="encoded-space"),
        pytest.param("%20", [empty("source_code"), whitespace("source_code")], id="only-space"),
        pytest.param("%24%7Bx%7D", [SPECIAL_CHARS], id="template"),
    ],
)
def test_update_validates_the_url_code(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    path_code: str,
    errors: list[dict[str, Any]],
) -> None:
    response = put_source(client, auth_headers, path_code, {"source": _with("body-code")})
    assert_validation_failed(response, errors)
    assert source_count(session) == 1


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(
            {"name": "Default Source", "postcode": "00000", "country_id": "US", "enabled": False}, id="false"
        ),
        pytest.param({"name": "Default Source", "postcode": "00000", "country_id": "US"}, id="omitted"),
        pytest.param(
            {"name": "Default Source", "postcode": "00000", "country_id": "US", "enabled": None}, id="null"
        ),
        pytest.param(
            {"name": "Default Source", "postcode": "00000", "country_id": "US", "enabled": "off"},
            id="string-off",
        ),
    ],
)
def test_default_source_can_not_be_disabled(
    client: TestClient, auth_headers: dict[str, str], session: Session, source: dict[str, Any]
) -> None:
    """InventoryCatalogApi/Test/Api/PreventDefaultSourceDisablingTest.php."""
    response = put_source(client, auth_headers, "default", {"source": source})
    assert_validation_failed(response, [DEFAULT_DISABLED])
    row = stored(session, "default")
    assert row is not None and row.enabled


def test_default_source_can_not_be_a_pickup_location(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    source = {
        "name": "Default Source",
        "postcode": "00000",
        "country_id": "US",
        "enabled": True,
        "city": "Austin",
        "street": "Main",
        "phone": "555",
        "extension_attributes": {"is_pickup_location_active": True},
    }
    response = put_source(client, auth_headers, "default", {"source": source})
    assert_validation_failed(response, [DEFAULT_PICKUP])
    row = stored(session, "default")
    assert row is not None and not row.is_pickup_location_active and row.city is None


def test_pickup_location_needs_no_phone(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    """The phone validator checks the city, so a pickup location without a phone is saved."""
    source = _with(
        "pickup-1", city="Austin", street="Main", extension_attributes={"is_pickup_location_active": True}
    )
    assert_void(post_source(client, auth_headers, {"source": source}))
    body = get_source(client, auth_headers, "pickup-1")
    assert "phone" not in body
    assert body["extension_attributes"]["is_pickup_location_active"] is True
    row = stored(session, "pickup-1")
    assert row is not None and row.is_pickup_location_active


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("$var", id="dollar-without-braces"),
        pytest.param("{var}", id="braces-without-dollar"),
        pytest.param("$ {var}", id="dollar-space-brace"),
        pytest.param("Café Ünïcødé / <&>", id="unicode-and-html"),
    ],
)
def test_names_that_are_not_templates_are_accepted(
    client: TestClient, auth_headers: dict[str, str], name: str
) -> None:
    assert_void(post_source(client, auth_headers, {"source": _with("tpl-1", name=name)}))
    assert get_source(client, auth_headers, "tpl-1")["name"] == name


def test_empty_carrier_links_are_accepted(client: TestClient, auth_headers: dict[str, str]) -> None:
    source = _with("carrier-1", carrier_links=[], use_default_carrier_config=False)
    assert_void(post_source(client, auth_headers, {"source": source}))
    body = get_source(client, auth_headers, "carrier-1")
    assert body["carrier_links"] == []
    assert body["use_default_carrier_config"] is True


# --------------------------------------------------------------------------------------------
# Could not save Source: duplicate names and values the columns cannot hold
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("EU-source-1", id="same"),
        pytest.param("eu-SOURCE-1", id="other-case"),
        pytest.param("EU-source-1   ", id="trailing-spaces"),
        pytest.param("  EU-source-1", id="leading-spaces-trimmed"),
    ],
)
def test_duplicate_name_could_not_save(
    client: TestClient, auth_headers: dict[str, str], session: Session, name: str
) -> None:
    create_source(client, auth_headers, _with("eu-1", name="EU-source-1"))
    response = post_source(client, auth_headers, {"source": _with("eu-2", name=name)})
    assert_envelope(response, 400, COULD_NOT_SAVE)
    assert stored(session, "eu-2") is None
    # Renaming another source to the taken name fails the same way and changes nothing.
    create_source(client, auth_headers, _with("eu-3", name="EU-source-3"))
    response = put_source(client, auth_headers, "eu-3", {"source": _with(None, name=name)})
    assert_envelope(response, 400, COULD_NOT_SAVE)
    row = stored(session, "eu-3")
    assert row is not None and row.name == "EU-source-3"


def test_duplicate_of_default_source_name(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    response = post_source(client, auth_headers, {"source": _with("dup-1", name="default source")})
    assert_envelope(response, 400, COULD_NOT_SAVE)
    assert stored(session, "dup-1") is None


def test_a_source_may_keep_its_own_name(client: TestClient, auth_headers: dict[str, str]) -> None:
    create_source(client, auth_headers, _with("own-1", name="Own Name"))
    assert_void(put_source(client, auth_headers, "own-1", {"source": _with(None, name="OWN NAME")}))
    assert get_source(client, auth_headers, "own-1")["name"] == "OWN NAME"


OUT_OF_RANGE_CASES = [
    pytest.param({"name": "n" * 256}, id="name-256"),
    pytest.param({"source_code": "c" * 256}, id="code-256"),
    pytest.param({"country_id": "USA"}, id="country-3"),
    pytest.param({"postcode": "p" * 256}, id="postcode-256"),
    pytest.param({"email": "e" * 256}, id="email-256"),
    pytest.param({"city": "c" * 256}, id="city-256"),
    pytest.param({"extension_attributes": {"frontend_name": "f" * 256}}, id="frontend-name-256"),
    pytest.param({"latitude": 100}, id="latitude-100"),
    pytest.param({"latitude": -100.5}, id="latitude-minus-100"),
    pytest.param({"latitude": 99.9999996}, id="latitude-rounds-to-100"),
    pytest.param({"longitude": 1000}, id="longitude-1000"),
    pytest.param({"longitude": -1000}, id="longitude-minus-1000"),
    pytest.param({"region_id": -1}, id="region-id-negative"),
    pytest.param({"region_id": 4_294_967_296}, id="region-id-beyond-unsigned-int"),
    pytest.param({"description": "d" * 65_536}, id="description-beyond-text"),
    pytest.param({"description": "é" * 32_768}, id="description-beyond-text-in-bytes"),
    pytest.param(
        {"extension_attributes": {"frontend_description": "d" * 65_536}},
        id="frontend-description-beyond-text",
    ),
]


@pytest.mark.parametrize("changes", OUT_OF_RANGE_CASES)
def test_values_the_columns_can_not_hold_on_create(
    client: TestClient, auth_headers: dict[str, str], session: Session, changes: dict[str, Any]
) -> None:
    source = _with("range-1", **changes)
    response = post_source(client, auth_headers, {"source": source})
    assert_envelope(response, 400, COULD_NOT_SAVE)
    assert stored(session, source["source_code"]) is None
    assert source_count(session) == 1


@pytest.mark.parametrize("changes", [p for p in OUT_OF_RANGE_CASES if p.id != "code-256"])
def test_values_the_columns_can_not_hold_on_update(
    client: TestClient, auth_headers: dict[str, str], session: Session, changes: dict[str, Any]
) -> None:
    create_source(client, auth_headers, dict(FULL_SOURCE))
    before = stored_row(session, "full-1")
    response = put_source(client, auth_headers, "full-1", {"source": _with(None, **changes)})
    assert_envelope(response, 400, COULD_NOT_SAVE)
    assert stored_row(session, "full-1") == before


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"name": "n" * 255}, id="name-255"),
        pytest.param({"source_code": "c" * 255}, id="code-255"),
        pytest.param({"region_id": 4_294_967_295}, id="region-id-max"),
        pytest.param({"region_id": 0}, id="region-id-zero"),
        pytest.param({"description": "d" * 65_535}, id="description-text-limit"),
        pytest.param({"name": "é" * 255}, id="name-255-two-byte-chars"),
        pytest.param({"city": "😀" * 255}, id="city-255-four-byte-chars"),
        pytest.param({"country_id": "ÜÖ"}, id="country-two-non-ascii-chars"),
    ],
)
def test_values_at_the_column_limits_are_saved(
    client: TestClient, auth_headers: dict[str, str], changes: dict[str, Any]
) -> None:
    source = _with("limit-1", **changes)
    assert_void(post_source(client, auth_headers, {"source": source}))
    body = get_source(client, auth_headers, source["source_code"])
    for key, value in changes.items():
        assert body[key] == value


# --------------------------------------------------------------------------------------------
# Request errors of the framework
# --------------------------------------------------------------------------------------------


def _type_error(field: str, value: str, expected: str) -> str:
    return (
        f'Error occurred during "{field}" processing. The "{value}" value\'s type is invalid. '
        f'The "{expected}" type was expected. Verify and try again.'
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"latitude": "abc"}, _type_error("latitude", "abc", "float"), id="latitude-abc"),
        pytest.param({"longitude": ""}, _type_error("longitude", "", "float"), id="longitude-empty-string"),
        pytest.param({"latitude": True}, _type_error("latitude", "1", "float"), id="latitude-bool"),
        pytest.param({"region_id": "ten"}, _type_error("region_id", "ten", "int"), id="region-id-word"),
        pytest.param({"regionId": "ten"}, _type_error("regionId", "ten", "int"), id="field-name-as-sent"),
        pytest.param({"name": ["a"]}, _type_error("name", "array", "string"), id="name-array"),
        pytest.param({"enabled": {"a": 1}}, _type_error("enabled", "array", "bool"), id="enabled-object"),
        pytest.param(
            {"extension_attributes": {"is_pickup_location_active": []}},
            'Error occurred during "extension_attributes" processing. '
            + _type_error("is_pickup_location_active", "array", "bool"),
            id="nested-extension-attribute",
        ),
    ],
)
def test_type_errors(
    client: TestClient, auth_headers: dict[str, str], session: Session, changes: dict[str, Any], message: str
) -> None:
    response = post_source(client, auth_headers, {"source": _with("type-1", **changes)})
    assert_envelope(response, 400, {"message": message})
    assert stored(session, "type-1") is None


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        pytest.param({"foo_bar": 1}, "FooBar", id="snake-case"),
        pytest.param({"fooBar": 1}, "FooBar", id="camel-case"),
        pytest.param(
            {"is_pickup_location_active": True}, "IsPickupLocationActive", id="extension-field-at-top"
        ),
        pytest.param({"stock_id": 1}, "StockId", id="field-of-another-entity"),
        pytest.param({"extension_attributes": {"bogus": 1}}, "Bogus", id="inside-extension-attributes"),
        pytest.param({"carrier_links": [{"source_code": "x"}]}, "SourceCode", id="inside-carrier-link"),
    ],
)
def test_unknown_field_is_not_supported(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    changes: dict[str, Any],
    field_name: str,
) -> None:
    response = post_source(client, auth_headers, {"source": _with("unknown-1", **changes)})
    assert_envelope(
        response,
        400,
        {
            "message": '"%fieldName" is not supported. Correct the field name and try again.',
            "parameters": {"fieldName": field_name},
        },
    )
    assert stored(session, "unknown-1") is None


SOURCE_REQUIRED = {
    "message": '"%fieldName" is required. Enter and try again.',
    "parameters": {"fieldName": "source"},
}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty-object"),
        pytest.param({"source": None}, id="null"),
        pytest.param({"Source": {"source_code": "x"}}, id="wrong-case"),
        pytest.param({"sources": [_with("x")]}, id="other-key"),
        pytest.param([], id="json-list"),
        pytest.param("source", id="json-string"),
    ],
)
def test_source_parameter_is_required(
    client: TestClient, auth_headers: dict[str, str], session: Session, body: Any
) -> None:
    assert_envelope(post_source(client, auth_headers, body), 400, SOURCE_REQUIRED)
    assert_envelope(put_source(client, auth_headers, "req-1", body), 400, SOURCE_REQUIRED)
    assert source_count(session) == 1


def test_source_that_is_not_an_object_is_an_empty_source(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    response = post_source(client, auth_headers, {"source": "text"})
    assert_validation_failed(
        response, [empty("name"), empty("source_code"), empty("postcode"), empty("country_id")]
    )


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        pytest.param(b"{", "application/json", "Decoding error.", id="invalid-json"),
        pytest.param(b"", "application/json", "Decoding error.", id="empty-body"),
        pytest.param(
            b"{}",
            "text/plain",
            "Server cannot understand Content-Type HTTP header media type text/plain",
            id="text-plain",
        ),
    ],
)
def test_body_errors(
    client: TestClient, auth_headers: dict[str, str], content: bytes, content_type: str, message: str
) -> None:
    headers = {**auth_headers, "Content-Type": content_type}
    assert_envelope(client.post(SOURCES, content=content, headers=headers), 400, {"message": message})
    assert_envelope(client.put(f"{SOURCES}/x", content=content, headers=headers), 400, {"message": message})


ROUTE_NOT_FOUND = {"message": "Request does not match any route."}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("DELETE", f"{SOURCES}/default", id="delete-default"),
        pytest.param("DELETE", f"{SOURCES}/x", id="delete-unknown"),
        pytest.param("DELETE", SOURCES, id="delete-collection"),
        pytest.param("POST", f"{SOURCES}/x", id="post-with-code"),
        pytest.param("PUT", SOURCES, id="put-without-code"),
        pytest.param("GET", "/rest/V1/inventory/Sources", id="path-is-case-sensitive"),
        pytest.param("GET", f"{SOURCES}/default/extra", id="too-many-segments"),
        pytest.param("GET", "/rest/unknown-store/V1/inventory/sources", id="unknown-store-code"),
    ],
)
def test_routes_that_do_not_exist(
    client: TestClient, auth_headers: dict[str, str], session: Session, method: str, path: str
) -> None:
    for headers in (auth_headers, {}):
        response = client.request(method, path, json={"source": _with("x")}, headers=headers)
        assert_envelope(response, 404, ROUTE_NOT_FOUND)
    assert source_count(session) == 1


@pytest.mark.parametrize(
    ("method", "path", "resource"),
    [
        pytest.param("GET", SOURCES, "Magento_InventoryApi::source", id="list"),
        pytest.param("GET", f"{SOURCES}/default", "Magento_InventoryApi::source", id="get"),
        pytest.param("POST", SOURCES, "Magento_InventoryApi::source_edit", id="create"),
        pytest.param("PUT", f"{SOURCES}/default", "Magento_InventoryApi::source_edit", id="update"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer not-a-token"}, id="unknown-token"),
    ],
)
def test_guests_are_refused(
    client: TestClient,
    session: Session,
    method: str,
    path: str,
    resource: str,
    headers: dict[str, str],
) -> None:
    response = client.request(method, path, json={"source": _with("guest-1")}, headers=headers)
    assert_envelope(
        response,
        401,
        {
            "message": "The consumer isn't authorized to access %resources.",
            "parameters": {"resources": resource},
        },
    )
    assert stored(session, "guest-1") is None


# --------------------------------------------------------------------------------------------
# Enabling and disabling a linked source refreshes its stocks' index: inline up to
# index_inline_limit items at the source, through a rebuild job above it
# --------------------------------------------------------------------------------------------


def _link(client: TestClient, headers: dict[str, str], links: list[tuple[int, str]]) -> None:
    body = {"links": [{"stock_id": s, "source_code": c, "priority": 1} for s, c in links]}
    response = client.post(LINKS, json=body, headers=headers)
    assert response.status_code == 200, response.text


def _clear_jobs(database: db.Database) -> None:
    with database.write_sessions.begin() as write:
        write.execute(delete(Job))


def _queued_stock_ids(session: Session) -> list[int]:
    session.rollback()
    rows = session.scalars(select(Job).where(Job.kind == jobs.REINDEX_STOCK, Job.status == "queued")).all()
    for row in rows:
        assert row.dedupe_key == jobs.reindex_stock_key(row.payload["stock_id"])
    return sorted(row.payload["stock_id"] for row in rows)


@pytest.fixture
def linked_sources(
    client: TestClient, auth_headers: dict[str, str], database: db.Database, session: Session
) -> list[int]:
    """eu-1 linked to two stocks, eu-2 to a third one, lone not linked, each holding one SKU;
    the index holds their rows and no job is queued."""
    for code in ("eu-1", "eu-2", "lone"):
        create_source(client, auth_headers, _with(code, name=f"Source {code}"))
    first, second, third = (create_stock(client, auth_headers, name) for name in ("A", "B", "C"))
    put_source_items(
        client,
        auth_headers,
        [source_item("SKU-A", "eu-1", 4), source_item("SKU-B", "eu-2", 2), source_item("SKU-L", "lone", 1)],
    )
    _link(client, auth_headers, [(first, "eu-1"), (second, "eu-1"), (third, "eu-2")])
    _clear_jobs(database)
    assert index_rows(session) == _fixture_index(first, second, third)
    return [first, second, third]


def _fixture_index(first: int, second: int, third: int) -> dict[tuple[int, str], tuple[float, bool]]:
    return {(first, "SKU-A"): (4.0, True), (second, "SKU-A"): (4.0, True), (third, "SKU-B"): (2.0, True)}


@pytest.fixture
def deferring(settings: Any, database: db.Database) -> TestClient:
    return deferring_client(settings, database)


def _disable(http: TestClient, headers: dict[str, str], code: str, enabled: bool = False) -> None:
    assert_void(
        put_source(http, headers, code, {"source": _with(None, name=f"Source {code}", enabled=enabled)})
    )


def test_disabling_a_linked_source_refreshes_its_stocks_inline(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    settings: Any,
    linked_sources: list[int],
) -> None:
    third = linked_sources[2]
    _disable(client, auth_headers, "eu-1")
    assert index_rows(session) == {(third, "SKU-B"): (2.0, True)}
    assert _queued_stock_ids(session) == []
    assert index_differences(session, settings) == []


def test_disabling_a_linked_source_above_the_limit_queues_its_stocks(
    deferring: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    linked_sources: list[int],
) -> None:
    first, second, third = linked_sources
    _disable(deferring, auth_headers, "eu-1")
    assert _queued_stock_ids(session) == [first, second]
    # The rows are the job's to change.
    assert index_rows(session) == _fixture_index(first, second, third)


def test_enabling_a_linked_source_refreshes_its_stocks(
    client: TestClient,
    deferring: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    database: db.Database,
    settings: Any,
    linked_sources: list[int],
) -> None:
    first, second, third = linked_sources
    _disable(client, auth_headers, "eu-2")
    assert index_rows(session) == {(first, "SKU-A"): (4.0, True), (second, "SKU-A"): (4.0, True)}
    # POST is the same save: an upsert of the existing code.
    assert_void(
        post_source(client, auth_headers, {"source": _with("eu-2", name="Source eu-2", enabled=True)})
    )
    assert index_rows(session) == _fixture_index(first, second, third)
    assert _queued_stock_ids(session) == []
    assert index_differences(session, settings) == []

    _disable(client, auth_headers, "eu-2")
    assert_void(
        post_source(deferring, auth_headers, {"source": _with("eu-2", name="Source eu-2", enabled=True)})
    )
    assert _queued_stock_ids(session) == [third]


def test_repeated_disabling_queues_one_job_per_stock(
    deferring: TestClient, auth_headers: dict[str, str], session: Session, linked_sources: list[int]
) -> None:
    first, second, _third = linked_sources
    for enabled in (False, True, False):
        _disable(deferring, auth_headers, "eu-1", enabled)
    assert _queued_stock_ids(session) == [first, second]


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"name": "Renamed eu-1"}, id="rename"),
        pytest.param({"name": "Source eu-1", "enabled": True}, id="enabled-unchanged"),
        pytest.param({"name": "Source eu-1", "enabled": None}, id="enabled-null"),
        pytest.param({"name": "Source eu-1", "city": "Paris", "latitude": 1.5}, id="other-fields"),
    ],
)
def test_saves_that_keep_enabled_change_no_index(
    client: TestClient,
    deferring: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    linked_sources: list[int],
    changes: dict[str, Any],
) -> None:
    for http in (client, deferring):
        assert_void(put_source(http, auth_headers, "eu-1", {"source": _with(None, **changes)}))
        assert _queued_stock_ids(session) == []
        assert index_rows(session) == _fixture_index(*linked_sources)


def test_disabling_an_unlinked_source_changes_no_index(
    deferring: TestClient, auth_headers: dict[str, str], session: Session, linked_sources: list[int]
) -> None:
    _disable(deferring, auth_headers, "lone")
    assert _queued_stock_ids(session) == []
    assert index_rows(session) == _fixture_index(*linked_sources)
    assert get_source(deferring, auth_headers, "lone")["enabled"] is False


def test_failed_save_changes_no_index(
    client: TestClient,
    deferring: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    linked_sources: list[int],
) -> None:
    # Disabling together with a value the column cannot hold: nothing is written, nothing queued.
    source = _with(None, name="Source eu-1", enabled=False, latitude=100)
    for http in (client, deferring):
        assert_envelope(put_source(http, auth_headers, "eu-1", {"source": source}), 400, COULD_NOT_SAVE)
        assert _queued_stock_ids(session) == []
        assert index_rows(session) == _fixture_index(*linked_sources)
        row = stored(session, "eu-1")
        assert row is not None and row.enabled
