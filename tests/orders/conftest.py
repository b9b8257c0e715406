"""The setting of the order tests: Magento's REST tutorial (websites na_site and eu_site, the six
sources, North America Stock 2 and Europe Stock 3, their links) with the README's source
items."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from factories import (
    create_tutorial_sources,
    create_tutorial_stocks,
    create_tutorial_websites,
    link_tutorial_sources,
    put_source_items,
    source_item,
)
from openmsi.db import Database

# The README walkthrough's Step 5: stock 2 holds 70 of 24-WB01 and 44 of 24-WB03, stock 3 30
# and 40 (Frankfurt's 24-WB03 is out of stock).
TUTORIAL_ITEMS = [
    source_item("24-WB01", "baltimore_wh", 35, 1),
    source_item("24-WB01", "austin_wh", 10, 1),
    source_item("24-WB01", "reno_wh", 25, 1),
    source_item("24-WB01", "berlin_wh", 20, 1),
    source_item("24-WB01", "frankfurt_wh", 10, 1),
    source_item("24-WB03", "baltimore_wh", 19, 1),
    source_item("24-WB03", "hq", 25, 1),
    source_item("24-WB03", "berlin_wh", 15, 1),
    source_item("24-WB03", "frankfurt_wh", 30, 0),
]


@pytest.fixture
def tutorial(client: TestClient, auth_headers: dict[str, str], database: Database) -> Any:
    create_tutorial_websites(database)
    create_tutorial_sources(client, auth_headers)
    assert create_tutorial_stocks(client, auth_headers) == [2, 3]
    link_tutorial_sources(client, auth_headers)
    put_source_items(client, auth_headers, TUTORIAL_ITEMS)
