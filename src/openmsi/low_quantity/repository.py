"""Every SQL statement about low-quantity notification settings. Functions take the caller's
session and never commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, exists, select
from sqlalchemy.orm import Session

from openmsi import db
from openmsi.models import LowQuantityNotification, SourceItem, table_of

TABLE = table_of(LowQuantityNotification)


def stored_configuration(session: Session, source_code: str, sku: str) -> LowQuantityNotification | None:
    """The row of the pair, if it holds a value (a NULL value means "use the default")."""
    query = select(LowQuantityNotification).where(
        LowQuantityNotification.source_code == source_code,
        LowQuantityNotification.sku == sku,
        LowQuantityNotification.notify_stock_qty.is_not(None),
    )
    return session.scalars(query).first()


def sku_exists(session: Session, sku: str) -> bool:
    """openmsi has no catalog: a product exists while it has a source item on any source."""
    return bool(session.scalar(select(exists().where(SourceItem.sku == sku))))


def upsert(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    db.upsert(session, TABLE, rows, keys=("source_code", "sku"), update=("notify_stock_qty",))


_DELETE = delete(TABLE).where(TABLE.c.source_code == bindparam("code"), TABLE.c.sku == bindparam("item_sku"))


def delete_pairs(session: Session, pairs: Sequence[tuple[str, str]]) -> None:
    if pairs:
        session.execute(_DELETE, [{"code": code, "item_sku": sku} for code, sku in pairs])
