"""Orders and their lines (spec orders.md); Idempotency-Key records.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

- ``openmsi_order`` / ``openmsi_order_item``: what the order routes placed, per line the
  ordered, shipped and canceled quantities. No foreign key to the stock: orders outlive it,
  as reservations do.
- ``openmsi_idempotency_key``: per admin user and key, the request's fingerprint and, once it
  finished, its status and body; ``expires_at`` indexed for the workers' purge.

This file is frozen: it does not import the models.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def ci(length: int) -> Any:
    """Case-insensitive VARCHAR, as MySQL's ci collations that Magento relies on."""
    return (
        sa.String(length)
        .with_variant(sa.String(length, collation="NOCASE"), "sqlite")
        .with_variant(postgresql.CITEXT(), "postgresql")
        .with_variant(
            mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_general_ci"), "mysql", "mariadb"
        )
    )


def utc_datetime() -> Any:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "openmsi_order",
        sa.Column("order_id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("increment_id", ci(32), nullable=False),
        sa.Column("stock_id", sa.Integer(), nullable=False),
        sa.Column("sales_channel_type", ci(64), nullable=False),
        sa.Column("sales_channel_code", ci(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("updated_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="pk_openmsi_order"),
        sa.UniqueConstraint("increment_id", name="uq_openmsi_order_increment_id"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_openmsi_order_stock_id", "openmsi_order", ["stock_id"])
    op.create_table(
        "openmsi_order_item",
        sa.Column("order_id", BIG_ID, nullable=False),
        sa.Column("sku", ci(64), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("qty_ordered", sa.Numeric(12, 4), nullable=False),
        sa.Column("qty_shipped", sa.Numeric(12, 4), nullable=False),
        sa.Column("qty_canceled", sa.Numeric(12, 4), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "sku", name="pk_openmsi_order_item"),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["openmsi_order.order_id"],
            name="fk_openmsi_order_item_order_id_openmsi_order",
            ondelete="CASCADE",
        ),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "openmsi_idempotency_key",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "idempotency_key",
            sa.String(255).with_variant(
                mysql.VARCHAR(255, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
            ),
            nullable=False,
        ),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column(
            "response_body", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=True
        ),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("expires_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "idempotency_key", name="pk_openmsi_idempotency_key"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["admin_user.user_id"],
            name="fk_openmsi_idempotency_key_user_id_admin_user",
            ondelete="CASCADE",
        ),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_openmsi_idempotency_key_expires_at", "openmsi_idempotency_key", ["expires_at"])


def downgrade() -> None:
    op.drop_table("openmsi_idempotency_key")
    op.drop_table("openmsi_order_item")
    op.drop_table("openmsi_order")
