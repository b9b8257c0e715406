"""The store registry (spec openmsi.md, "Websites and store views"): Magento's read-only
``/V1/store/*`` routes, `openmsi website create` and `openmsi admin create`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from openmsi.app import create_app
from openmsi.cli import app as cli
from openmsi.db import Database
from openmsi.models import AdminUser, SalesChannel, StoreGroup, StoreView, Website
from openmsi.settings import Settings, get_settings

runner = CliRunner()

SEED_WEBSITES = [
    {"id": 0, "code": "admin", "name": "Admin", "default_group_id": 0},
    {"id": 1, "code": "base", "name": "Main Website", "default_group_id": 1},
]
SEED_STORE_GROUPS = [
    {
        "id": 0,
        "website_id": 0,
        "root_category_id": 0,
        "default_store_id": 0,
        "name": "Default",
        "code": "default",
    },
    {
        "id": 1,
        "website_id": 1,
        "root_category_id": 2,
        "default_store_id": 1,
        "name": "Main Website Store",
        "code": "main_website_store",
    },
]
SEED_STORE_VIEWS = [
    {"id": 0, "code": "admin", "name": "Admin", "website_id": 0, "store_group_id": 0, "is_active": 1},
    {
        "id": 1,
        "code": "default",
        "name": "Default Store View",
        "website_id": 1,
        "store_group_id": 1,
        "is_active": 1,
    },
]
ROUTE_NOT_FOUND = {"message": "Request does not match any route."}


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """The CLI reads its settings once per process (lru_cache); each invocation here sets its own."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(settings: Settings, *args: str) -> Result:
    return runner.invoke(cli, list(args), env={"OPENMSI_DATABASE_URL": settings.database_url})


def exact(response: Any, status: int, body: Any) -> None:
    assert response.status_code == status, response.text
    assert response.text == json.dumps(body, separators=(",", ":")), response.text


def registry(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    session.rollback()  # a fresh snapshot: the CLI committed in its own transaction
    return {
        "websites": [
            tuple(row)
            for row in session.execute(
                select(Website.website_id, Website.code, Website.name, Website.default_group_id).order_by(
                    Website.website_id
                )
            )
        ],
        "groups": [
            tuple(row)
            for row in session.execute(
                select(
                    StoreGroup.group_id,
                    StoreGroup.website_id,
                    StoreGroup.code,
                    StoreGroup.name,
                    StoreGroup.default_store_id,
                ).order_by(StoreGroup.group_id)
            )
        ],
        "views": [
            tuple(row)
            for row in session.execute(
                select(
                    StoreView.store_id,
                    StoreView.code,
                    StoreView.website_id,
                    StoreView.group_id,
                    StoreView.name,
                ).order_by(StoreView.store_id)
            )
        ],
        "channels": [
            tuple(row)
            for row in session.execute(
                select(SalesChannel.stock_id, SalesChannel.type, SalesChannel.code).order_by(
                    SalesChannel.stock_id, SalesChannel.code
                )
            )
        ],
    }


SEED_REGISTRY: dict[str, list[tuple[Any, ...]]] = {
    "websites": [(0, "admin", "Admin", 0), (1, "base", "Main Website", 1)],
    "groups": [(0, 0, "default", "Default", 0), (1, 1, "main_website_store", "Main Website Store", 1)],
    "views": [(0, "admin", 0, 0, "Admin"), (1, "default", 1, 1, "Default Store View")],
    "channels": [(1, "website", "base")],
}


# --------------------------------------------------------------------------------------------
# GET /V1/store/*
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("websites", SEED_WEBSITES, id="websites"),
        pytest.param("storeGroups", SEED_STORE_GROUPS, id="store-groups"),
        pytest.param("storeViews", SEED_STORE_VIEWS, id="store-views"),
    ],
)
def test_store_registry_seed(client: TestClient, auth_headers: dict[str, str], path: str, body: Any) -> None:
    exact(client.get(f"/rest/V1/store/{path}", headers=auth_headers), 200, body)


@pytest.mark.parametrize("path", ["websites", "storeGroups", "storeViews"])
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer not-a-token"}, id="unknown-token"),
    ],
)
def test_store_registry_needs_a_token(client: TestClient, path: str, headers: dict[str, str]) -> None:
    exact(
        client.get(f"/rest/V1/store/{path}", headers=headers),
        401,
        {
            "message": "The consumer isn't authorized to access %resources.",
            "parameters": {"resources": "Magento_Backend::stores"},
        },
    )


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_store_registry_is_read_only(client: TestClient, auth_headers: dict[str, str], method: str) -> None:
    exact(client.request(method, "/rest/V1/store/websites", headers=auth_headers), 404, ROUTE_NOT_FOUND)


# --------------------------------------------------------------------------------------------
# openmsi website create
# --------------------------------------------------------------------------------------------


def test_website_create(
    settings: Settings, database: Database, client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    before = TestClient(create_app(settings, database))
    exact(before.get("/rest/eu_shop/V1/inventory/stocks/1", headers=auth_headers), 404, ROUTE_NOT_FOUND)

    result = run(settings, "website", "create", "--code", "eu_shop", "--name", "EU Shop")

    assert result.exit_code == 0, result.output
    assert 'Website "eu_shop" created' in result.output
    assert registry(session) == {
        "websites": [*SEED_REGISTRY["websites"], (2, "eu_shop", "EU Shop", 2)],
        "groups": [*SEED_REGISTRY["groups"], (2, 2, "eu_shop", "EU Shop", 2)],
        "views": [*SEED_REGISTRY["views"], (2, "eu_shop", 2, 2, "EU Shop")],
        "channels": [(1, "website", "base"), (1, "website", "eu_shop")],
    }
    response = client.get("/rest/V1/store/websites", headers=auth_headers)
    assert response.json() == [
        *SEED_WEBSITES,
        {"id": 2, "code": "eu_shop", "name": "EU Shop", "default_group_id": 2},
    ]
    response = client.get("/rest/V1/store/storeViews", headers=auth_headers)
    assert response.json()[-1] == {
        "id": 2,
        "code": "eu_shop",
        "name": "EU Shop",
        "website_id": 2,
        "store_group_id": 2,
        "is_active": 1,
    }
    # As in Magento, a new website is served by the default stock.
    default_stock = {
        "stock_id": 1,
        "name": "Default Stock",
        "extension_attributes": {
            "sales_channels": [{"type": "website", "code": "base"}, {"type": "website", "code": "eu_shop"}]
        },
    }
    exact(
        client.get("/rest/V1/inventory/stock-resolver/website/eu_shop", headers=auth_headers),
        200,
        default_stock,
    )

    # The new store view's code may be used in URLs (an app started now sees it at once).
    after = TestClient(create_app(settings, database))
    exact(after.get("/rest/eu_shop/V1/inventory/stocks/1", headers=auth_headers), 200, default_stock)
    exact(after.get("/rest/EU_SHOP/V1/inventory/stocks/1", headers=auth_headers), 200, default_stock)


def test_created_website_can_be_assigned_to_a_stock(
    settings: Settings, client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    assert run(settings, "website", "create", "--code", "us_shop", "--name", "US Shop").exit_code == 0
    stock = {
        "name": "US Stock",
        "extension_attributes": {"sales_channels": [{"type": "website", "code": "us_shop"}]},
    }
    response = client.post("/rest/V1/inventory/stocks", json={"stock": stock}, headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json() == 2
    assert registry(session)["channels"] == [(1, "website", "base"), (2, "website", "us_shop")]


def test_second_website_gets_the_next_ids(settings: Settings, session: Session) -> None:
    assert run(settings, "website", "create", "--code", "eu_shop", "--name", "EU Shop").exit_code == 0
    assert run(settings, "website", "create", "--code", "us_shop", "--name", "US Shop").exit_code == 0
    assert registry(session)["websites"][-2:] == [(2, "eu_shop", "EU Shop", 2), (3, "us_shop", "US Shop", 3)]
    assert registry(session)["views"][-1] == (3, "us_shop", 3, 3, "US Shop")


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("base", id="website-code"),
        pytest.param("default", id="store-view-code"),
        pytest.param("main_website_store", id="store-group-code"),
        pytest.param("admin", id="admin"),
    ],
)
def test_website_create_refuses_a_taken_code(settings: Settings, session: Session, code: str) -> None:
    result = run(settings, "website", "create", "--code", code, "--name", "Another")
    assert result.exit_code == 1
    assert f'A website, store group or store view with code "{code}" already exists.' in result.output
    assert registry(session) == SEED_REGISTRY


def test_website_create_twice(settings: Settings, session: Session) -> None:
    assert run(settings, "website", "create", "--code", "eu_shop", "--name", "EU Shop").exit_code == 0
    created = registry(session)
    result = run(settings, "website", "create", "--code", "eu_shop", "--name", "EU Shop again")
    assert result.exit_code == 1
    assert 'code "eu_shop" already exists' in result.output
    assert registry(session) == created


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("Bad Code", id="space"),
        pytest.param("1shop", id="digit-first"),
        pytest.param("eu-shop", id="hyphen"),
        pytest.param("", id="empty"),
        pytest.param("a" * 33, id="too-long"),
    ],
)
def test_website_create_refuses_a_malformed_code(settings: Settings, session: Session, code: str) -> None:
    result = run(settings, "website", "create", "--code", code, "--name", "Shop")
    assert result.exit_code == 1
    assert f'Website code "{code}" is invalid' in result.output
    assert "Traceback" not in result.output
    assert registry(session) == SEED_REGISTRY


@pytest.mark.parametrize("name", [pytest.param("", id="empty"), pytest.param("n" * 65, id="too-long")])
def test_website_create_refuses_a_bad_name(settings: Settings, session: Session, name: str) -> None:
    result = run(settings, "website", "create", "--code", "eu_shop", "--name", name)
    assert result.exit_code == 1
    assert "The website name must be 1 to 64 characters long." in result.output
    assert registry(session) == SEED_REGISTRY


# --------------------------------------------------------------------------------------------
# openmsi admin create
# --------------------------------------------------------------------------------------------


def test_admin_create_makes_a_user_that_can_log_in(
    settings: Settings, client: TestClient, session: Session
) -> None:
    result = run(settings, "admin", "create", "--username", "ops", "--password", "ops-password-1")
    assert result.exit_code == 0, result.output
    assert 'Admin user "ops" created.' in result.output
    assert "ops-password-1" not in result.output
    session.rollback()
    stored = session.scalar(select(AdminUser.password_hash).where(AdminUser.username == "ops"))
    assert stored is not None and "ops-password-1" not in stored

    response = client.post(
        "/rest/V1/integration/admin/token", json={"username": "ops", "password": "ops-password-1"}
    )
    assert response.status_code == 200, response.text
    token = response.json()
    assert isinstance(token, str) and token
    response = client.get("/rest/V1/store/websites", headers={"Authorization": f"Bearer {token}"})
    exact(response, 200, SEED_WEBSITES)


def test_admin_create_refuses_a_taken_username(settings: Settings, session: Session) -> None:
    assert (
        run(settings, "admin", "create", "--username", "ops", "--password", "ops-password-1").exit_code == 0
    )
    result = run(settings, "admin", "create", "--username", "ops", "--password", "other-password-2")
    assert result.exit_code == 1
    assert 'An admin user named "ops" already exists.' in result.output
    session.rollback()
    assert session.scalars(select(AdminUser.username).where(AdminUser.username == "ops")).all() == ["ops"]


def test_admin_create_refuses_a_short_password(settings: Settings, session: Session) -> None:
    result = run(settings, "admin", "create", "--username", "ops", "--password", "short")
    assert result.exit_code == 1
    assert "The password must be at least 7 characters long." in result.output
    session.rollback()
    assert session.scalar(select(AdminUser.user_id).where(AdminUser.username == "ops")) is None
