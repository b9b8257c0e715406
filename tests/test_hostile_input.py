"""Bodies that once answered 500: unpaired surrogate escapes and deep nesting (issue 7).

PHP's json_decode refuses both: a lone ``\\ud800`` is JSON_ERROR_UTF16 and nesting deeper than
its default depth of 512 is JSON_ERROR_DEPTH, and Magento's JSON deserializer
(``Webapi/Rest/Request/Deserializer/Json.php``) turns any decoding failure into "Decoding
error.". Nothing of the request is stored, no login failure counted.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import assert_envelope
from openmsi.models import LoginFailure, Source, SourceItem

TOKEN = "/rest/V1/integration/admin/token"
INVENTORY = "/rest/V1/inventory"
DECODING_ERROR = {"message": "Decoding error."}
JSON = {"Content-Type": "application/json"}
NOT_A_STRING = 'The "array" value\'s type is invalid. The "string" type was expected. Verify and try again.'


def post_raw(client: TestClient, url: str, body: str, headers: dict[str, str] | None = None) -> Any:
    return client.post(url, content=body.encode("ascii"), headers={**JSON, **(headers or {})})


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"username":"\\ud800","password":"x"}', id="username-high"),
        pytest.param('{"username":"admin","password":"\\udfff"}', id="password-low"),
        pytest.param('{"username":"a\\udc00b","password":"x"}', id="inside"),
        pytest.param('{"\\ud800":"admin","password":"x"}', id="key"),
        pytest.param('{"username":"\\ude00\\ud83d","password":"x"}', id="reversed-pair"),
    ],
)
def test_unpaired_surrogate_on_the_token_route(client: TestClient, session: Session, body: str) -> None:
    assert_envelope(post_raw(client, TOKEN, body), 400, DECODING_ERROR)
    assert session.scalar(select(func.count()).select_from(LoginFailure)) == 0


def test_a_paired_surrogate_is_a_character(client: TestClient) -> None:
    """\\ud83d\\ude00 is one character (U+1F600), as PHP decodes it: the login just fails."""
    response = post_raw(client, TOKEN, '{"username":"\\ud83d\\ude00","password":"x"}')
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(
    ("url", "body"),
    [
        pytest.param(
            "/source-items",
            '{"sourceItems":[{"sku":"A\\ud800","source_code":"default","quantity":1,"status":1}]}',
            id="sku",
        ),
        pytest.param(
            "/sources",
            '{"source":{"source_code":"\\udbff","name":"n","country_id":"DE","postcode":"1"}}',
            id="source-code",
        ),
        pytest.param(
            "/sources",
            '{"source":{"source_code":"eu","name":"n\\udc80","country_id":"DE","postcode":"1"}}',
            id="name",
        ),
    ],
)
def test_unpaired_surrogate_in_a_write(
    client: TestClient, auth_headers: dict[str, str], session: Session, url: str, body: str
) -> None:
    assert_envelope(post_raw(client, INVENTORY + url, body, auth_headers), 400, DECODING_ERROR)
    assert session.scalar(select(func.count()).select_from(SourceItem)) == 0
    assert session.scalar(select(func.count()).select_from(Source)) == 1


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@pytest.mark.parametrize("depth", [513, 600, 950, 5000, 100_000])
def test_nesting_past_php_depth_is_a_decoding_error(
    client: TestClient, auth_headers: dict[str, str], depth: int
) -> None:
    assert_envelope(post_raw(client, TOKEN, '{"username":' + nested(depth - 1) + "}"), 400, DECODING_ERROR)
    body = '{"sourceItems":' + nested(depth - 1) + "}"
    assert_envelope(post_raw(client, INVENTORY + "/source-items", body, auth_headers), 400, DECODING_ERROR)


@pytest.mark.parametrize("depth", [320, 512])
def test_nesting_up_to_php_depth_is_decoded(
    client: TestClient, auth_headers: dict[str, str], depth: int
) -> None:
    """512 levels is json_decode's limit, not past it: the body decodes and the service refuses
    the value (once a 500: the NUL scan recursed)."""
    response = post_raw(client, TOKEN, '{"username":' + nested(depth - 1) + ',"password":"x"}')
    assert_envelope(response, 400, {"message": NOT_A_STRING})
    body = '{"sourceItems":' + nested(depth - 1) + "}"
    response = post_raw(client, INVENTORY + "/source-items", body, auth_headers)
    assert response.status_code == 400, response.text
    assert response.json() != DECODING_ERROR


def test_nul_deep_inside_a_body(client: TestClient, auth_headers: dict[str, str]) -> None:
    body = '{"sourceItems":' + nested(500, '"\\u0000"') + "}"
    response = post_raw(client, INVENTORY + "/source-items", body, auth_headers)
    assert_envelope(
        response,
        400,
        {"message": "The request contains a NUL character (\\u0000), which openmsi does not accept."},
    )


@pytest.mark.parametrize("field", ["latitude", "longitude"])
@pytest.mark.parametrize("value", ["1e300", "-1e30", "1e28", "123456789012345678901234567890"])
def test_a_coordinate_far_out_of_range(
    client: TestClient, auth_headers: dict[str, str], session: Session, field: str, value: str
) -> None:
    """Found by the schemathesis run (once a 500: rounding overflowed decimal's precision); a
    value decimal(8,6)/(9,6) cannot hold is MySQL's out-of-range error in Magento."""
    body = (
        '{"source":{"source_code":"eu","name":"n","country_id":"DE","postcode":"1","'
        + field
        + '":'
        + value
        + "}}"
    )
    for method, url in (("POST", "/sources"), ("PUT", "/sources/eu")):
        response = client.request(method, INVENTORY + url, content=body, headers={**JSON, **auth_headers})
        assert_envelope(response, 400, {"message": "Could not save Source"})
    assert session.scalar(select(func.count()).select_from(Source)) == 1
