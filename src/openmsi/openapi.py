"""The OpenAPI document, built from the route declarations (``runtime.Route``).

Framework-free, like the services: the Magento shapes here are imported by their schemas.

Request bodies, query parameters and answers are Magento's shapes, as its own REST schema
(``/rest/default/schema``) names them: the models are documentation only, parsing stays
``service_input``'s. Query parameters are written the way Magento clients send them, PHP's
bracketed names (``searchCriteria[filter_groups][0][filters][0][field]=sku``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, Field, TypeAdapter

from openmsi.db import Lane

if TYPE_CHECKING:
    from openmsi.runtime import Route

REF_TEMPLATE = "#/components/schemas/{model}"


@dataclass(frozen=True)
class QueryParameter:
    """A query parameter as Magento clients send it."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False


# A number as PHP's json_encode prints it: 10.0 is 10.
Number = int | float
# What a void service method answers: PHP's empty array.
Void = Annotated[list[Any], Field(max_length=0)]


class ErrorDetail(BaseModel):
    message: str
    parameters: dict[str, Any] | list[Any]


class ErrorResponse(BaseModel):
    """Magento's error envelope (``ErrorProcessor``): ``%placeholders`` in ``message``, their
    values in ``parameters``; several input errors in ``errors``."""

    message: str
    errors: list[ErrorDetail] | None = None
    parameters: dict[str, Any] | list[Any] | None = None
    trace: str | None = None


class FilterData(BaseModel):
    field: str
    value: str | None = None
    condition_type: str | None = None


class FilterGroupData(BaseModel):
    filters: list[FilterData]


class SortOrderData(BaseModel):
    field: str
    direction: str | None


class SearchCriteriaData(BaseModel):
    """The search criteria of a list, echoed as received (not clamped)."""

    filter_groups: list[FilterGroupData]
    sort_orders: list[SortOrderData] | None = None
    page_size: int | None = None
    current_page: int | None = None


_FILTER = "searchCriteria[filter_groups][0][filters][0]"
SEARCH_CRITERIA = (
    QueryParameter(
        f"{_FILTER}[field]", {"type": "string"}, "A field of the listed entity, e.g. source_code."
    ),
    QueryParameter(f"{_FILTER}[value]", {"type": "string"}, "The value compared with."),
    QueryParameter(
        f"{_FILTER}[condition_type]",
        {"type": "string"},
        "eq, neq, like, in, gt, lteq, null, … (eq when absent).",
    ),
    QueryParameter("searchCriteria[sortOrders][0][field]", {"type": "string"}),
    QueryParameter("searchCriteria[sortOrders][0][direction]", {"type": "string", "enum": ["ASC", "DESC"]}),
    QueryParameter("searchCriteria[pageSize]", {"type": "integer", "minimum": 0}),
    QueryParameter("searchCriteria[currentPage]", {"type": "integer", "minimum": 1}),
)

# Path variables are strings on the wire; these are converted, and fail with Magento's 400.
PATH_SCHEMAS = {"stockId": {"type": "integer"}, "requestedQty": {"type": "number"}}

# Every route may answer these; the body is always Magento's envelope.
ERROR_RESPONSES = {
    "400": "Invalid input (Magento's LocalizedException, InputException, ValidationException).",
    "401": "No valid bearer token for the route's ACL resource.",
    "404": "No such entity, or no such route.",
    "406": "The Accept header names no JSON media type.",
    "413": "The request body is larger than openmsi accepts.",
}


# openmsi's Idempotency-Key (spec orders.md), on every write that has a user to keep keys for.
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "description": (
        "Makes the write safe to retry: its answer is kept with the key, per admin user, for "
        "OPENMSI_IDEMPOTENCY_TTL seconds, and a repeat with the same key, method, path and body "
        "gets it again (header Idempotent-Replayed: true) without writing anything. "
        "An openmsi addition, not in Magento."
    ),
}
IDEMPOTENT_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true`: the stored answer of an earlier request with the same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
KEYED_ERROR_RESPONSES = {
    "409": "A request with the same Idempotency-Key is still in progress.",
    "422": "The Idempotency-Key was used for another request (method, path or body).",
}
# Answers that a repeat with the same Idempotency-Key may replay.
REPLAYABLE = ("200", "400", "404")


def document(routes: list[Route], *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the routes, mounted under ``/rest``."""
    components: dict[str, Any] = {}

    def schema_of(shape: Any) -> dict[str, Any]:
        schema = TypeAdapter(shape).json_schema(ref_template=REF_TEMPLATE, mode="serialization")
        components.update(schema.pop("$defs", {}))
        if isinstance(shape, type) and issubclass(shape, BaseModel):
            components[shape.__name__] = schema
            return {"$ref": REF_TEMPLATE.format(model=shape.__name__)}
        return schema

    error = schema_of(ErrorResponse)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {"operationId": route.name, "summary": route.summary}
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": PATH_SCHEMAS.get(name, {"type": "string"}),
            }
            for name in _path_variables(route.path)
        ]
        parameters += [
            {
                "name": query.name,
                "in": "query",
                "required": query.required,
                "schema": query.schema,
                **({"description": query.description} if query.description else {}),
                **({"style": "form", "explode": True} if query.schema.get("type") == "array" else {}),
            }
            for query in route.query
        ]
        # As runtime.serve: a route that writes, with a user to keep keys for (a POST that only
        # reads, source selection, has nothing a repeat could duplicate).
        keyed = route.method in WRITE_METHODS and route.lane is Lane.WRITE and route.resource is not None
        if keyed:
            parameters.append(IDEMPOTENCY_KEY)
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = {
                "required": not route.optional_body,
                "content": {"application/json": {"schema": schema_of(route.body)}},
            }
        responses: dict[str, Any] = {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": schema_of(route.response)}},
            }
        }
        errors = ERROR_RESPONSES | (KEYED_ERROR_RESPONSES if keyed else {})
        for status, description in errors.items():
            if status == "401" and route.resource is None:
                continue
            responses[status] = {
                "description": description,
                "content": {"application/json": {"schema": error}},
            }
        if keyed:
            for status in REPLAYABLE:
                responses[status]["headers"] = IDEMPOTENT_REPLAYED
        operation["responses"] = responses
        if route.resource is not None:
            operation["security"] = [{"bearer": []}]
            operation["description"] = f"ACL resource: `{route.resource}`."
        paths.setdefault("/rest" + route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An admin token from POST /rest/V1/integration/admin/token.",
                }
            },
        },
    }


def _path_variables(path: str) -> list[str]:
    return [segment[1:-1] for segment in path.split("/") if segment.startswith("{")]
