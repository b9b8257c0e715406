"""The OpenAPI document (``/openapi.json``), its viewers, and a schemathesis run over it.

The run fuzzes every operation in process (ASGI) with a real admin token, on SQLite only (the
engines answer alike; the other engines' tests pin that), with bounded examples, and checks
that no input answers 5xx and every answer has the documented shape.
"""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from openmsi import db
from openmsi.app import create_app
from openmsi.settings import Settings

DOCUMENTED = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
# For load balancers and Prometheus, not API clients: README, "Operations".
OPERATIONS = {"/health/live", "/health/ready", "/metrics"}


def test_document_is_valid_openapi(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    validate(response.json())


def test_every_route_is_documented_once(app: FastAPI, client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    served = {
        (method, route.path)  # type: ignore[attr-defined]
        for route in app.routes
        for method in getattr(route, "methods", ())
        if route.path not in DOCUMENTED | OPERATIONS  # type: ignore[attr-defined]
    }
    assert documented == served
    operation_ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids)) == 48


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"]["/rest/V1" + path][method]
    return operation


def _schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        resolved: dict[str, Any] = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return resolved
    return schema


@pytest.mark.parametrize(
    ("method", "path", "parameter", "item"),
    [
        pytest.param("post", "/inventory/sources", "source", "SourceData", id="sources"),
        pytest.param("put", "/inventory/stocks/{stockId}", "stock", "StockData", id="stocks"),
        pytest.param("post", "/inventory/stock-source-links", "links", "StockSourceLinkData", id="links"),
        pytest.param("post", "/inventory/source-items", "sourceItems", "SourceItemData", id="source-items"),
        pytest.param("post", "/integration/admin/token", "username", None, id="token"),
        pytest.param("post", "/openmsi/orders", "order", "OrderRequest", id="order"),
        pytest.param(
            "post", "/openmsi/orders/{incrementId}/shipments", "items", "ShipmentItemData", id="shipment"
        ),
    ],
)
def test_request_bodies_are_magentos(
    client: TestClient, method: str, path: str, parameter: str, item: str | None
) -> None:
    document = client.get("/openapi.json").json()
    body = _operation(document, method, path)["requestBody"]["content"]["application/json"]["schema"]
    field = _schema(document, body)["properties"][parameter]
    if item is not None:
        assert item in str(field)


def test_search_criteria_are_bracketed_query_parameters(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    names = [p["name"] for p in _operation(document, "get", "/inventory/source-items")["parameters"]]
    assert "searchCriteria[filter_groups][0][filters][0][field]" in names
    assert "searchCriteria[pageSize]" in names
    assert "searchCriteria[sortOrders][0][direction]" in names


@pytest.mark.parametrize(
    ("method", "path", "shape"),
    [
        pytest.param("get", "/inventory/sources", "SourceSearchResults", id="source-list"),
        pytest.param("get", "/inventory/stocks/{stockId}", "StockData", id="stock"),
        pytest.param("post", "/inventory/source-items", "'maxItems': 0", id="void"),
        pytest.param("post", "/integration/admin/token", "'type': 'string'", id="token"),
        pytest.param("post", "/openmsi/orders", "OrderData", id="order"),
        pytest.param("get", "/openmsi/orders", "OrderSearchResults", id="order-list"),
        pytest.param("get", "/openmsi/reservations", "ReservationSearchResults", id="reservation-list"),
        pytest.param(
            "post",
            "/inventory/source-selection-algorithm-result",
            "SourceSelectionResultData",
            id="selection",
        ),
    ],
)
def test_answers_are_magentos(client: TestClient, method: str, path: str, shape: str) -> None:
    document = client.get("/openapi.json").json()
    responses = _operation(document, method, path)["responses"]
    assert shape in str(responses["200"]["content"]["application/json"]["schema"])
    assert responses["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }


def test_a_cancellation_may_come_without_a_body(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert (
        _operation(document, "post", "/openmsi/orders/{incrementId}/cancel")["requestBody"]["required"]
        is False
    )
    assert _operation(document, "post", "/openmsi/orders")["requestBody"]["required"] is True


def test_a_shipment_may_name_an_algorithm_or_come_without_a_body(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    request = _operation(document, "post", "/openmsi/orders/{incrementId}/shipments")["requestBody"]
    assert request["required"] is False
    body = _schema(document, request["content"]["application/json"]["schema"])
    assert set(body["properties"]) == {"items", "algorithm_code"}
    assert body.get("required", []) == []
    assert "fewest-splits" in body["description"]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_viewers_render(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert "/openapi.json" in response.text


def test_docs_can_be_turned_off(settings: Settings, database: db.Database) -> None:
    quiet = TestClient(create_app(settings.model_copy(update={"docs_enabled": False}), database))
    for path in ("/openapi.json", "/docs", "/redoc"):
        response = quiet.get(path)
        assert response.status_code == 404
        assert response.json() == {"message": "Request does not match any route."}


# --- Fuzzing -------------------------------------------------------------------------------


# Per operation and generation mode (inputs that fit the schema, and inputs that do not).
EXAMPLES = 10


def test_no_input_is_a_server_error(engine_name: str, app: FastAPI, admin_token: str) -> None:
    if engine_name != "sqlite":
        pytest.skip("fuzzed on SQLite only")
    # Not schemathesis' pytest plugin (``@schema.parametrize``): its lazy loader needs pytest
    # internals that pytest 9 no longer has.
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {admin_token}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 48
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis.settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(hypothesis.HealthCheck),
                phases=[hypothesis.Phase.generate],
            )
            def run(case: Any) -> None:
                case.call_and_validate(
                    headers=headers, checks=[not_a_server_error, response_schema_conformance]
                )

            try:
                run()
            except Exception as error:  # every operation's failure, not just the first
                failures.append(f"{operation.label} ({mode}): {error}")
    assert not failures, "\n\n".join(failures)
