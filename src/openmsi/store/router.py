"""Magento's store registry routes (``Store/etc/webapi.xml``); some clients call
``GET /V1/store/websites`` just to check that a token works."""

from __future__ import annotations

from typing import Any

from openmsi.db import Lane
from openmsi.runtime import Call, Router
from openmsi.store import repository
from openmsi.store import schemas as store_schemas

STORES = "Magento_Backend::stores"

PREFIX = "/V1/store"
router = Router()


@router.route("GET", PREFIX + "/websites", STORES, Lane.QUICK_READ, response=list[store_schemas.WebsiteData])
def get_websites(call: Call) -> Any:
    """Every website (WebsiteRepositoryInterface::getList)."""
    return [
        {"id": w.website_id, "code": w.code, "name": w.name, "default_group_id": w.default_group_id}
        for w in repository.websites(call.session)
    ]


@router.route("GET", PREFIX + "/storeGroups", STORES, Lane.QUICK_READ, response=list[store_schemas.GroupData])
def get_store_groups(call: Call) -> Any:
    """Every store group (GroupRepositoryInterface::getList)."""
    return [
        {
            "id": g.group_id,
            "website_id": g.website_id,
            "root_category_id": g.root_category_id,
            "default_store_id": g.default_store_id,
            "name": g.name,
            "code": g.code,
        }
        for g in repository.store_groups(call.session)
    ]


@router.route("GET", PREFIX + "/storeViews", STORES, Lane.QUICK_READ, response=list[store_schemas.StoreData])
def get_store_views(call: Call) -> Any:
    """Every store view (StoreRepositoryInterface::getList)."""
    return [
        {
            "id": s.store_id,
            "code": s.code,
            "name": s.name,
            "website_id": s.website_id,
            "store_group_id": s.group_id,
            "is_active": int(s.is_active),
        }
        for s in repository.store_views(call.session)
    ]
