"""Helpers for the admin page tests: sign in with a fresh client, read a page's form key and
tables, set up Magento's tutorial (Steps 1 to 5)."""

from __future__ import annotations

import html as html_text
import re
from html.parser import HTMLParser

from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from factories import (
    create_tutorial_sources,
    create_tutorial_stocks,
    create_tutorial_websites,
    link_tutorial_sources,
    put_source_items,
    source_item,
)
from openmsi.db import Database

FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')
# Step 5 of the README's walkthrough.
TUTORIAL_ITEMS = [
    source_item("24-WB01", "baltimore_wh", 35), source_item("24-WB01", "austin_wh", 10),
    source_item("24-WB01", "reno_wh", 25), source_item("24-WB01", "berlin_wh", 20),
    source_item("24-WB01", "frankfurt_wh", 10), source_item("24-WB03", "baltimore_wh", 19),
    source_item("24-WB03", "hq", 25), source_item("24-WB03", "berlin_wh", 15),
    source_item("24-WB03", "frankfurt_wh", 30, 0),
]  # fmt: skip


def form_key(html: str) -> str:
    match = FORM_KEY.search(html)
    assert match is not None, "the page has no form key"
    return match.group(1)


def sign_in(
    app: FastAPI,
    username: str = ADMIN_USERNAME,
    password: str = ADMIN_PASSWORD,
    base_url: str = "http://testserver",
) -> TestClient:
    """A new client (its own cookie jar) signed in to the pages."""
    client = TestClient(app, base_url=base_url)
    page = client.get("/admin/login")
    response = client.post(
        "/admin/login",
        data={"username": username, "password": password, "form_key": form_key(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def set_up_tutorial(client: TestClient, headers: dict[str, str], database: Database) -> None:
    """The README walkthrough up to Step 5: websites, six sources, two stocks, links, items."""
    create_tutorial_websites(database)
    create_tutorial_sources(client, headers)
    create_tutorial_stocks(client, headers)
    link_tutorial_sources(client, headers)
    put_source_items(client, headers, TUTORIAL_ITEMS)


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(re.sub(r"[ \t]+", " ", "".join(self._cell)).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(re.sub(r"\s+", " ", data))


def table(html: str, table_id: str) -> list[list[str]]:
    """The body rows of the table with this id, each a list of its cells' text."""
    parser = _Tables()
    parser.feed(html)
    assert table_id in parser.tables, f"no table {table_id!r} on the page"
    return parser.tables[table_id]


def messages(html: str) -> list[str]:
    """The page's success and error messages."""
    block = re.search(r'<ul class="messages"[^>]*>(.*?)</ul>', html, flags=re.S)
    if block is None:
        return []
    items = re.findall(r"<li[^>]*>(.*?)</li>", block.group(1), flags=re.S)
    return [html_text.unescape(re.sub(r"<[^>]+>", "", item).strip()) for item in items]


def rest_order(client: TestClient, headers: dict[str, str], stock_id: int) -> list[str]:
    """GET get-sources-assigned-to-stock-ordered-by-priority: the source codes."""
    response = client.get(
        f"/rest/V1/inventory/get-sources-assigned-to-stock-ordered-by-priority/{stock_id}", headers=headers
    )
    assert response.status_code == 200, response.text
    return [source["source_code"] for source in response.json()]


def links_of(client: TestClient, headers: dict[str, str], stock_id: int) -> list[tuple[str, int]]:
    """GET stock-source-links of one stock: (source code, priority) by priority."""
    response = client.get(
        "/rest/V1/inventory/stock-source-links",
        params={
            "searchCriteria[filter_groups][0][filters][0][field]": "stock_id",
            "searchCriteria[filter_groups][0][filters][0][value]": str(stock_id),
            "searchCriteria[sort_orders][0][field]": "priority",
            "searchCriteria[sort_orders][0][direction]": "ASC",
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return [(link["source_code"], link["priority"]) for link in response.json()["items"]]
