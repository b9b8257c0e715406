"""``json.loads`` for large request bodies, in pieces so that other threads keep running.

One ``json.loads`` call is one C call that holds the interpreter lock throughout: 0.7–1.5 s for
a 20 MB body, during which the event loop answers nobody. ``loads`` walks the document and the
containers directly in it (``{"sourceItems": [...]}``) in Python and decodes what they hold
one element at a time with the scanner ``json.loads`` uses (``JSONDecoder.raw_decode``):
between two elements the interpreter hands the lock to a waiting thread
(``sys.getswitchinterval()``, 5 ms). It returns what ``json.loads`` returns and raises
``ValueError`` (or ``RecursionError``) where ``json.loads`` raises one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_WHITESPACE = re.compile(r"[ \t\n\r]*")  # json.decoder.WHITESPACE, what the scanner skips
# The document and its direct children are walked; deeper containers are small in any
# Magento request (one item, one link) and go to the scanner whole.
WALKED_LEVELS = 2


def loads(text: str, parse_constant: Callable[[str], Any]) -> Any:
    decoder = json.JSONDecoder(parse_constant=parse_constant)
    value, end = _value(decoder, text, _skip(text, 0), WALKED_LEVELS)
    if _skip(text, end) != len(text):
        raise ValueError("Extra data")
    return value


def _skip(text: str, index: int) -> int:
    return _WHITESPACE.match(text, index).end()  # type: ignore[union-attr]  # `*` always matches


def _value(decoder: json.JSONDecoder, text: str, index: int, levels: int) -> tuple[Any, int]:
    opening = text[index : index + 1]
    if levels and opening == "[":
        return _array(decoder, text, index, levels)
    if levels and opening == "{":
        return _object(decoder, text, index, levels)
    return decoder.raw_decode(text, index)


# The two walks follow the C scanner's _parse_array_unicode and _parse_object_unicode.
def _array(decoder: json.JSONDecoder, text: str, index: int, levels: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    index = _skip(text, index + 1)
    if text[index : index + 1] == "]":
        return items, index + 1
    while True:
        item, index = _value(decoder, text, index, levels - 1)
        items.append(item)
        index = _skip(text, index)
        separator = text[index : index + 1]
        if separator == "]":
            return items, index + 1
        if separator != ",":
            raise ValueError("Expecting ',' delimiter")
        index = _skip(text, index + 1)


def _object(decoder: json.JSONDecoder, text: str, index: int, levels: int) -> tuple[dict[str, Any], int]:
    members: dict[str, Any] = {}
    index = _skip(text, index + 1)
    if text[index : index + 1] == "}":
        return members, index + 1
    while True:
        if text[index : index + 1] != '"':
            raise ValueError("Expecting property name enclosed in double quotes")
        key, index = decoder.raw_decode(text, index)
        index = _skip(text, index)
        if text[index : index + 1] != ":":
            raise ValueError("Expecting ':' delimiter")
        # A repeated key keeps its first place and takes the last value, as in json.loads.
        members[key], index = _value(decoder, text, _skip(text, index + 1), levels - 1)
        index = _skip(text, index)
        separator = text[index : index + 1]
        if separator == "}":
            return members, index + 1
        if separator != ",":
            raise ValueError("Expecting ',' delimiter")
        index = _skip(text, index + 1)
