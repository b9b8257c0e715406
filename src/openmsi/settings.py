"""The one place for configuration: environment variables prefixed ``OPENMSI_`` (and ``.env``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENMSI_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///openmsi.db",
        description="Any SQLAlchemy URL; the default is a SQLite file in the working directory.",
    )
    # Magento: oauth/access_token_lifetime/admin, 4 hours; 0 means tokens never expire.
    admin_token_lifetime_hours: float = Field(default=4, ge=0)
    # Signs the admin pages' session cookies and form keys. Unset: a key generated on first use
    # and kept in the database (table openmsi_secret), so that every process agrees; set it to
    # rotate the key (every admin page session then ends) or to keep it out of the database.
    secret_key: SecretStr | None = Field(default=None, min_length=32)
    # Magento: oauth/authentication_lock/max_failures_count and .../timeout.
    login_max_failures: int = Field(default=6, ge=1)
    login_lock_seconds: int = Field(default=1800, ge=0)
    # Rows of admin_login_failure that usernames which are not admin users may fill (auth.py).
    login_failure_max_rows: int = Field(default=10000, ge=1)
    # Connections per process; size it to the server's thread pool (anyio's default is 40).
    pool_size: int = Field(default=20, ge=1)
    pool_max_overflow: int = Field(default=20, ge=0)
    # PostgreSQL and MariaDB: seconds after which a pooled connection is replaced, before a
    # server or proxy idle timeout cuts it (connections are not pinged before use).
    pool_recycle_seconds: int = Field(default=1800, ge=-1)
    # Seconds a verified bearer token is remembered by a process; a deactivated user or a
    # deleted token is refused at most this long after the change. 0: check every request.
    token_cache_seconds: float = Field(default=5, ge=0)
    # Seconds a SQLite writer waits for the write lock before giving up.
    sqlite_busy_timeout: float = Field(default=30, gt=0)
    # The global stock configuration of Magento's cataloginventory/item_options (spec salable.md,
    # "Effective stock-item configuration"); openmsi has no per-product settings, so these apply
    # to every SKU. Changing one changes what the index holds: run `openmsi reindex` after.
    manage_stock: bool = True
    backorders: int = Field(
        default=0, ge=0, le=2, description="0 no, 1 allow qty below 0, 2 allow and notify"
    )
    min_qty: float = Field(default=0, description="the out-of-stock threshold")
    min_sale_qty: float = Field(default=1, ge=0)
    max_sale_qty: float = Field(default=10000, ge=0)
    enable_qty_increments: bool = False
    qty_increments: float = Field(default=1, gt=0)
    # cataloginventory/options/not_available_message: 1 "Only X of Y available", 2 "Not enough
    # items for sale".
    not_available_message: int = Field(default=2, ge=1, le=2)
    # cataloginventory/item_options/notify_stock_qty, the low-quantity default.
    notify_stock_qty: float = 1
    # Index maintenance. A link or source change touching at most this many source items is
    # applied to the index in the writing transaction; a larger one queues a stock rebuild.
    index_inline_limit: int = Field(default=100_000, ge=0)
    # Run a reindex worker thread inside `openmsi serve`. Unset: on for SQLite (one command is
    # enough), off for PostgreSQL and MariaDB (run `openmsi worker` processes).
    embedded_worker: bool | None = None
    # Seconds a worker owns a claimed job; another worker takes it over after that.
    job_lease_seconds: float = Field(default=300, gt=0)
    # Seconds an idle worker waits before looking again: a read of the job index, so polling
    # often is cheap, and it bounds the lag of a queued rebuild.
    worker_poll_seconds: float = Field(default=0.25, gt=0)
    # Days finished jobs are kept for inspection before workers delete them.
    job_retention_days: float = Field(default=7, ge=0)
    # Seconds a write's answer is kept under its Idempotency-Key (spec orders.md): a repeat within
    # that time gets the stored answer; after it the key may be used again. Workers delete
    # expired keys.
    idempotency_ttl: int = Field(default=86400, ge=1)
    # Seconds a write owns its Idempotency-Key while it runs; a key still unfinished after that
    # is taken to be abandoned (its process was killed) and a repeat runs the request again.
    # Keep it well above the longest write.
    idempotency_lease_seconds: float = Field(default=300, gt=0)
    # Seconds between two runs of the reservation cleanup job (Magento: a daily cron job).
    reservation_cleanup_interval_seconds: float = Field(default=86400, gt=0)
    # The largest request body accepted, in bytes (413 above it). 64 MiB takes a bulk save of
    # about 900,000 source items (a 20 MB body holds about 280,000) and bounds what one request
    # may make the process decode and hold.
    max_body_bytes: int = Field(default=64 * 2**20, ge=1)
    # The most rows a list answer (sources, stocks, links, source items) holds: a larger
    # searchCriteria[pageSize], or a search without one that matches more rows, answers 400.
    max_page_size: int = Field(default=10000, ge=1)
    # How the distance source-selection algorithm and the distance routes measure distances and
    # geocode addresses (Magento's cataloginventory/source_selection_distance_based/provider):
    # "google" answers as Magento does without an API key (openmsi makes no outbound calls),
    # "offline" uses the GeoNames postal codes of `openmsi geonames import` and great circles.
    distance_provider: Literal["google", "offline"] = "google"
    # Serve the OpenAPI document at /openapi.json and its viewers at /docs and /redoc.
    docs_enabled: bool = True
    # Serve Prometheus metrics at GET /metrics (observability.py).
    metrics: bool = True
    # Request logs and the service's own log lines: "text" (one readable line each) or "json"
    # (one JSON object per line).
    log_format: Literal["text", "json"] = "text"
    # Adds the exception text to internal-error envelopes; never enable in production.
    debug: bool = False


@lru_cache
def get_settings() -> Settings:
    return Settings()
