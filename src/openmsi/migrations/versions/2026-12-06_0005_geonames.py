"""GeoNames postal codes for the offline distance provider (spec source-selection.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

- ``inventory_geoname``: Magento's table of the same name and columns
  (``InventoryDistanceBasedSourceSelection/etc/db_schema.xml``), filled by ``openmsi geonames
  import``. Its texts compare case-insensitively, as on Magento's MySQL, and three indexes
  (none in Magento) serve the lookups by postcode, city and region within a country.

This file is frozen: it does not import the models.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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
    op.create_table(
        "inventory_geoname",
        sa.Column("entity_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("country_code", ci(64), nullable=False),
        sa.Column("postcode", ci(64), nullable=False),
        sa.Column("city", ci(180), nullable=False),
        sa.Column("region", ci(100), nullable=False),
        sa.Column("province", sa.String(64), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=False),
        sa.Column("longitude", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("entity_id", name="pk_inventory_geoname"),
        **TABLE_OPTIONS,
    )
    for column in ("postcode", "city", "region"):
        op.create_index(
            f"ix_inventory_geoname_country_code_{column}", "inventory_geoname", ["country_code", column]
        )


def downgrade() -> None:
    op.drop_table("inventory_geoname")
