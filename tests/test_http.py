"""The Web API framework on the wire (spec http.md): URLs and store codes, route matching,
methods, Accept and Content-Type, body decoding, query-string merging, JSON rendering, the
error envelope, and searchCriteria over HTTP on ``GET /V1/inventory/sources``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import JSON_UTF8, assert_envelope
from openmsi import db, errors, service_input
from openmsi.app import create_app
from openmsi.models import Source, Stock, StockSourceLink
from openmsi.settings import Settings

SOURCES = "/rest/V1/inventory/sources"
NO_ROUTE = {"message": "Request does not match any route."}
REQUIRED = '"%fieldName" is required. Enter and try again.'
SORT_ERROR = "The sort order has to be specified as %1 for ascending order or %2 for descending order."
NOT_ACCEPTABLE = (
    "Server cannot match any of the given Accept HTTP header media type(s) from the request: "
    '"text/html" with media types from the config of response renderer.'
)


def source_body(code: str, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source_code": code,
        "name": f"Source {code}",
        "country_id": "US",
        "postcode": "1",
    }
    data.update(fields)
    return {"source": data}


def create_source(client: TestClient, headers: dict[str, str], code: str, **fields: Any) -> None:
    response = client.post(SOURCES, json=source_body(code, **fields), headers=headers)
    assert response.status_code == 200, response.text
    assert response.content == b"[]"


# ============================================================================================
# URL scheme and store codes
# ============================================================================================


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("/rest/V1", id="no-store-code"),
        pytest.param("/rest/all/V1", id="all"),
        pytest.param("/rest/default/V1", id="default-store-view"),
    ],
)
def test_store_code_prefixes_reach_the_same_route(
    client: TestClient, auth_headers: dict[str, str], prefix: str
) -> None:
    response = client.get(f"{prefix}/inventory/sources/default", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json()["source_code"] == "default"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/rest/xyz/V1/inventory/sources/default", id="unknown-store-code"),
        pytest.param("/rest/admin/V1/inventory/sources/default", id="admin-store-code"),
        pytest.param("/rest/default/all/V1/inventory/sources/default", id="two-store-codes"),
        pytest.param("/rest/inventory/sources/default", id="no-version"),
        pytest.param("/rest/V2/inventory/sources/default", id="wrong-version"),
        pytest.param("/rest/v1/inventory/sources/default", id="lower-case-version"),
        pytest.param("/rest/V1/Inventory/sources", id="case-sensitive-static-segment"),
        pytest.param("/rest/V1/inventory/Sources/default", id="case-sensitive-second-segment"),
        pytest.param("/rest/V1/inventory//sources", id="empty-segment"),
        pytest.param("/rest/V1//inventory/sources", id="empty-segment-after-version"),
        pytest.param("/rest//V1/inventory/sources", id="empty-segment-before-version"),
        pytest.param("/rest/V1/inventory/sources/default/extra", id="too-many-segments"),
        pytest.param("/rest/V1/inventory", id="too-few-segments"),
        pytest.param("/rest/V1/inventory/nothing-here", id="unknown-route"),
    ],
)
def test_paths_that_match_no_route(client: TestClient, auth_headers: dict[str, str], path: str) -> None:
    assert_envelope(client.get(path, headers=auth_headers), 404, NO_ROUTE)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/rest/V1/inventory/sources/", id="list"),
        pytest.param("/rest/V1/inventory/sources/default/", id="item"),
        pytest.param("/rest/default/V1/inventory/sources/default/", id="item-with-store-code"),
        pytest.param("/rest/all/V1/inventory/stocks/1/", id="stock-under-all"),
    ],
)
def test_trailing_slash_is_accepted_without_redirect(
    client: TestClient, auth_headers: dict[str, str], path: str
) -> None:
    response = client.get(path, headers=auth_headers, follow_redirects=False)
    assert response.status_code == 200, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"] == JSON_UTF8


# ============================================================================================
# Methods
# ============================================================================================


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("DELETE", "/rest/V1/inventory/sources/default", id="delete-source"),
        pytest.param("PUT", "/rest/V1/inventory/sources", id="put-source-list"),
        pytest.param("DELETE", "/rest/V1/inventory/sources", id="delete-source-list"),
        pytest.param("POST", "/rest/V1/inventory/sources/default", id="post-source-item"),
        pytest.param("POST", "/rest/V1/inventory/stocks/1", id="post-stock-item"),
        pytest.param("PUT", "/rest/V1/inventory/stock-source-links", id="put-links"),
        pytest.param("DELETE", "/rest/V1/inventory/stock-source-links", id="delete-links"),
        pytest.param("GET", "/rest/V1/inventory/stock-source-links-delete", id="get-links-delete"),
        pytest.param("GET", "/rest/V1/integration/admin/token", id="get-token"),
    ],
)
@pytest.mark.parametrize("authenticated", [pytest.param(True, id="token"), pytest.param(False, id="guest")])
def test_wrong_method_on_a_known_path_is_404_never_405(
    client: TestClient, auth_headers: dict[str, str], method: str, path: str, authenticated: bool
) -> None:
    headers = dict(auth_headers) if authenticated else {}
    headers["Content-Type"] = "application/json"
    response = client.request(method, path, headers=headers, content=b"{}")
    assert_envelope(response, 404, NO_ROUTE)


@pytest.mark.parametrize("method", ["PATCH", "OPTIONS", "TRACE", "PROPFIND", "HEAD"])
def test_methods_other_than_get_post_put_delete_are_invalid(
    client: TestClient, auth_headers: dict[str, str], method: str
) -> None:
    for path in ("/rest/V1/inventory/sources/default", "/rest/V1/inventory/no-such-route"):
        response = client.request(method, path, headers=auth_headers)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == JSON_UTF8
        if method != "HEAD":  # a HEAD response has no body
            assert response.json() == {"message": "Request method is invalid."}


def test_unknown_route_without_token_is_404_not_401(client: TestClient) -> None:
    assert_envelope(client.get("/rest/V1/inventory/no-such-route"), 404, NO_ROUTE)
    assert_envelope(client.get("/rest/xyz/V1/inventory/sources"), 404, NO_ROUTE)


def test_known_route_without_token_is_401(client: TestClient) -> None:
    assert_envelope(
        client.get(SOURCES),
        401,
        {
            "message": "The consumer isn't authorized to access %resources.",
            "parameters": {"resources": "Magento_InventoryApi::source"},
        },
    )


# ============================================================================================
# Path variables
# ============================================================================================


@pytest.mark.parametrize(
    ("segment", "looked_up"),
    [
        pytest.param("x%2By", "x+y", id="encoded-plus-is-a-plus"),
        pytest.param("x+y", "x y", id="plus-is-a-space"),
        pytest.param("x%20y", "x y", id="encoded-space"),
        pytest.param("%C3%A9t%C3%A9", "été", id="utf8-percent-encoded"),
        pytest.param("a%25b", "a%b", id="encoded-percent"),
        pytest.param("a%3Fb", "a?b", id="encoded-question-mark"),
    ],
)
def test_path_variables_are_url_decoded_like_php_urldecode(
    client: TestClient, auth_headers: dict[str, str], segment: str, looked_up: str
) -> None:
    response = client.get(f"{SOURCES}/{segment}", headers=auth_headers)
    assert_envelope(
        response,
        404,
        {"message": 'Source with code "%value" does not exist.', "parameters": {"value": looked_up}},
    )


def test_percent_encoded_path_variable_finds_the_entity(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    response = client.get(f"{SOURCES}/%64efaul%74", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json()["source_code"] == "default"


def test_path_variable_that_is_not_utf8_matches_no_route(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    assert_envelope(client.get(f"{SOURCES}/%FF", headers=auth_headers), 404, NO_ROUTE)


def test_path_variable_of_the_wrong_type(client: TestClient, auth_headers: dict[str, str]) -> None:
    assert_envelope(
        client.get("/rest/V1/inventory/stocks/abc", headers=auth_headers),
        400,
        {"message": 'The "abc" value\'s type is invalid. The "int" type was expected. Verify and try again.'},
    )


# ============================================================================================
# Accept
# ============================================================================================


@pytest.mark.parametrize(
    "accept",
    [
        pytest.param("application/json", id="json"),
        pytest.param("*/*", id="any"),
        pytest.param("application/*", id="application-any"),
        pytest.param(None, id="none"),
        pytest.param("text/html, application/json;q=0.9", id="json-among-others"),
        pytest.param("Application/JSON", id="case-insensitive"),
    ],
)
def test_accept_headers_served_as_json(
    client: TestClient, auth_headers: dict[str, str], accept: str | None
) -> None:
    headers = dict(auth_headers)
    if accept is None:
        # httpx adds "Accept: */*" by default; remove it to send no Accept header at all.
        request = client.build_request("GET", f"{SOURCES}/default", headers=headers)
        del request.headers["accept"]
        response = client.send(request)
    else:
        headers["Accept"] = accept
        response = client.get(f"{SOURCES}/default", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON_UTF8
    assert response.json()["source_code"] == "default"


def test_accept_html_is_406(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.get(f"{SOURCES}/default", headers={**auth_headers, "Accept": "text/html"})
    assert_envelope(response, 406, {"message": NOT_ACCEPTABLE})


def test_accept_is_checked_before_route_and_token(client: TestClient) -> None:
    response = client.get("/rest/V1/inventory/no-such-route", headers={"Accept": "text/html"})
    assert_envelope(response, 406, {"message": NOT_ACCEPTABLE})


# ============================================================================================
# Content-Type and body decoding (POST/PUT)
# ============================================================================================


def cannot_understand(media_type: str) -> str:
    return f"Server cannot understand Content-Type HTTP header media type {media_type}"


# Rest/Request.php::getContentType matches ~^([a-z\d/\-+.]+)(?:; *charset=(.+))?$~Ui, then
# DeserializerFactory compares the media type with "application/json" exactly.
@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        pytest.param(None, "Content-Type header is empty.", id="missing"),
        pytest.param("", "Content-Type header is empty.", id="empty"),
        pytest.param("0", "Content-Type header is empty.", id="php-falsy-zero"),
        pytest.param(
            "application/json; charset=latin1", "UTF-8 is the only supported charset.", id="latin1-charset"
        ),
        pytest.param(
            "application/json;charset=ISO-8859-1", "UTF-8 is the only supported charset.", id="iso-charset"
        ),
        pytest.param("application/json; charset=utf8", "UTF-8 is the only supported charset.", id="utf8"),
        pytest.param(
            'application/json; charset="utf-8"', "UTF-8 is the only supported charset.", id="quoted-charset"
        ),
        pytest.param(
            "application/json; charset=utf-8; x=y",
            "UTF-8 is the only supported charset.",
            id="charset-then-parameter",
        ),
        pytest.param("text/plain", cannot_understand("text/plain"), id="text-plain"),
        pytest.param(
            "application/x-www-form-urlencoded",
            cannot_understand("application/x-www-form-urlencoded"),
            id="form",
        ),
        pytest.param("application/xml", cannot_understand("application/xml"), id="xml-unsupported"),
        pytest.param("Application/JSON", cannot_understand("Application/JSON"), id="case-sensitive-type"),
        pytest.param("garbage", cannot_understand("garbage"), id="bare-word-is-a-media-type"),
        pytest.param("@@garbage@@", "Content-Type header is invalid.", id="garbage"),
        pytest.param("_?", "Content-Type header is invalid.", id="magento-unit-test-case"),
        pytest.param("application/json;", "Content-Type header is invalid.", id="trailing-semicolon"),
        pytest.param("application/json; charset=", "Content-Type header is invalid.", id="empty-charset"),
        pytest.param("application/json; foo=bar", "Content-Type header is invalid.", id="other-parameter"),
        pytest.param(
            "application/json ; charset=utf-8", "Content-Type header is invalid.", id="space-before-semicolon"
        ),
        pytest.param("application json", "Content-Type header is invalid.", id="space-in-type"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_content_type_errors(
    client: TestClient,
    auth_headers: dict[str, str],
    session: Session,
    content_type: str | None,
    message: str,
    method: str,
) -> None:
    headers = dict(auth_headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    path = SOURCES if method == "POST" else f"{SOURCES}/ct"
    response = client.request(method, path, headers=headers, content=json.dumps(source_body("ct")).encode())
    assert_envelope(response, 400, {"message": message})
    assert session.get(Source, "ct") is None


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("application/json", id="plain"),
        pytest.param("application/json; charset=utf-8", id="utf-8"),
        pytest.param("application/json;charset=UTF-8", id="utf-8-upper-no-space"),
        pytest.param("application/json;   charset=uTf-8", id="spaces-and-mixed-case"),
    ],
)
def test_accepted_content_types(
    client: TestClient, auth_headers: dict[str, str], session: Session, content_type: str
) -> None:
    response = client.post(
        SOURCES,
        headers={**auth_headers, "Content-Type": content_type},
        content=json.dumps(source_body("ct-ok")).encode(),
    )
    assert response.status_code == 200, response.text
    assert session.get(Source, "ct-ok") is not None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{", id="truncated"),
        pytest.param(b"", id="empty"),
        pytest.param(b"{'source': {}}", id="single-quotes"),
        pytest.param(b'{"source": NaN}', id="nan"),
        pytest.param(b'{"source": Infinity}', id="infinity"),
        pytest.param(b'{"source": {"name": "\xff"}}', id="not-utf8"),
        pytest.param(b"{}x", id="trailing-garbage"),
    ],
)
def test_malformed_json_is_a_decoding_error(
    client: TestClient, auth_headers: dict[str, str], body: bytes
) -> None:
    response = client.post(
        SOURCES, headers={**auth_headers, "Content-Type": "application/json"}, content=body
    )
    assert_envelope(response, 400, {"message": "Decoding error."})


def test_deeply_nested_json_is_a_decoding_error_not_a_crash(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    body = b'{"source":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = client.post(
        SOURCES, headers={**auth_headers, "Content-Type": "application/json"}, content=body
    )
    assert_envelope(response, 400, {"message": "Decoding error."})


def test_utf8_bom_is_a_decoding_error(client: TestClient, auth_headers: dict[str, str]) -> None:
    body = b"\xef\xbb\xbf" + json.dumps(source_body("bom")).encode()
    response = client.post(
        SOURCES, headers={**auth_headers, "Content-Type": "application/json"}, content=body
    )
    assert_envelope(response, 400, {"message": "Decoding error."})


def test_body_is_decoded_before_path_variables_are_converted(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    headers = {**auth_headers, "Content-Type": "text/plain"}
    response = client.put("/rest/V1/inventory/stocks/abc", headers=headers, content=b"{}")
    assert_envelope(response, 400, {"message": cannot_understand("text/plain")})


@pytest.mark.parametrize(
    "body",
    [pytest.param(b"[]", id="list"), pytest.param(b"5", id="scalar"), pytest.param(b'"x"', id="string")],
)
def test_json_body_that_is_not_an_object_lacks_the_parameters(
    client: TestClient, auth_headers: dict[str, str], body: bytes
) -> None:
    response = client.post(
        SOURCES, headers={**auth_headers, "Content-Type": "application/json"}, content=body
    )
    assert_envelope(response, 400, {"message": REQUIRED, "parameters": {"fieldName": "source"}})


def test_get_ignores_body_and_content_type(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.request(
        "GET", f"{SOURCES}/default", headers={**auth_headers, "Content-Type": "text/plain"}, content=b"{"
    )
    assert response.status_code == 200, response.text


# ============================================================================================
# Query string
# ============================================================================================


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("searchCriteria[filter_groups][0][filters][0][value]=%FF", id="value-only"),
        pytest.param(
            "searchCriteria[filter_groups][0][filters][0][field]=name"
            "&searchCriteria[filter_groups][0][filters][0][value]=%FF",
            id="field-and-value",
        ),
        pytest.param("searchCriteria[page_size]=%C3%28", id="invalid-sequence"),
    ],
)
def test_non_utf8_query_value_is_a_400_envelope(
    client: TestClient, auth_headers: dict[str, str], query: str
) -> None:
    response = client.get(f"{SOURCES}?{query}", headers=auth_headers)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == JSON_UTF8
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"message", "errors", "parameters"}


def test_non_utf8_query_key_is_a_400_envelope(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.get(f"{SOURCES}?%FF=1", headers=auth_headers)
    assert response.status_code == 400, response.text
    assert set(response.json()) <= {"message", "errors", "parameters"}


def test_post_parameters_merged_from_query_string(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    response = client.post(
        f"{SOURCES}?source[source_code]=q&source[name]=Q&source[country_id]=US&source[postcode]=1",
        headers={**auth_headers, "Content-Type": "application/json"},
        content=b"{}",
    )
    assert response.status_code == 200, response.text
    assert response.content == b"[]"
    source = session.get(Source, "q")
    assert source is not None
    assert (source.name, source.country_id, source.postcode) == ("Q", "US", "1")


def test_query_string_overrides_body_key_of_the_same_name(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    response = client.post(
        f"{SOURCES}?source[source_code]=from-query&source[name]=From%20query&source[country_id]=DE"
        "&source[postcode]=2",
        headers=auth_headers,
        json=source_body("from-body"),
    )
    assert response.status_code == 200, response.text
    assert session.get(Source, "from-body") is None
    source = session.get(Source, "from-query")
    assert source is not None and source.name == "From query"


def test_post_with_empty_list_body_and_query_parameters(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    response = client.post(
        f"{SOURCES}?source[source_code]=lq&source[name]=LQ&source[country_id]=US&source[postcode]=1",
        headers={**auth_headers, "Content-Type": "application/json"},
        content=b"[]",
    )
    assert response.status_code == 200, response.text
    assert session.get(Source, "lq") is not None


def test_snake_case_parameter_name_is_accepted(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.post(
        SOURCES, headers=auth_headers, json={"source": source_body("snake")["source"], "unknown_key": 1}
    )
    assert response.status_code == 200, response.text
    for name in ("searchCriteria", "search_criteria"):
        response = client.get(
            SOURCES,
            params={
                f"{name}[filter_groups][0][filters][0][field]": "source_code",
                f"{name}[filter_groups][0][filters][0][value]": "snake",
            },
            headers=auth_headers,
        )
        assert response.status_code == 200, response.text
        assert [item["source_code"] for item in response.json()["items"]] == ["snake"]


def test_camel_case_wins_over_snake_case(client: TestClient, auth_headers: dict[str, str]) -> None:
    create_source(client, auth_headers, "camel")
    response = client.get(
        SOURCES,
        params={
            "search_criteria[filter_groups][0][filters][0][field]": "source_code",
            "search_criteria[filter_groups][0][filters][0][value]": "default",
            "searchCriteria[filterGroups][0][filters][0][field]": "source_code",
            "searchCriteria[filterGroups][0][filters][0][value]": "camel",
            "searchCriteria[filterGroups][0][filters][0][conditionType]": "eq",
        },
        headers=auth_headers,
    )
    assert response.status_code == 200, response.text
    assert [item["source_code"] for item in response.json()["items"]] == ["camel"]


# ============================================================================================
# Missing required parameters
# ============================================================================================


def test_one_missing_parameter(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.post(SOURCES, headers=auth_headers, json={"source": None})
    assert_envelope(response, 400, {"message": REQUIRED, "parameters": {"fieldName": "source"}})


def test_two_missing_parameters_over_http(client: TestClient) -> None:
    """The token endpoint is the route with two required parameters."""
    response = client.post("/rest/V1/integration/admin/token", json={})
    assert_envelope(
        response,
        400,
        {
            "message": "One or more input exceptions have occurred.",
            "errors": [
                {"message": REQUIRED, "parameters": {"fieldName": "username"}},
                {"message": REQUIRED, "parameters": {"fieldName": "password"}},
            ],
        },
    )


def test_two_missing_parameters_in_signature_order() -> None:
    with pytest.raises(errors.InputError) as caught:
        service_input.require_parameters({"other": 1}, "skus", "sourceCodes", "stockId")
    envelope = caught.value.envelope()
    assert envelope == {
        "message": "One or more input exceptions have occurred.",
        "errors": [
            {"message": REQUIRED, "parameters": {"fieldName": "skus"}},
            {"message": REQUIRED, "parameters": {"fieldName": "sourceCodes"}},
            {"message": REQUIRED, "parameters": {"fieldName": "stockId"}},
        ],
    }
    assert list(envelope) == ["message", "errors"]
    assert caught.value.status_code == 400


# ============================================================================================
# Response rendering
# ============================================================================================


def test_success_content_type_and_compact_json(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.get(f"{SOURCES}/default", headers=auth_headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_UTF8
    assert b": " not in response.content and b", " not in response.content
    # Integral floats print without a fraction, as PHP's json_encode does.
    assert b'"latitude":0,' in response.content


def test_void_returns_empty_list(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.post(SOURCES, headers=auth_headers, json=source_body("void"))
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_UTF8
    assert response.content == b"[]"


def test_slash_and_non_ascii_are_escaped_in_raw_body(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    create_source(client, auth_headers, "esc", name="North/South Été ☃", city="a/b")
    response = client.get(f"{SOURCES}/esc", headers=auth_headers)
    assert response.status_code == 200, response.text
    raw = response.content
    assert b'"name":"North\\/South \\u00c9t\\u00e9 \\u2603"' in raw
    assert b'"city":"a\\/b"' in raw
    assert b"/" not in raw.replace(b"\\/", b"")
    assert all(byte < 0x80 for byte in raw)
    assert response.json()["name"] == "North/South Été ☃"


def test_error_messages_are_escaped_too(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.get(f"{SOURCES}/%C3%A9%2F", headers=auth_headers)
    # An encoded slash is not a path variable; whatever the answer, it is an envelope.
    assert response.status_code == 404
    response = client.get(f"{SOURCES}/%C3%A9", headers=auth_headers)
    assert response.status_code == 404
    assert b'"value":"\\u00e9"' in response.content


def test_error_envelope_order_and_no_debug_keys(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.post(
        SOURCES,
        headers=auth_headers,
        json={"source": {"source_code": "has space", "name": "", "country_id": "US", "postcode": "1"}},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert list(body) == ["message", "errors"]
    assert body["message"] == "Validation Failed"
    assert all(list(error) == ["message", "parameters"] for error in body["errors"])
    assert {"field": "source_code"} in [error["parameters"] for error in body["errors"]]

    response = client.get(f"{SOURCES}/missing", headers=auth_headers)
    assert list(response.json()) == ["message", "parameters"]

    for response in (
        client.get("/rest/V1/inventory/no-route", headers=auth_headers),
        client.delete(f"{SOURCES}/default", headers=auth_headers),
        client.get(SOURCES, params={"searchCriteria[page_size]": "abc"}, headers=auth_headers),
    ):
        body = response.json()
        assert "trace" not in body and "detail" not in body
        assert set(body) <= {"message", "errors", "parameters"}
        assert b"Traceback" not in response.content


# ============================================================================================
# searchCriteria on GET /V1/inventory/sources
# ============================================================================================

# The seed's "default" (Default Source, US, latitude 0, no city, description "Default Source")
# plus three sources with distinguishing values.
CRITERIA_SOURCES: dict[str, dict[str, Any]] = {
    "eu-1": {
        "name": "EU Source 1",
        "country_id": "DE",
        "postcode": "10115",
        "city": "Berlin",
        "latitude": 52.52,
        "description": "red,green,blue",
    },
    "eu-2": {
        "name": "EU Source 2",
        "country_id": "FR",
        "postcode": "75001",
        "city": "Paris",
        "latitude": 48.85,
        "enabled": False,
        "description": "green",
    },
    "us-1": {"name": "US Source 1", "country_id": "US", "postcode": "10001", "latitude": 40.71},
}
ALL_CODES = ["default", "eu-1", "eu-2", "us-1"]


@pytest.fixture
def criteria_sources(client: TestClient, auth_headers: dict[str, str]) -> None:
    for code, fields in CRITERIA_SOURCES.items():
        create_source(client, auth_headers, code, **fields)


Flt = tuple[str, str | None, str | None]  # field, value, condition_type


def criteria_params(
    groups: list[list[Flt]],
    *,
    sort: list[tuple[str, str | None]] | None = None,
    page_size: int | None = None,
    current_page: int | None = None,
    key: str = "searchCriteria",
) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for g, group in enumerate(groups):
        for f, (field, value, condition) in enumerate(group):
            prefix = f"{key}[filter_groups][{g}][filters][{f}]"
            params.append((f"{prefix}[field]", field))
            if value is not None:
                params.append((f"{prefix}[value]", value))
            if condition is not None:
                params.append((f"{prefix}[condition_type]", condition))
    for n, (field, direction) in enumerate(sort or []):
        params.append((f"{key}[sort_orders][{n}][field]", field))
        if direction is not None:
            params.append((f"{key}[sort_orders][{n}][direction]", direction))
    if page_size is not None:
        params.append((f"{key}[page_size]", str(page_size)))
    if current_page is not None:
        params.append((f"{key}[current_page]", str(current_page)))
    return params


def search_sources(client: TestClient, headers: dict[str, str], params: Any) -> dict[str, Any]:
    response = client.get(SOURCES, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert list(body) == ["items", "search_criteria", "total_count"]
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [item["source_code"] for item in body["items"]]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        pytest.param(("source_code", "eu-1", None), ["eu-1"], id="eq-default"),
        pytest.param(("source_code", "eu-1", ""), ["eu-1"], id="eq-empty-condition"),
        pytest.param(("source_code", "EU-1", "eq"), ["eu-1"], id="eq-case-insensitive"),
        pytest.param(("country_id", "US", "neq"), ["eu-1", "eu-2"], id="neq"),
        pytest.param(("city", "Berlin", "neq"), ["eu-2"], id="neq-skips-null"),
        pytest.param(("name", "EU%", "like"), ["eu-1", "eu-2"], id="like"),
        pytest.param(("name", "eu source _", "like"), ["eu-1", "eu-2"], id="like-underscore-ci"),
        pytest.param(("name", "EU%", "nlike"), ["default", "us-1"], id="nlike"),
        pytest.param(("source_code", "eu-1,us-1", "in"), ["eu-1", "us-1"], id="in"),
        pytest.param(("source_code", "eu-1, us-1", "in"), ["eu-1"], id="in-no-trim"),
        pytest.param(("source_code", "eu-1,us-1", "nin"), ["default", "eu-2"], id="nin"),
        pytest.param(("latitude", "45", "gt"), ["eu-1", "eu-2"], id="gt"),
        pytest.param(("latitude", "40.71", "lt"), ["default"], id="lt"),
        pytest.param(("latitude", "48.85", "gteq"), ["eu-1", "eu-2"], id="gteq"),
        pytest.param(("latitude", "40.71", "lteq"), ["default", "us-1"], id="lteq"),
        pytest.param(("latitude", "40.71", "from"), ["eu-1", "eu-2", "us-1"], id="from"),
        pytest.param(("latitude", "0", "to"), ["default"], id="to"),
        pytest.param(("city", None, "null"), ["default", "us-1"], id="null"),
        pytest.param(("city", "ignored", "notnull"), ["eu-1", "eu-2"], id="notnull"),
        pytest.param(("description", "green", "finset"), ["eu-1", "eu-2"], id="finset"),
        pytest.param(("description", "blue", "finset"), ["eu-1"], id="finset-last"),
        pytest.param(("description", "gre", "finset"), [], id="finset-whole-element"),
        pytest.param(("description", "green", "nfinset"), ["default"], id="nfinset-skips-null"),
        pytest.param(("name", "source 2", "fulltext"), ["eu-2"], id="fulltext"),
        pytest.param(("name", "Source", "fulltext"), ALL_CODES, id="fulltext-all"),
        pytest.param(("source_code", "^eu-[0-9]$", "regexp"), ["eu-1", "eu-2"], id="regexp"),
        pytest.param(("source_code", "eu-2", "moreq"), ["eu-2"], id="unknown-is-eq"),
        pytest.param(("source_code", "eu-2", "EQ"), ["eu-2"], id="upper-case-is-unknown-eq"),
        pytest.param(("enabled", "0", "eq"), ["eu-2"], id="bool-eq"),
        pytest.param(("country_id", "us", None), ["default", "us-1"], id="eq-ci-plain-column"),
        pytest.param(("city", "BERLIN", "eq"), ["eu-1"], id="eq-ci-nullable-column"),
        pytest.param(("city", "berlin,PARIS", "in"), ["eu-1", "eu-2"], id="in-ci-plain-column"),
        pytest.param(("city", "berlin", "neq"), ["eu-2"], id="neq-ci-plain-column"),
        pytest.param(("description", "default%", "like"), ["default"], id="like-ci-text-column"),
        pytest.param(("description", "GREEN", "finset"), ["eu-1", "eu-2"], id="finset-ci"),
        pytest.param(("city", "^ber", "regexp"), ["eu-1"], id="regexp-ci"),
        pytest.param(("city", "a", "gt"), ["eu-1", "eu-2"], id="gt-string"),
    ],
)
@pytest.mark.usefixtures("criteria_sources")
def test_condition_types(
    client: TestClient, auth_headers: dict[str, str], flt: Flt, expected: list[str]
) -> None:
    params = criteria_params([[flt]], sort=[("source_code", "ASC")])
    body = search_sources(client, auth_headers, params)
    assert codes(body) == expected
    assert body["total_count"] == len(expected)


@pytest.mark.usefixtures("criteria_sources")
def test_like_with_percent_encoded_wildcard_in_raw_url(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    url = (
        f"{SOURCES}?searchCriteria[filter_groups][0][filters][0][field]=name"
        "&searchCriteria[filter_groups][0][filters][0][value]=%25Source%201"
        "&searchCriteria[filter_groups][0][filters][0][condition_type]=like"
    )
    response = client.get(url, headers=auth_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(codes(body)) == ["eu-1", "us-1"]
    assert body["search_criteria"]["filter_groups"] == [
        {"filters": [{"field": "name", "value": "%Source 1", "condition_type": "like"}]}
    ]


@pytest.mark.usefixtures("criteria_sources")
def test_filters_in_a_group_are_ored_groups_are_anded(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    ored = criteria_params(
        [[("source_code", "eu-1", "eq"), ("source_code", "us-1", "eq")]], sort=[("source_code", "ASC")]
    )
    assert codes(search_sources(client, auth_headers, ored)) == ["eu-1", "us-1"]

    anded = criteria_params(
        [[("name", "%Source%", "like")], [("country_id", "FR", "eq")]], sort=[("source_code", "ASC")]
    )
    assert codes(search_sources(client, auth_headers, anded)) == ["eu-2"]

    both = criteria_params(
        [
            [("country_id", "US", "eq"), ("country_id", "DE", "eq")],
            [("enabled", "1", "eq")],
            [("latitude", "1", "gt"), ("city", None, "null")],
        ],
        sort=[("source_code", "ASC")],
    )
    body = search_sources(client, auth_headers, both)
    # (US or DE) and enabled and (latitude > 1 or no city): default has no city.
    assert codes(body) == ["default", "eu-1", "us-1"]
    assert body["total_count"] == 3


@pytest.mark.usefixtures("criteria_sources")
def test_sort_without_direction_is_descending(client: TestClient, auth_headers: dict[str, str]) -> None:
    body = search_sources(client, auth_headers, criteria_params([], sort=[("source_code", None)]))
    assert codes(body) == list(reversed(ALL_CODES))
    assert body["search_criteria"] == {
        "filter_groups": [],
        "sort_orders": [{"field": "source_code", "direction": None}],
    }


@pytest.mark.parametrize(
    ("direction", "echoed", "expected"),
    [
        pytest.param("ASC", "ASC", ALL_CODES, id="asc"),
        pytest.param("asc", "ASC", ALL_CODES, id="asc-lower"),
        pytest.param("DESC", "DESC", list(reversed(ALL_CODES)), id="desc"),
        pytest.param("desc", "DESC", list(reversed(ALL_CODES)), id="desc-lower"),
    ],
)
@pytest.mark.usefixtures("criteria_sources")
def test_sort_directions(
    client: TestClient, auth_headers: dict[str, str], direction: str, echoed: str, expected: list[str]
) -> None:
    body = search_sources(client, auth_headers, criteria_params([], sort=[("source_code", direction)]))
    assert codes(body) == expected
    assert body["search_criteria"]["sort_orders"] == [{"field": "source_code", "direction": echoed}]


@pytest.mark.usefixtures("criteria_sources")
def test_several_sort_orders_apply_in_order(client: TestClient, auth_headers: dict[str, str]) -> None:
    params = criteria_params([], sort=[("country_id", "ASC"), ("source_code", "DESC")])
    assert codes(search_sources(client, auth_headers, params)) == ["eu-1", "eu-2", "us-1", "default"]


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        pytest.param("ASC", ["default", "us-1", "am", "eu-1", "eu-2"], id="asc-nulls-first"),
        pytest.param("DESC", ["eu-2", "eu-1", "am", "default", "us-1"], id="desc-nulls-last"),
    ],
)
@pytest.mark.usefixtures("criteria_sources")
def test_sort_on_a_plain_text_column_is_case_insensitive(
    client: TestClient, auth_headers: dict[str, str], direction: str, expected: list[str]
) -> None:
    create_source(client, auth_headers, "am", city="amsterdam")
    params = criteria_params([], sort=[("city", direction)])
    assert codes(search_sources(client, auth_headers, params)) == expected


@pytest.mark.parametrize("direction", ["up", "ascending", ""])
def test_bad_sort_direction(client: TestClient, auth_headers: dict[str, str], direction: str) -> None:
    response = client.get(
        SOURCES, params=criteria_params([], sort=[("source_code", direction)]), headers=auth_headers
    )
    assert_envelope(response, 400, {"message": SORT_ERROR, "parameters": ["ASC", "DESC"]})


@pytest.mark.parametrize(
    ("page_size", "current_page", "expected"),
    [
        pytest.param(2, 1, ["default", "eu-1"], id="first-page"),
        pytest.param(2, 2, ["eu-2", "us-1"], id="second-page"),
        pytest.param(3, 2, ["us-1"], id="partial-last-page"),
        pytest.param(3, 5, ["us-1"], id="beyond-the-end-is-last-page"),
        pytest.param(3, 0, ["default", "eu-1", "eu-2"], id="page-zero-is-first"),
        pytest.param(3, -4, ["default", "eu-1", "eu-2"], id="negative-page-is-first"),
        pytest.param(0, 3, ALL_CODES, id="page-size-zero-is-all"),
        pytest.param(None, 3, ALL_CODES, id="no-page-size-is-all"),
        pytest.param(10, None, ALL_CODES, id="no-current-page-is-first"),
    ],
)
@pytest.mark.usefixtures("criteria_sources")
def test_pagination(
    client: TestClient,
    auth_headers: dict[str, str],
    page_size: int | None,
    current_page: int | None,
    expected: list[str],
) -> None:
    params = criteria_params(
        [], sort=[("source_code", "ASC")], page_size=page_size, current_page=current_page
    )
    body = search_sources(client, auth_headers, params)
    assert codes(body) == expected
    assert body["total_count"] == 4
    echo = body["search_criteria"]
    # Echoed as received, not clamped.
    assert echo.get("page_size") == page_size
    assert echo.get("current_page") == current_page


def test_pagination_with_no_rows_is_an_empty_first_page(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    params = criteria_params([[("source_code", "nothing", "eq")]], page_size=5, current_page=3)
    body = search_sources(client, auth_headers, params)
    assert body["items"] == []
    assert body["total_count"] == 0


@pytest.mark.usefixtures("criteria_sources")
def test_search_criteria_echo_shape(client: TestClient, auth_headers: dict[str, str]) -> None:
    params = criteria_params(
        [[("country_id", "US", "eq"), ("latitude", "1", None)], [("enabled", "1", "eq")]],
        sort=[("source_code", "desc")],
        page_size=1,
        current_page=2,
    )
    body = search_sources(client, auth_headers, params)
    assert body["search_criteria"] == {
        "filter_groups": [
            {
                "filters": [
                    {"field": "country_id", "value": "US", "condition_type": "eq"},
                    {"field": "latitude", "value": "1"},
                ]
            },
            {"filters": [{"field": "enabled", "value": "1", "condition_type": "eq"}]},
        ],
        "sort_orders": [{"field": "source_code", "direction": "DESC"}],
        "page_size": 1,
        "current_page": 2,
    }
    assert list(body["search_criteria"]) == ["filter_groups", "sort_orders", "page_size", "current_page"]
    assert codes(body) == ["default"]
    assert body["total_count"] == 2


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(None, id="absent"),
        pytest.param("searchCriteria=", id="empty-string"),
        pytest.param("search_criteria=", id="empty-string-snake"),
    ],
)
@pytest.mark.usefixtures("criteria_sources")
def test_absent_or_empty_criteria_returns_everything(
    client: TestClient, auth_headers: dict[str, str], params: str | None
) -> None:
    url = SOURCES if params is None else f"{SOURCES}?{params}"
    response = client.get(url, headers=auth_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["search_criteria"] == {"filter_groups": []}
    assert sorted(codes(body)) == ALL_CODES
    assert body["total_count"] == 4


@pytest.mark.parametrize(
    ("flt", "sort"),
    [
        pytest.param(("no_such_column", "x", "eq"), None, id="filter"),
        pytest.param(None, "no_such_column", id="sort"),
        pytest.param(("carrier_links", "x", "eq"), None, id="not-a-column"),
    ],
)
def test_unknown_field_is_a_400_envelope(
    client: TestClient, auth_headers: dict[str, str], flt: Flt | None, sort: str | None
) -> None:
    params = criteria_params([[flt]] if flt else [], sort=[(sort, "ASC")] if sort else None)
    response = client.get(SOURCES, params=params, headers=auth_headers)
    assert response.status_code == 400, response.text
    body = response.json()
    assert list(body) == ["message", "parameters"]
    assert body["message"] == '"%fieldName" is not a searchable field. Use one of: %fields.'
    assert body["parameters"]["fieldName"] == (flt[0] if flt else sort)


@pytest.mark.parametrize(
    "condition",
    [None, "like", "in", "neq", "regexp", "gt"],
)
@pytest.mark.usefixtures("criteria_sources")
def test_sql_injection_in_filter_value_matches_nothing(
    client: TestClient, auth_headers: dict[str, str], session: Session, condition: str | None
) -> None:
    payload = "' OR 1=1 --"
    params = criteria_params([[("source_code", payload, condition)]])
    body = search_sources(client, auth_headers, params)
    # As a string, "' OR …" sorts before every code: gt and neq match all rows, nothing else any.
    assert sorted(codes(body)) == (ALL_CODES if condition in ("neq", "gt") else [])
    assert body["search_criteria"]["filter_groups"][0]["filters"][0]["value"] == payload
    assert session.scalar(select(func.count()).select_from(Source)) == 4
    assert session.scalar(select(func.count()).select_from(Stock)) == 1
    assert session.scalar(select(func.count()).select_from(StockSourceLink)) == 1


@pytest.mark.parametrize(
    "payload",
    [
        "default'; DROP TABLE inventory_source; --",
        '" OR ""="',
        "default' UNION SELECT * FROM admin_token --",
        "\\'; --",
    ],
)
def test_sql_injection_in_field_and_sort_is_rejected(
    client: TestClient, auth_headers: dict[str, str], session: Session, payload: str
) -> None:
    for params in (
        criteria_params([[(payload, "x", "eq")]]),
        criteria_params([], sort=[(payload, "ASC")]),
    ):
        response = client.get(SOURCES, params=params, headers=auth_headers)
        assert response.status_code == 400, response.text
    response = client.get(
        SOURCES, params=criteria_params([[("source_code", payload, "eq")]]), headers=auth_headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []
    assert session.scalar(select(func.count()).select_from(Source)) == 1


# ============================================================================================
# Unexpected errors
# ============================================================================================


def _app_with_a_bug(settings: Settings, database: db.Database, *, debug: bool) -> TestClient:
    app = create_app(settings.model_copy(update={"debug": debug}), database)

    def broken() -> None:
        raise RuntimeError("secret detail /etc/passwd")

    app.add_api_route("/rest/V1/openmsi-test/broken", broken, methods=["GET"])
    return TestClient(app, raise_server_exceptions=False)


def test_unexpected_error_is_a_masked_500(settings: Settings, database: db.Database) -> None:
    client = _app_with_a_bug(settings, database, debug=False)
    for path in ("/rest/V1/openmsi-test/broken", "/rest/all/V1/openmsi-test/broken/"):
        response = client.get(path)
        assert response.status_code == 500
        assert response.headers["content-type"] == JSON_UTF8
        body = response.json()
        assert list(body) == ["message"]
        prefix = "Internal Error. Details are available in openmsi's log. Report ID: webapi-"
        assert body["message"].startswith(prefix)
        assert len(body["message"]) > len(prefix)
        assert b"secret detail" not in response.content
        assert b"Traceback" not in response.content


def test_debug_mode_adds_the_trace(settings: Settings, database: db.Database) -> None:
    response = _app_with_a_bug(settings, database, debug=True).get("/rest/V1/openmsi-test/broken")
    assert response.status_code == 500
    body = response.json()
    assert list(body) == ["message", "trace"]
    assert "secret detail /etc/passwd" in body["trace"]


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        pytest.param("POST", "/rest/V1/inventory/stock-source-links",
                     {"links": [{"stock_id": 2, "source_code": "eu\u00001", "priority": 1}]}, id="json-body"),
        pytest.param("POST", "/rest/V1/inventory/stock-source-links-delete"
                     "?links[0][source_code]=a%00&links[0][stock_id]=2", [], id="query-string"),
        pytest.param("GET", "/rest/V1/inventory/sources?searchCriteria[filter_groups][0][filters][0][field]"
                     "=name&searchCriteria[filter_groups][0][filters][0][value]=x%00", None,
                     id="search-criteria"),
        pytest.param("GET", "/rest/V1/inventory/sources/de%00fault", None, id="path-segment"),
    ],
)  # fmt: skip
def test_nul_characters_are_refused_on_every_engine(
    client: TestClient, auth_headers: dict[str, str], method: str, url: str, body: Any
) -> None:
    response = client.request(method, url, json=body, headers=auth_headers)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "message": "The request contains a NUL character (\\u0000), which openmsi does not accept."
    }
