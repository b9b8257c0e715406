"""Initial schema and Magento's install seed.

Revision ID: 0001
Revises:
Create Date: 2026-11-29

The seed is what a fresh Magento install has (spec README, "Seed data"; openmsi.md,
"Websites and store views"): websites admin (0) and base (1), store group and store view
``default``, source ``default``, stock 1 "Default Stock" linked to it with priority 1 and
serving website ``base``. This file is frozen: it does not import the models.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# utf8mb4 whatever the server's default character set is.
TABLE_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}


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


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # CITEXT is a trusted extension (PostgreSQL 13+): a database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS citext")

    websites = op.create_table(
        "store_website",
        sa.Column("website_id", sa.Integer(), autoincrement=False, primary_key=True),
        sa.Column("code", ci(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("default_group_id", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("website_id", name="pk_store_website"),
        sa.UniqueConstraint("code", name="uq_store_website_code"),
        **TABLE_OPTIONS,
    )
    groups = op.create_table(
        "store_group",
        sa.Column("group_id", sa.Integer(), autoincrement=False),
        sa.Column("website_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("root_category_id", sa.Integer(), nullable=False),
        sa.Column("default_store_id", sa.Integer(), nullable=False),
        sa.Column("code", ci(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["website_id"],
            ["store_website.website_id"],
            name="fk_store_group_website_id_store_website",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", name="pk_store_group"),
        sa.UniqueConstraint("code", name="uq_store_group_code"),
        **TABLE_OPTIONS,
    )
    stores = op.create_table(
        "store",
        sa.Column("store_id", sa.Integer(), autoincrement=False),
        sa.Column("code", ci(32), nullable=False),
        sa.Column("website_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["store_group.group_id"], name="fk_store_group_id_store_group", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["website_id"],
            ["store_website.website_id"],
            name="fk_store_website_id_store_website",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", name="pk_store"),
        sa.UniqueConstraint("code", name="uq_store_code"),
        **TABLE_OPTIONS,
    )

    sources = op.create_table(
        "inventory_source",
        sa.Column("source_code", ci(255), nullable=False),
        sa.Column("name", ci(255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Numeric(8, 6), nullable=True),
        sa.Column("longitude", sa.Numeric(9, 6), nullable=True),
        sa.Column("country_id", sa.String(2), nullable=False),
        sa.Column("region_id", sa.BigInteger(), nullable=True),
        sa.Column("region", sa.String(255), nullable=True),
        sa.Column("city", sa.String(255), nullable=True),
        sa.Column("street", sa.String(255), nullable=True),
        sa.Column("postcode", sa.String(255), nullable=False),
        sa.Column("contact_name", sa.String(255), nullable=True),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("phone", sa.String(255), nullable=True),
        sa.Column("fax", sa.String(255), nullable=True),
        sa.Column("use_default_carrier_config", sa.Boolean(), nullable=False),
        sa.Column("is_pickup_location_active", sa.Boolean(), nullable=False),
        sa.Column("frontend_name", sa.String(255), nullable=True),
        sa.Column("frontend_description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("source_code", name="pk_inventory_source"),
        **TABLE_OPTIONS,
    )
    stocks = op.create_table(
        "inventory_stock",
        sa.Column("stock_id", sa.Integer(), nullable=False),
        sa.Column("name", ci(255), nullable=False),
        sa.PrimaryKeyConstraint("stock_id", name="pk_inventory_stock"),
        sqlite_autoincrement=True,
        **TABLE_OPTIONS,
    )
    links = op.create_table(
        "inventory_source_stock_link",
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("stock_id", sa.Integer(), nullable=False),
        sa.Column("source_code", ci(255), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_code"],
            ["inventory_source.source_code"],
            name="fk_inventory_source_stock_link_source_code_inventory_source",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stock_id"],
            ["inventory_stock.stock_id"],
            name="fk_inventory_source_stock_link_stock_id_inventory_stock",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("link_id", name="pk_inventory_source_stock_link"),
        sa.UniqueConstraint(
            "stock_id", "source_code", name="uq_inventory_source_stock_link_stock_id_source_code"
        ),
        **TABLE_OPTIONS,
    )
    op.create_index(
        "ix_inventory_source_stock_link_source_code", "inventory_source_stock_link", ["source_code"]
    )
    op.create_index(
        "ix_inventory_source_stock_link_stock_priority",
        "inventory_source_stock_link",
        ["stock_id", "priority"],
    )
    channels = op.create_table(
        "inventory_stock_sales_channel",
        sa.Column("type", ci(64), nullable=False),
        sa.Column("code", ci(64), nullable=False),
        sa.Column("stock_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["stock_id"],
            ["inventory_stock.stock_id"],
            name="fk_inventory_stock_sales_channel_stock_id_inventory_stock",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("type", "code", name="pk_inventory_stock_sales_channel"),
        **TABLE_OPTIONS,
    )
    op.create_index(
        "ix_inventory_stock_sales_channel_stock_id", "inventory_stock_sales_channel", ["stock_id"]
    )

    op.create_table(
        "admin_user",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", ci(40), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_admin_user"),
        sa.UniqueConstraint("username", name="uq_admin_user_username"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "admin_token",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["admin_user.user_id"], name="fk_admin_token_user_id_admin_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_id", name="pk_admin_token"),
        sa.UniqueConstraint("token_hash", name="uq_admin_token_token_hash"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_admin_token_expires_at", "admin_token", ["expires_at"])
    op.create_index("ix_admin_token_user_id", "admin_token", ["user_id"])
    op.create_table(
        "admin_login_failure",
        sa.Column("username", ci(255), nullable=False),
        sa.Column("failures_count", sa.Integer(), nullable=False),
        sa.Column("lock_expires_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("username", name="pk_admin_login_failure"),
        **TABLE_OPTIONS,
    )

    op.create_table(
        "job",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_after", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(128), nullable=True),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("dedupe_key", sa.String(191), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_job"),
        sa.UniqueConstraint("dedupe_key", name="uq_job_dedupe_key"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_job_status_run_after_id", "job", ["status", "run_after", "id"])

    op.bulk_insert(
        websites,
        [
            {
                "website_id": 0,
                "code": "admin",
                "name": "Admin",
                "sort_order": 0,
                "default_group_id": 0,
                "is_default": False,
            },
            {
                "website_id": 1,
                "code": "base",
                "name": "Main Website",
                "sort_order": 0,
                "default_group_id": 1,
                "is_default": True,
            },
        ],
    )
    op.bulk_insert(
        groups,
        [
            {
                "group_id": 0,
                "website_id": 0,
                "name": "Default",
                "root_category_id": 0,
                "default_store_id": 0,
                "code": "default",
            },
            {
                "group_id": 1,
                "website_id": 1,
                "name": "Main Website Store",
                "root_category_id": 2,
                "default_store_id": 1,
                "code": "main_website_store",
            },
        ],
    )
    op.bulk_insert(
        stores,
        [
            {
                "store_id": 0,
                "code": "admin",
                "website_id": 0,
                "group_id": 0,
                "name": "Admin",
                "sort_order": 0,
                "is_active": True,
            },
            {
                "store_id": 1,
                "code": "default",
                "website_id": 1,
                "group_id": 1,
                "name": "Default Store View",
                "sort_order": 0,
                "is_active": True,
            },
        ],
    )
    op.bulk_insert(
        sources,
        [
            {
                "source_code": "default",
                "name": "Default Source",
                "enabled": True,
                "description": "Default Source",
                "latitude": 0,
                "longitude": 0,
                "country_id": "US",
                "postcode": "00000",
                "use_default_carrier_config": True,
                "is_pickup_location_active": False,
                "frontend_name": "",
            },
        ],
    )
    op.bulk_insert(stocks, [{"stock_id": 1, "name": "Default Stock"}])
    op.bulk_insert(links, [{"stock_id": 1, "source_code": "default", "priority": 1}])
    op.bulk_insert(channels, [{"type": "website", "code": "base", "stock_id": 1}])
    if op.get_bind().dialect.name == "postgresql":
        # The seed chose stock id 1 itself; move the sequence past it.
        op.execute(
            "SELECT setval(pg_get_serial_sequence('inventory_stock', 'stock_id'), "
            "(SELECT MAX(stock_id) FROM inventory_stock))"
        )


def downgrade() -> None:
    for table in (
        "job",
        "admin_login_failure",
        "admin_token",
        "admin_user",
        "inventory_stock_sales_channel",
        "inventory_source_stock_link",
        "inventory_stock",
        "inventory_source",
        "store",
        "store_group",
        "store_website",
    ):
        op.drop_table(table)
