"""Magento's stock export answers (InventoryExportStockApi ``Api/Data``), for the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel

from openmsi.openapi import Number, SearchCriteriaData


class ProductStockIndexData(BaseModel):
    """ProductStockIndexDataInterface."""

    sku: str
    qty: Number
    is_salable: bool


class ExportStockSalableQtySearchResult(BaseModel):
    """ExportStockSalableQtySearchResultInterface; ``total_count`` is the number of items sent."""

    items: list[ProductStockIndexData]
    search_criteria: SearchCriteriaData
    total_count: int


# dump-stock-index-data answers the same items without the search envelope.
StockIndexData = ProductStockIndexData
