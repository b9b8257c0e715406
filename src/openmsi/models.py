"""Every table, as typed SQLAlchemy 2 models. Table and column names follow Magento's schema
(spec README, "Data model") so that people who know Magento find their way."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from openmsi.db import ci_string, exact_ascii_string

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (SQLite and MariaDB have no time zones) and hands back aware UTC."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        # MariaDB's plain DATETIME drops fractions of a second: job leases and ages need them.
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for set-based statements (typed as FromClause by SQLAlchemy)."""
    return cast(Table, model.__table__)


# Magento's column sizes (spec README, "Data model"); services check them before writing so that
# every engine rejects the same values (SQLite would store anything).
CODE_LENGTH = 255
CHANNEL_LENGTH = 64


class Website(Base):
    __tablename__ = "store_website"

    website_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(ci_string(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    default_group_id: Mapped[int] = mapped_column(Integer, default=0)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class StoreGroup(Base):
    __tablename__ = "store_group"

    group_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    website_id: Mapped[int] = mapped_column(ForeignKey("store_website.website_id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    root_category_id: Mapped[int] = mapped_column(Integer, default=0)
    default_store_id: Mapped[int] = mapped_column(Integer, default=0)
    code: Mapped[str] = mapped_column(ci_string(32), unique=True)


class StoreView(Base):
    __tablename__ = "store"

    store_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(ci_string(32), unique=True)
    website_id: Mapped[int] = mapped_column(ForeignKey("store_website.website_id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("store_group.group_id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Source(Base):
    __tablename__ = "inventory_source"

    source_code: Mapped[str] = mapped_column(ci_string(CODE_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(ci_string(CODE_LENGTH))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(8, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    country_id: Mapped[str] = mapped_column(String(2))
    region_id: Mapped[int | None] = mapped_column(BigInteger)
    region: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(255))
    street: Mapped[str | None] = mapped_column(String(255))
    postcode: Mapped[str] = mapped_column(String(255))
    contact_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(255))
    fax: Mapped[str | None] = mapped_column(String(255))
    use_default_carrier_config: Mapped[bool] = mapped_column(Boolean, default=True)
    is_pickup_location_active: Mapped[bool] = mapped_column(Boolean, default=False)
    frontend_name: Mapped[str | None] = mapped_column(String(255), default="")
    frontend_description: Mapped[str | None] = mapped_column(Text)


class Stock(Base):
    __tablename__ = "inventory_stock"
    # AUTOINCREMENT makes SQLite never reuse the id of a deleted stock, as MySQL does not.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    stock_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(ci_string(CODE_LENGTH))


class StockSourceLink(Base):
    __tablename__ = "inventory_source_stock_link"
    __table_args__ = (
        UniqueConstraint("stock_id", "source_code"),
        Index("ix_inventory_source_stock_link_stock_priority", "stock_id", "priority"),
    )

    link_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stock_id: Mapped[int] = mapped_column(ForeignKey("inventory_stock.stock_id", ondelete="CASCADE"))
    source_code: Mapped[str] = mapped_column(
        ForeignKey("inventory_source.source_code", ondelete="CASCADE"), index=True
    )
    priority: Mapped[int] = mapped_column(Integer)


class SalesChannel(Base):
    __tablename__ = "inventory_stock_sales_channel"

    type: Mapped[str] = mapped_column(ci_string(CHANNEL_LENGTH), primary_key=True)
    code: Mapped[str] = mapped_column(ci_string(CHANNEL_LENGTH), primary_key=True)
    stock_id: Mapped[int] = mapped_column(
        ForeignKey("inventory_stock.stock_id", ondelete="CASCADE"), index=True
    )


class AdminUser(Base):
    __tablename__ = "admin_user"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(ci_string(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AdminToken(Base):
    __tablename__ = "admin_token"

    token_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 of the token: a leaked database does not leak usable tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_user.user_id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(index=True)


class LoginFailure(Base):
    """Failed token requests per username (Magento's oauth RequestThrottler)."""

    __tablename__ = "admin_login_failure"

    username: Mapped[str] = mapped_column(ci_string(255), primary_key=True)
    failures_count: Mapped[int] = mapped_column(Integer, default=0)
    lock_expires_at: Mapped[datetime | None]


class Job(Base):
    """Durable background work, queued in the transaction of the write that caused it."""

    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_status_run_after_id", "status", "run_after", "id"),
        Index("ix_job_subject_status", "subject", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    # What the job works on ("stock:2"): how status, dedupe and the closing of failed jobs find
    # a stock's jobs, with an index instead of parsing every payload.
    subject: Mapped[str | None] = mapped_column(String(191))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=10)
    locked_by: Mapped[str | None] = mapped_column(String(128))
    locked_until: Mapped[datetime | None]
    # NULLs never collide on any engine, so a UNIQUE column dedupes queued work only.
    dedupe_key: Mapped[str | None] = mapped_column(String(191), unique=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


SKU_LENGTH = 64
INDEX_QUANTITY_PRECISION = 24


class SourceItem(Base):
    """Quantity and stock status of one SKU at one source (spec source-items.md)."""

    __tablename__ = "inventory_source_item"
    __table_args__ = (
        UniqueConstraint("source_code", "sku"),
        # Aggregation reads a SKU's items across sources (Magento's idx_sku_source_code_quantity).
        Index("ix_inventory_source_item_sku_source_code_quantity", "sku", "source_code", "quantity"),
    )

    source_item_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    source_code: Mapped[str] = mapped_column(
        ci_string(CODE_LENGTH), ForeignKey("inventory_source.source_code", ondelete="CASCADE")
    )
    sku: Mapped[str] = mapped_column(ci_string(SKU_LENGTH))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal(0))
    status: Mapped[int] = mapped_column(SmallInteger, default=0)


class StockIndexRow(Base):
    """The aggregated index: per stock and SKU, the quantity and salability (spec indexing.md).

    One table for every stock instead of Magento's table per stock: a stock rebuild is a DELETE
    and an INSERT … SELECT of that stock's rows in one transaction, so readers see the old rows
    or the new ones, and no DDL ever runs outside migrations.
    """

    __tablename__ = "inventory_stock_index"

    stock_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sku: Mapped[str] = mapped_column(ci_string(SKU_LENGTH), primary_key=True)
    # A sum of decimal(12,4) item quantities: wider than them, so that valid items can never
    # overflow it (Magento's decimal(12,4) index column can).
    quantity: Mapped[Decimal] = mapped_column(Numeric(INDEX_QUANTITY_PRECISION, 4))
    is_salable: Mapped[bool] = mapped_column(Boolean)
    # The contributing items (on enabled sources linked to the stock) and those in stock: what
    # a link change or an enable/disable needs to apply one source's items as a delta, without
    # aggregating the SKU's other items again (indexer.repository.apply_source_delta).
    item_count: Mapped[int] = mapped_column(Integer, server_default="0")
    in_stock_count: Mapped[int] = mapped_column(Integer, server_default="0")


class Reservation(Base):
    """Append-only quantity deltas per stock and SKU (spec reservations.md); no foreign keys, as
    reservations may outlive their stock."""

    __tablename__ = "inventory_reservation"
    __table_args__ = (Index("ix_inventory_reservation_stock_id_sku_quantity", "stock_id", "sku", "quantity"),)

    reservation_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    stock_id: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(ci_string(SKU_LENGTH))
    quantity: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal(0))
    metadata_: Mapped[str | None] = mapped_column("metadata", String(255))


class LowQuantityNotification(Base):
    """Per source and SKU "notify stock qty" (spec low-quantity.md); NULL means the global default.
    No foreign keys: Magento stores rows for sources and SKUs that do not exist."""

    __tablename__ = "inventory_low_stock_notification_configuration"

    source_code: Mapped[str] = mapped_column(ci_string(CODE_LENGTH), primary_key=True)
    sku: Mapped[str] = mapped_column(ci_string(SKU_LENGTH), primary_key=True)
    notify_stock_qty: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))


ORDER_INCREMENT_ID_LENGTH = 32
IDEMPOTENCY_KEY_LENGTH = 255


class Order(Base):
    """An order placed through openmsi's order routes (spec orders.md). Magento keeps orders in
    its sales module; openmsi records only what inventory needs: the stock the sales channel
    resolved to and each line's ordered, shipped and canceled quantities. ``increment_id``
    compares case-insensitively, as Magento's ``sales_order.increment_id``. No foreign key to
    the stock: orders, like reservations, outlive a deleted stock."""

    __tablename__ = "openmsi_order"
    __table_args__ = (Index("ix_openmsi_order_stock_id", "stock_id"),)

    order_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    increment_id: Mapped[str] = mapped_column(ci_string(ORDER_INCREMENT_ID_LENGTH), unique=True)
    stock_id: Mapped[int] = mapped_column(Integer)
    sales_channel_type: Mapped[str] = mapped_column(ci_string(CHANNEL_LENGTH))
    sales_channel_code: Mapped[str] = mapped_column(ci_string(CHANNEL_LENGTH))
    # placed | complete | canceled | closed (orders.md)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderItem(Base):
    """One line of an order: a SKU at most once per order (compared as SKUs are)."""

    __tablename__ = "openmsi_order_item"

    order_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("openmsi_order.order_id", ondelete="CASCADE"),
        primary_key=True,
    )
    sku: Mapped[str] = mapped_column(ci_string(SKU_LENGTH), primary_key=True)
    line_number: Mapped[int] = mapped_column(Integer)
    qty_ordered: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    qty_shipped: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal(0))
    qty_canceled: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal(0))


class IdempotencyKey(Base):
    """A write's Idempotency-Key and, once it finished, its answer (spec orders.md), per admin
    user. ``fingerprint`` identifies the request (method, path, body); ``response_status`` is
    NULL while the first request is still running."""

    __tablename__ = "openmsi_idempotency_key"
    __table_args__ = (Index("ix_openmsi_idempotency_key_expires_at", "expires_at"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("admin_user.user_id", ondelete="CASCADE"), primary_key=True
    )
    idempotency_key: Mapped[str] = mapped_column(exact_ascii_string(IDEMPOTENCY_KEY_LENGTH), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(
        Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


GEONAME_CITY_LENGTH = 180
GEONAME_REGION_LENGTH = 100
GEONAME_CODE_LENGTH = 64


class Geoname(Base):
    """One postal code of a GeoNames postal-code dump, as Magento's ``inventory_geoname``
    (``InventoryDistanceBasedSourceSelection/etc/db_schema.xml``), filled by ``openmsi geonames
    import``: how the offline distance provider geocodes an address (spec source-selection.md).
    The texts compare case-insensitively, as Magento's lookups do on MySQL. Magento has no
    index on the table; the three below serve its three lookups (postcode, city prefix,
    region, each within a country) and the per-country delete of a re-import."""

    __tablename__ = "inventory_geoname"
    __table_args__ = (
        Index("ix_inventory_geoname_country_code_postcode", "country_code", "postcode"),
        Index("ix_inventory_geoname_country_code_city", "country_code", "city"),
        Index("ix_inventory_geoname_country_code_region", "country_code", "region"),
    )

    entity_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    country_code: Mapped[str] = mapped_column(ci_string(GEONAME_CODE_LENGTH))
    postcode: Mapped[str] = mapped_column(ci_string(GEONAME_CODE_LENGTH))
    city: Mapped[str] = mapped_column(ci_string(GEONAME_CITY_LENGTH))
    region: Mapped[str] = mapped_column(ci_string(GEONAME_REGION_LENGTH))
    province: Mapped[str] = mapped_column(String(GEONAME_CODE_LENGTH))
    latitude: Mapped[float] = mapped_column(Double)
    longitude: Mapped[float] = mapped_column(Double)
