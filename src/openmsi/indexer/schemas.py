"""The answer of openmsi's index-status route, for the OpenAPI document (spec openmsi.md)."""

from __future__ import annotations

from pydantic import BaseModel


class StockIndexStatus(BaseModel):
    stock_id: int
    index_rows: int
    pending_jobs: int
    oldest_pending_age_seconds: float | None
    failed_jobs: int


class FailedJob(BaseModel):
    job_id: int
    stock_id: int
    attempts: int
    created_at: str
    last_error: str


class IndexStatus(BaseModel):
    stocks: list[StockIndexStatus]
    failed_jobs: list[FailedJob]
