"""Magento's validator chains for sources, stocks and links, in the order of their DI merge.

Each function returns every problem it finds as ``ErrorDetail``; the service raises
``ValidationFailed`` with the concatenation. Messages are Magento's, typos included
("should be greater then 0").
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from openmsi.errors import ErrorDetail, field_empty

DEFAULT_SOURCE_CODE = "default"
DEFAULT_STOCK_ID = 1
WEBSITE = "website"

# PHP's trim() and PCRE's \s without the u flag: ASCII whitespace only.
_PHP_TRIM = " \t\n\r\0\x0b"
_WHITESPACE = re.compile(r"[ \t\n\x0b\f\r]")
# Inventory/Model/Validators/NoSpecialCharsInString.php: template syntax like ${...}.
_SPECIAL_CHARS = re.compile(r"\$[:]*{(.)*}")
_VALIDATION_FAILED = ErrorDetail("Validation Failed")


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip(_PHP_TRIM) == "")


def _required(data: dict[str, Any], name: str) -> list[ErrorDetail]:
    return [field_empty(name)] if is_empty(data.get(name)) else []


def _code_rules(value: Any, name: str) -> list[ErrorDetail]:
    problems: list[ErrorDetail] = []
    if is_empty(value):
        problems.append(field_empty(name))
    if isinstance(value, str) and _WHITESPACE.search(value):
        problems.append(ErrorDetail('"%field" can not contain whitespaces.', {"field": name}))
    return problems


def _no_special_chars(value: Any) -> list[ErrorDetail]:
    if isinstance(value, str) and _SPECIAL_CHARS.search(value):
        return [_VALIDATION_FAILED]
    return []


def is_default_source(code: Any) -> bool:
    """Magento compares with ``===``, but codes are case-insensitive keys in the database, so
    ``DEFAULT`` names the default source too and must get the same protection."""
    return isinstance(code, str) and code.lower() == DEFAULT_SOURCE_CODE


def validate_source(data: dict[str, Any]) -> list[ErrorDetail]:
    """SourceValidatorChain (Inventory, InventoryCatalog, InventoryInStorePickup, InventoryShipping)."""
    code = data.get("source_code")
    extension = data.get("extension_attributes") or {}
    pickup_active = bool(extension.get("is_pickup_location_active"))
    problems = _required(data, "name") + _no_special_chars(data.get("name"))
    problems += _code_rules(code, "source_code") + _no_special_chars(code)
    problems += _required(data, "postcode") + _required(data, "country_id")
    if is_default_source(code) and data.get("enabled") is not True:
        problems.append(ErrorDetail("Default source can not be disabled."))
    if pickup_active:
        pickup_empty = '"%field" can not be empty for Pickup Location.'
        if is_empty(data.get("city")):
            problems.append(ErrorDetail(pickup_empty, {"field": "city"}))
        if is_empty(data.get("street")):
            problems.append(ErrorDetail(pickup_empty, {"field": "street"}))
        # Magento's PhoneValidator tests the city, not the phone; kept for compatibility.
        if is_empty(data.get("city")):
            problems.append(ErrorDetail(pickup_empty, {"field": "phone"}))
        if is_default_source(code):
            problems.append(ErrorDetail("The Default Source can not be used for In-Store Pickup Delivery."))
    if data.get("carrier_links"):
        problems.append(
            ErrorDetail(
                'You can\'t configure "%field" because you have chosen Global Shipping configuration.',
                {"field": "carrier_links"},
            )
        )
    return problems


def validate_stock(data: dict[str, Any], website_codes: Collection[str]) -> list[ErrorDetail]:
    """StockValidatorChain: the name, then every sales channel in list order."""
    problems = _required(data, "name")
    known = {code.lower() for code in website_codes}
    for channel in sales_channels_of(data):
        problems += _required(channel, "type") + _required(channel, "code")
        if channel.get("type") == WEBSITE and str(channel.get("code") or "").lower() not in known:
            problems.append(
                ErrorDetail(
                    'The website with code "%code" does not exist.', {"code": channel.get("code") or ""}
                )
            )
    return problems


def sales_channels_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    extension = data.get("extension_attributes") or {}
    return list(extension.get("sales_channels") or [])


def validate_link(link: dict[str, Any]) -> list[ErrorDetail]:
    """StockSourceLinkValidatorChain for one link."""
    code = link.get("source_code")
    stock_id = link.get("stock_id")
    problems = _code_rules(code, "source_code")
    if stock_id is None:
        problems.append(field_empty("stock_id"))
    if (link.get("priority") or 0) <= 0:
        problems.append(ErrorDetail('"%field" should be greater then 0.', {"field": "priority"}))
    # AssignToDefaultStockDefaultSourceValidator.
    touches_default = stock_id == DEFAULT_STOCK_ID or is_default_source(code)
    is_default_pair = stock_id == DEFAULT_STOCK_ID and is_default_source(code)
    if touches_default and not is_default_pair:
        problems.append(ErrorDetail("Can not save link related to Default Source or Default Stock"))
    return problems


def validate_source_item(item: dict[str, Any]) -> list[ErrorDetail]:
    """SourceItemValidatorChain: Sku, SourceCode, Quantity and Status validators."""
    sku = item.get("sku")
    problems: list[ErrorDetail] = []
    if is_empty(sku):
        problems.append(field_empty("sku"))
    if isinstance(sku, str) and sku != sku.strip(_PHP_TRIM):
        problems.append(ErrorDetail('"%field" can not contain leading or trailing spaces.', {"field": "sku"}))
    problems.extend(_code_rules(item.get("source_code"), "source_code"))
    if item.get("quantity") is None:
        problems.append(ErrorDetail('"%field" should be numeric.', {"field": "quantity"}))
    status = item.get("status")
    if status is None:
        problems.append(ErrorDetail('"%field" should be numeric.', {"field": "status"}))
    elif status not in (0, 1):
        problems.append(ErrorDetail('"%field" should a known status.', {"field": "status"}))
    return problems
