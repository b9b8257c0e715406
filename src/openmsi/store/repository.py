"""SQL for the small store registry: websites, store groups and store views."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmsi.models import StoreGroup, StoreView, Website


def websites(session: Session) -> list[Website]:
    return list(session.scalars(select(Website).order_by(Website.website_id)))


def store_groups(session: Session) -> list[StoreGroup]:
    return list(session.scalars(select(StoreGroup).order_by(StoreGroup.group_id)))


def store_views(session: Session) -> list[StoreView]:
    return list(session.scalars(select(StoreView).order_by(StoreView.store_id)))


def store_view_codes(session: Session) -> set[str]:
    return set(session.scalars(select(StoreView.code)))


def code_taken(session: Session, code: str) -> bool:
    return any(
        session.scalar(select(model.code).where(model.code == code)) is not None
        for model in (Website, StoreGroup, StoreView)
    )


def next_ids(session: Session) -> tuple[int, int, int]:
    return (
        (session.scalar(select(func.max(Website.website_id))) or 0) + 1,
        (session.scalar(select(func.max(StoreGroup.group_id))) or 0) + 1,
        (session.scalar(select(func.max(StoreView.store_id))) or 0) + 1,
    )
