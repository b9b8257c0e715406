"""Magento's ``searchCriteria``: parsing, echoing, and applying it to a SQLAlchemy query.

Contract: spec ``http.md`` ("searchCriteria", "Type conversion", "Search result shape").

Magento sources mirrored here (all ``magento2:``):

* parsing: ``lib/internal/Magento/Framework/Webapi/ServiceInputProcessor.php``
  (``_createFromArray``, ``convertValue``) and ``lib/internal/Magento/Framework/Reflection/TypeProcessor.php``
  (``processSimpleAndAnyType``, ``setType``), onto ``lib/internal/Magento/Framework/Api/SearchCriteria.php``,
  ``.../Api/Search/FilterGroup.php``, ``.../Api/Filter.php``, ``.../Api/SortOrder.php``;
* filtering: ``.../Api/SearchCriteria/CollectionProcessor/FilterProcessor.php`` and
  ``lib/internal/Magento/Framework/DB/Adapter/Pdo/Mysql.php`` (``prepareSqlCondition``);
* sorting: ``.../Api/SearchCriteria/CollectionProcessor/SortingProcessor.php``;
* paging: ``.../Api/SearchCriteria/CollectionProcessor/PaginationProcessor.php`` and
  ``lib/internal/Magento/Framework/Data/Collection.php`` (``getCurPage``, ``getLastPageNumber``).

Where Magento lets a bad request reach MySQL and answers a masked 500 (unknown column, a
non-numeric value for a numeric column, a broken regular expression, a string where an object
is expected), openmsi answers a 400 that says what is wrong (spec ``openmsi.md``, policy 2).
Every client value reaches SQL as a bound parameter, never as SQL text.
"""

from __future__ import annotations

import re
import string
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from typing import Any, Final, Literal

import re2
from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Integer,
    Numeric,
    Select,
    String,
    and_,
    cast,
    false,
    literal,
    not_,
    or_,
)
from sqlalchemy import Column as TableColumn

from openmsi.db import compile_re2, regexp_pattern
from openmsi.errors import InputError
from openmsi.service_input import Field, ListOf, ObjectSpec, convert_object, php_numeric

__all__ = [
    "EMPTY",
    "INT64_MAX",
    "INT64_MIN",
    "Column",
    "Fields",
    "Filter",
    "Kind",
    "SearchCriteria",
    "SortOrder",
    "apply_filters",
    "apply_sort",
    "page_bounds",
    "parse",
    "unpaged_too_large",
]


# --------------------------------------------------------------------------------------------
# The parsed criteria
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """One filter, as received (after the string conversion of ``TypeProcessor``).

    ``field`` is ``""`` when the client sent none; applying such a filter is a 400.
    """

    field: str
    value: str | None
    condition_type: str | None

    def echo(self) -> dict[str, Any]:
        # Key order = getter order of Api/Filter.php; DataObjectProcessor drops null values.
        body: dict[str, Any] = {"field": self.field}
        if self.value is not None:
            body["value"] = self.value
        if self.condition_type is not None:
            body["condition_type"] = self.condition_type
        return body


@dataclass(frozen=True)
class SortOrder:
    """One sort order; ``direction`` is upper-cased (``SortOrder::setDirection``), ``None`` if omitted."""

    field: str
    direction: str | None

    def echo(self) -> dict[str, Any]:
        # The direction is emitted even when null (spec http.md, "Search result shape").
        return {"field": self.field, "direction": self.direction}


@dataclass(frozen=True)
class SearchCriteria:
    filter_groups: tuple[tuple[Filter, ...], ...]
    sort_orders: tuple[SortOrder, ...] | None
    page_size: int | None
    current_page: int | None
    # The most rows one answer may hold (OPENMSI_MAX_PAGE_SIZE), set by ``bounded``; None: no bound.
    max_rows: int | None = None

    def bounded(self, max_rows: int) -> SearchCriteria:
        """These criteria for an answer of at most ``max_rows`` rows, so that one request cannot
        make the process build millions of rows in memory: a larger page size is refused here,
        and a search without one that matches more rows by :func:`unpaged_too_large`.

        Magento has no such limit (Framework/Data/Collection/AbstractDb.php renders any
        ``LIMIT``).
        """
        if self.page_size is not None and self.page_size > max_rows:
            raise InputError(
                "The page size %1 is larger than %2, the most this server returns at once.",
                [self.page_size, max_rows],
            )
        return replace(self, max_rows=max_rows)

    def echo(self) -> dict[str, Any]:
        """The ``search_criteria`` object of a search result: as received, not clamped."""
        body: dict[str, Any] = {
            "filter_groups": [{"filters": [f.echo() for f in group]} for group in self.filter_groups]
        }
        if self.sort_orders is not None:
            body["sort_orders"] = [order.echo() for order in self.sort_orders]
        if self.page_size is not None:
            body["page_size"] = self.page_size
        if self.current_page is not None:
            body["current_page"] = self.current_page
        return body


EMPTY: Final = SearchCriteria(filter_groups=(), sort_orders=None, page_size=None, current_page=None)


# --------------------------------------------------------------------------------------------
# Parsing: the data interfaces, converted by service_input as every other request object
# --------------------------------------------------------------------------------------------

_FILTER: Final = ObjectSpec(
    "filter", (Field("field", "string"), Field("value", "string"), Field("condition_type", "string"))
)
_FILTER_GROUP: Final = ObjectSpec("filter_group", (Field("filters", ListOf(_FILTER)),))
_SORT_ORDER: Final = ObjectSpec("sort_order", (Field("field", "string"), Field("direction", "string")))
_SEARCH_CRITERIA: Final = ObjectSpec(
    "search_criteria",
    (
        Field("filter_groups", ListOf(_FILTER_GROUP)),
        Field("sort_orders", ListOf(_SORT_ORDER)),
        Field("page_size", "int"),
        Field("current_page", "int"),
    ),
)

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

# PHP's strtoupper is ASCII-only since PHP 8.2; str.upper() would turn "ſ" into "S".
_ASCII_UPPER: Final = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)

_SORT_DIRECTION_ERROR: Final = (
    "The sort order has to be specified as %1 for ascending order or %2 for descending order."
)


def parse(raw: Any) -> SearchCriteria:
    """Turn the ``searchCriteria`` parameter (as the query-string parser built it) into criteria.

    ``searchCriteria=`` (an empty string) is an empty criteria: Magento builds an object from
    a non-array as from ``[]``. Every malformed shape raises :class:`InputError`.
    """
    data = convert_object(raw, _SEARCH_CRITERIA)
    groups = tuple(
        tuple(_filter(item) for item in group.get("filters") or ())
        for group in data.get("filter_groups") or ()
    )
    orders = data.get("sort_orders")
    return SearchCriteria(
        filter_groups=groups,
        sort_orders=None if orders is None else tuple(_sort_order(item) for item in orders),
        page_size=_saturate(data.get("page_size")),
        current_page=_saturate(data.get("current_page")),
    )


def _filter(data: dict[str, Any]) -> Filter:
    return Filter(
        field=data.get("field") or "", value=data.get("value"), condition_type=data.get("condition_type")
    )


def _sort_order(data: dict[str, Any]) -> SortOrder:
    direction = data.get("direction")
    if direction is not None:
        # SortOrder::setDirection upper-cases and validates (an InputException of its own).
        direction = direction.translate(_ASCII_UPPER)
        if direction not in ("ASC", "DESC"):
            raise InputError(_SORT_DIRECTION_ERROR, ["ASC", "DESC"])
    return SortOrder(field=data.get("field") or "", direction=direction)


def _saturate(number: int | None) -> int | None:
    """Page numbers beyond 64 bits would overflow LIMIT/OFFSET on the database."""
    return None if number is None else max(INT64_MIN, min(INT64_MAX, number))


# --------------------------------------------------------------------------------------------
# Applying the criteria to a query
# --------------------------------------------------------------------------------------------

Kind = Literal["int", "decimal", "bool", "string", "datetime"]


@dataclass(frozen=True)
class Column:
    """A public field that clients may filter and sort on.

    ``kind`` decides how the always-string filter value is converted before it is bound; string
    columns are case-insensitive in openmsi's schema (``db.ci_string``), so comparisons use the
    column's own collation and never ``lower()``. A ``datetime`` column (UTC) compares with a
    value such as ``2026-12-05 10:00:00`` (Magento's format) or ``2026-12-05`` (midnight), UTC
    unless it carries an offset; LIKE and the other text conditions see the engine's text form.
    """

    expression: ColumnElement[Any]
    kind: Kind


Fields = Mapping[str, Column]

# Condition keys of Mysql::prepareSqlCondition; any other key (including "moreq" and upper-case
# spellings) misses the map and ends in ``$fieldName = $value``, i.e. eq. "is" and "ntoa" are in
# the map but meaningless here (``IS 'x'`` is a MySQL syntax error), so they are treated as eq.
_CONDITIONS: Final = frozenset(
    {
        "eq",
        "neq",
        "like",
        "nlike",
        "in",
        "nin",
        "notnull",
        "null",
        "gt",
        "lt",
        "gteq",
        "lteq",
        "finset",
        "nfinset",
        "regexp",
        "from",
        "to",
    }
)
# "from"/"to" are ">="/"<=" (Mysql::prepareSqlCondition, without a date/datetime flag).
_COMPARISON_OPS: Final = {
    "eq": "eq",
    "neq": "neq",
    "gt": "gt",
    "lt": "lt",
    "gteq": "gteq",
    "lteq": "lteq",
    "from": "gteq",
    "to": "lteq",
}
_TEXT_CONDITIONS: Final = frozenset({"like", "nlike", "regexp", "finset", "nfinset"})
# MySQL's default LIKE escape character, made explicit so SQLite (which has none) agrees.
_LIKE_ESCAPE: Final = "\\"

_EXPECTED_TYPE: Final[Mapping[Kind, str]] = {
    "int": "int",
    "decimal": "float",
    "bool": "bool",
    "string": "string",
    "datetime": "datetime",
}


def apply_filters(query: Select[Any], criteria: SearchCriteria, fields: Fields) -> Select[Any]:
    """Filters of one group are ORed, groups are ANDed (FilterProcessor::addFilterGroupToCollection)."""
    for group in criteria.filter_groups:
        conditions = [_condition(flt, fields) for flt in group]
        if conditions:  # an empty group adds nothing (FilterProcessor: ``if ($fields)``)
            query = query.where(or_(*conditions))
    return query


def apply_sort(
    query: Select[Any],
    criteria: SearchCriteria,
    fields: Fields,
    default_order: Sequence[ColumnElement[Any]],
) -> Select[Any]:
    """The client's sort orders in the given order, then ``default_order`` as tiebreaker.

    SortingProcessor::applyOrders: only ``ASC`` ascends; a missing direction descends. Magento
    adds nothing after the client's orders (and MSI configures no default order), which leaves
    ties and paging to the database's whim; openmsi always appends ``default_order`` so that
    pages are deterministic.
    """
    clauses: list[ColumnElement[Any]] = []
    for order in criteria.sort_orders or ():
        expression = _lookup(fields, order.field).expression
        ascending = (order.direction or "").translate(_ASCII_UPPER) == "ASC"
        if _nullable(expression):
            # MySQL puts NULLs first when ascending and last when descending; PostgreSQL does the
            # opposite and MariaDB has no NULLS FIRST/LAST, so the order is spelled out.
            is_null = expression.is_(None)
            clauses.append(is_null.desc() if ascending else is_null.asc())
        clauses.append(expression.asc() if ascending else expression.desc())
    clauses.extend(default_order)
    return query.order_by(*clauses) if clauses else query


def page_bounds(criteria: SearchCriteria, total_count: int) -> tuple[int | None, int]:
    """``(limit, offset)`` per Data/Collection.php: ``limit`` ``None`` means all rows.

    A ``current_page`` below 1 is 1 and one past the last page is the last page
    (``getCurPage``); with no rows the last page is 1 (``getLastPageNumber``).
    """
    size = criteria.page_size
    if size is None or size <= 0:
        # 0 or absent: _renderLimit adds no LIMIT. Negative: Magento's Zend_Db_Select::limitPage
        # turns it into LIMIT 1, an accident nobody relies on; openmsi treats it as absent.
        return None, 0
    last_page = max(1, -(-total_count // size))
    page = min(max(criteria.current_page or 1, 1), last_page)
    return size, (page - 1) * size


def unpaged_too_large(maximum: int) -> InputError:
    return InputError(
        "The search matches more than %1 items, the most this server returns at once: "
        "ask for pages with searchCriteria[pageSize].",
        [maximum],
    )


def _lookup(fields: Fields, name: str) -> Column:
    column = fields.get(name)
    if column is None and name:
        # Magento puts the field into SQL as an identifier, and MySQL column names are
        # case-insensitive: "Source_Code" works there.
        folded = name.casefold()
        column = next((c for key, c in fields.items() if key.casefold() == folded), None)
    if column is None:
        # Magento: a database error, i.e. a masked 500.
        raise InputError(
            '"%fieldName" is not a searchable field. Use one of: %fields.',
            {"fieldName": name, "fields": ", ".join(fields)},
        )
    return column


def _nullable(expression: ColumnElement[Any]) -> bool:
    clause = getattr(expression, "__clause_element__", None)
    element = clause() if callable(clause) else expression
    return not isinstance(element, TableColumn) or bool(element.nullable)


def _condition(flt: Filter, fields: Fields) -> ColumnElement[bool]:
    column = _lookup(fields, flt.field)
    condition = flt.condition_type or "eq"  # FilterProcessor: empty or absent means eq
    value = flt.value
    if condition == "fulltext":
        # FilterProcessor.php rewrites it (magento-engcom/msi#1221); the value is not escaped.
        condition, value = "like", f"%{value or ''}%"
    elif condition in ("seq", "sneq"):
        # Mysql::_transformStringSqlCondition: an empty value means (NOT) NULL.
        empty = (value or "") == ""
        condition = ("null" if empty else "eq") if condition == "seq" else ("notnull" if empty else "neq")
    elif condition not in _CONDITIONS:
        condition = "eq"

    expression = column.expression
    if condition == "null":
        return expression.is_(None)
    if condition == "notnull":
        return expression.is_not(None)
    if value is None:
        # Magento quotes a missing value as NULL: ``= NULL``, ``IN (NULL)``, ``LIKE NULL`` … match
        # nothing.
        return false()
    if condition in _TEXT_CONDITIONS:
        return _text_condition(column, condition, value)
    if condition in ("in", "nin"):
        # Mysql::prepareSqlCondition explodes a string on "," without trimming.
        return _membership(column, value.split(","), negate=condition == "nin")
    return _comparison(column, _COMPARISON_OPS[condition], value)


def _text_condition(column: Column, condition: str, value: str) -> ColumnElement[bool]:
    # MySQL compares a number with LIKE/REGEXP through its text form; so does openmsi, explicitly.
    target = column.expression if column.kind == "string" else cast(column.expression, String())
    if condition == "like":
        return target.like(_like_pattern(value), escape=_LIKE_ESCAPE)
    if condition == "nlike":
        return target.not_like(_like_pattern(value), escape=_LIKE_ESCAPE)
    if condition == "regexp":
        return target.regexp_match(_regexp_pattern(value, column.kind))
    found = _find_in_set(target, value)
    if condition == "finset":
        return found
    # NOT FIND_IN_SET(v, NULL) is NULL: rows with NULL never match either way.
    return and_(target.is_not(None), not_(found))


def _like_pattern(value: str) -> str:
    """The client's pattern with MySQL's semantics: a trailing lone backslash is a literal
    backslash in MySQL but an error in PostgreSQL, so it is escaped."""
    trailing = len(value) - len(value.rstrip(_LIKE_ESCAPE))
    return value + _LIKE_ESCAPE if trailing % 2 else value


def _escape_like(value: str) -> str:
    for char in (_LIKE_ESCAPE, "%", "_"):
        value = value.replace(char, _LIKE_ESCAPE + char)
    return value


def _regexp_pattern(value: str, kind: Kind) -> Any:
    """MySQL REGEXP on a case-insensitive column ignores case; SQLite's REGEXP (RE2, see
    ``db.regexp``) does not look at collations, so the pattern says it itself. ``(?i)`` at the
    start is understood by MySQL (ICU), MariaDB (PCRE), PostgreSQL (ARE embedded options),
    Python and RE2.

    A pattern must compile with both Python's ``re`` and RE2: the common subset of the
    engines' dialects, so SQLite never fails inside its REGEXP function, and a linear-time one
    (no backreferences, no lookaround), so no filter can run away on any engine; and nothing
    PostgreSQL refuses, see ``_beyond_postgresql``."""
    pattern = "(?i)" + value if kind == "string" else value
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. FutureWarning "Possible nested set"
            re.compile(pattern)
        compile_re2(pattern)
        if _beyond_postgresql(value):
            raise re.error("outside PostgreSQL's dialect")
    except (re.error, re2.error, OverflowError, RecursionError):
        # Magento: a database error (masked 500).
        raise InputError('The "%value" value is not a valid regular expression.', {"value": value}) from None
    return regexp_pattern(pattern)


# A counted repetition: {n}, {n,} or {n,m}.
_REPEAT_COUNT: Final = re.compile(r"\{(\d+)(?:,(\d*))?\}")


def _beyond_postgresql(pattern: str) -> bool:
    """Whether a pattern Python and RE2 accept uses what PostgreSQL's regular expressions
    (ARE) refuse: a group opened with ``(?`` other than ``(?:`` (named groups, flag groups,
    which ARE takes only at the very start, where openmsi puts its own ``(?i)``) or a
    repetition count above 255 (``DUP_MAX``). Escapes and bracket expressions are skipped."""
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # A "]" first in the class (after an optional "^") is a literal.
            if pattern.startswith("]", index + 1):
                index += 1
            elif pattern.startswith("^]", index + 1):
                index += 2
        elif char == "(" and pattern.startswith("(?", index) and not pattern.startswith("(?:", index):
            return True
        elif char == "{":
            count = _REPEAT_COUNT.match(pattern, index)
            if count is not None and any(int(number) > 255 for number in count.groups() if number):
                return True
        index += 1
    return False


def _find_in_set(target: ColumnElement[Any], value: str) -> ColumnElement[bool]:
    """MySQL's ``FIND_IN_SET(value, column)`` on any engine: ``value`` is one element of the
    comma-separated column. Each test keeps the column on the left, so its collation (or
    CITEXT type) still decides case; ``%``, ``_`` and ``\\`` in the value are literal."""
    if "," in value:
        return false()  # an element never contains the separator: FIND_IN_SET returns 0
    element = _escape_like(value)
    tests: list[ColumnElement[bool]] = [
        target.like(f"{element},%", escape=_LIKE_ESCAPE),
        target.like(f"%,{element}", escape=_LIKE_ESCAPE),
        target.like(f"%,{element},%", escape=_LIKE_ESCAPE),
    ]
    if value != "":  # FIND_IN_SET('', '') is 0: an empty list has no elements
        tests.insert(0, target == value)
    return or_(*tests)


# ---- numeric and boolean values -------------------------------------------------------------


@dataclass(frozen=True)
class _Domain:
    """The numbers a column can hold, so a bound parameter never overflows the driver or the
    database: a value outside is replaced by the nearest value inside that gives the same rows."""

    scale: int
    low: Decimal
    high: Decimal

    def place(self, number: Decimal) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
        """``(number itself if representable, largest representable below, smallest above)``."""
        if number > self.high:
            return None, self.high, None
        if number < self.low:
            return None, None, self.low
        with localcontext() as context:
            context.prec = 100  # enough for 35 integer digits and 30 decimals, exact
            quantum = Decimal(1).scaleb(-self.scale)
            below = number.quantize(quantum, rounding=ROUND_FLOOR)
            above = number.quantize(quantum, rounding=ROUND_CEILING)
            if below == above:
                # The shortest fixed-point spelling: drivers that send text (PyMySQL) would
                # otherwise send "1E+2", which MySQL reads as a double.
                exact = below.normalize()
                exponent = exact.as_tuple().exponent
                if isinstance(exponent, int) and exponent > 0:
                    exact = exact.quantize(Decimal(1))
                return exact, None, None
        return None, below, above


_INT_DOMAIN: Final = _Domain(scale=0, low=Decimal(INT64_MIN), high=Decimal(INT64_MAX))
# MySQL DECIMAL holds at most 65 digits, 30 of them after the point.
_DECIMAL_MAX: Final = Decimal("9" * 35 + "." + "9" * 30)
_DECIMAL_DOMAIN: Final = _Domain(scale=30, low=-_DECIMAL_MAX, high=_DECIMAL_MAX)


def _to_number(value: str, kind: Kind) -> Decimal:
    """MySQL coerces the quoted value to the column's type ("10" and "10.0" match 10); what it
    cannot read it silently takes as 0. openmsi refuses it instead."""
    number = php_numeric(value)
    if number is not None:
        return number
    raise InputError.invalid_type(value, _EXPECTED_TYPE[kind])


def _to_datetime(value: str) -> datetime:
    """MySQL compares a DATETIME column with a date or date-time string; what it cannot read as
    one it compares as something else. openmsi refuses it instead."""
    try:
        moment = datetime.fromisoformat(value.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset that leaves years 1–9999
        raise InputError.invalid_type(value, _EXPECTED_TYPE["datetime"]) from None


def _to_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true"):
        return True
    if lowered in ("0", "false"):
        return False
    number = php_numeric(value)
    if number is not None:
        return number != 0
    raise InputError.invalid_type(value, "bool")


def _bind_bool(column: Column, flag: bool) -> ColumnElement[Any]:
    # A Boolean column takes a boolean; a SMALLINT flag takes 0/1 (PostgreSQL rejects
    # ``smallint = boolean``).
    if isinstance(getattr(column.expression, "type", None), Boolean):
        return literal(flag, Boolean())
    return literal(int(flag), Integer())


def _number_binder(column: Column) -> tuple[_Domain, Callable[[Decimal], ColumnElement[Any]]]:
    if column.kind == "int":
        # BIGINT, not INTEGER: psycopg casts the parameter, and the domain is 64-bit.
        return _INT_DOMAIN, lambda number: literal(int(number), BigInteger())
    # Numeric() sends a Decimal where the driver takes one and a float to SQLite.
    return _DECIMAL_DOMAIN, lambda number: literal(number, Numeric())


def _compare(expression: ColumnElement[Any], op: str, bound: ColumnElement[Any]) -> ColumnElement[bool]:
    if op == "eq":
        return expression == bound
    if op == "neq":
        return expression != bound
    if op == "gt":
        return expression > bound
    if op == "gteq":
        return expression >= bound
    if op == "lt":
        return expression < bound
    return expression <= bound


def _comparison(column: Column, op: str, value: str) -> ColumnElement[bool]:
    expression = column.expression
    if column.kind == "string":
        # Bound with the column's own type, so PostgreSQL compares citext with citext.
        return _compare(expression, op, literal(value, expression.type))
    if column.kind == "datetime":
        return _compare(expression, op, literal(_to_datetime(value), expression.type))
    if column.kind == "bool":
        return _compare(expression, op, _bind_bool(column, _to_bool(value)))
    domain, bind = _number_binder(column)
    exact, below, above = domain.place(_to_number(value, column.kind))
    if exact is not None:
        return _compare(expression, op, bind(exact))
    # The value lies between two values the column can hold (10.5 for an int column) or beyond
    # all of them: equality never holds, and a range becomes the equivalent closed range.
    if op == "eq":
        return false()
    if op == "neq":
        return expression.is_not(None)
    if op in ("gt", "gteq"):
        return false() if above is None else expression >= bind(above)
    return false() if below is None else expression <= bind(below)


def _membership(column: Column, parts: list[str], *, negate: bool) -> ColumnElement[bool]:
    expression = column.expression
    if column.kind == "string":
        values: list[Any] = [literal(part, expression.type) for part in parts]
    elif column.kind == "datetime":
        values = [literal(_to_datetime(part), expression.type) for part in parts]
    elif column.kind == "bool":
        values = [_bind_bool(column, _to_bool(part)) for part in parts]
    else:
        domain, bind = _number_binder(column)
        # A value the column cannot hold equals no row: it is dropped from the list.
        exact = (domain.place(_to_number(part, column.kind))[0] for part in parts)
        values = [bind(number) for number in exact if number is not None]
    if not values:
        # ``x NOT IN (<nothing>)`` would also be true for NULL, unlike MySQL's ``NOT IN (10.5)``.
        return expression.is_not(None) if negate else false()
    return expression.not_in(values) if negate else expression.in_(values)
