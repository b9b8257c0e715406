"""openmsi's own index routes, beside Magento's (filled in below)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/V1/openmsi")
