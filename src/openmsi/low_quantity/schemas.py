"""Magento's low-quantity notification shapes (InventoryLowQuantityNotificationApi ``Api/Data``),
for the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel

from openmsi.openapi import Number


class SourceItemConfigurationData(BaseModel):
    """SourceItemConfigurationInterface."""

    source_code: str | None = None
    notify_stock_qty: Number | None = None
    sku: str | None = None


class SourceItemConfigurationsBody(BaseModel):
    sourceItemConfigurations: list[SourceItemConfigurationData]  # Magento's parameter name
