"""The admin pages over HTTP (spec admin.md), on every engine: sign-in and lockout, the session
cookie and form keys, and each page and action, whose effects are read back through the REST
routes."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from admin_pages import form_key, links_of, messages, rest_order, set_up_tutorial, sign_in, table
from conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from factories import INVENTORY, create_stock, queued_reindex_jobs
from openmsi import auth, db
from openmsi.admin import router as admin_router
from openmsi.admin import sessions
from openmsi.app import create_app
from openmsi.indexer import service as indexer
from openmsi.models import AdminSession, Secret, utcnow
from openmsi.sales.reservations import ReservationRow, append_reservations
from openmsi.settings import Settings

SIGN_IN_FAILED = auth.SIGN_IN_FAILED
OTHER_USER, OTHER_PASSWORD = "operator", "operator-password-1"


@pytest.fixture
def pages(app: FastAPI, admin_token: str) -> TestClient:
    """A client signed in to the pages as the fixture's admin user."""
    return sign_in(app)


@pytest.fixture
def tutorial(client: TestClient, auth_headers: dict[str, str], database: db.Database) -> None:
    set_up_tutorial(client, auth_headers, database)


@pytest.fixture
def operator(database: db.Database, admin_token: str) -> str:
    """Another admin user, for tests that lock, deactivate or re-password it."""
    with database.write_sessions.begin() as session:
        auth.create_admin(session, OTHER_USER, OTHER_PASSWORD)
    return OTHER_USER


def _post(client: TestClient, path: str, data: dict[str, Any], page: str | None = None) -> Any:
    """POST a form with the form key of ``page`` (default: the path itself, as a browser would
    have loaded it), without following the redirect."""
    html = client.get(page or path).text
    return client.post(path, data={**data, "form_key": form_key(html)}, follow_redirects=False)


def _stock_form(client: TestClient, stock_id: int, **action: str) -> Any:
    """The stock page's Sources form, as shown, with one button pressed."""
    html = client.get(f"/admin/stocks/{stock_id}").text
    rows = table(html, "assigned-sources")
    codes = [row[2] for row in rows]
    priorities = [str(position) for position in range(1, len(codes) + 1)]
    data = {"form_key": form_key(html), "seen": codes, "priority": priorities, **action}
    return client.post(f"/admin/stocks/{stock_id}/sources", data=data, follow_redirects=False)


# Sign-in, sign-out, the session cookie


def test_admin_sends_a_stranger_to_sign_in_and_an_admin_to_the_stocks(
    app: FastAPI, pages: TestClient
) -> None:
    stranger = TestClient(app)
    response = stranger.get("/admin", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/admin/login")
    response = stranger.get("/admin/stocks/1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=%2Fadmin%2Fstocks%2F1"
    response = pages.get("/admin", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/admin/stocks")
    assert pages.get("/admin/login", follow_redirects=False).headers["location"] == "/admin/stocks"


def test_sign_in_goes_to_the_page_asked_for(app: FastAPI, admin_token: str) -> None:
    client = TestClient(app)
    login = client.get("/admin/login?next=/admin/index")
    data = {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "form_key": form_key(login.text)}
    response = client.post("/admin/login", data={**data, "next": "/admin/index"}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/admin/index")
    # Never elsewhere.
    for target in (
        "//evil.example/admin/",
        "https://evil.example/",
        "/admin/login",
        "/rest/V1/store/websites",
    ):
        client = TestClient(app)
        key = form_key(client.get("/admin/login").text)
        response = client.post(
            "/admin/login", data={**data, "form_key": key, "next": target}, follow_redirects=False
        )
        assert response.headers["location"] == "/admin/stocks", target


def test_the_session_cookie_is_signed_http_only_strict_and_secure_over_https(
    app: FastAPI, admin_token: str
) -> None:
    plain = sign_in(app)
    cookie = plain.cookies["openmsi_admin"]
    assert cookie.startswith("s:")
    secure = sign_in(app, base_url="https://testserver")
    for client, https in ((plain, False), (secure, True)):
        login = client.get("/admin/login?next=/admin/stocks")  # signed in: a redirect, no new cookie
        assert login.history[0].status_code == 303
        fresh = TestClient(app, base_url=str(client.base_url))
        key = form_key(fresh.get("/admin/login").text)
        response = fresh.post(
            "/admin/login",
            data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "form_key": key},
            follow_redirects=False,
        )
        header = response.headers["set-cookie"]
        assert header.startswith("openmsi_admin=s:")
        attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
        assert {"httponly", "path", "samesite", "max-age"} <= attributes
        assert "samesite=strict" in header.lower() and "path=/admin" in header.lower()
        assert ("secure" in attributes) is https
        # Four hours, as an admin token.
        assert "max-age=14400" in header.lower()
    # A cookie whose signature does not hold is no cookie at all.
    session_id, _, signature = cookie.rpartition(".")
    forged = TestClient(app)
    forged.cookies.set("openmsi_admin", f"{session_id}.{signature[::-1]}", path="/admin")
    assert forged.get("/admin/stocks", follow_redirects=False).status_code == 303


def test_a_wrong_password_is_refused_with_magentos_message(app: FastAPI, operator: str) -> None:
    client = TestClient(app)
    key = form_key(client.get("/admin/login").text)
    response = client.post("/admin/login", data={"username": operator, "password": "wrong", "form_key": key})
    assert response.status_code == 401
    assert messages(response.text) == [SIGN_IN_FAILED]
    assert f'value="{operator}"' in response.text  # the username stays typed in
    assert client.get("/admin/stocks", follow_redirects=False).status_code == 303
    response = client.post("/admin/login", data={"username": "", "password": "x", "form_key": key})
    assert response.status_code == 400
    assert messages(response.text) == ['"username" is required. Enter and try again.']


def test_pages_and_token_route_share_one_lockout(
    app: FastAPI, client: TestClient, operator: str, settings: Settings, session: Any
) -> None:
    pages = TestClient(app)
    key = form_key(pages.get("/admin/login").text)
    wrong = {"username": operator, "password": "wrong", "form_key": key}
    for _ in range(settings.login_max_failures - 1):
        assert pages.post("/admin/login", data=wrong).status_code == 401
    # The last failure comes through the token route: one count for both.
    token = client.post("/rest/V1/integration/admin/token", json={"username": operator, "password": "wrong"})
    assert token.status_code == 401
    right = {**wrong, "password": OTHER_PASSWORD}
    response = pages.post("/admin/login", data=right)
    assert response.status_code == 401
    assert messages(response.text) == [SIGN_IN_FAILED]
    assert session.scalar(select(func.count()).select_from(AdminSession)) == 0
    token = client.post(
        "/rest/V1/integration/admin/token", json={"username": operator, "password": OTHER_PASSWORD}
    )
    assert token.status_code == 401


def test_sign_in_without_a_valid_form_key_is_refused(app: FastAPI, admin_token: str, session: Any) -> None:
    client = TestClient(app)
    client.get("/admin/login")
    credentials = {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
    for data in (credentials, {**credentials, "form_key": "not-the-key"}):
        response = client.post("/admin/login", data=data)
        assert response.status_code == 403
        assert messages(response.text) == [admin_router.INVALID_FORM_KEY]
    # A form key is only good with the cookie it was given with.
    other = TestClient(app)
    other_key = form_key(other.get("/admin/login").text)
    assert client.post("/admin/login", data={**credentials, "form_key": other_key}).status_code == 403
    assert session.scalar(select(func.count()).select_from(AdminSession)) == 0


def test_sign_out_ends_the_session_everywhere(app: FastAPI, pages: TestClient) -> None:
    cookie = pages.cookies["openmsi_admin"]
    response = _post(pages, "/admin/logout", {}, page="/admin/stocks")
    assert (response.status_code, response.headers["location"]) == (303, "/admin/login")
    assert messages(pages.get("/admin/login").text) == [admin_router.LOGGED_OUT]
    # The old cookie, replayed by anyone, opens nothing any more.
    replay = TestClient(app)
    replay.cookies.set("openmsi_admin", cookie, path="/admin")
    assert replay.get("/admin/stocks", follow_redirects=False).status_code == 303


def test_sign_out_needs_the_form_key(app: FastAPI, pages: TestClient) -> None:
    response = pages.post("/admin/logout", data={}, follow_redirects=False)
    assert response.status_code == 403
    assert pages.get("/admin/stocks", follow_redirects=False).status_code == 200


def test_an_expired_session_is_refused(
    app: FastAPI, pages: TestClient, database: db.Database, auth_headers: dict[str, str]
) -> None:
    key = form_key(pages.get("/admin/stocks/1").text)
    with database.write_sessions.begin() as session:
        session.execute(update(AdminSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = pages.get("/admin/stocks", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/admin/login")
    response = pages.post(
        "/admin/stocks/1", data={"form_key": key, "name": "Renamed"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/admin/login")
    assert pages.get("/rest/V1/inventory/stocks/1", headers=auth_headers).json()["name"] == "Default Stock"
    login = pages.get("/admin/login")
    assert messages(login.text) == [admin_router.SESSION_EXPIRED]


def test_sessions_end_with_the_tokens_lifetime(app: FastAPI, pages: TestClient, session: Any) -> None:
    row = session.execute(select(AdminSession.created_at, AdminSession.expires_at)).one()
    assert row.expires_at - row.created_at == timedelta(hours=4)


def test_a_new_password_or_deactivation_ends_the_sessions(
    app: FastAPI, operator: str, database: db.Database
) -> None:
    for change in (
        lambda session: auth.change_admin_password(session, operator, "another-password-2"),
        lambda session: auth.set_admin_active(session, operator, False),
    ):
        with database.write_sessions.begin() as session:
            auth.set_admin_active(session, operator, True)
            auth.change_admin_password(session, operator, OTHER_PASSWORD)
        client = sign_in(app, operator, OTHER_PASSWORD)
        assert client.get("/admin/stocks", follow_redirects=False).status_code == 200
        with database.write_sessions.begin() as session:
            change(session)
        assert client.get("/admin/stocks", follow_redirects=False).status_code == 303


def test_bearer_tokens_do_not_open_the_pages_and_cookies_do_not_open_the_api(
    app: FastAPI, pages: TestClient, auth_headers: dict[str, str]
) -> None:
    stranger = TestClient(app)
    response = stranger.get("/admin/stocks", headers=auth_headers, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (
        303,
        "/admin/login?next=%2Fadmin%2Fstocks",
    )
    key = form_key(pages.get("/admin/stocks/1").text)
    response = stranger.post(
        "/admin/stocks/1",
        data={"form_key": key, "name": "Renamed"},
        headers=auth_headers,
        follow_redirects=False,
    )
    assert response.status_code == 303
    # The signed-in client's cookie, sent to the REST API: a guest's 401.
    cookie = pages.cookies["openmsi_admin"]
    for path in ("/rest/V1/inventory/stocks", "/rest/V1/inventory/stocks/1"):
        response = stranger.get(path, headers={"Cookie": f"openmsi_admin={cookie}"})
        assert response.status_code == 401
        assert response.json()["parameters"] == {"resources": "Magento_InventoryApi::stock"}
    # Nor does the session id, or the cookie, as a bearer token.
    session_id = cookie.split(".")[0].removeprefix("s:")
    for token in (session_id, cookie):
        response = stranger.get("/rest/V1/inventory/stocks/1", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


def test_every_process_signs_with_the_key_stored_in_the_database(
    settings: Settings, database: db.Database, pages: TestClient, session: Any
) -> None:
    stored = session.scalars(select(Secret.name)).all()
    assert stored == [sessions.SECRET_NAME]
    other_process = TestClient(create_app(settings, database))
    other_process.cookies.set("openmsi_admin", pages.cookies["openmsi_admin"], path="/admin")
    assert other_process.get("/admin/stocks", follow_redirects=False).status_code == 200
    # OPENMSI_SECRET_KEY set: that key, not the stored one.
    own_key = Settings(
        database_url=settings.database_url, secret_key="k" * 40, embedded_worker=False, _env_file=None
    )  # type: ignore[call-arg]
    keyed_app = create_app(own_key, database)
    keyed = TestClient(keyed_app)
    keyed.cookies.set("openmsi_admin", pages.cookies["openmsi_admin"], path="/admin")
    assert keyed.get("/admin/stocks", follow_redirects=False).status_code == 303
    # Its own cookies work with it, and only with it.
    signed_in = sign_in(keyed_app)
    assert signed_in.get("/admin/stocks", follow_redirects=False).status_code == 200
    other_process.cookies.set("openmsi_admin", signed_in.cookies["openmsi_admin"], path="/admin")
    assert other_process.get("/admin/stocks", follow_redirects=False).status_code == 303


# Form keys and the ACL on every action


def _actions(stock_id: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"/admin/stocks/{stock_id}", {"name": "Renamed"}),
        (f"/admin/stocks/{stock_id}/sources", {"seen": ["baltimore_wh", "austin_wh", "reno_wh", "hq"],
                                               "priority": ["1", "2", "3", "4"], "down": "baltimore_wh"}),
        (f"/admin/stocks/{stock_id}/sources/assign", {"seen": ["baltimore_wh", "austin_wh", "reno_wh", "hq"],
                                                      "source_code": "berlin_wh"}),
        ("/admin/sources/new", {"source_code": "new_wh", "name": "New", "country_id": "US", "postcode": "1"}),
        ("/admin/sources/edit?source_code=hq", {"name": "Renamed HQ", "country_id": "US", "postcode": "1"}),
        ("/admin/sources/disable", {"source_code": "hq"}),
        ("/admin/index/reindex", {"stock_id": str(stock_id)}),
    ]  # fmt: skip


def _state(client: TestClient, headers: dict[str, str], session: Any) -> tuple[Any, ...]:
    sources = client.get(f"{INVENTORY}/sources", headers=headers).json()["items"]
    stocks = client.get(f"{INVENTORY}/stocks", headers=headers).json()["items"]
    return sources, stocks, links_of(client, headers, 2), queued_reindex_jobs(session)


def test_every_action_refuses_a_missing_or_wrong_form_key(
    pages: TestClient, tutorial: None, client: TestClient, auth_headers: dict[str, str], session: Any
) -> None:
    before = _state(client, auth_headers, session)
    for path, data in _actions(2):
        for key in (None, "wrong", form_key(TestClient(pages.app).get("/admin/login").text)):
            body = data if key is None else {**data, "form_key": key}
            response = pages.post(path, data=body, follow_redirects=False)
            assert response.status_code == 403, (path, key)
            assert "Invalid Form Key. Please refresh the page." in response.text
    assert _state(client, auth_headers, session) == before


@pytest.mark.parametrize(
    ("index", "resource"),
    [
        (0, "Magento_InventoryApi::stock_edit"),
        (1, "Magento_InventoryApi::stock_source_link"),
        (2, "Magento_InventoryApi::stock_source_link"),
        (3, "Magento_InventoryApi::source_edit"),
        (4, "Magento_InventoryApi::source_edit"),
        (5, "Magento_InventoryApi::source_edit"),
        (6, "Magento_Indexer::invalidate"),
    ],
    ids=["save stock", "move source", "assign source", "create source", "save source", "disable", "reindex"],
)
def test_each_action_checks_the_acl_resource_of_its_rest_route(
    pages: TestClient,
    tutorial: None,
    client: TestClient,
    auth_headers: dict[str, str],
    session: Any,
    monkeypatch: pytest.MonkeyPatch,
    index: int,
    resource: str,
) -> None:
    path, data = _actions(2)[index]
    key = form_key(pages.get("/admin/stocks/2").text)
    before = _state(client, auth_headers, session)
    monkeypatch.setattr(auth.Principal, "allows", lambda _self, wanted: wanted != resource)
    response = pages.post(path, data={**data, "form_key": key}, follow_redirects=False)
    assert response.status_code == 403
    assert admin_router.ACCESS_DENIED in response.text
    # Allowed again: nothing was done, and the same request now goes through.
    monkeypatch.setattr(auth.Principal, "allows", lambda _self, wanted: True)
    assert _state(client, auth_headers, session) == before
    assert pages.post(path, data={**data, "form_key": key}, follow_redirects=False).status_code == 303
    assert _state(client, auth_headers, session) != before


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/admin/stocks", "Magento_InventoryApi::stock"),
        ("/admin/stocks/2", "Magento_InventoryApi::stock_source_link"),
        ("/admin/sources", "Magento_InventoryApi::source"),
        ("/admin/products?sku=24-WB01", "Magento_InventorySalesApi::stock"),
        ("/admin/index", "Magento_InventoryApi::stock"),
    ],
)
def test_each_page_checks_the_acl_resource_of_its_rest_routes(
    pages: TestClient, tutorial: None, monkeypatch: pytest.MonkeyPatch, path: str, resource: str
) -> None:
    monkeypatch.setattr(auth.Principal, "allows", lambda _self, wanted: wanted != resource)
    response = pages.get(path)
    assert response.status_code == 403
    assert admin_router.ACCESS_DENIED in response.text


# The Stocks grid and the stock page


def test_stocks_grid_shows_the_tutorials_stocks_with_sources_in_priority_order(
    pages: TestClient, tutorial: None
) -> None:
    response = pages.get("/admin/stocks")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert table(response.text, "stocks") == [
        ["1", "Default Stock", "Websites: Main Website", "Default Source", "Edit Default Stock"],
        ["2", "North America Stock", "Websites: North America Website",
         "Baltimore Warehouse, Austin Warehouse, Reno Warehouse, Headquarters", "Edit North America Stock"],
        ["3", "Europe Stock", "Websites: Europe Website",
         "Berlin Warehouse, Frankfurt Warehouse, Headquarters", "Edit Europe Stock"],
    ]  # fmt: skip


def test_stocks_grid_filters_by_name_and_pages(
    pages: TestClient, client: TestClient, auth_headers: dict[str, str]
) -> None:
    for number in range(1, 23):
        create_stock(client, auth_headers, f"Stock {number:02d}")
    create_stock(client, auth_headers, "100%_real")
    first = table(pages.get("/admin/stocks").text, "stocks")
    assert [row[0] for row in first] == [str(stock_id) for stock_id in range(1, 21)]
    second = pages.get("/admin/stocks?page=2&page_size=20")
    assert [row[1] for row in table(second.text, "stocks")] == [
        "Stock 20",
        "Stock 21",
        "Stock 22",
        "100%_real",
    ]
    assert "24 records found" in second.text and "Page 2 of 2" in second.text
    assert [row[1] for row in table(pages.get("/admin/stocks?name=stock+0").text, "stocks")] == [
        f"Stock 0{number}" for number in range(1, 10)
    ]
    # The filter's % and _ are the characters themselves.
    assert [row[1] for row in table(pages.get("/admin/stocks?name=%25_").text, "stocks")] == ["100%_real"]
    assert table(pages.get("/admin/stocks?name=nothing+like+it").text, "stocks") == [
        ["We couldn't find any records."]
    ]
    # A page past the end is the last page, as Magento's grids.
    assert "Page 2 of 2" in pages.get("/admin/stocks?page=9").text


def test_stock_page_shows_sources_with_priorities_and_index(pages: TestClient, tutorial: None) -> None:
    html = pages.get("/admin/stocks/2").text
    assert [row[:4] for row in table(html, "assigned-sources")] == [
        ["Priority of Baltimore Warehouse", "Baltimore Warehouse", "baltimore_wh", "Enabled"],
        ["Priority of Austin Warehouse", "Austin Warehouse", "austin_wh", "Enabled"],
        ["Priority of Reno Warehouse", "Reno Warehouse", "reno_wh", "Enabled"],
        ["Priority of Headquarters", "Headquarters", "hq", "Enabled"],
    ]
    assert [int(value) for value in re.findall(r'name="priority" value="(\d+)"', html)] == [1, 2, 3, 4]
    assert 'value="na_site" checked' in html and 'value="eu_site">' in html
    assert "<dt>Index rows</dt><dd>2</dd>" in html
    # Only sources not yet assigned are offered.
    offered = re.findall(r'<option value="([^"]+)">', html)
    assert offered == ["berlin_wh", "default", "frankfurt_wh"]


def test_moving_a_source_reorders_the_rest_answer(
    pages: TestClient, tutorial: None, client: TestClient, auth_headers: dict[str, str]
) -> None:
    response = _stock_form(pages, 2, up="austin_wh")
    assert (response.status_code, response.headers["location"]) == (303, "/admin/stocks/2")
    assert messages(pages.get("/admin/stocks/2").text) == ['Source "austin_wh" moved up.']
    assert rest_order(client, auth_headers, 2) == ["austin_wh", "baltimore_wh", "reno_wh", "hq"]
    assert links_of(client, auth_headers, 2) == [
        ("austin_wh", 1),
        ("baltimore_wh", 2),
        ("reno_wh", 3),
        ("hq", 4),
    ]
    _stock_form(pages, 2, down="reno_wh")
    assert rest_order(client, auth_headers, 2) == ["austin_wh", "baltimore_wh", "hq", "reno_wh"]
    # The first cannot go further up: nothing changes.
    assert _stock_form(pages, 2, up="austin_wh").status_code == 303
    assert rest_order(client, auth_headers, 2) == ["austin_wh", "baltimore_wh", "hq", "reno_wh"]


def test_a_page_that_no_longer_shows_the_stocks_sources_changes_nothing(
    pages: TestClient, tutorial: None, client: TestClient, auth_headers: dict[str, str]
) -> None:
    html = pages.get("/admin/stocks/2").text
    # Meanwhile a REST client swaps the first two.
    swapped = {"links": [{"stock_id": 2, "source_code": "baltimore_wh", "priority": 2},
                         {"stock_id": 2, "source_code": "austin_wh", "priority": 1}]}  # fmt: skip
    assert (
        client.post(f"{INVENTORY}/stock-source-links", json=swapped, headers=auth_headers).status_code == 200
    )
    data = {
        "form_key": form_key(html), "seen": ["baltimore_wh", "austin_wh", "reno_wh", "hq"],
        "priority": ["1", "2", "3", "4"], "down": "reno_wh",
    }  # fmt: skip
    response = pages.post("/admin/stocks/2/sources", data=data)
    assert response.status_code == 409
    assert messages(response.text) == [
        "The sources of this stock have changed since the page was loaded. Check them and try again."
    ]
    assert rest_order(client, auth_headers, 2) == ["austin_wh", "baltimore_wh", "reno_wh", "hq"]
    # The page shown with the error is the current one.
    assert [row[2] for row in table(response.text, "assigned-sources")] == [
        "austin_wh",
        "baltimore_wh",
        "reno_wh",
        "hq",
    ]


def test_priorities_are_saved_as_typed_with_magentos_validation(
    pages: TestClient, tutorial: None, client: TestClient, auth_headers: dict[str, str]
) -> None:
    html = pages.get("/admin/stocks/3").text
    seen = ["berlin_wh", "frankfurt_wh", "hq"]
    data = {"form_key": form_key(html), "seen": seen, "priority": ["5", "0", "7"], "save": "1"}
    response = pages.post("/admin/stocks/3/sources", data=data)
    assert response.status_code == 400
    assert messages(response.text) == ['"priority" should be greater then 0.']
    response = pages.post("/admin/stocks/3/sources", data={**data, "priority": ["5", "abc", "7"]})
    assert response.status_code == 400
    assert messages(response.text) == [
        'Error occurred during "priority" processing. The "abc" value\'s type is invalid. '
        'The "int" type was expected. Verify and try again.'
    ]
    assert links_of(client, auth_headers, 3) == [("berlin_wh", 1), ("frankfurt_wh", 2), ("hq", 3)]
    response = pages.post(
        "/admin/stocks/3/sources", data={**data, "priority": ["9", "2", "5"]}, follow_redirects=False
    )
    assert response.status_code == 303
    assert links_of(client, auth_headers, 3) == [("frankfurt_wh", 2), ("hq", 5), ("berlin_wh", 9)]


def test_assign_and_unassign_go_through_the_link_services(
    pages: TestClient, tutorial: None, client: TestClient, auth_headers: dict[str, str], session: Any
) -> None:
    html = pages.get("/admin/stocks/3").text
    seen = ["berlin_wh", "frankfurt_wh", "hq"]
    response = pages.post(
        "/admin/stocks/3/sources/assign",
        data={"form_key": form_key(html), "seen": seen, "source_code": "reno_wh"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert links_of(client, auth_headers, 3)[-1] == ("reno_wh", 4)
    # The index followed in the same transaction: Reno's 25 of 24-WB01 count for Europe now.
    salable = client.get(f"{INVENTORY}/get-product-salable-quantity/24-WB01/3", headers=auth_headers)
    assert salable.json() == 55
    response = _stock_form(pages, 3, unassign="hq")
    assert response.status_code == 303
    assert rest_order(client, auth_headers, 3) == ["berlin_wh", "frankfurt_wh", "reno_wh"]
    salable = client.get(f"{INVENTORY}/get-product-salable-quantity/24-WB03/3", headers=auth_headers)
    assert salable.json() == 15
    # Magento's own refusals, shown on the page.
    response = _stock_form(pages, 1, unassign="default")
    assert response.status_code == 400
    assert messages(response.text) == ["Can not delete link related to Default Source or Default Stock"]
    html = pages.get("/admin/stocks/3").text
    response = pages.post(
        "/admin/stocks/3/sources/assign",
        data={
            "form_key": form_key(html),
            "seen": ["berlin_wh", "frankfurt_wh", "reno_wh"],
            "source_code": "default",
        },
    )
    assert response.status_code == 400
    assert messages(response.text) == ["Can not save link related to Default Source or Default Stock"]
    assert rest_order(client, auth_headers, 3) == ["berlin_wh", "frankfurt_wh", "reno_wh"]
    assert queued_reindex_jobs(session) == []


def test_saving_the_stock_renames_it_and_moves_websites(
    pages: TestClient, tutorial: None, client: TestClient, auth_headers: dict[str, str]
) -> None:
    response = _post(pages, "/admin/stocks/2", {"name": "Americas", "websites": ["na_site", "eu_site"]})
    assert (response.status_code, response.headers["location"]) == (303, "/admin/stocks/2")
    assert messages(pages.get("/admin/stocks/2").text) == ["The Stock has been saved."]
    stock = client.get(f"{INVENTORY}/stocks/2", headers=auth_headers).json()
    assert stock["name"] == "Americas"
    assert stock["extension_attributes"]["sales_channels"] == [
        {"type": "website", "code": "eu_site"},
        {"type": "website", "code": "na_site"},
    ]
    europe = client.get(f"{INVENTORY}/stocks/3", headers=auth_headers).json()
    assert europe["extension_attributes"]["sales_channels"] == []
    # An empty name: Magento's validation message, the page keeps what was typed.
    response = _post(pages, "/admin/stocks/2", {"name": " ", "websites": ["eu_site"]})
    assert response.status_code == 400
    assert messages(response.text) == ['"name" can not be empty.']
    assert 'value="eu_site" checked' in response.text and 'value="na_site">' in response.text
    assert client.get(f"{INVENTORY}/stocks/2", headers=auth_headers).json()["name"] == "Americas"


def test_an_unknown_stock_is_magentos_404(pages: TestClient) -> None:
    response = pages.get("/admin/stocks/99")
    assert response.status_code == 404
    assert messages(response.text) == ['Stock with id "99" does not exist.']


# Sources


def test_sources_grid_and_search(pages: TestClient, tutorial: None) -> None:
    rows = table(pages.get("/admin/sources").text, "sources")
    assert [row[:5] for row in rows][:3] == [
        ["austin_wh", "Austin Warehouse", "Enabled", "US", "78758"],
        ["baltimore_wh", "Baltimore Warehouse", "Enabled", "US", "21214"],
        ["berlin_wh", "Berlin Warehouse", "Enabled", "DE", "10178"],
    ]
    assert len(rows) == 7
    found = table(pages.get("/admin/sources?search=warehouse").text, "sources")
    assert [row[0] for row in found] == ["austin_wh", "baltimore_wh", "berlin_wh", "frankfurt_wh", "reno_wh"]
    assert [row[0] for row in table(pages.get("/admin/sources?search=HQ").text, "sources")] == ["hq"]


def test_creating_a_source_shows_magentos_validation_messages(
    pages: TestClient, client: TestClient, auth_headers: dict[str, str]
) -> None:
    form = {
        "source_code": "new wh",
        "name": "New Warehouse",
        "country_id": "US",
        "postcode": " ",
        "city": "Reno",
    }
    response = _post(pages, "/admin/sources/new", form)
    assert response.status_code == 400
    assert messages(response.text) == [
        '"source_code" can not contain whitespaces.',
        '"postcode" can not be empty.',
    ]
    assert 'value="New Warehouse"' in response.text and 'value="Reno"' in response.text
    assert client.get(f"{INVENTORY}/sources/new wh", headers=auth_headers).status_code == 404
    response = _post(pages, "/admin/sources/new", {**form, "latitude": "north"})
    assert messages(response.text) == [
        'Error occurred during "latitude" processing. The "north" value\'s type is invalid. '
        'The "float" type was expected. Verify and try again.'
    ]


def test_creating_and_editing_a_source(
    pages: TestClient, client: TestClient, auth_headers: dict[str, str]
) -> None:
    form = {"source_code": "new_wh", "name": "New Warehouse", "enabled": "1", "country_id": "US",
            "postcode": "89502", "city": "Reno", "latitude": "39.5", "email": ""}  # fmt: skip
    response = _post(pages, "/admin/sources/new", form)
    assert (response.status_code, response.headers["location"]) == (
        303,
        "/admin/sources/edit?source_code=new_wh",
    )
    assert messages(pages.get("/admin/sources/edit?source_code=new_wh").text) == [
        "The Source has been saved."
    ]
    source = client.get(f"{INVENTORY}/sources/new_wh", headers=auth_headers).json()
    assert (source["name"], source["enabled"], source["city"], source["latitude"]) == (
        "New Warehouse",
        True,
        "Reno",
        39.5,
    )
    assert "email" not in source
    # The same code again: never a silent replacement.
    response = _post(pages, "/admin/sources/new", {**form, "name": "Other"})
    assert response.status_code == 400
    assert messages(response.text) == ['A source with code "new_wh" already exists.']
    # Edit: the form's fields over the stored source; an emptied optional field is cleared.
    edit = "/admin/sources/edit?source_code=new_wh"
    html = pages.get(edit).text
    assert 'value="New Warehouse"' in html and 'value="39.5"' in html
    response = _post(
        pages, edit, {**form, "source_code": "ignored", "name": "Renamed", "city": "", "enabled": "1"}
    )
    assert response.status_code == 303
    source = client.get(f"{INVENTORY}/sources/new_wh", headers=auth_headers).json()
    assert (source["name"], source.get("city")) == ("Renamed", None)
    assert client.get(f"{INVENTORY}/sources/ignored", headers=auth_headers).status_code == 404
    # Another source's name: Magento's generic message.
    response = _post(pages, edit, {**form, "name": "Default Source"})
    assert messages(response.text) == ["Could not save Source"]
    assert pages.get("/admin/sources/edit?source_code=nothing").status_code == 404


def test_disabling_a_source_takes_its_items_out_of_every_stock(
    pages: TestClient, tutorial: None, client: TestClient, auth_headers: dict[str, str]
) -> None:
    response = _post(pages, "/admin/sources/disable", {"source_code": "baltimore_wh"}, page="/admin/sources")
    assert (response.status_code, response.headers["location"]) == (303, "/admin/sources")
    assert client.get(f"{INVENTORY}/sources/baltimore_wh", headers=auth_headers).json()["enabled"] is False
    qty = client.get(f"{INVENTORY}/get-product-salable-quantity/24-WB01/2", headers=auth_headers)
    assert qty.json() == 35
    rows = {row[0]: row for row in table(pages.get("/admin/sources").text, "sources")}
    assert rows["baltimore_wh"][2] == "Disabled"
    _post(pages, "/admin/sources/enable", {"source_code": "baltimore_wh"}, page="/admin/sources")
    qty = client.get(f"{INVENTORY}/get-product-salable-quantity/24-WB01/2", headers=auth_headers)
    assert qty.json() == 70
    response = _post(pages, "/admin/sources/disable", {"source_code": "default"}, page="/admin/sources")
    assert response.status_code == 400
    assert messages(response.text) == ["Default source can not be disabled."]


# One SKU, the index


def test_product_page_shows_sources_and_salability_per_stock(
    pages: TestClient, tutorial: None, database: db.Database, settings: Settings
) -> None:
    from openmsi.sales.configuration import StockItemConfiguration

    with database.write_sessions.begin() as session:
        config = StockItemConfiguration.from_settings(settings)
        append_reservations(session, config, [ReservationRow(2, "24-WB03", Decimal(-4))])
    html = pages.get("/admin/products?sku=24-wb03").text
    assert table(html, "source-items") == [
        ["Baltimore Warehouse", "baltimore_wh", "Enabled", "19", "In Stock"],
        ["Berlin Warehouse", "berlin_wh", "Enabled", "15", "In Stock"],
        ["Frankfurt Warehouse", "frankfurt_wh", "Enabled", "30", "Out of Stock"],
        ["Headquarters", "hq", "Enabled", "25", "In Stock"],
    ]
    assert table(html, "stock-salability") == [
        ["1", "Default Stock", "—", "0", "0", "No"],
        ["2", "North America Stock", "44", "-4", "40", "Yes"],
        ["3", "Europe Stock", "40", "0", "40", "Yes"],
    ]
    unknown = pages.get("/admin/products?sku=nothing").text
    assert table(unknown, "source-items") == [["No source holds this SKU."]]
    assert table(unknown, "stock-salability")[0] == [
        "1",
        "Default Stock",
        "—",
        "0",
        "Following products with requested skus were not found: nothing",
        "No",
    ]
    assert "source-items" not in pages.get("/admin/products").text


def test_index_page_and_reindex(
    pages: TestClient, tutorial: None, session: Any, database: db.Database, settings: Settings
) -> None:
    html = pages.get("/admin/index").text
    assert table(html, "index-status") == [
        ["1", "Default Stock", "0", "0", "—", "0", "Reindex stock 1"],
        ["2", "North America Stock", "2", "0", "—", "0", "Reindex stock 2"],
        ["3", "Europe Stock", "2", "0", "—", "0", "Reindex stock 3"],
    ]
    response = _post(pages, "/admin/index/reindex", {"stock_id": "3"}, page="/admin/index")
    assert (response.status_code, response.headers["location"]) == (303, "/admin/index")
    assert queued_reindex_jobs(session) == ["reindex:stock:3"]
    html = pages.get("/admin/index").text
    assert messages(html) == ["A rebuild of stock 3 has been queued."]
    assert table(html, "index-status")[2][3] == "1"
    # Each stock page shows its own stock's jobs and rows.
    assert "<dt>Pending rebuild jobs</dt><dd>1</dd>" in pages.get("/admin/stocks/3").text
    stock_2 = pages.get("/admin/stocks/2").text
    assert "<dt>Pending rebuild jobs</dt><dd>0</dd>" in stock_2 and "<dt>Index rows</dt><dd>2</dd>" in stock_2
    # From the stock page too, back to it; the job already waiting absorbs it.
    response = _post(
        pages, "/admin/index/reindex", {"stock_id": "3", "back": "stock"}, page="/admin/stocks/3"
    )
    assert response.headers["location"] == "/admin/stocks/3"
    assert queued_reindex_jobs(session) == ["reindex:stock:3"]
    assert indexer.make_worker(database, settings).run_until_idle() == 1
    assert table(pages.get("/admin/index").text, "index-status")[2][3] == "0"
    response = _post(pages, "/admin/index/reindex", {"stock_id": "-1"}, page="/admin/index")
    assert response.status_code == 404
    assert messages(response.text) == ['Stock with id "-1" does not exist.']


# The rest of /admin


def test_unknown_paths_and_the_stylesheet(app: FastAPI, pages: TestClient) -> None:
    response = pages.get("/admin/nothing/here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    css = TestClient(app).get("/admin/static/admin.css")
    assert css.status_code == 200 and css.headers["content-type"] == "text/css; charset=utf-8"
    assert TestClient(app).get("/admin/static/secrets.txt").status_code == 404


def test_pages_forbid_framing_and_foreign_resources(pages: TestClient) -> None:
    response = pages.get("/admin/stocks")
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    # Every asset the pages load is this server's: they work with no internet.
    assert "http://" not in response.text and "https://" not in response.text


def test_a_form_with_a_nul_character_is_refused(
    pages: TestClient, client: TestClient, auth_headers: dict[str, str]
) -> None:
    response = _post(pages, "/admin/stocks/1", {"name": "Default\x00Stock"})
    assert response.status_code == 400
    assert messages(response.text) == [
        "The request contains a NUL character (\\u0000), which openmsi does not accept."
    ]
    assert client.get(f"{INVENTORY}/stocks/1", headers=auth_headers).json()["name"] == "Default Stock"
