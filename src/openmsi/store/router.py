"""Magento's store registry routes (``Store/etc/webapi.xml``); some clients call
``GET /V1/store/websites`` just to check that a token works."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from openmsi.endpoint import run
from openmsi.store import repository
from openmsi.webapi import MagentoJSONResponse

STORES = "Magento_Backend::stores"

router = APIRouter(prefix="/V1/store")


@router.get("/websites")
async def get_websites(request: Request) -> MagentoJSONResponse:
    def work(session: Session, _params: dict[str, Any]) -> Any:
        return [
            {"id": w.website_id, "code": w.code, "name": w.name, "default_group_id": w.default_group_id}
            for w in repository.websites(session)
        ]

    return await run(request, STORES, work)


@router.get("/storeGroups")
async def get_store_groups(request: Request) -> MagentoJSONResponse:
    def work(session: Session, _params: dict[str, Any]) -> Any:
        return [
            {
                "id": g.group_id,
                "website_id": g.website_id,
                "root_category_id": g.root_category_id,
                "default_store_id": g.default_store_id,
                "name": g.name,
                "code": g.code,
            }
            for g in repository.store_groups(session)
        ]

    return await run(request, STORES, work)


@router.get("/storeViews")
async def get_store_views(request: Request) -> MagentoJSONResponse:
    def work(session: Session, _params: dict[str, Any]) -> Any:
        return [
            {
                "id": s.store_id,
                "code": s.code,
                "name": s.name,
                "website_id": s.website_id,
                "store_group_id": s.group_id,
                "is_active": int(s.is_active),
            }
            for s in repository.store_views(session)
        ]

    return await run(request, STORES, work)
