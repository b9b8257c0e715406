"""Routes of this module (filled in below)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/V1/inventory")
