"""JSON as Magento's PHP writes it (``json_encode``), for the services that render answers
themselves (the streamed exports) and for ``webapi.MagentoJSONResponse``."""

from __future__ import annotations

import json
from typing import Any

# One encoder for every answer: json.dumps builds a new one per call for these options.
_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def render_json(content: Any) -> bytes:
    """Compact, ASCII only, every ``/`` escaped."""
    text = _ENCODER.encode(content)
    # PHP escapes every "/" and "/" only ever occurs inside JSON strings.
    return text.replace("/", "\\/").encode("ascii")


def php_number(value: Any) -> int | float | None:
    """json_encode prints an integral float without a fraction (10.0 -> 10)."""
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else number
