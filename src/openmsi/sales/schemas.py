"""Magento's salability answers (InventorySalesApi ``Api/Data``), for the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel


class ProductSalabilityError(BaseModel):
    """ProductSalabilityErrorInterface: why a quantity cannot be sold."""

    code: str
    message: str


class ProductSalableResult(BaseModel):
    """ProductSalableResultInterface."""

    salable: bool
    errors: list[ProductSalabilityError]


class IsProductSalableResult(BaseModel):
    """IsProductSalableResultInterface."""

    sku: str
    stock_id: int
    salable: bool


class IsProductSalableForRequestedQtyResult(BaseModel):
    """IsProductSalableForRequestedQtyResultInterface."""

    sku: str
    stock_id: int
    salable: bool
    errors: list[ProductSalabilityError]
