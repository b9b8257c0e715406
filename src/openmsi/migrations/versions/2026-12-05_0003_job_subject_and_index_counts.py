"""Jobs name their subject; index rows count their contributing items.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

- ``job.subject`` ("stock:2"), indexed with ``status``: index-status, the dedupe key and the
  closing of failed rebuilds find a stock's jobs by it instead of parsing every payload.
  Existing rebuild jobs get theirs from their payload.
- ``inventory_stock_index.item_count`` / ``in_stock_count``: the items on enabled linked
  sources behind a row, and those in stock, so that link changes and source enable/disable
  apply one source's items as a delta. Existing rows are counted here.
- PostgreSQL: the index table keeps 30 % of each page free (fillfactor 70), so that a delta
  rewrites a row on its own page (a HOT update) instead of inserting it again into the
  CITEXT primary key. Pages written before this revision keep no room until they are
  rewritten (``openmsi reindex``).

This file is frozen: it does not import the models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REINDEX_STOCK = "reindex.stock"
BATCH = 1000


def _backfill_subjects() -> None:
    job = sa.table(
        "job", sa.column("id", sa.Integer), sa.column("kind", sa.String), sa.column("payload", sa.JSON),
        sa.column("subject", sa.String),
    )  # fmt: skip
    connection = op.get_bind()
    rows = connection.execute(sa.select(job.c.id, job.c.payload).where(job.c.kind == REINDEX_STOCK)).all()
    values = [
        {"job_id": row.id, "subject": f"stock:{int(row.payload['stock_id'])}"}
        for row in rows
        if isinstance(row.payload, dict) and "stock_id" in row.payload
    ]
    statement = (
        sa.update(job).where(job.c.id == sa.bindparam("job_id")).values(subject=sa.bindparam("subject"))
    )
    for start in range(0, len(values), BATCH):
        connection.execute(statement, values[start : start + BATCH])


def _backfill_counts() -> None:
    index = sa.table(
        "inventory_stock_index", sa.column("stock_id", sa.Integer), sa.column("sku", sa.String),
        sa.column("item_count", sa.Integer), sa.column("in_stock_count", sa.Integer),
    )  # fmt: skip
    items = sa.table(
        "inventory_source_item", sa.column("source_code", sa.String), sa.column("sku", sa.String),
        sa.column("status", sa.Integer),
    )  # fmt: skip
    links = sa.table(
        "inventory_source_stock_link", sa.column("stock_id", sa.Integer), sa.column("source_code")
    )
    sources = sa.table(
        "inventory_source", sa.column("source_code", sa.String), sa.column("enabled", sa.Boolean)
    )

    def counted(*conditions: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
        return (
            sa.select(sa.func.count())
            .select_from(items)
            .join(links, links.c.source_code == items.c.source_code)
            .join(sources, sources.c.source_code == items.c.source_code)
            .where(
                links.c.stock_id == index.c.stock_id,
                items.c.sku == index.c.sku,
                sources.c.enabled == sa.true(),
                *conditions,
            )
            .scalar_subquery()
        )

    op.execute(sa.update(index).values(item_count=counted(), in_stock_count=counted(items.c.status == 1)))


def upgrade() -> None:
    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("subject", sa.String(191), nullable=True))
        batch.create_index("ix_job_subject_status", ["subject", "status"])
    _backfill_subjects()
    with op.batch_alter_table("inventory_stock_index") as batch:
        batch.add_column(sa.Column("item_count", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("in_stock_count", sa.Integer(), server_default="0", nullable=False))
    _backfill_counts()
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE inventory_stock_index SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE inventory_stock_index RESET (fillfactor)")
    with op.batch_alter_table("inventory_stock_index") as batch:
        batch.drop_column("in_stock_count")
        batch.drop_column("item_count")
    with op.batch_alter_table("job") as batch:
        batch.drop_index("ix_job_subject_status")
        batch.drop_column("subject")
