"""The admin pages' signing secret and their sessions (spec admin.md).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

- ``openmsi_secret``: secrets generated on first use and shared by every process (the admin
  pages' signing key when OPENMSI_SECRET_KEY is unset).
- ``openmsi_admin_session``: signed-in admin page sessions, by the SHA-256 of their id, with
  their user and expiry (OPENMSI_ADMIN_TOKEN_LIFETIME_HOURS, as tokens).

This file is frozen: it does not import the models.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}


def utc_datetime() -> Any:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "openmsi_secret",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_openmsi_secret"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "openmsi_admin_session",
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("expires_at", utc_datetime(), nullable=True),
        sa.PrimaryKeyConstraint("session_hash", name="pk_openmsi_admin_session"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["admin_user.user_id"],
            name="fk_openmsi_admin_session_user_id_admin_user",
            ondelete="CASCADE",
        ),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_openmsi_admin_session_user_id", "openmsi_admin_session", ["user_id"])
    op.create_index("ix_openmsi_admin_session_expires_at", "openmsi_admin_session", ["expires_at"])


def downgrade() -> None:
    op.drop_table("openmsi_admin_session")
    op.drop_table("openmsi_secret")
