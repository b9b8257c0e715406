"""The one place for configuration: environment variables prefixed ``OPENMSI_`` (and ``.env``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENMSI_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///openmsi.db",
        description="Any SQLAlchemy URL; the default is a SQLite file in the working directory.",
    )
    # Magento: oauth/access_token_lifetime/admin, 4 hours; 0 means tokens never expire.
    admin_token_lifetime_hours: float = Field(default=4, ge=0)
    # Magento: oauth/authentication_lock/max_failures_count and .../timeout.
    login_max_failures: int = Field(default=6, ge=1)
    login_lock_seconds: int = Field(default=1800, ge=0)
    # Connections per process; size it to the server's thread pool (anyio's default is 40).
    pool_size: int = Field(default=20, ge=1)
    pool_max_overflow: int = Field(default=20, ge=0)
    # Seconds a SQLite writer waits for the write lock before giving up.
    sqlite_busy_timeout: float = Field(default=30, gt=0)
    # Adds the exception text to internal-error envelopes; never enable in production.
    debug: bool = False


@lru_cache
def get_settings() -> Settings:
    return Settings()
