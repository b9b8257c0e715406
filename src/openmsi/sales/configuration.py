"""The stock-item configuration every SKU gets (spec salable.md, "Effective stock-item
configuration").

Magento reads it from each product's legacy stock item, falling back to the global
``cataloginventory/item_options`` values. openmsi has no catalog: every SKU is a simple,
stock-managed product with the global values, which come from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from openmsi.settings import Settings


@dataclass(frozen=True)
class StockItemConfiguration:
    manage_stock: bool = True
    backorders: int = 0
    min_qty: Decimal = Decimal(0)
    min_sale_qty: Decimal = Decimal(1)
    max_sale_qty: Decimal = Decimal(10000)
    enable_qty_increments: bool = False
    qty_increments: Decimal = Decimal(1)
    is_qty_decimal: bool = False
    not_available_message: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> StockItemConfiguration:
        return cls(
            manage_stock=settings.manage_stock,
            backorders=settings.backorders,
            min_qty=_decimal(settings.min_qty),
            min_sale_qty=_decimal(settings.min_sale_qty),
            max_sale_qty=_decimal(settings.max_sale_qty),
            enable_qty_increments=settings.enable_qty_increments,
            qty_increments=_decimal(settings.qty_increments),
            not_available_message=settings.not_available_message,
        )

    @property
    def adapted_min_qty(self) -> Decimal:
        """What PHP reads as min_qty (AdaptMinQtyToBackordersPlugin): never above 0 with
        backorders, never below 0 without. The index SQL uses the raw ``min_qty``."""
        return min(self.min_qty, Decimal(0)) if self.backorders else max(self.min_qty, Decimal(0))

    @property
    def effective_qty_increments(self) -> Decimal:
        """StockItemConfiguration::getQtyIncrements: 0 ("no check") unless increments are on."""
        return self.qty_increments if self.enable_qty_increments else Decimal(0)


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))
