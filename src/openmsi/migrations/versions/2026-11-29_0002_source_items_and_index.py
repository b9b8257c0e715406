"""Source items, the aggregated stock index, reservations, low-quantity notification settings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

The index of the seeded default stock starts empty, as there are no source items yet. This
file is frozen: it does not import the models.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0002"
down_revision: str | None = "0001"
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


# Timestamps written by 0001 as plain DATETIME, which MariaDB stores to the whole second.
DATETIME_COLUMNS = {
    "admin_user": {"created_at": False},
    "admin_token": {"created_at": False, "expires_at": True},
    "admin_login_failure": {"lock_expires_at": True},
    "job": {"run_after": False, "locked_until": True, "created_at": False, "finished_at": True},
}


def _alter_datetimes(fsp: int | None) -> None:
    if op.get_bind().dialect.name != "mysql":
        return
    for table, columns in DATETIME_COLUMNS.items():
        for column, nullable in columns.items():
            op.alter_column(
                table, column, type_=mysql.DATETIME(fsp=fsp) if fsp else mysql.DATETIME(), nullable=nullable
            )


def upgrade() -> None:
    _alter_datetimes(6)
    op.create_table(
        "inventory_source_item",
        sa.Column("source_item_id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source_code", ci(255), nullable=False),
        sa.Column("sku", ci(64), nullable=False),
        sa.Column("quantity", sa.Numeric(12, 4), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source_item_id", name="pk_inventory_source_item"),
        sa.ForeignKeyConstraint(
            ["source_code"],
            ["inventory_source.source_code"],
            name="fk_inventory_source_item_source_code_inventory_source",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("source_code", "sku", name="uq_inventory_source_item_source_code_sku"),
        **TABLE_OPTIONS,
    )
    op.create_index(
        "ix_inventory_source_item_sku_source_code_quantity",
        "inventory_source_item",
        ["sku", "source_code", "quantity"],
    )
    op.create_table(
        "inventory_stock_index",
        sa.Column("stock_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sku", ci(64), nullable=False),
        sa.Column("quantity", sa.Numeric(24, 4), nullable=False),
        sa.Column("is_salable", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("stock_id", "sku", name="pk_inventory_stock_index"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "inventory_reservation",
        sa.Column("reservation_id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("stock_id", sa.Integer(), nullable=False),
        sa.Column("sku", ci(64), nullable=False),
        sa.Column("quantity", sa.Numeric(10, 4), nullable=False),
        sa.Column("metadata", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("reservation_id", name="pk_inventory_reservation"),
        **TABLE_OPTIONS,
    )
    op.create_index(
        "ix_inventory_reservation_stock_id_sku_quantity",
        "inventory_reservation",
        ["stock_id", "sku", "quantity"],
    )
    op.create_table(
        "inventory_low_stock_notification_configuration",
        sa.Column("source_code", ci(255), nullable=False),
        sa.Column("sku", ci(64), nullable=False),
        sa.Column("notify_stock_qty", sa.Numeric(12, 4), nullable=True),
        sa.PrimaryKeyConstraint(
            "source_code", "sku", name="pk_inventory_low_stock_notification_configuration"
        ),
        **TABLE_OPTIONS,
    )


def downgrade() -> None:
    _alter_datetimes(None)
    for table in (
        "inventory_low_stock_notification_configuration",
        "inventory_reservation",
        "inventory_stock_index",
        "inventory_source_item",
    ):
        op.drop_table(table)
