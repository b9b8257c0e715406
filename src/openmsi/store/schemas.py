"""Magento's store registry shapes (Store ``Api/Data``), for the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel


class WebsiteData(BaseModel):
    """WebsiteInterface."""

    id: int
    code: str
    name: str
    default_group_id: int


class GroupData(BaseModel):
    """GroupInterface (a store group)."""

    id: int
    website_id: int
    root_category_id: int
    default_store_id: int
    name: str
    code: str


class StoreData(BaseModel):
    """StoreInterface (a store view); ``is_active`` is 0 or 1."""

    id: int
    code: str
    name: str
    website_id: int
    store_group_id: int
    is_active: int
