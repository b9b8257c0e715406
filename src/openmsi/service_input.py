"""Request parameters → service arguments, the way Magento's Web API framework does it.

Pure functions, no web framework: the HTTP layer parses the query string with
:func:`parse_query_string`, merges it with the JSON body and the path variables
(:func:`merge_parameters`, :func:`put_id_override`), picks the service parameters out
(:func:`lookup_parameter`, :func:`require_parameters`, :func:`resolve_parameters`) and converts
them against a declarative description of the data objects (:class:`ObjectSpec`,
:func:`convert_object`, :func:`convert_list`, :func:`convert_scalar`).

Magento counterparts (spec: ``http.md`` "Request parameters"):

* PHP's ``php_default_treat_data`` / ``php_register_variable_ex`` (``main/php_variables.c``),
  which build ``$_GET`` and ``parse_str``;
* ``magento2:lib/internal/Magento/Framework/Webapi/ServiceInputProcessor.php``
  (``process``, ``_createFromArray``, ``convertValue``);
* ``magento2:lib/internal/Magento/Framework/Reflection/TypeProcessor.php``
  (``processSimpleAndAnyType``, ``setType``);
* ``magento2:app/code/Magento/Webapi/Controller/Rest/ParamsOverrider.php``
  (``overrideRequestBodyIdWithPathParam``).

Every error is an :class:`~openmsi.errors.InputError` (HTTP 400).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeAlias
from urllib.parse import unquote_to_bytes

from openmsi.errors import InputError

__all__ = [
    "INVALID_UTF8",
    "MAX_NESTING_LEVEL",
    "SCALAR_TYPES",
    "Field",
    "ListOf",
    "ObjectSpec",
    "Parameter",
    "convert_list",
    "convert_object",
    "convert_scalar",
    "lookup_parameter",
    "merge_parameters",
    "parse_query_string",
    "php_float_to_string",
    "put_id_override",
    "require_parameters",
    "resolve_parameters",
    "snake_case",
    "upper_camel_case",
]

INVALID_UTF8 = "The request contains characters that are not valid UTF-8."
SCALAR_TYPES = frozenset({"int", "float", "string", "bool"})


# --------------------------------------------------------------------------------------------
# Query string: PHP parse_str / $_GET
# --------------------------------------------------------------------------------------------

# PHP's default max_input_nesting_level.
MAX_NESTING_LEVEL = 64
_LONG_MAX = 2**63 - 1
_LONG_MIN = -(2**63)
# C isspace() in the "C" locale: PHP skips one of these right after "[" when it looks for "]".
_C_ISSPACE = frozenset(" \t\n\x0b\x0c\r")
# zend_hash's ZEND_HANDLE_NUMERIC_STR: canonical decimal integers become integer keys.
_INT_KEY = re.compile(r"0|-?[1-9][0-9]{0,18}")
_BASE_MANGLE = str.maketrans({" ": "_", ".": "_"})
_TAIL_MANGLE = str.maketrans({" ": "_", ".": "_", "[": "_"})


def _php_int_key(key: str) -> int | None:
    if _INT_KEY.fullmatch(key) is None:
        return None
    number = int(key)
    return number if _LONG_MIN <= number <= _LONG_MAX else None


class _PhpArray:
    """An ordered PHP array while parsing: keys are strings, but ``[]`` needs PHP's next index."""

    __slots__ = ("items", "next_free")

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}
        # zend_hash's nNextFreeElement: the largest integer key used so far + 1, also when it
        # is negative (PHP 8.2 checked: a[-5]=x&a[]=y gives -4), else 0.
        self.next_free: int | None = None

    def set(self, key: str, value: Any) -> None:
        number = _php_int_key(key)
        if number is not None and (self.next_free is None or number >= self.next_free):
            self.next_free = number + 1 if number < _LONG_MAX else _LONG_MAX
        self.items[key] = value

    def append(self, value: Any) -> bool:
        key = str(0 if self.next_free is None else self.next_free)
        if key in self.items:
            # zend_hash_next_index_insert fails once PHP_INT_MAX is taken; parse_str drops it.
            return False
        self.set(key, value)
        return True

    def child(self, key: str | None) -> _PhpArray | None:
        if key is None:
            created = _PhpArray()
            return created if self.append(created) else None
        existing = self.items.get(key)
        if isinstance(existing, _PhpArray):
            return existing
        # A scalar already stored under the key is replaced by an empty array, in place.
        created = _PhpArray()
        self.set(key, created)
        return created

    def store(self, key: str | None, value: str) -> None:
        if key is None:
            self.append(value)
        else:
            self.set(key, value)

    def to_dict(self) -> dict[str, Any]:
        return {
            key: value.to_dict() if isinstance(value, _PhpArray) else value
            for key, value in self.items.items()
        }


def _url_decode(component: bytes) -> str:
    # php_url_decode: "+" is a space, "%XX" with two hex digits is a byte, any other "%" stays.
    # Replacing "+" first keeps "%2B" a literal plus.
    decoded = unquote_to_bytes(component.replace(b"+", b" "))
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError:
        # openmsi's own rule: PHP would pass the bytes on; a Python service cannot store them.
        raise InputError(INVALID_UTF8) from None


def parse_query_string(raw: bytes) -> dict[str, Any]:
    """Parse a raw query string the way PHP fills ``$_GET`` (``parse_str``).

    Nested ``a[b][c]=1`` builds nested dicts; every key is a string (PHP's integer keys become
    ``"0"``, ``"1"``, ...), and dicts keep PHP's insertion order. Values are strings.
    """
    # The query string is a C string for PHP: nothing after a NUL byte is seen.
    raw = raw.split(b"\x00", 1)[0]
    top = _PhpArray()
    # php_strtok_r on arg_separator.input ("&") skips empty pairs.
    for pair in raw.split(b"&"):
        if not pair:
            continue
        raw_name, equals, raw_value = pair.partition(b"=")
        value = _url_decode(raw_value) if equals else ""
        # The decoded name is handled as a C string too: it ends at the first NUL.
        name = _url_decode(raw_name).split("\x00", 1)[0]
        _register_variable(top, name, value)
    return top.to_dict()


def _register_variable(top: _PhpArray, name: str, value: str) -> None:
    """php_register_variable_ex, step by step."""
    name = name.lstrip(" ")
    bracket = name.find("[")
    base = (name if bracket < 0 else name[:bracket]).translate(_BASE_MANGLE)
    if not base:
        return
    if bracket < 0:
        if not _forbidden_key(base, name):
            top.set(base, value)
        return

    table = top
    index: str | None = base
    position = bracket  # name[position] == "["
    level = 0
    while True:
        level += 1
        if level > MAX_NESTING_LEVEL:
            # PHP does not keep the rest as a literal key: it drops the value and deletes the
            # whole top-level variable, including what earlier pairs stored under it.
            top.items.pop(base, None)
            return
        start = position + 1
        probe = start
        if probe < len(name) and name[probe] in _C_ISSPACE:
            probe += 1
        key: str | None
        if probe < len(name) and name[probe] == "]":
            key = None  # "[]" (or "[ ]"): append with the next index
            close = probe
        else:
            close = name.find("]", probe)
            if close < 0:
                # "Not an index": at the first level the "[" becomes "_" and the rest of the
                # name is mangled into one plain key ("a[b.c" → "a_b_c"); deeper, the text
                # after the last complete index is ignored ("a[b][c" → a[b]).
                if level == 1:
                    index = base + "_" + name[start:].translate(_TAIL_MANGLE)
                break
            key = name[start:close]
        if index is not None and _forbidden_key(index, name):
            return
        child = table.child(index)
        if child is None:
            return
        table = child
        index = key
        position = close + 1
        # Anything after "]" that does not open another "[" is ignored ("a[b]c" → a[b]).
        if position >= len(name) or name[position] != "[":
            break
    if index is not None and _forbidden_key(index, name):
        return
    table.store(index, value)


def _forbidden_key(key: str, name: str) -> bool:
    """php_is_forbidden_variable_name (CVE-2022-31629, extended to every array index by later
    PHP security releases): a key that starts with ``__Host-``/``__Secure-`` is discarded, with
    the rest of its pair, unless the whole name as sent starts with that prefix too — so
    ``..Host-x=1`` and ``a[__Host-x]=1`` store nothing."""
    return any(key.startswith(prefix) and not name.startswith(prefix) for prefix in ("__Host-", "__Secure-"))


# --------------------------------------------------------------------------------------------
# Top-level parameters
# --------------------------------------------------------------------------------------------


def merge_parameters(body: dict[str, Any], query: dict[str, Any], path: dict[str, Any]) -> dict[str, Any]:
    """Body, then query string, then path variables; a later source overwrites a top-level key.

    (PHP ``array_merge`` would renumber integer keys instead of overwriting them; no service
    parameter has an integer name, so a plain overwrite is equivalent.)
    """
    return {**body, **query, **path}


_CAMEL_BOUNDARY = re.compile(r"(?<=\w)(?=[A-Z])", re.ASCII)


def snake_case(php_name: str) -> str:
    """``ServiceInputProcessor::process``: ``strtolower(preg_replace('/(?<=\\w)(?=[A-Z])/', '_', $name))``."""
    return _CAMEL_BOUNDARY.sub("_", php_name).lower()


# Every key of every object of a request goes through here (seven links: 21 calls); the names
# clients send are few.
@lru_cache(maxsize=4096)
def upper_camel_case(key: str) -> str:
    """``SimpleDataObjectConverter::snakeCaseToUpperCamelCase``: ``str_replace('_', '', ucwords($key, '_'))``.

    ``ucwords`` upper-cases (ASCII only) the first character and every character after a
    ``_``, so ``source_code``, ``sourceCode``, ``_source__code_`` all give ``SourceCode``.
    """
    return "".join(_ascii_upper_first(part) for part in key.split("_"))


def _ascii_upper_first(text: str) -> str:
    if text and "a" <= text[0] <= "z":
        return text[0].upper() + text[1:]
    return text


def lookup_parameter(params: Mapping[str, Any], php_name: str) -> Any | None:
    """The value of a service parameter, under its camelCase PHP name or its snake_case form.

    PHP ``isset`` is the test, so a JSON ``null`` counts as absent (``None``) and a ``null``
    camelCase key does not hide a set snake_case one.
    """
    value = params.get(php_name)
    if value is not None:
        return value
    return params.get(snake_case(php_name))


def require_parameters(params: Mapping[str, Any], *php_names: str) -> list[Any]:
    """The values of required parameters, in order; all missing ones are reported together."""
    values = [lookup_parameter(params, name) for name in php_names]
    missing = [name for name, value in zip(php_names, values, strict=True) if value is None]
    if missing:
        raise InputError.required(*missing)
    return values


@dataclass(frozen=True)
class Parameter:
    """One parameter of a service method signature, for :func:`resolve_parameters`."""

    name: str  # camelCase PHP name, e.g. "stockId"
    convert: Callable[[Any], Any]
    required: bool = True
    default: Any = None


def resolve_parameters(params: Mapping[str, Any], *signature: Parameter) -> list[Any]:
    """``ServiceInputProcessor::process`` in full: convert and check in signature order.

    Magento converts each present parameter as it walks the signature (the first conversion
    error is raised at once, even if an earlier parameter is missing) and reports missing
    required parameters only after the walk.
    """
    values: list[Any] = []
    missing: list[str] = []
    for parameter in signature:
        raw = lookup_parameter(params, parameter.name)
        if raw is not None:
            values.append(parameter.convert(raw))
        elif parameter.required:
            missing.append(parameter.name)
            values.append(None)
        else:
            values.append(parameter.default)
    if missing:
        raise InputError.required(*missing)
    return values


# --------------------------------------------------------------------------------------------
# Data objects
# --------------------------------------------------------------------------------------------

FieldType: TypeAlias = "str | ObjectSpec | ListOf"


@dataclass(frozen=True)
class ListOf:
    """A ``T[]`` type: a list of scalars (``"int"``, ...) or of data objects."""

    item: str | ObjectSpec

    def __post_init__(self) -> None:
        if not isinstance(self.item, ObjectSpec) and self.item not in SCALAR_TYPES:
            raise ValueError(f"unsupported list item type {self.item!r}")

    @property
    def type_name(self) -> str:
        return f"{_type_name(self.item)}[]"


@dataclass(frozen=True)
class Field:
    name: str  # canonical snake_case JSON name, e.g. "source_code"
    type: FieldType

    def __post_init__(self) -> None:
        if not isinstance(self.type, ObjectSpec | ListOf) and self.type not in SCALAR_TYPES:
            raise ValueError(f"unsupported type {self.type!r} for field {self.name!r}")


@dataclass(frozen=True)
class ObjectSpec:
    """A data interface: the fields its setters accept."""

    name: str  # e.g. "source"; for comments and debugging only
    fields: tuple[Field, ...]
    _by_upper_camel: Mapping[str, Field] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        by_upper_camel: dict[str, Field] = {}
        for item in self.fields:
            key = upper_camel_case(item.name)
            if key in by_upper_camel:
                raise ValueError(
                    f"{self.name}: fields {by_upper_camel[key].name!r} and {item.name!r} collide"
                )
            by_upper_camel[key] = item
        object.__setattr__(self, "_by_upper_camel", by_upper_camel)

    def field_for(self, key: str) -> Field | None:
        """The field a request key sets: matched like Magento's getter lookup, exact case."""
        return self._by_upper_camel.get(upper_camel_case(key))


def _type_name(type_: FieldType) -> str:
    if isinstance(type_, ObjectSpec):
        return "object"
    if isinstance(type_, ListOf):
        return type_.type_name
    return type_


class _TypeMismatch(Exception):
    """TypeProcessor's SerializationException: the message gets one "Error occurred during"
    prefix per enclosing object field (``_createFromArray`` re-wraps it at every level), unlike
    the "is not supported" InputException, which passes through unchanged."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _invalid_type(value: Any, type_name: str) -> _TypeMismatch:
    return _TypeMismatch(InputError.invalid_type(value, type_name).message)


def _in_field(key: str, error: _TypeMismatch) -> _TypeMismatch:
    return _TypeMismatch(f'Error occurred during "{key}" processing. {error.text}')


def convert_object(raw: Any, spec: ObjectSpec) -> dict[str, Any]:
    """Convert a request object to ``{canonical snake_case name: converted value}``.

    Only keys present in the input appear, in input order; a JSON ``null`` stays ``None``. A
    key given twice (``source_code`` and ``sourceCode``) keeps the value processed last, as the
    setter called last wins in Magento. As in PHP, ``raw`` that is not an object counts as an
    empty one (``searchCriteria=`` → ``{}``), and a JSON list is an object keyed ``"0"``,
    ``"1"``, ... (so ``[]`` → ``{}``, a non-empty list → ``"0" is not supported``).
    """
    try:
        return _convert_object(raw, spec)
    except _TypeMismatch as error:
        raise InputError(error.text) from None


def convert_list(raw: Any, item: str | ObjectSpec, *, parameter: str) -> list[Any]:
    """Convert a top-level ``T[]`` parameter (``links``, ``sourceItems``, ``skus``).

    A JSON array or object is accepted (an object — what ``links[0][stock_id]=…`` in a query
    string gives — contributes its values in order). A scalar is rejected without a field name,
    as Magento does for top-level parameters. An element of a scalar list that cannot be
    converted is reported as ``Error occurred during "<parameter>" processing. …``.
    """
    try:
        return _convert_list(raw, ListOf(item), element_label=parameter)
    except _TypeMismatch as error:
        raise InputError(error.text) from None


def convert_scalar(raw: Any, type_name: str, *, field: str | None = None) -> Any:
    """Convert a scalar with Magento's ``TypeProcessor::setType`` rules.

    ``field`` is the key as the client sent it, for a value inside an object; top-level
    parameters and path variables use ``None``. ``None`` passes through (PHP skips ``null``).
    """
    if type_name not in SCALAR_TYPES:
        raise ValueError(f"unsupported scalar type {type_name!r}")
    if raw is None:
        return None
    converted = _convert_scalar(raw, type_name)
    if converted is None:
        raise InputError.invalid_type(raw, type_name, field)
    return converted


def _convert_value(raw: Any, type_: FieldType) -> Any:
    if isinstance(type_, ObjectSpec):
        return _convert_object(raw, type_)
    if isinstance(type_, ListOf):
        return _convert_list(raw, type_, element_label=None)
    converted = _convert_scalar(raw, type_)
    if converted is None:
        raise _invalid_type(raw, type_)
    return converted


def _php_array_items(raw: Any) -> Iterable[tuple[str, Any]]:
    # json_decode(..., true) makes objects and lists the same PHP array; a list's keys are its
    # indexes.
    if isinstance(raw, dict):
        return ((str(key), value) for key, value in raw.items())
    if isinstance(raw, list):
        return ((str(index), value) for index, value in enumerate(raw))
    return ()


def _convert_object(raw: Any, spec: ObjectSpec) -> dict[str, Any]:
    # _createFromArray starts with `is_array($data) ? $data : []`: a scalar (or null) where an
    # object is expected is an empty object — this is what makes `searchCriteria=` an empty
    # criteria (http.md) — and a non-empty JSON list fails on its first key, "0".
    result: dict[str, Any] = {}
    for key, value in _php_array_items(raw):
        target = spec.field_for(key)
        if target is None:
            # 2.4.7+: NameFinder's LogicException → processInputErrorForNestedSet.
            raise InputError(
                '"%fieldName" is not supported. Correct the field name and try again.',
                {"fieldName": upper_camel_case(key)},
            )
        if value is None:
            result[target.name] = None
            continue
        try:
            result[target.name] = _convert_value(value, target.type)
        except _TypeMismatch as error:
            raise _in_field(key, error) from None
    return result


def _convert_list(raw: Any, list_type: ListOf, *, element_label: str | None) -> list[Any]:
    if isinstance(raw, dict):
        elements: list[Any] = list(raw.values())
    elif isinstance(raw, list):
        elements = raw
    else:
        # openmsi's choice: Magento passes null on for a complex T[] (the service then fails
        # with a 500) and rejects a scalar for a simple T[]; both are this 400 here.
        raise _invalid_type(raw, list_type.type_name)
    item = list_type.item
    if isinstance(item, ObjectSpec):
        # Each element goes through _createFromArray, so a non-object element is an empty object.
        return [_convert_object(element, item) for element in elements]
    converted: list[Any] = []
    for element in elements:
        # openmsi is stricter than Magento here: PHP settype()s each element without the
        # is_numeric check ("abc" → 0, null → 0/""/false); a bad or null element is a 400.
        value = None if element is None else _convert_scalar(element, item)
        if value is None:
            error = _invalid_type(element, item)
            raise error if element_label is None else _in_field(element_label, error)
        converted.append(value)
    return converted


# --------------------------------------------------------------------------------------------
# Scalars: TypeProcessor::setType
# --------------------------------------------------------------------------------------------

# PHP 8 is_numeric() on strings: optional leading and trailing whitespace, a sign, decimal
# digits with an optional fraction and exponent. No hex, no "inf"/"nan", no "_" separators.
_PHP_WS = "[ \t\n\r\x0b\x0c]*"
_PHP_NUMERIC = re.compile(rf"{_PHP_WS}[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?{_PHP_WS}")
_PHP_INTEGER = re.compile(rf"{_PHP_WS}[+-]?[0-9]+{_PHP_WS}")
# PHP_FILTER_TRIM_DEFAULT trims these (not \f) before FILTER_VALIDATE_BOOLEAN looks.
_FILTER_TRIM = " \t\r\x0b\n"


def php_numeric(text: str) -> Decimal | None:
    """The exact value of a string PHP's ``is_numeric`` accepts, else None."""
    if not _PHP_NUMERIC.fullmatch(text):
        return None
    return Decimal(text.strip(" \t\n\r\x0b\x0c"))


_TRUE_WORDS = frozenset({"1", "true", "on", "yes"})


def _convert_scalar(value: Any, type_name: str) -> Any:
    """The converted value, or ``None`` when Magento rejects it (callers handle ``null``)."""
    if isinstance(value, dict | list):
        # processSimpleAndAnyType: an array for a simple type is always an error.
        return None
    if type_name == "int":
        return _to_int(value)
    if type_name == "float":
        return _to_float(value)
    if type_name == "string":
        return _to_string(value)
    return _to_bool(value)


def _to_int(value: Any) -> int | None:
    # setType: is_numeric() first (rejects booleans and "abc"), then settype(), which truncates
    # toward zero ("1.9" → 1, 2.7 → 2, "1e3" → 1000). PHP would wrap or saturate values beyond
    # 64 bits; openmsi keeps the exact number and lets callers check column ranges.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return math.trunc(value) if math.isfinite(value) else None
    if not isinstance(value, str) or _PHP_NUMERIC.fullmatch(value) is None:
        return None
    if _PHP_INTEGER.fullmatch(value) is not None:
        try:
            return int(value)
        except ValueError:
            pass  # more digits than Python's int-from-str limit: go through float below
    number = float(value)
    # "1e400" is numeric for PHP but infinite: rejected, like non-finite JSON numbers.
    return math.trunc(number) if math.isfinite(number) else None


def _to_float(value: Any) -> float | None:
    # openmsi rejects non-finite values (JSON NaN/Infinity, "1e400"): PHP would carry INF/NAN
    # on into the database.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if not isinstance(value, str) or _PHP_NUMERIC.fullmatch(value) is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _to_string(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # beyond Python's int-to-str digit limit; JSON cannot produce it
            return None
    if isinstance(value, float):
        return php_float_to_string(value)
    return None


def _to_bool(value: Any) -> bool:
    # filter_var($value, FILTER_VALIDATE_BOOLEAN) on the value's PHP string form: only
    # "1"/"true"/"on"/"yes" (any case, trimmed) are true, every other scalar is false.
    if isinstance(value, bool):
        return value
    text = _to_string(value)
    if text is None:
        return False
    text = text.strip(_FILTER_TRIM)
    return text.isascii() and text.lower() in _TRUE_WORDS


def php_float_to_string(value: float) -> str:
    """PHP's ``(string)`` cast of a float: ``precision`` = 14 significant digits, ``%G``-style.

    ``5.0`` → ``"5"``, ``0.1 + 0.2`` → ``"0.3"``, ``1e20`` → ``"1.0E+20"``, ``1.5e-7`` →
    ``"1.5E-7"``, ``INF`` → ``"INF"``.
    """
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    text = f"{value:.14G}"
    mantissa, exponent_mark, exponent = text.partition("E")
    if not exponent_mark:
        return text
    # zend_gcvt writes at least one fractional digit and an unpadded exponent.
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}E{exponent[0]}{int(exponent[1:])}"


# --------------------------------------------------------------------------------------------
# PUT: the URL id overrides the body
# --------------------------------------------------------------------------------------------


def put_id_override(body: dict[str, Any], snake_name: str, value: Any) -> dict[str, Any]:
    """``ParamsOverrider::overrideRequestBodyIdWithPathParam`` for the last path variable.

    With exactly one top-level key holding an object (``{"source": {...}}``) the value goes
    into that object, otherwise to the top level. Either way ``substituteParameters`` replaces
    the camelCase key if it is set (PHP ``isset``: present and not null), else writes the
    snake_case key. So with both spellings present the body's other spelling survives, and
    whichever of the two comes last in the object wins when it is converted — Magento's quirk,
    kept on purpose. Returns a new dict; the input is not modified.
    """
    camel_name = _lower_first(upper_camel_case(snake_name))
    result = dict(body)
    if len(result) == 1:
        key, inner = next(iter(result.items()))
        if isinstance(inner, list):
            # is_array() is also true for a JSON list: PHP adds the key to the list-array.
            inner = dict(_php_array_items(inner))
        if isinstance(inner, dict):
            result[key] = _substitute(inner, snake_name, camel_name, value)
            return result
    return _substitute(result, snake_name, camel_name, value)


def _substitute(data: dict[str, Any], snake_name: str, camel_name: str, value: Any) -> dict[str, Any]:
    updated = dict(data)
    updated[camel_name if updated.get(camel_name) is not None else snake_name] = value
    return updated


def _lower_first(text: str) -> str:
    if text and "A" <= text[0] <= "Z":
        return text[0].lower() + text[1:]
    return text
