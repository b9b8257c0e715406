"""Admin tokens and the ACL check (spec http.md "Authentication and authorization", "Admin
token endpoint"; acl.md): the token endpoint, hashed storage, guests and expired or inactive
tokens, the resource named in every route's 401, the login lockout and the token lifetime."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, Literal

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from factories import JSON_UTF8, assert_envelope
from openmsi import auth, db
from openmsi.app import create_app
from openmsi.models import AdminToken, AdminUser, LoginFailure, Source, utcnow
from openmsi.settings import Settings

TOKEN = "/rest/V1/integration/admin/token"
WEBSITES = "/rest/V1/store/websites"
SOURCES = "/rest/V1/inventory/sources"
SIGN_IN_FAILED = {
    "message": "The account sign-in was incorrect or your account is disabled temporarily. "
    "Please wait and try again later."
}
REQUIRED = '"%fieldName" is required. Enter and try again.'
BOTH_REQUIRED = {
    "message": "One or more input exceptions have occurred.",
    "errors": [
        {"message": REQUIRED, "parameters": {"fieldName": "username"}},
        {"message": REQUIRED, "parameters": {"fieldName": "password"}},
    ],
}
USER_PASSWORD = "user-password-1"
ARRAY_FOR_STRING = (
    'The "array" value\'s type is invalid. The "string" type was expected. Verify and try again.'
)


@pytest.fixture(autouse=True)
def _admin_user_exists(admin_token: str) -> None:
    """The session's admin user ("admin") is created together with its token."""


def not_authorized(resource: str) -> dict[str, Any]:
    return {
        "message": "The consumer isn't authorized to access %resources.",
        "parameters": {"resources": resource},
    }


def login(client: TestClient, username: Any, password: Any) -> Any:
    return client.post(TOKEN, json={"username": username, "password": password})


def issue_token(client: TestClient, username: str, password: str) -> str:
    response = login(client, username, password)
    assert response.status_code == 200, response.text
    token = response.json()
    assert isinstance(token, str)
    return token


def create_user(database: db.Database, username: str, password: str = USER_PASSWORD) -> None:
    """Another admin user (removed again by the data reset after the test)."""
    with database.write_sessions.begin() as session:
        auth.create_admin(session, username, password)


def token_row(session: Session, token: str) -> AdminToken:
    session.rollback()  # a fresh snapshot: SQLite (WAL) reads stay on the first one otherwise
    row = session.scalar(select(AdminToken).where(AdminToken.token_hash == auth.hash_token(token)))
    assert row is not None
    return row


def failure_row(session: Session, username: str) -> LoginFailure | None:
    session.rollback()  # a fresh snapshot: SQLite (WAL) reads stay on the first one otherwise
    return session.scalar(select(LoginFailure).where(LoginFailure.username == username))


# ============================================================================================
# The token endpoint and the token
# ============================================================================================


def test_token_is_a_bare_json_string(client: TestClient) -> None:
    response = login(client, "admin", "admin-password-1")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON_UTF8
    assert response.content.startswith(b'"') and response.content.endswith(b'"')
    token = response.json()
    assert isinstance(token, str) and len(token) >= 32


def test_token_works_on_store_websites(client: TestClient) -> None:
    token = issue_token(client, "admin", "admin-password-1")
    response = client.get(WEBSITES, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert {"id": 1, "code": "base", "name": "Main Website", "default_group_id": 1} in response.json()


def test_each_login_issues_a_new_token(client: TestClient) -> None:
    first = issue_token(client, "admin", "admin-password-1")
    second = issue_token(client, "admin", "admin-password-1")
    assert first != second
    for token in (first, second):
        assert client.get(WEBSITES, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_token_parameters_from_query_string(client: TestClient) -> None:
    response = client.post(
        f"{TOKEN}?username=admin&password=admin-password-1",
        headers={"Content-Type": "application/json"},
        content=b"{}",
    )
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), str)


def test_tokens_are_stored_hashed(client: TestClient, session: Session) -> None:
    token = issue_token(client, "admin", "admin-password-1")
    hashes = list(session.scalars(select(AdminToken.token_hash)))
    assert token not in hashes
    assert hashlib.sha256(token.encode()).hexdigest() in hashes
    assert all(token not in value for value in hashes)


@pytest.mark.parametrize(
    "scheme", [pytest.param("Bearer", id="canonical"), pytest.param("bearer", id="lower"), "BEARER"]
)
def test_bearer_scheme_is_case_insensitive(client: TestClient, admin_token: str, scheme: str) -> None:
    response = client.get(WEBSITES, headers={"Authorization": f"{scheme} {admin_token}"})
    assert response.status_code == 200, response.text


# ============================================================================================
# Guests: missing, malformed, unknown, expired and inactive
# ============================================================================================


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("Bearer", id="bearer-alone"),
        pytest.param("Bearer ", id="bearer-empty-token"),
        pytest.param("Basic {token}", id="basic-scheme"),
        pytest.param("Basic x", id="basic-x"),
        pytest.param("Bearer {token} extra", id="three-parts"),
        pytest.param("Bearer  {token}", id="two-spaces"),
        pytest.param("{token}", id="no-scheme"),
        pytest.param("Bearer unknown-token", id="unknown-token"),
        pytest.param("Bearer {token}x", id="token-with-suffix"),
    ],
)
def test_guests_get_401_with_the_route_resource(
    client: TestClient, admin_token: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization.format(token=admin_token)}
    assert_envelope(
        client.get(f"{SOURCES}/default", headers=headers), 401, not_authorized("Magento_InventoryApi::source")
    )
    assert_envelope(client.get(WEBSITES, headers=headers), 401, not_authorized("Magento_Backend::stores"))


def test_expired_token_is_a_guest(client: TestClient, database: db.Database, session: Session) -> None:
    token = issue_token(client, "admin", "admin-password-1")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(WEBSITES, headers=headers).status_code == 200
    with database.write_sessions.begin() as write:
        write.execute(
            update(AdminToken)
            .where(AdminToken.token_hash == auth.hash_token(token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert_envelope(client.get(WEBSITES, headers=headers), 401, not_authorized("Magento_Backend::stores"))
    assert_envelope(
        client.get(f"{SOURCES}/default", headers=headers), 401, not_authorized("Magento_InventoryApi::source")
    )
    assert token_row(session, token).expires_at is not None


def test_token_of_an_inactive_user_is_a_guest(client: TestClient, database: db.Database) -> None:
    create_user(database, "inactive-user")
    token = issue_token(client, "inactive-user", USER_PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(WEBSITES, headers=headers).status_code == 200
    with database.write_sessions.begin() as write:
        write.execute(update(AdminUser).where(AdminUser.username == "inactive-user").values(is_active=False))
    assert_envelope(client.get(WEBSITES, headers=headers), 401, not_authorized("Magento_Backend::stores"))
    # …and the inactive user cannot sign in again either.
    assert_envelope(login(client, "inactive-user", USER_PASSWORD), 401, SIGN_IN_FAILED)


def test_token_of_a_deleted_user_is_a_guest(client: TestClient, database: db.Database) -> None:
    create_user(database, "deleted-user")
    token = issue_token(client, "deleted-user", USER_PASSWORD)
    with database.write_sessions.begin() as write:
        write.execute(AdminToken.__table__.delete().where(AdminToken.token_hash == auth.hash_token(token)))
    assert_envelope(
        client.get(WEBSITES, headers={"Authorization": f"Bearer {token}"}),
        401,
        not_authorized("Magento_Backend::stores"),
    )


# ============================================================================================
# ACL resource per route
# ============================================================================================

# acl.md "Resource per route", every route of the subset (path after /V1, Magento's :variables),
# plus the store registry routes (Magento's Store/etc/webapi.xml: Magento_Backend::stores).
ACL_RESOURCES: dict[tuple[str, str], str] = {
    ("GET", "/inventory/sources"): "Magento_InventoryApi::source",
    ("GET", "/inventory/sources/:sourceCode"): "Magento_InventoryApi::source",
    ("POST", "/inventory/sources"): "Magento_InventoryApi::source_edit",
    ("PUT", "/inventory/sources/:sourceCode"): "Magento_InventoryApi::source_edit",
    ("GET", "/inventory/get-sources-assigned-to-stock-ordered-by-priority/:stockId"): (
        "Magento_InventoryApi::source"
    ),
    ("GET", "/inventory/stocks"): "Magento_InventoryApi::stock",
    ("GET", "/inventory/stocks/:stockId"): "Magento_InventoryApi::stock",
    ("POST", "/inventory/stocks"): "Magento_InventoryApi::stock_edit",
    ("PUT", "/inventory/stocks/:stockId"): "Magento_InventoryApi::stock_edit",
    ("DELETE", "/inventory/stocks/:stockId"): "Magento_InventoryApi::stock_delete",
    ("GET", "/inventory/stock-source-links"): "Magento_InventoryApi::stock_source_link",
    ("POST", "/inventory/stock-source-links"): "Magento_InventoryApi::stock_source_link",
    ("POST", "/inventory/stock-source-links-delete"): "Magento_InventoryApi::stock_source_link",
    ("GET", "/inventory/source-items"): "Magento_InventoryApi::source",
    ("POST", "/inventory/source-items"): "Magento_InventoryApi::stock_source_item_assign",
    ("POST", "/inventory/source-items-delete"): "Magento_InventoryApi::stock_source_item_assign",
    ("GET", "/inventory/stock-resolver/:type/:code"): "Magento_InventorySalesApi::stock",
    ("GET", "/inventory/get-product-salable-quantity/:sku/:stockId"): "Magento_InventorySalesApi::stock",
    ("GET", "/inventory/is-product-salable/:sku/:stockId"): "Magento_InventorySalesApi::stock",
    ("GET", "/inventory/are-products-salable"): "Magento_InventorySalesApi::stock",
    ("GET", "/inventory/is-product-salable-for-requested-qty/:sku/:stockId/:requestedQty"): (
        "Magento_InventorySalesApi::stock"
    ),
    ("GET", "/inventory/are-product-salable-for-requested-qty"): "Magento_InventorySalesApi::stock",
    ("GET", "/inventory/source-selection-algorithm-list"): (
        "Magento_InventorySourceSelectionApi::source_selection_algorithm"
    ),
    ("POST", "/inventory/source-selection-algorithm-result"): (
        "Magento_InventorySourceSelectionApi::source_selection_algorithm_post"
    ),
    ("GET", "/inventory/get-distance-provider-code"): "Magento_InventoryApi::source",
    ("GET", "/inventory/get-distance"): "Magento_InventoryApi::source",
    ("GET", "/inventory/get-latlng-from-address"): "Magento_InventoryApi::source",
    ("GET", "/inventory/get-latslngs-from-address"): "Magento_InventoryApi::source",
    ("POST", "/inventory/bulk-product-source-assign"): "Magento_Catalog::products",
    ("POST", "/inventory/bulk-product-source-unassign"): "Magento_Catalog::products",
    ("POST", "/inventory/bulk-product-source-transfer"): "Magento_Catalog::products",
    ("POST", "/inventory/bulk-partial-source-transfer"): "Magento_Catalog::products",
    ("GET", "/inventory/low-quantity-notification/:sourceCode/:sku"): (
        "Magento_InventoryLowQuantityNotificationApi::low_quantity_notification"
    ),
    ("POST", "/inventory/low-quantity-notification"): (
        "Magento_InventoryLowQuantityNotificationApi::stock_create_low_quantity_notification"
    ),
    ("POST", "/inventory/low-quantity-notifications-delete"): (
        "Magento_InventoryLowQuantityNotificationApi::stock_delete_low_quantity_notification"
    ),
    ("GET", "/inventory/export-stock-salable-qty/:salesChannelType/:salesChannelCode"): (
        "Magento_InventoryApi::stock"
    ),
    ("GET", "/inventory/dump-stock-index-data/:salesChannelType/:salesChannelCode"): (
        "Magento_InventoryApi::stock"
    ),
    ("GET", "/store/websites"): "Magento_Backend::stores",
    ("GET", "/store/storeGroups"): "Magento_Backend::stores",
    ("GET", "/store/storeViews"): "Magento_Backend::stores",
    # openmsi's own route beside Magento's (README, "The index keeps itself fresh").
    ("GET", "/openmsi/index-status"): "Magento_InventoryApi::stock",
    # openmsi's order routes (spec orders.md, "Routes").
    ("POST", "/openmsi/orders"): "Magento_Sales::create",
    ("GET", "/openmsi/orders"): "Magento_Sales::actions_view",
    ("GET", "/openmsi/orders/:incrementId"): "Magento_Sales::actions_view",
    ("POST", "/openmsi/orders/:incrementId/cancel"): "Magento_Sales::cancel",
    ("POST", "/openmsi/orders/:incrementId/shipments"): "Magento_Sales::ship",
    ("GET", "/openmsi/reservations"): "Magento_InventoryApi::stock",
}

# Every route of src/openmsi/inventory/router.py and src/openmsi/store/router.py, with a
# concrete path (variables filled in) and the resource acl.md names.
ROUTER_ROUTES = [
    pytest.param("GET", "/inventory/sources", "Magento_InventoryApi::source", id="get-sources"),
    pytest.param("GET", "/inventory/sources/default", "Magento_InventoryApi::source", id="get-source"),
    pytest.param("POST", "/inventory/sources", "Magento_InventoryApi::source_edit", id="post-source"),
    pytest.param("PUT", "/inventory/sources/default", "Magento_InventoryApi::source_edit", id="put-source"),
    pytest.param(
        "GET",
        "/inventory/get-sources-assigned-to-stock-ordered-by-priority/1",
        "Magento_InventoryApi::source",
        id="get-sources-assigned-to-stock",
    ),
    pytest.param("GET", "/inventory/stocks", "Magento_InventoryApi::stock", id="get-stocks"),
    pytest.param("GET", "/inventory/stocks/1", "Magento_InventoryApi::stock", id="get-stock"),
    pytest.param("POST", "/inventory/stocks", "Magento_InventoryApi::stock_edit", id="post-stock"),
    pytest.param("PUT", "/inventory/stocks/1", "Magento_InventoryApi::stock_edit", id="put-stock"),
    pytest.param("DELETE", "/inventory/stocks/2", "Magento_InventoryApi::stock_delete", id="delete-stock"),
    pytest.param(
        "GET",
        "/inventory/stock-resolver/website/base",
        "Magento_InventorySalesApi::stock",
        id="stock-resolver",
    ),
    pytest.param(
        "GET", "/inventory/stock-source-links", "Magento_InventoryApi::stock_source_link", id="get-links"
    ),
    pytest.param(
        "POST", "/inventory/stock-source-links", "Magento_InventoryApi::stock_source_link", id="post-links"
    ),
    pytest.param(
        "POST",
        "/inventory/stock-source-links-delete",
        "Magento_InventoryApi::stock_source_link",
        id="delete-links",
    ),
    pytest.param("GET", "/store/websites", "Magento_Backend::stores", id="websites"),
    pytest.param("GET", "/store/storeGroups", "Magento_Backend::stores", id="store-groups"),
    pytest.param("GET", "/store/storeViews", "Magento_Backend::stores", id="store-views"),
]


@pytest.mark.parametrize(("method", "path", "resource"), ROUTER_ROUTES)
@pytest.mark.parametrize("prefix", ["/rest/V1", "/rest/all/V1"])
def test_guest_401_names_the_route_resource(
    client: TestClient, session: Session, method: str, path: str, resource: str, prefix: str
) -> None:
    assert ACL_RESOURCES[(method, _template(path))] == resource
    response = client.request(
        method,
        prefix + path,
        headers={"Content-Type": "application/json"},
        content=b'{"source":{"source_code":"x","name":"x","country_id":"US","postcode":"1"},'
        b'"stock":{"name":"x"},"links":[{"source_code":"x","stock_id":1,"priority":1}]}',
    )
    assert_envelope(response, 401, not_authorized(resource))
    assert session.get(Source, "x") is None


def _template(path: str) -> str:
    """The acl.md path of a concrete path from ROUTER_ROUTES."""
    concrete = {
        "/inventory/sources/default": "/inventory/sources/:sourceCode",
        "/inventory/get-sources-assigned-to-stock-ordered-by-priority/1": (
            "/inventory/get-sources-assigned-to-stock-ordered-by-priority/:stockId"
        ),
        "/inventory/stocks/1": "/inventory/stocks/:stockId",
        "/inventory/stocks/2": "/inventory/stocks/:stockId",
        "/inventory/stock-resolver/website/base": "/inventory/stock-resolver/:type/:code",
    }
    return concrete.get(path, path)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI 0.16x keeps them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(route, "original_router", None) or getattr(route, "routes", None)
        if nested is not None:
            yield from _api_routes(nested.routes if hasattr(nested, "routes") else nested)


def _registered_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, acl.md-style path) of every route the application serves under /V1."""
    routes: set[tuple[str, str]] = set()
    for route in _api_routes(app.routes):
        if "/V1/" not in route.path:
            continue
        template = route.path[route.path.index("/V1/") + len("/V1") :].rstrip("/")
        template = "/".join(
            f":{part[1:-1]}" if part.startswith("{") and part.endswith("}") else part
            for part in template.split("/")
        )
        routes.update((method, template) for method in route.methods or ())
    return sorted(routes)


def _concrete(template: str) -> str:
    return "/".join(f"x{part[1:]}" if part.startswith(":") else part for part in template.split("/"))


def test_every_registered_route_requires_its_acl_resource(client: TestClient, app: FastAPI) -> None:
    """Also covers routes added after this file was written: each must be in acl.md's table,
    and a guest must get the 401 that names the table's resource."""
    routes = _registered_routes(app)
    assert ("POST", "/integration/admin/token") in routes
    checked = 0
    for method, template in routes:
        if template == "/integration/admin/token":
            continue
        assert (method, template) in ACL_RESOURCES, (
            f"{method} {template} is in neither acl.md nor openmsi's own routes"
        )
        response = client.request(
            method, f"/rest/V1{_concrete(template)}", headers={"Content-Type": "text/plain"}, content=b"{"
        )
        assert_envelope(response, 401, not_authorized(ACL_RESOURCES[(method, template)]))
        checked += 1
    assert checked >= len(ROUTER_ROUTES)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("text/plain", b"not json", id="bad-content-type"),
        pytest.param(None, b"{}", id="no-content-type"),
        pytest.param("application/json", b"{", id="malformed-json"),
        pytest.param("application/json; charset=latin1", b"{}", id="bad-charset"),
        pytest.param("application/json", b'{"source": {"source_code": "has space"}}', id="invalid-source"),
    ],
)
def test_acl_is_checked_before_the_body(
    client: TestClient, session: Session, content_type: str | None, body: bytes
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    for method, path in (("POST", SOURCES), ("PUT", f"{SOURCES}/default")):
        response = client.request(method, path, headers=headers, content=body)
        assert_envelope(response, 401, not_authorized("Magento_InventoryApi::source_edit"))
    response = client.get(SOURCES, params={"searchCriteria[page_size]": "abc"})
    assert_envelope(response, 401, not_authorized("Magento_InventoryApi::source"))
    assert session.get(Source, "has space") is None


def test_token_endpoint_is_anonymous_and_ignores_bad_tokens(client: TestClient) -> None:
    response = client.post(
        TOKEN,
        json={"username": "admin", "password": "admin-password-1"},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert response.status_code == 200, response.text


# ============================================================================================
# Token endpoint failures
# ============================================================================================


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="both-missing"),
        pytest.param({"username": None, "password": None}, id="both-null"),
        pytest.param({"username": "", "password": ""}, id="both-empty"),
        pytest.param({"other": "admin"}, id="unknown-keys-only"),
    ],
)
def test_token_both_credentials_missing(client: TestClient, body: dict[str, Any]) -> None:
    assert_envelope(client.post(TOKEN, json=body), 400, BOTH_REQUIRED)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"password": "admin-password-1"}, "username", id="username-missing"),
        pytest.param({"username": None, "password": "admin-password-1"}, "username", id="username-null"),
        pytest.param({"username": "", "password": "admin-password-1"}, "username", id="username-empty"),
        pytest.param({"username": "admin"}, "password", id="password-missing"),
        pytest.param({"username": "admin", "password": None}, "password", id="password-null"),
        pytest.param({"username": "admin", "password": ""}, "password", id="password-empty"),
        # Absent (null) parameters are reported before empty strings are looked at.
        pytest.param({"username": "", "password": None}, "password", id="empty-and-null"),
        pytest.param({"username": None, "password": ""}, "username", id="null-and-empty"),
        # false is the PHP string "", so an empty username.
        pytest.param({"username": False, "password": "admin-password-1"}, "username", id="false-username"),
    ],
)
def test_token_one_credential_missing(
    client: TestClient, session: Session, body: dict[str, Any], field: str
) -> None:
    assert_envelope(
        client.post(TOKEN, json=body), 400, {"message": REQUIRED, "parameters": {"fieldName": field}}
    )
    # A missing credential is not a failed sign-in.
    assert failure_row(session, "admin") is None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"username": ["admin"], "password": "x"}, id="array-username"),
        pytest.param({"username": ["admin"]}, id="type-error-before-missing-password"),
        pytest.param({"password": {"a": 1}}, id="type-error-after-missing-username"),
    ],
)
def test_token_credentials_of_the_wrong_type(client: TestClient, body: dict[str, Any]) -> None:
    assert_envelope(
        client.post(TOKEN, json=body),
        400,
        {"message": ARRAY_FOR_STRING},
    )


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("admin", "wrong-password", id="wrong-password"),
        pytest.param("nobody", "admin-password-1", id="unknown-user"),
        pytest.param("admin", "ADMIN-PASSWORD-1", id="password-case-sensitive"),
        pytest.param("admin", " admin-password-1", id="password-not-trimmed"),
    ],
)
def test_wrong_credentials(client: TestClient, session: Session, username: str, password: str) -> None:
    assert_envelope(login(client, username, password), 401, SIGN_IN_FAILED)
    failure = failure_row(session, username)
    assert failure is not None and failure.failures_count == 1


def test_token_endpoint_content_type_is_checked(client: TestClient) -> None:
    response = client.post(
        TOKEN,
        content=b'{"username":"admin","password":"admin-password-1"}',
        headers={"Content-Type": "text/plain"},
    )
    assert_envelope(
        response, 400, {"message": "Server cannot understand Content-Type HTTP header media type text/plain"}
    )


# ============================================================================================
# Lockout
# ============================================================================================


def test_lockout_after_max_failures_then_expiry(
    client: TestClient, database: db.Database, session: Session, settings: Settings
) -> None:
    create_user(database, "locky")
    for attempt in range(1, settings.login_max_failures + 1):
        assert_envelope(login(client, "locky", "wrong"), 401, SIGN_IN_FAILED)
        failure = failure_row(session, "locky")
        assert failure is not None and failure.failures_count == attempt
        # Magento's RequestLog sets the lock's end with every failure; the count decides.
        assert failure.lock_expires_at is not None
    failure = failure_row(session, "locky")
    assert failure is not None and failure.lock_expires_at is not None
    assert failure.lock_expires_at > utcnow() + timedelta(seconds=settings.login_lock_seconds - 60)

    # Locked: even the right password is refused, and the refusal does not extend the count.
    for _ in range(2):
        assert_envelope(login(client, "locky", USER_PASSWORD), 401, SIGN_IN_FAILED)
    failure = failure_row(session, "locky")
    assert failure is not None and failure.failures_count == settings.login_max_failures

    # The lock is per username: another user still signs in.
    assert login(client, "admin", "admin-password-1").status_code == 200

    with database.write_sessions.begin() as write:
        write.execute(
            update(LoginFailure)
            .where(LoginFailure.username == "locky")
            .values(lock_expires_at=utcnow() - timedelta(seconds=1))
        )
    token = issue_token(client, "locky", USER_PASSWORD)
    assert client.get(WEBSITES, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # The counter is reset by the successful sign-in.
    assert failure_row(session, "locky") is None
    assert_envelope(login(client, "locky", "wrong"), 401, SIGN_IN_FAILED)
    failure = failure_row(session, "locky")
    assert failure is not None and failure.failures_count == 1


def test_expired_lock_starts_a_fresh_count(
    client: TestClient, database: db.Database, session: Session, settings: Settings
) -> None:
    create_user(database, "relock")
    for _ in range(settings.login_max_failures):
        login(client, "relock", "wrong")
    with database.write_sessions.begin() as write:
        write.execute(
            update(LoginFailure)
            .where(LoginFailure.username == "relock")
            .values(lock_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert_envelope(login(client, "relock", "wrong"), 401, SIGN_IN_FAILED)
    failure = failure_row(session, "relock")
    assert failure is not None and failure.failures_count == 1
    assert login(client, "relock", USER_PASSWORD).status_code == 200


def test_successful_login_resets_the_counter(
    client: TestClient, database: db.Database, session: Session, settings: Settings
) -> None:
    create_user(database, "resetme")
    for _ in range(settings.login_max_failures - 1):
        assert_envelope(login(client, "resetme", "wrong"), 401, SIGN_IN_FAILED)
    failure = failure_row(session, "resetme")
    assert failure is not None and failure.failures_count == settings.login_max_failures - 1
    assert login(client, "resetme", USER_PASSWORD).status_code == 200
    assert failure_row(session, "resetme") is None
    # Another max − 1 failures still leave the account usable.
    for _ in range(settings.login_max_failures - 1):
        assert_envelope(login(client, "resetme", "wrong"), 401, SIGN_IN_FAILED)
    assert login(client, "resetme", USER_PASSWORD).status_code == 200


def test_usernames_compare_case_insensitively(
    client: TestClient, database: db.Database, session: Session, settings: Settings
) -> None:
    """admin_user.username is a case-insensitive column in Magento (MySQL ci collation), and so
    is the throttler's username: "CaseUser" and "caseuser" are one account and one counter."""
    create_user(database, "CaseUser")
    token = issue_token(client, "caseuser", USER_PASSWORD)
    assert client.get(WEBSITES, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    for index in range(settings.login_max_failures):
        name = "CASEUSER" if index % 2 else "caseUser"
        assert_envelope(login(client, name, "wrong"), 401, SIGN_IN_FAILED)
    assert_envelope(login(client, "CaseUser", USER_PASSWORD), 401, SIGN_IN_FAILED)
    failure = failure_row(session, "caseuser")
    assert failure is not None and failure.failures_count == settings.login_max_failures


def test_unknown_usernames_are_locked_too(client: TestClient, session: Session, settings: Settings) -> None:
    for _ in range(settings.login_max_failures):
        assert_envelope(login(client, "ghost", "x"), 401, SIGN_IN_FAILED)
    failure = failure_row(session, "ghost")
    assert failure is not None and failure.failures_count == settings.login_max_failures
    assert failure.lock_expires_at is not None and failure.lock_expires_at > utcnow()


# ============================================================================================
# Lifetime
# ============================================================================================


@pytest.fixture
def client_with(settings: Settings, database: db.Database) -> Iterator[Any]:
    def make(**overrides: Any) -> TestClient:
        return TestClient(create_app(settings.model_copy(update=overrides), database))

    yield make


def test_default_lifetime_is_four_hours(client: TestClient, session: Session, settings: Settings) -> None:
    assert settings.admin_token_lifetime_hours == 4
    before = utcnow()
    token = issue_token(client, "admin", "admin-password-1")
    after = utcnow()
    expires_at = token_row(session, token).expires_at
    assert expires_at is not None
    # Stored without sub-second guarantees on every engine: allow a second either side.
    assert before + timedelta(hours=4) - timedelta(seconds=1) <= expires_at
    assert expires_at <= after + timedelta(hours=4) + timedelta(seconds=1)


def test_lifetime_zero_means_no_expiry(client_with: Any, session: Session) -> None:
    client = client_with(admin_token_lifetime_hours=0)
    token = issue_token(client, "admin", "admin-password-1")
    assert token_row(session, token).expires_at is None
    assert client.get(WEBSITES, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_custom_lifetime(client_with: Any, session: Session) -> None:
    client = client_with(admin_token_lifetime_hours=0.5)
    before = utcnow()
    token = issue_token(client, "admin", "admin-password-1")
    expires_at = token_row(session, token).expires_at
    assert expires_at is not None
    assert timedelta(minutes=29) <= expires_at - before <= timedelta(minutes=31)


def test_custom_max_failures(client_with: Any, database: db.Database, session: Session) -> None:
    client = client_with(login_max_failures=2, login_lock_seconds=60)
    create_user(database, "twice")
    assert_envelope(login(client, "twice", "wrong"), 401, SIGN_IN_FAILED)
    assert login(client, "twice", USER_PASSWORD).status_code == 200
    for _ in range(2):
        assert_envelope(login(client, "twice", "wrong"), 401, SIGN_IN_FAILED)
    assert_envelope(login(client, "twice", USER_PASSWORD), 401, SIGN_IN_FAILED)
    failure = failure_row(session, "twice")
    assert failure is not None and failure.lock_expires_at is not None
    assert failure.lock_expires_at <= utcnow() + timedelta(seconds=61)


# ============================================================================================
# Hashing outside the unit of work; concurrent changes during the verify
# ============================================================================================


class _HookedHasher(PasswordHasher):
    """The real argon2 verify, with a hook that runs just before it (what happens meanwhile)."""

    def __init__(self, hook: Callable[[], None]) -> None:
        super().__init__()
        self.hook = hook
        self.calls = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.calls += 1
        self.hook()
        return super().verify(hash, password)


@pytest.fixture
def lanes(monkeypatch: pytest.MonkeyPatch, database: db.Database) -> list[db.Lane]:
    """The lanes of the units of work the app runs, in order, and the one running now (last)."""
    seen: list[db.Lane] = []
    running = database.run

    async def run(unit_of_work: Callable[[], Any], lane: db.Lane = db.Lane.READ) -> Any:
        seen.append(lane)
        return await running(unit_of_work, lane)

    monkeypatch.setattr(database, "run", run)
    return seen


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("admin", "admin-password-1", id="right-password"),
        pytest.param("admin", "wrong", id="wrong-password"),
        pytest.param("nobody", "wrong", id="unknown-user"),
    ],
)
def test_the_verify_runs_in_the_cpu_lane_outside_any_transaction(
    client: TestClient,
    database: db.Database,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    lanes: list[db.Lane],
    username: str,
    password: str,
) -> None:
    """No connection is held while argon2 runs (~140 ms): no transaction, no SQLite write
    lock, so the other requests and the writer never wait for a hash."""
    session.rollback()
    checked_out_before = database.engine.pool.checkedout()  # type: ignore[attr-defined]
    during: list[tuple[db.Lane, int]] = []

    def observe() -> None:
        during.append((lanes[-1], database.engine.pool.checkedout()))  # type: ignore[attr-defined]

    hasher = _HookedHasher(observe)
    monkeypatch.setattr(auth, "_hasher", hasher)
    response = login(client, username, password)
    assert response.status_code in (200, 401), response.text
    assert during == [(db.Lane.CPU, checked_out_before)]
    # The read (with the body's decoding, so in a thread) before, the short write after.
    assert lanes == [db.Lane.READ, db.Lane.CPU, db.Lane.WRITE]


def test_a_writer_goes_on_while_a_login_hashes(
    client: TestClient, database: db.Database, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write transaction started during the verify commits at once (on SQLite it would wait
    for the write lock if the login held it)."""
    committed: list[bool] = []

    def write_meanwhile() -> None:
        with database.write_sessions.begin() as write:
            write.execute(update(Source).where(Source.source_code == "default").values(name="Renamed"))
        committed.append(True)

    monkeypatch.setattr(auth, "_hasher", _HookedHasher(write_meanwhile))
    assert_envelope(login(client, "admin", "wrong"), 401, SIGN_IN_FAILED)
    assert committed == [True]
    session.rollback()
    assert session.scalar(select(Source.name).where(Source.source_code == "default")) == "Renamed"


def test_a_lockout_reached_during_the_verify_still_holds(
    client: TestClient,
    database: db.Database,
    session: Session,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Other clients lock the username while this login hashes the right password: no token."""
    create_user(database, "raced")

    def lock_meanwhile() -> None:
        with database.write_sessions.begin() as write:
            write.add(
                LoginFailure(
                    username="raced",
                    failures_count=settings.login_max_failures,
                    lock_expires_at=utcnow() + timedelta(seconds=settings.login_lock_seconds),
                )
            )

    monkeypatch.setattr(auth, "_hasher", _HookedHasher(lock_meanwhile))
    assert_envelope(login(client, "raced", USER_PASSWORD), 401, SIGN_IN_FAILED)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AdminToken).join(AdminUser).where(
        AdminUser.username == "raced")) == 0  # fmt: skip
    failure = failure_row(session, "raced")
    # A locked refusal does not extend the count.
    assert failure is not None and failure.failures_count == settings.login_max_failures


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"is_active": False}, id="deactivated"),
        pytest.param({"password_hash": auth.hash_password("another-password")}, id="password-changed"),
    ],
)
def test_a_user_changed_during_the_verify_gets_no_token(
    client: TestClient,
    database: db.Database,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, Any],
) -> None:
    create_user(database, "changing")

    def change_meanwhile() -> None:
        with database.write_sessions.begin() as write:
            write.execute(update(AdminUser).where(AdminUser.username == "changing").values(**change))

    monkeypatch.setattr(auth, "_hasher", _HookedHasher(change_meanwhile))
    assert_envelope(login(client, "changing", USER_PASSWORD), 401, SIGN_IN_FAILED)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AdminToken).join(AdminUser).where(
        AdminUser.username == "changing")) == 0  # fmt: skip
    failure = failure_row(session, "changing")
    assert failure is not None and failure.failures_count == 1


def test_a_locked_username_is_refused_without_hashing(
    client: TestClient, database: db.Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    hasher = _HookedHasher(lambda: None)
    monkeypatch.setattr(auth, "_hasher", hasher)
    create_user(database, "locked-fast")
    for _ in range(settings.login_max_failures):
        assert_envelope(login(client, "locked-fast", "wrong"), 401, SIGN_IN_FAILED)
    assert hasher.calls == settings.login_max_failures
    assert_envelope(login(client, "locked-fast", USER_PASSWORD), 401, SIGN_IN_FAILED)
    assert hasher.calls == settings.login_max_failures


# ============================================================================================
# The failure table stays small
# ============================================================================================


def failure_count(session: Session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(LoginFailure)) or 0


def test_every_failure_moves_the_window_and_an_ended_window_forgets_the_count(
    client: TestClient, database: db.Database, session: Session, settings: Settings
) -> None:
    """Magento's RequestLog::incrementFailuresCount sets lock_expires_at to now + timeout on every
    failure; clearExpiredFailures forgets rows whose time has passed, counting or locked."""
    create_user(database, "slider")
    for _ in range(settings.login_max_failures - 1):
        before = utcnow()
        assert_envelope(login(client, "slider", "wrong"), 401, SIGN_IN_FAILED)
        failure = failure_row(session, "slider")
        assert failure is not None and failure.lock_expires_at is not None
        assert failure.lock_expires_at >= before + timedelta(seconds=settings.login_lock_seconds - 1)
    with database.write_sessions.begin() as write:
        write.execute(
            update(LoginFailure)
            .where(LoginFailure.username == "slider")
            .values(lock_expires_at=utcnow() - timedelta(seconds=1))
        )
    # The old failures no longer count: one more does not lock, the right password signs in.
    assert_envelope(login(client, "slider", "wrong"), 401, SIGN_IN_FAILED)
    failure = failure_row(session, "slider")
    assert failure is not None and failure.failures_count == 1
    assert login(client, "slider", USER_PASSWORD).status_code == 200


def test_many_unknown_usernames_do_not_grow_the_table(
    client_with: Any, database: db.Database, session: Session
) -> None:
    client = client_with(login_failure_max_rows=5, login_max_failures=2)
    for index in range(12):
        assert_envelope(login(client, f"random-{index}", "x"), 401, SIGN_IN_FAILED)
        assert failure_count(session) <= 5
    assert failure_count(session) == 5

    # A full table never spares a real account its lockout.
    create_user(database, "target")
    for _ in range(2):
        assert_envelope(login(client, "target", "wrong"), 401, SIGN_IN_FAILED)
    assert_envelope(login(client, "target", USER_PASSWORD), 401, SIGN_IN_FAILED)
    failure = failure_row(session, "target")
    assert failure is not None and failure.failures_count == 2

    # Rows whose time has passed make room again.
    with database.write_sessions.begin() as write:
        write.execute(update(LoginFailure).values(lock_expires_at=utcnow() - timedelta(seconds=1)))
    assert_envelope(login(client, "newcomer", "x"), 401, SIGN_IN_FAILED)
    assert failure_count(session) == 1
    failure = failure_row(session, "newcomer")
    assert failure is not None and failure.failures_count == 1
