"""The admin pages in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by Selenium; no browser is ever downloaded), against a real uvicorn on SQLite.

The scenario is the README's: after the walkthrough, an operator signs in, sees the Stocks grid
with each stock's sources in priority order (the seed's "Verify this step"), reorders two
sources and sees the REST API follow, meets Magento's message for a source without a postcode,
looks a SKU up and queues a reindex; a forged form key and an expired session are refused.

Screenshots of the main pages go to ``OPENMSI_SCREENSHOT_DIR`` when it is set (the README's
come from ``OPENMSI_SCREENSHOT_DIR=docs``), else to a temporary folder.

Without Chromium these tests skip, saying so, except under OPENMSI_TEST_REQUIRE_ENGINES=1 (CI,
whose ``.ci/run`` installs it), where a missing browser fails them.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from admin_pages import TUTORIAL_ITEMS
from conftest import ADMIN_PASSWORD, ADMIN_USERNAME, REQUIRE_ENGINES
from factories import (
    INVENTORY,
    create_tutorial_sources,
    create_tutorial_stocks,
    link_tutorial_sources,
    put_source_items,
)
from openmsi import db
from openmsi.models import AdminSession, utcnow

selenium = pytest.importorskip("selenium", reason="selenium is in the test extra: pip install -e '.[test]'")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

# The README walkthrough's websites (`openmsi website create`).
README_WEBSITES = (("na_site", "North America Site"), ("eu_site", "Europe Site"))
DESKTOP = (1280, 900)
CHROMIUM_ARGUMENTS = (
    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--hide-scrollbars",
)  # fmt: skip
PHONE = (390, 844)


def _chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        message = "Chromium is not installed (apt-get install chromium chromium-driver; .ci/run does it)"
        if REQUIRE_ENGINES:
            pytest.fail(message + " and OPENMSI_TEST_REQUIRE_ENGINES=1", pytrace=False)
        pytest.skip(message)
    return browser, driver


@pytest.fixture(scope="session")
def browser() -> Iterator[WebDriver]:
    binary, driver_path = _chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in CHROMIUM_ARGUMENTS:
        options.add_argument(argument)
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    with pytest.MonkeyPatch.context() as patch:
        # Never let Selenium Manager look for (or download) a browser or a driver.
        patch.setenv("SE_OFFLINE", "true")
        driver = webdriver.Chrome(service=webdriver.ChromeService(driver_path), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def server(engine_name: str, request: pytest.FixtureRequest) -> str:
    if engine_name != "sqlite":
        # The pages' queries are the REST routes', which run on every engine.
        pytest.skip("the browser tests run on SQLite")
    base: str = request.getfixturevalue("live_server")
    return base


@pytest.fixture
def walkthrough(client: TestClient, auth_headers: dict[str, str], database: db.Database) -> None:
    """The README walkthrough's state: Steps 1 to 5, hq taken out of Europe, 5 of 24-WB01 moved
    from Berlin to Baltimore."""
    from openmsi.store.service import create_website

    with database.write_sessions.begin() as session:
        for code, name in README_WEBSITES:
            create_website(session, code, name)
    create_tutorial_sources(client, auth_headers)
    create_tutorial_stocks(client, auth_headers)
    link_tutorial_sources(client, auth_headers)
    put_source_items(client, auth_headers, TUTORIAL_ITEMS)
    unlink = {"links": [{"stock_id": 3, "source_code": "hq"}]}
    response = client.post(f"{INVENTORY}/stock-source-links-delete", json=unlink, headers=auth_headers)
    assert response.status_code == 200, response.text
    transfer = {
        "originSourceCode": "berlin_wh",
        "destinationSourceCode": "baltimore_wh",
        "items": [{"sku": "24-WB01", "qty": 5}],
    }
    response = client.post(f"{INVENTORY}/bulk-partial-source-transfer", json=transfer, headers=auth_headers)
    assert response.status_code == 200, response.text


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("OPENMSI_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: WebDriver, server: str) -> Iterator[WebDriver]:
    """The browser, with no cookie of an earlier test, at desktop size."""
    browser.get(server + "/admin/static/admin.css")
    browser.delete_all_cookies()
    browser.set_window_size(*DESKTOP)
    yield browser


def _sign_in(browser: WebDriver, server: str) -> None:
    """Only the keyboard: the user name field has the focus, Tab, Enter."""
    browser.get(server + "/admin")
    assert browser.current_url == server + "/admin/login"
    # autofocus: the user name field has the focus once the page is shown.
    WebDriverWait(browser, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda driver: driver.switch_to.active_element.get_attribute("id") == "username"
    )
    browser.switch_to.active_element.send_keys(ADMIN_USERNAME, Keys.TAB)
    password = browser.switch_to.active_element
    assert password.get_attribute("id") == "password"
    _loads(browser, lambda: password.send_keys(ADMIN_PASSWORD, Keys.ENTER))
    assert browser.current_url == server + "/admin/stocks"


def _loads(browser: WebDriver, action: Callable[[], Any]) -> None:
    """Do what loads a new page (a click, Enter in a form) and wait until the new page is there:
    a mark left on this page's window is gone and the new document is complete."""
    browser.execute_script("window.openmsiOldPage = true")
    action()
    WebDriverWait(browser, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda driver: driver.execute_script(
            "return window.openmsiOldPage === undefined && document.readyState === 'complete'"
        )
    )


def _click(browser: WebDriver, by: str, selector: str) -> None:
    _loads(browser, browser.find_element(by, selector).click)


def _cells(row: WebElement) -> list[str]:
    return [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]


def _rows(browser: WebDriver, table_id: str) -> list[list[str]]:
    return [_cells(row) for row in browser.find_elements(By.CSS_SELECTOR, f"table#{table_id} tbody tr")]


def _messages(browser: WebDriver) -> list[str]:
    return [item.text for item in browser.find_elements(By.CSS_SELECTOR, "ul.messages li")]


def _rest(server: str, path: str, token: str) -> Any:
    response = httpx.get(f"{server}/rest/V1{path}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def _screenshot(browser: WebDriver, path: Path) -> None:
    """The whole page, not only what the window shows (Chromium's DevTools protocol)."""
    assert isinstance(browser, webdriver.Chrome)
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def _fits_the_window(browser: WebDriver) -> bool:
    """Nothing sticks out sideways: wide tables scroll inside their own box."""
    width: int = browser.execute_script("return document.documentElement.scrollWidth")
    inner: int = browser.execute_script("return window.innerWidth")
    return width <= inner


def test_sign_in_and_see_each_stock_with_its_sources_in_priority_order(
    page: WebDriver, server: str, walkthrough: None, shots: Path
) -> None:
    _sign_in(page, server)
    assert page.find_element(By.TAG_NAME, "h1").text == "Stocks"
    assert page.find_element(By.CSS_SELECTOR, ".crumbs").text == "Stores > Inventory"
    assert [header.text for header in page.find_elements(By.CSS_SELECTOR, "table#stocks th")] == [
        "ID", "Name", "Sales Channels", "Assigned Sources", "Action",
    ]  # fmt: skip
    assert [row[:4] for row in _rows(page, "stocks")] == [
        ["1", "Default Stock", "Websites: Main Website", "Default Source"],
        ["2", "North America Stock", "Websites: North America Site",
         "Baltimore Warehouse, Austin Warehouse, Reno Warehouse, Headquarters"],
        ["3", "Europe Stock", "Websites: Europe Site", "Berlin Warehouse, Frankfurt Warehouse"],
    ]  # fmt: skip
    assert _fits_the_window(page)
    _screenshot(page, shots / "admin-stocks.png")
    page.set_window_size(*PHONE)
    page.refresh()
    assert _fits_the_window(page)
    assert page.find_element(By.CSS_SELECTOR, "table#stocks").is_displayed()
    _screenshot(page, shots / "admin-stocks-phone.png")


def test_reorder_two_sources_and_the_rest_api_follows(
    page: WebDriver, server: str, walkthrough: None, admin_token: str, shots: Path
) -> None:
    _sign_in(page, server)
    _click(page, By.XPATH, "//a[normalize-space()='Edit North America Stock']")
    assert page.current_url == server + "/admin/stocks/2"
    order = "/inventory/get-sources-assigned-to-stock-ordered-by-priority/2"
    before = [source["source_code"] for source in _rest(server, order, admin_token)]
    assert before == ["baltimore_wh", "austin_wh", "reno_wh", "hq"]
    # Keyboard again: focus the button, Enter.
    button = page.find_element(By.CSS_SELECTOR, "button[aria-label='Move Austin Warehouse up']")
    _loads(page, lambda: button.send_keys(Keys.ENTER))
    assert _messages(page) == ['Source "austin_wh" moved up.']
    reordered = ["austin_wh", "baltimore_wh", "reno_wh", "hq"]
    rows = page.find_elements(By.CSS_SELECTOR, "#assigned-sources tbody tr")
    assert [row.get_attribute("data-source-code") for row in rows] == reordered
    assert [source["source_code"] for source in _rest(server, order, admin_token)] == reordered
    _screenshot(page, shots / "admin-stock.png")
    _click(page, By.CSS_SELECTOR, "button[aria-label='Move Austin Warehouse down']")
    assert [source["source_code"] for source in _rest(server, order, admin_token)] == before
    page.set_window_size(*PHONE)
    page.refresh()
    assert _fits_the_window(page)


def test_a_source_without_a_postcode_gets_magentos_message(
    page: WebDriver, server: str, walkthrough: None, admin_token: str
) -> None:
    _sign_in(page, server)
    _click(page, By.LINK_TEXT, "Sources")
    _click(page, By.LINK_TEXT, "Add New Source")
    typed = (
        ("Name", "Denver Warehouse"), ("Code", "denver_wh"), ("Country (two-letter code)", "US"),
        ("City", "Denver"), ("Postcode", "   "),
    )  # fmt: skip
    for label, value in typed:
        field_id = page.find_element(By.XPATH, f"//label[normalize-space()='{label}']").get_attribute("for")
        page.find_element(By.ID, str(field_id)).send_keys(value)
    _click(page, By.XPATH, "//button[normalize-space()='Save']")
    assert _messages(page) == ['"postcode" can not be empty.']
    # What was typed is still there; nothing was saved.
    assert page.find_element(By.ID, "source-city").get_attribute("value") == "Denver"
    response = httpx.get(
        f"{server}/rest/V1/inventory/sources/denver_wh", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 404
    postcode = page.find_element(By.ID, "source-postcode")
    postcode.clear()
    postcode.send_keys("80202")
    _click(page, By.XPATH, "//button[normalize-space()='Save']")
    assert _messages(page) == ["The Source has been saved."]
    assert _rest(server, "/inventory/sources/denver_wh", admin_token)["postcode"] == "80202"


def test_look_a_sku_up(page: WebDriver, server: str, walkthrough: None, shots: Path) -> None:
    _sign_in(page, server)
    _click(page, By.LINK_TEXT, "Products")
    _loads(page, lambda: page.find_element(By.ID, "sku").send_keys("24-WB01", Keys.ENTER))
    assert page.current_url == server + "/admin/products?sku=24-WB01"
    assert _rows(page, "source-items") == [
        ["Austin Warehouse", "austin_wh", "Enabled", "10", "In Stock"],
        ["Baltimore Warehouse", "baltimore_wh", "Enabled", "40", "In Stock"],
        ["Berlin Warehouse", "berlin_wh", "Enabled", "15", "In Stock"],
        ["Frankfurt Warehouse", "frankfurt_wh", "Enabled", "10", "In Stock"],
        ["Reno Warehouse", "reno_wh", "Enabled", "25", "In Stock"],
    ]
    assert _rows(page, "stock-salability") == [
        ["1", "Default Stock", "—", "0", "0", "No"],
        ["2", "North America Stock", "75", "0", "75", "Yes"],
        ["3", "Europe Stock", "25", "0", "25", "Yes"],
    ]
    _screenshot(page, shots / "admin-product.png")


def test_queue_a_reindex_from_the_index_page(
    page: WebDriver, server: str, walkthrough: None, shots: Path
) -> None:
    _sign_in(page, server)
    _click(page, By.LINK_TEXT, "Index")
    assert [row[:6] for row in _rows(page, "index-status")] == [
        ["1", "Default Stock", "0", "0", "—", "0"],
        ["2", "North America Stock", "2", "0", "—", "0"],
        ["3", "Europe Stock", "2", "0", "—", "0"],
    ]
    _click(page, By.XPATH, "//tr[@data-stock-id='2']//button")
    assert _messages(page) == ["A rebuild of stock 2 has been queued."]
    # No worker runs in the tests' server: the job waits, and the page says so.
    assert _rows(page, "index-status")[1][3] == "1"
    _screenshot(page, shots / "admin-index.png")


def test_a_forged_form_key_is_refused(
    page: WebDriver, server: str, walkthrough: None, admin_token: str
) -> None:
    _sign_in(page, server)
    page.get(server + "/admin/stocks/2")
    page.execute_script("document.querySelectorAll('input[name=form_key]').forEach(e => e.value = 'forged')")
    page.find_element(By.ID, "stock-name").send_keys(" (forged)")
    _click(page, By.XPATH, "//form[@id='stock-general']//button")
    assert page.find_element(By.TAG_NAME, "h1").text == "Invalid Form Key. Please refresh the page."
    assert _rest(server, "/inventory/stocks/2", admin_token)["name"] == "North America Stock"


def test_an_expired_session_is_refused(
    page: WebDriver, server: str, walkthrough: None, admin_token: str, database: db.Database
) -> None:
    _sign_in(page, server)
    page.get(server + "/admin/stocks/2")
    with database.write_sessions.begin() as session:
        session.execute(update(AdminSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    _click(page, By.CSS_SELECTOR, "button[aria-label='Move Austin Warehouse up']")
    assert page.current_url.startswith(server + "/admin/login")
    assert _messages(page) == ["Your session has expired. Please sign in again."]
    order = "/inventory/get-sources-assigned-to-stock-ordered-by-priority/2"
    codes = [source["source_code"] for source in _rest(server, order, admin_token)]
    assert codes == ["baltimore_wh", "austin_wh", "reno_wh", "hq"]
