"""searchCriteria: parsing and echo (spec http.md, "searchCriteria", "Type conversion",
"Search result shape"), and the SQL it produces, run on an in-memory SQLite table."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Engine,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    create_engine,
    select,
)
from sqlalchemy import Column as TableColumn
from sqlalchemy.sql import ColumnElement

from openmsi.errors import InputError
from openmsi.models import UTCDateTime
from openmsi.search_criteria import (
    EMPTY,
    INT64_MAX,
    INT64_MIN,
    Column,
    Filter,
    SearchCriteria,
    SortOrder,
    apply_filters,
    apply_sort,
    page_bounds,
    parse,
)

TYPE_ERROR = 'The "{}" value\'s type is invalid. The "{}" type was expected. Verify and try again.'
SORT_ERROR = "The sort order has to be specified as %1 for ascending order or %2 for descending order."
NOT_SUPPORTED = '"%fieldName" is not supported. Correct the field name and try again.'
NOT_SEARCHABLE = '"%fieldName" is not a searchable field. Use one of: %fields.'


def type_error(value: str, expected: str, *path: str) -> str:
    prefix = "".join(f'Error occurred during "{key}" processing. ' for key in path)
    return prefix + TYPE_ERROR.format(value, expected)


def one_filter(field: Any, value: Any = None, condition: Any = None, **extra: Any) -> dict[str, Any]:
    """The criteria a query string with one filter builds (PHP parse_str: lists are dicts)."""
    flt: dict[str, Any] = {"field": field}
    if value is not None:
        flt["value"] = value
    if condition is not None:
        flt["condition_type"] = condition
    return {"filter_groups": {"0": {"filters": {"0": flt}}}, **extra}


def raises(raw: Any) -> InputError:
    with pytest.raises(InputError) as caught:
        parse(raw)
    return caught.value


# ============================================================================================
# Parsing and echo
# ============================================================================================


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="absent"),
        pytest.param("", id="empty-string"),
        pytest.param({}, id="empty-object"),
        pytest.param([], id="empty-list"),
        pytest.param({"filter_groups": {}}, id="no-groups"),
    ],
)
def test_empty_criteria(raw: Any) -> None:
    criteria = parse(raw)
    assert criteria.filter_groups == ()
    assert criteria.echo() == {"filter_groups": []}


def test_empty_constant() -> None:
    assert SearchCriteria((), None, None, None) == EMPTY
    assert EMPTY.echo() == {"filter_groups": []}


def test_full_criteria_snake_case() -> None:
    raw = {
        "filter_groups": {
            "0": {
                "filters": {
                    "0": {"field": "stock_id", "value": "10", "condition_type": "eq"},
                    "1": {"field": "name", "value": "x%", "condition_type": "like"},
                }
            },
            "1": {"filters": {"0": {"field": "enabled", "value": "1"}}},
        },
        "sort_orders": {"0": {"field": "source_code", "direction": "desc"}, "1": {"field": "name"}},
        "page_size": "2",
        "current_page": "2",
    }
    criteria = parse(raw)
    assert criteria == SearchCriteria(
        filter_groups=(
            (Filter("stock_id", "10", "eq"), Filter("name", "x%", "like")),
            (Filter("enabled", "1", None),),
        ),
        sort_orders=(SortOrder("source_code", "DESC"), SortOrder("name", None)),
        page_size=2,
        current_page=2,
    )
    echo = criteria.echo()
    assert echo == {
        "filter_groups": [
            {
                "filters": [
                    {"field": "stock_id", "value": "10", "condition_type": "eq"},
                    {"field": "name", "value": "x%", "condition_type": "like"},
                ]
            },
            {"filters": [{"field": "enabled", "value": "1"}]},
        ],
        "sort_orders": [{"field": "source_code", "direction": "DESC"}, {"field": "name", "direction": None}],
        "page_size": 2,
        "current_page": 2,
    }
    # Key order is part of the contract (Magento's getter order).
    assert list(echo) == ["filter_groups", "sort_orders", "page_size", "current_page"]
    assert list(echo["filter_groups"][0]["filters"][0]) == ["field", "value", "condition_type"]


def test_full_criteria_camel_case_echoes_snake_case() -> None:
    raw = {
        "filterGroups": {"0": {"filters": {"0": {"field": "sku", "value": "A", "conditionType": "neq"}}}},
        "sortOrders": {"0": {"field": "sku", "direction": "ASC"}},
        "pageSize": "5",
        "currentPage": "1",
    }
    assert parse(raw).echo() == {
        "filter_groups": [{"filters": [{"field": "sku", "value": "A", "condition_type": "neq"}]}],
        "sort_orders": [{"field": "sku", "direction": "ASC"}],
        "page_size": 5,
        "current_page": 1,
    }


@pytest.mark.parametrize(
    ("key", "attribute"),
    [
        pytest.param("page_size", "page_size", id="snake"),
        pytest.param("pageSize", "page_size", id="camel"),
        pytest.param("PageSize", "page_size", id="upper-camel"),
        pytest.param("Page_Size", "page_size", id="ucwords-underscore"),
        pytest.param("page__size", "page_size", id="double-underscore"),
        pytest.param("current_page", "current_page", id="current-snake"),
        pytest.param("currentPage", "current_page", id="current-camel"),
    ],
)
def test_key_spellings(key: str, attribute: str) -> None:
    # ServiceInputProcessor: ucwords($key, '_') minus '_' must equal a getter name exactly.
    assert getattr(parse({key: "3"}), attribute) == 3


def test_later_spelling_wins_when_both_are_sent() -> None:
    # Each key calls the setter in the order sent, so the last one stays.
    assert parse({"page_size": "1", "pageSize": "2"}).page_size == 2
    assert parse({"pageSize": "2", "page_size": "1"}).page_size == 1


def test_lists_keep_insertion_order_and_accept_python_lists() -> None:
    raw = {
        "filter_groups": [
            {"filters": {"5": {"field": "b", "value": "2"}, "0": {"field": "a", "value": "1"}}}
        ],
        "sort_orders": {"1": {"field": "y"}, "0": {"field": "x"}},
    }
    criteria = parse(raw)
    assert [f.field for f in criteria.filter_groups[0]] == ["b", "a"]
    assert [s.field for s in criteria.sort_orders or ()] == ["y", "x"]


@pytest.mark.parametrize(
    ("filter_raw", "echo"),
    [
        pytest.param({"field": "a", "value": "1"}, {"field": "a", "value": "1"}, id="no-condition"),
        pytest.param(
            {"field": "a", "condition_type": "null"}, {"field": "a", "condition_type": "null"}, id="no-value"
        ),
        pytest.param(
            {"field": "a", "value": "", "condition_type": ""},
            {"field": "a", "value": "", "condition_type": ""},
            id="empty-strings-kept",
        ),
        pytest.param({"field": "a", "value": 5}, {"field": "a", "value": "5"}, id="int-value-as-string"),
        pytest.param({"field": "a", "value": 2.0}, {"field": "a", "value": "2"}, id="float-value-as-string"),
        pytest.param({"field": "a", "value": True}, {"field": "a", "value": "1"}, id="bool-value-as-string"),
        pytest.param(
            {"field": "a", "value": "x", "condition_type": "LIKE"},
            {"field": "a", "value": "x", "condition_type": "LIKE"},
            id="condition-as-received",
        ),
    ],
)
def test_filter_echo(filter_raw: dict[str, Any], echo: dict[str, Any]) -> None:
    raw = {"filter_groups": {"0": {"filters": {"0": filter_raw}}}}
    assert parse(raw).echo() == {"filter_groups": [{"filters": [echo]}]}


def test_empty_group_echoes_empty_filters() -> None:
    assert parse({"filter_groups": {"0": {}}}).echo() == {"filter_groups": [{"filters": []}]}


@pytest.mark.parametrize(
    ("direction", "stored"),
    [
        pytest.param("ASC", "ASC", id="asc"),
        pytest.param("asc", "ASC", id="asc-lower"),
        pytest.param("Desc", "DESC", id="desc-mixed"),
        pytest.param(None, None, id="omitted"),
    ],
)
def test_sort_direction_is_upper_cased(direction: str | None, stored: str | None) -> None:
    order: dict[str, Any] = {"field": "name"}
    if direction is not None:
        order["direction"] = direction
    criteria = parse({"sort_orders": {"0": order}})
    assert criteria.sort_orders == (SortOrder("name", stored),)
    assert criteria.echo()["sort_orders"] == [{"field": "name", "direction": stored}]


@pytest.mark.parametrize(
    "direction",
    [
        pytest.param("up", id="word"),
        pytest.param("", id="empty"),
        pytest.param("ascending", id="long"),
        pytest.param(" ASC", id="padded"),
        pytest.param("aſc", id="non-ascii-upper"),
        pytest.param(1, id="number"),
    ],
)
def test_bad_sort_direction(direction: Any) -> None:
    error = raises({"sort_orders": {"0": {"field": "name", "direction": direction}}})
    assert (error.message, error.parameters) == (SORT_ERROR, ["ASC", "DESC"])
    assert error.envelope() == {"message": SORT_ERROR, "parameters": ["ASC", "DESC"]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2", 2, id="digits"),
        pytest.param("1.9", 1, id="decimal-truncates"),
        pytest.param("-1.9", -1, id="negative-decimal-truncates-to-zero"),
        pytest.param(" 3 ", 3, id="whitespace"),
        pytest.param("+4", 4, id="plus"),
        pytest.param("1e3", 1000, id="exponent"),
        pytest.param(".5", 0, id="leading-dot"),
        pytest.param("5.", 5, id="trailing-dot"),
        pytest.param("0", 0, id="zero"),
        pytest.param("-2", -2, id="negative"),
        pytest.param("99999999999999999999999", INT64_MAX, id="saturates-high"),
        pytest.param("-99999999999999999999999", INT64_MIN, id="saturates-low"),
        pytest.param(7, 7, id="json-int"),
        pytest.param(2.7, 2, id="json-float"),
    ],
)
def test_page_size_int_conversion(value: Any, expected: int) -> None:
    criteria = parse({"page_size": value, "current_page": value})
    assert (criteria.page_size, criteria.current_page) == (expected, expected)
    assert criteria.echo()["page_size"] == expected  # echoed after conversion, not clamped


@pytest.mark.parametrize(
    ("key", "value", "rendered"),
    [
        pytest.param("page_size", "abc", "abc", id="word"),
        pytest.param("page_size", "", "", id="empty"),
        pytest.param("page_size", "0x1A", "0x1A", id="hex"),
        pytest.param("page_size", "1e", "1e", id="bad-exponent"),
        pytest.param("page_size", ".", ".", id="dot"),
        pytest.param("page_size", "inf", "inf", id="inf"),
        pytest.param("page_size", "nan", "nan", id="nan"),
        pytest.param("page_size", "١٢", "١٢", id="non-ascii-digits"),
        pytest.param("page_size", "2 3", "2 3", id="inner-space"),
        pytest.param("pageSize", "x", "x", id="camel-key-as-sent"),
        pytest.param("current_page", "x", "x", id="current-page"),
        pytest.param("page_size", {"0": "1"}, "array", id="array"),
        pytest.param("page_size", True, "1", id="boolean"),
    ],
)
def test_page_size_type_errors(key: str, value: Any, rendered: str) -> None:
    error = raises({key: value})
    assert error.message == type_error(rendered, "int", key)
    assert error.envelope() == {"message": error.message}  # fully rendered, no parameters


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            {"filter_groups": "x"}, type_error("x", "object[]", "filter_groups"), id="groups-string"
        ),
        pytest.param(
            {"filter_groups": ""}, type_error("", "object[]", "filter_groups"), id="groups-empty-string"
        ),
        pytest.param(
            {"filter_groups": {"0": {"filters": "x"}}},
            type_error("x", "object[]", "filter_groups", "filters"),
            id="filters-string",
        ),
        pytest.param(
            one_filter("a", {"0": "1"}),
            type_error("array", "string", "filter_groups", "filters", "value"),
            id="value-array",
        ),
        pytest.param(
            one_filter(["a"]),
            type_error("array", "string", "filter_groups", "filters", "field"),
            id="field-array",
        ),
        pytest.param(
            one_filter("a", "1", {"x": "y"}),
            type_error("array", "string", "filter_groups", "filters", "condition_type"),
            id="condition-array",
        ),
        pytest.param(
            {"sort_orders": "x"}, type_error("x", "object[]", "sort_orders"), id="sort-orders-string"
        ),
        pytest.param(
            {"sort_orders": {"0": {"field": "a", "direction": {"0": "ASC"}}}},
            type_error("array", "string", "sort_orders", "direction"),
            id="direction-array",
        ),
    ],
)
def test_shape_errors(raw: Any, message: str) -> None:
    error = raises(raw)
    assert error.message == message
    assert error.parameters is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("abc", EMPTY, id="top-level-string"),
        pytest.param(5, EMPTY, id="top-level-number"),
        pytest.param(
            {"filterGroups": {"0": "x"}}, SearchCriteria(((),), None, None, None), id="group-string"
        ),
        pytest.param(
            {"filter_groups": {"0": {"filters": {"0": "x"}}}},
            SearchCriteria(((Filter("", None, None),),), None, None, None),
            id="filter-string",
        ),
        pytest.param(
            {"sortOrders": {"0": 3}},
            SearchCriteria((), (SortOrder("", None),), None, None),
            id="sort-order-number",
        ),
    ],
)
def test_scalars_where_an_object_is_expected_build_an_empty_object(
    raw: Any, expected: SearchCriteria
) -> None:
    # ServiceInputProcessor::_createFromArray: "$data = is_array($data) ? $data : []". A filter or
    # sort order without a field is refused later, when it is applied.
    assert parse(raw) == expected


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        pytest.param({"foo": "1"}, "Foo", id="top-level"),
        pytest.param({"page_sizes": "1"}, "PageSizes", id="near-miss"),
        pytest.param({"pagesize": "1"}, "Pagesize", id="wrong-case"),
        pytest.param(["x"], "0", id="top-level-list"),
        pytest.param({"filter_groups": {"0": {"filter": {}}}}, "Filter", id="group-key"),
        pytest.param(
            {"filter_groups": {"0": {"filters": {"0": {"field": "a", "condition": "eq"}}}}},
            "Condition",
            id="filter-key",
        ),
        pytest.param(
            {"filter_groups": {"0": {"filters": {"0": {"field": "a", "conditiontype": "eq"}}}}},
            "Conditiontype",
            id="filter-key-case",
        ),
        pytest.param({"sort_orders": {"0": {"field": "a", "dir": "ASC"}}}, "Dir", id="sort-key"),
        pytest.param({"filter_groups": {"filters": {"0": {"field": "a"}}}}, "0", id="missing-group-index"),
    ],
)
def test_unknown_keys(raw: Any, name: str) -> None:
    error = raises(raw)
    assert error.envelope() == {"message": NOT_SUPPORTED, "parameters": {"fieldName": name}}


def test_first_error_in_key_order_wins() -> None:
    assert raises({"page_size": "x", "foo": "1"}).message == type_error("x", "int", "page_size")
    assert raises({"foo": "1", "page_size": "x"}).message == NOT_SUPPORTED


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"filter_groups": {"0": {"filters": {"0": None}}}}, id="null-filter"),
        pytest.param({"filter_groups": {"0": None}}, id="null-group"),
        pytest.param({"filter_groups": {"0": {"filters": {"0": {"field": {"a": {"b": "c"}}}}}}}, id="deep"),
        pytest.param({"sort_orders": [None]}, id="null-sort-order"),
        pytest.param({"current_page": [1]}, id="page-list"),
        pytest.param({"current_page": 1.5e300}, id="page-huge-float"),
        pytest.param({"current_page": float("nan")}, id="page-nan"),
        pytest.param({"filter_groups": 3.5}, id="groups-float"),
        pytest.param(("x",), id="top-level-tuple"),
        pytest.param(object(), id="object"),
    ],
)
def test_any_shape_is_an_input_error_or_parses(raw: Any) -> None:
    try:
        parse(raw)
    except InputError as error:
        assert error.message


# ============================================================================================
# SQL behaviour
# ============================================================================================

metadata = MetaData()
items = Table(
    "items",
    metadata,
    TableColumn("id", Integer, primary_key=True, autoincrement=False),
    TableColumn("code", String(64, collation="NOCASE"), nullable=False),
    TableColumn("note", String(64), nullable=True),
    TableColumn("enabled", Boolean, nullable=False),
    TableColumn("flag", SmallInteger, nullable=False),
    TableColumn("qty", Numeric(12, 4), nullable=False),
)
ROWS = [
    {"id": 1, "code": "eu-1", "note": "a,b,c", "enabled": True, "flag": 1, "qty": Decimal("10.0000")},
    {"id": 2, "code": "EU-2", "note": None, "enabled": False, "flag": 0, "qty": Decimal("0.5000")},
    {"id": 3, "code": "us-1", "note": "b", "enabled": True, "flag": 0, "qty": Decimal("100.0000")},
    {"id": 4, "code": "us_2", "note": "", "enabled": False, "flag": 1, "qty": Decimal("2.2500")},
    {"id": 5, "code": "de-1", "note": "x%y,a", "enabled": True, "flag": 1, "qty": Decimal("10.0000")},
]
ALL = [1, 2, 3, 4, 5]
FIELDS = {
    "id": Column(items.c.id, "int"),
    "code": Column(items.c.code, "string"),
    "note": Column(items.c.note, "string"),
    "enabled": Column(items.c.enabled, "bool"),
    "flag": Column(items.c.flag, "bool"),
    "qty": Column(items.c.qty, "decimal"),
}


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(items.insert(), ROWS)
    yield engine
    engine.dispose()


def run(
    engine: Engine,
    raw: Any,
    default_order: Sequence[ColumnElement[Any]] = (items.c.id,),
    *,
    paged: bool = False,
) -> list[int]:
    criteria = parse(raw)
    query = apply_filters(select(items.c.id), criteria, FIELDS)
    with engine.connect() as connection:
        if paged:
            total = len(connection.execute(query).all())
            limit, offset = page_bounds(criteria, total)
            query = query.offset(offset)
            if limit is not None:
                query = query.limit(limit)
        query = apply_sort(query, criteria, FIELDS, default_order)
        return list(connection.scalars(query))


@pytest.mark.parametrize(
    ("field", "value", "condition", "expected"),
    [
        # eq, and everything that falls back to it
        pytest.param("code", "eu-1", "eq", [1], id="eq"),
        pytest.param("code", "EU-1", "eq", [1], id="eq-case-insensitive"),
        pytest.param("code", "us-1", None, [3], id="eq-default"),
        pytest.param("code", "us-1", "", [3], id="eq-empty-condition"),
        pytest.param("code", "us-1", "moreq", [3], id="moreq-is-eq"),
        pytest.param("code", "us-1", "is", [3], id="is-is-eq"),
        pytest.param("code", "eu%", "LIKE", [], id="upper-case-condition-is-eq"),
        pytest.param("code", "eu", "eq", [], id="eq-no-partial"),
        # neq
        pytest.param("note", "b", "neq", [1, 4, 5], id="neq-skips-null"),
        pytest.param("code", "EU-2", "neq", [1, 3, 4, 5], id="neq-case-insensitive"),
        # like / nlike
        pytest.param("code", "eu%", "like", [1, 2], id="like"),
        pytest.param("code", "us_%", "like", [3, 4], id="like-underscore-wildcard"),
        pytest.param("code", "us\\_%", "like", [4], id="like-escaped-underscore"),
        pytest.param("code", "%-1", "like", [1, 3, 5], id="like-suffix"),
        pytest.param("code", "eu-1\\", "like", [], id="like-trailing-backslash"),
        pytest.param("code", "eu%", "nlike", [3, 4, 5], id="nlike"),
        pytest.param("note", "%b%", "nlike", [4, 5], id="nlike-skips-null"),
        pytest.param("id", "1%", "like", [1], id="like-on-int"),
        pytest.param("qty", "1%", "like", [1, 3, 5], id="like-on-decimal"),
        # in / nin
        pytest.param("id", "1,3", "in", [1, 3], id="in-int"),
        pytest.param("code", "EU-1,us-1", "in", [1, 3], id="in-string"),
        pytest.param("code", "eu-1, us-1", "in", [1], id="in-no-trimming"),
        pytest.param("code", "eu-1", "in", [1], id="in-single"),
        pytest.param("id", "2,2.5", "in", [2], id="in-drops-non-integer"),
        pytest.param("id", "2.5", "in", [], id="in-nothing-left"),
        pytest.param("id", "1,3", "nin", [2, 4, 5], id="nin-int"),
        pytest.param("note", "b,", "nin", [1, 5], id="nin-string-skips-null"),
        pytest.param("id", "2.5", "nin", ALL, id="nin-nothing-left"),
        pytest.param("note", "2.5", "nin", [1, 3, 4, 5], id="nin-string-skips-null-2"),
        pytest.param("qty", "10,0.5", "in", [1, 2, 5], id="in-decimal"),
        pytest.param("enabled", "0", "in", [2, 4], id="in-bool"),
        # ranges
        pytest.param("qty", "2.25", "gt", [1, 3, 5], id="gt"),
        pytest.param("qty", "2.25", "gteq", [1, 3, 4, 5], id="gteq"),
        pytest.param("qty", "10", "lt", [2, 4], id="lt"),
        pytest.param("qty", "10", "lteq", [1, 2, 4, 5], id="lteq"),
        pytest.param("qty", "10", "from", [1, 3, 5], id="from"),
        pytest.param("qty", "10", "to", [1, 2, 4, 5], id="to"),
        pytest.param("id", "3", "gt", [4, 5], id="gt-int"),
        pytest.param("code", "eu-2", "gt", [3, 4], id="gt-string-case-insensitive"),
        # null / notnull
        pytest.param("note", None, "null", [2], id="null"),
        pytest.param("note", "x", "null", [2], id="null-ignores-value"),
        pytest.param("note", None, "notnull", [1, 3, 4, 5], id="notnull"),
        pytest.param("code", None, "null", [], id="null-none"),
        # seq / sneq (Mysql::_transformStringSqlCondition)
        pytest.param("note", "", "seq", [2], id="seq-empty-is-null"),
        pytest.param("note", "b", "seq", [3], id="seq-value"),
        pytest.param("note", "", "sneq", [1, 3, 4, 5], id="sneq-empty-is-notnull"),
        pytest.param("note", "b", "sneq", [1, 4, 5], id="sneq-value"),
        # regexp
        pytest.param("code", "^eu", "regexp", [1, 2], id="regexp-case-insensitive"),
        pytest.param("code", "-1$", "regexp", [1, 3, 5], id="regexp-suffix"),
        pytest.param("code", "^(de|us)-", "regexp", [3, 5], id="regexp-alternation"),
        pytest.param("note", ".", "regexp", [1, 3, 5], id="regexp-skips-null"),
        pytest.param("id", "^[12]$", "regexp", [1, 2], id="regexp-on-int"),
        # finset / nfinset
        pytest.param("note", "b", "finset", [1, 3], id="finset"),
        pytest.param("note", "a", "finset", [1, 5], id="finset-first-and-last"),
        pytest.param("note", "c", "finset", [1], id="finset-last"),
        pytest.param("code", "EU-1", "finset", [1], id="finset-case-insensitive"),
        pytest.param("code", "u", "finset", [], id="finset-whole-elements-only"),
        pytest.param("note", "x%y", "finset", [5], id="finset-percent-is-literal"),
        pytest.param("note", "x_y", "finset", [], id="finset-underscore-is-literal"),
        pytest.param("note", "%", "finset", [], id="finset-lone-percent"),
        pytest.param("note", "a,b", "finset", [], id="finset-comma-never-found"),
        pytest.param("note", "", "finset", [], id="finset-empty-list-has-no-element"),
        pytest.param("note", "b", "nfinset", [4, 5], id="nfinset-skips-null"),
        pytest.param("note", "a,b", "nfinset", [1, 3, 4, 5], id="nfinset-comma"),
        pytest.param("id", "3", "finset", [3], id="finset-on-int"),
        # fulltext (FilterProcessor: like %value%)
        pytest.param("code", "u-", "fulltext", [1, 2], id="fulltext"),
        pytest.param("code", "U_", "fulltext", [1, 2, 3, 4], id="fulltext-wildcards-unescaped"),
        pytest.param("id", "1", "fulltext", [1], id="fulltext-on-int"),
        # missing value: Magento quotes NULL, which matches nothing
        pytest.param("code", None, "eq", [], id="missing-value-eq"),
        pytest.param("code", None, "neq", [], id="missing-value-neq"),
        pytest.param("code", None, "like", [], id="missing-value-like"),
        pytest.param("id", None, "in", [], id="missing-value-in"),
        pytest.param("id", None, "nin", [], id="missing-value-nin"),
        pytest.param("note", None, "nfinset", [], id="missing-value-nfinset"),
        pytest.param("code", None, "fulltext", ALL, id="missing-value-fulltext"),
        pytest.param("code", None, "seq", [], id="missing-value-seq"),
    ],
)
def test_condition_types(
    engine: Engine, field: str, value: str | None, condition: str | None, expected: list[int]
) -> None:
    assert run(engine, one_filter(field, value, condition)) == expected


@pytest.mark.parametrize(
    ("field", "value", "condition", "expected"),
    [
        # MySQL coercion: the string value is read as a number
        pytest.param("id", "2", "eq", [2], id="int-string"),
        pytest.param("id", "2.0", "eq", [2], id="int-decimal-string"),
        pytest.param("id", " 2", "eq", [2], id="int-leading-space"),
        pytest.param("id", "2e0", "eq", [2], id="int-exponent"),
        pytest.param("id", "2.5", "eq", [], id="int-non-integer-eq"),
        pytest.param("id", "2.5", "neq", ALL, id="int-non-integer-neq"),
        pytest.param("id", "2.5", "gt", [3, 4, 5], id="int-non-integer-gt"),
        pytest.param("id", "2.5", "gteq", [3, 4, 5], id="int-non-integer-gteq"),
        pytest.param("id", "2.5", "lt", [1, 2], id="int-non-integer-lt"),
        pytest.param("id", "2.5", "lteq", [1, 2], id="int-non-integer-lteq"),
        pytest.param("id", "-2.5", "gt", ALL, id="int-negative-non-integer"),
        pytest.param("id", "99999999999999999999", "eq", [], id="int-beyond-64-bit-eq"),
        pytest.param("id", "99999999999999999999", "lt", ALL, id="int-beyond-64-bit-lt"),
        pytest.param("id", "99999999999999999999", "gt", [], id="int-beyond-64-bit-gt"),
        pytest.param("id", "-1e30", "gteq", ALL, id="int-below-64-bit-gteq"),
        pytest.param("id", "-1e30", "lteq", [], id="int-below-64-bit-lteq"),
        pytest.param("id", "1e999999999", "lt", ALL, id="int-absurd-exponent"),
        pytest.param("qty", "10", "eq", [1, 5], id="decimal-integer"),
        pytest.param("qty", "0.5", "eq", [2], id="decimal-fraction"),
        pytest.param("qty", "2.250000", "eq", [4], id="decimal-trailing-zeros"),
        pytest.param("qty", "1e1", "eq", [1, 5], id="decimal-exponent"),
        pytest.param("qty", "1e-40", "eq", [], id="decimal-too-small-eq"),
        pytest.param("qty", "1e-40", "gt", ALL, id="decimal-too-small-gt"),
        pytest.param("qty", "-1e-40", "lt", [], id="decimal-negative-too-small-lt"),
        pytest.param("qty", "1e40", "lt", ALL, id="decimal-too-large-lt"),
        pytest.param("qty", "1e40", "gteq", [], id="decimal-too-large-gteq"),
        pytest.param("enabled", "1", "eq", [1, 3, 5], id="bool-one"),
        pytest.param("enabled", "0", "eq", [2, 4], id="bool-zero"),
        pytest.param("enabled", "TRUE", "eq", [1, 3, 5], id="bool-true"),
        pytest.param("enabled", "false", "eq", [2, 4], id="bool-false"),
        pytest.param("enabled", "2", "eq", [1, 3, 5], id="bool-nonzero-number"),
        pytest.param("enabled", "0.0", "eq", [2, 4], id="bool-zero-decimal"),
        pytest.param("enabled", "1", "neq", [2, 4], id="bool-neq"),
        pytest.param("flag", "true", "eq", [1, 4, 5], id="smallint-flag-true"),
        pytest.param("flag", "0", "eq", [2, 3], id="smallint-flag-zero"),
    ],
)
def test_value_conversion(
    engine: Engine, field: str, value: str, condition: str, expected: list[int]
) -> None:
    assert run(engine, one_filter(field, value, condition)) == expected


@pytest.mark.parametrize(
    ("field", "value", "condition", "message"),
    [
        pytest.param("id", "abc", "eq", TYPE_ERROR.format("abc", "int"), id="int-word"),
        pytest.param("id", "", "eq", TYPE_ERROR.format("", "int"), id="int-empty"),
        pytest.param("id", "10abc", "gt", TYPE_ERROR.format("10abc", "int"), id="int-trailing-garbage"),
        pytest.param("id", "1,x", "in", TYPE_ERROR.format("x", "int"), id="int-in-part"),
        pytest.param("id", "1,,2", "nin", TYPE_ERROR.format("", "int"), id="int-in-empty-part"),
        pytest.param("qty", "abc", "lt", TYPE_ERROR.format("abc", "float"), id="decimal-word"),
        pytest.param("qty", "NaN", "eq", TYPE_ERROR.format("NaN", "float"), id="decimal-nan"),
        pytest.param("qty", "Infinity", "eq", TYPE_ERROR.format("Infinity", "float"), id="decimal-infinity"),
        pytest.param("enabled", "yes", "eq", TYPE_ERROR.format("yes", "bool"), id="bool-word"),
        pytest.param("flag", "", "eq", TYPE_ERROR.format("", "bool"), id="bool-empty"),
    ],
)
def test_value_conversion_errors(
    engine: Engine, field: str, value: str, condition: str, message: str
) -> None:
    with pytest.raises(InputError) as caught:
        run(engine, one_filter(field, value, condition))
    assert caught.value.envelope() == {"message": message}


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("(", id="open-group"),
        pytest.param("[a-", id="open-set"),
        pytest.param("*a", id="nothing-to-repeat"),
    ],
)
def test_invalid_regexp(engine: Engine, pattern: str) -> None:
    with pytest.raises(InputError) as caught:
        run(engine, one_filter("code", pattern, "regexp"))
    assert caught.value.envelope() == {
        "message": 'The "%value" value is not a valid regular expression.',
        "parameters": {"value": pattern},
    }


def test_regexp_runs_on_sqlite_through_sqlalchemys_function(engine: Engine) -> None:
    # SQLAlchemy's pysqlite dialect registers REGEXP (Python re.search) on every connection.
    with engine.connect() as connection:
        rows = connection.scalars(
            select(items.c.id).where(items.c.code.regexp_match("^us")).order_by(items.c.id)
        )
        assert list(rows) == [3, 4]


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        pytest.param(one_filter("nope", "1"), "nope", id="filter"),
        pytest.param(one_filter("", "1"), "", id="filter-empty-field"),
        pytest.param(
            {"filter_groups": {"0": {"filters": {"0": {"value": "1"}}}}}, "", id="filter-missing-field"
        ),
        pytest.param({"sort_orders": {"0": {"field": "nope"}}}, "nope", id="sort"),
        pytest.param({"sort_orders": {"0": {"direction": "ASC"}}}, "", id="sort-missing-field"),
        pytest.param(one_filter("items.id", "1"), "items.id", id="qualified-name"),
    ],
)
def test_unknown_field(engine: Engine, raw: Any, name: str) -> None:
    with pytest.raises(InputError) as caught:
        run(engine, raw)
    assert caught.value.envelope() == {
        "message": NOT_SEARCHABLE,
        "parameters": {"fieldName": name, "fields": "id, code, note, enabled, flag, qty"},
    }


def test_field_names_are_case_insensitive_like_mysql_columns(engine: Engine) -> None:
    assert run(engine, one_filter("CODE", "us-1")) == [3]
    assert run(engine, {"sort_orders": {"0": {"field": "Qty", "direction": "ASC"}}}) == [2, 4, 1, 5, 3]


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        pytest.param([[("code", "eu-1", "eq"), ("code", "us-1", "eq")]], [1, 3], id="or-in-a-group"),
        pytest.param([[("code", "eu%", "like")], [("enabled", "1", "eq")]], [1], id="and-across-groups"),
        pytest.param(
            [[("code", "eu%", "like"), ("note", "", "eq")], [("qty", "1", "gt"), ("id", "4", "eq")]],
            [1, 4],
            id="or-and",
        ),
        pytest.param([[("qty", "1", "from")], [("qty", "10", "to")]], [1, 4, 5], id="from-to-range"),
        pytest.param([[("code", "eu-1", "eq")], [("code", "us-1", "eq")]], [], id="contradiction"),
        pytest.param([[]], ALL, id="empty-group"),
    ],
)
def test_grouping(
    engine: Engine, groups: list[list[tuple[str, str | None, str]]], expected: list[int]
) -> None:
    raw = {
        "filter_groups": {
            str(g): {
                "filters": {
                    str(f): {"field": field, "condition_type": condition}
                    | ({} if value is None else {"value": value})
                    for f, (field, value, condition) in enumerate(group)
                }
            }
            for g, group in enumerate(groups)
        }
    }
    assert run(engine, raw) == expected


@pytest.mark.parametrize(
    ("orders", "expected"),
    [
        pytest.param([("qty", None)], [3, 1, 5, 4, 2], id="missing-direction-is-desc"),
        pytest.param([("qty", "DESC")], [3, 1, 5, 4, 2], id="desc-then-tiebreak"),
        pytest.param([("qty", "ASC")], [2, 4, 1, 5, 3], id="asc-then-tiebreak"),
        pytest.param([("qty", "asc")], [2, 4, 1, 5, 3], id="asc-lower-case"),
        pytest.param([("code", "ASC")], [5, 1, 2, 3, 4], id="string-case-insensitive"),
        pytest.param([("note", "ASC")], [2, 4, 1, 3, 5], id="nulls-first-ascending"),
        pytest.param([("note", "DESC")], [5, 3, 1, 4, 2], id="nulls-last-descending"),
        pytest.param([("enabled", "ASC"), ("qty", "DESC")], [4, 2, 3, 1, 5], id="two-orders"),
        pytest.param([("flag", "DESC"), ("enabled", "DESC")], [1, 5, 4, 3, 2], id="two-orders-tiebreak"),
    ],
)
def test_sorting(engine: Engine, orders: list[tuple[str, str | None]], expected: list[int]) -> None:
    raw = {
        "sort_orders": {
            str(n): {"field": field} | ({} if direction is None else {"direction": direction})
            for n, (field, direction) in enumerate(orders)
        }
    }
    assert run(engine, raw) == expected


def test_tiebreak_follows_default_order(engine: Engine) -> None:
    raw = {"sort_orders": {"0": {"field": "qty", "direction": "DESC"}}}
    assert run(engine, raw, default_order=[items.c.id.desc()]) == [3, 5, 1, 4, 2]


def test_without_sort_orders_only_the_default_order_applies(engine: Engine) -> None:
    assert run(engine, None, default_order=[items.c.id.desc()]) == [5, 4, 3, 2, 1]
    assert run(engine, None, default_order=[items.c.code]) == [5, 1, 2, 3, 4]


def test_no_order_at_all_leaves_the_query_alone() -> None:
    query = select(items.c.id)
    assert apply_sort(query, EMPTY, FIELDS, ()) is query


@pytest.mark.parametrize(
    ("page_size", "current_page", "total", "bounds"),
    [
        pytest.param(None, None, 5, (None, 0), id="no-paging"),
        pytest.param(None, 3, 5, (None, 0), id="page-without-size"),
        pytest.param(0, 3, 5, (None, 0), id="size-zero-is-all"),
        pytest.param(-2, 1, 5, (None, 0), id="negative-size-is-all"),
        pytest.param(2, None, 5, (2, 0), id="first-page-by-default"),
        pytest.param(2, 1, 5, (2, 0), id="page-1"),
        pytest.param(2, 2, 5, (2, 2), id="page-2"),
        pytest.param(2, 3, 5, (2, 4), id="last-partial-page"),
        pytest.param(2, 4, 5, (2, 4), id="beyond-last-is-last"),
        pytest.param(2, INT64_MAX, 5, (2, 4), id="far-beyond-is-last"),
        pytest.param(2, 0, 5, (2, 0), id="page-zero-is-1"),
        pytest.param(2, -3, 5, (2, 0), id="negative-page-is-1"),
        pytest.param(2, 3, 0, (2, 0), id="no-rows-is-page-1"),
        pytest.param(5, 2, 5, (5, 0), id="exact-fit"),
        pytest.param(5, 2, 6, (5, 5), id="one-more"),
        pytest.param(INT64_MAX, 1, 5, (INT64_MAX, 0), id="huge-size"),
    ],
)
def test_page_bounds(
    page_size: int | None, current_page: int | None, total: int, bounds: tuple[int | None, int]
) -> None:
    criteria = SearchCriteria((), None, page_size, current_page)
    assert page_bounds(criteria, total) == bounds


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({"page_size": "2", "current_page": "1"}, [1, 2], id="page-1"),
        pytest.param({"page_size": "2", "current_page": "3"}, [5], id="last-page"),
        pytest.param({"page_size": "2", "current_page": "9"}, [5], id="beyond-last"),
        pytest.param({"page_size": "2", "current_page": "-1"}, [1, 2], id="before-first"),
        pytest.param({"page_size": "0", "current_page": "2"}, ALL, id="size-zero"),
        pytest.param({"pageSize": "9223372036854775807"}, ALL, id="huge-size"),
        pytest.param(
            one_filter("code", "eu%", "like", page_size="1", current_page="5"),
            [2],
            id="clamped-to-filtered-count",
        ),
        pytest.param(one_filter("code", "nope", page_size="2", current_page="3"), [], id="no-rows"),
    ],
)
def test_paging_on_the_database(engine: Engine, raw: Any, expected: list[int]) -> None:
    assert run(engine, raw, paged=True) == expected


def test_values_are_bound_never_inlined() -> None:
    raw = one_filter("code", "x' OR '1'='1", "eq")
    query = apply_filters(select(items.c.id), parse(raw), FIELDS)
    compiled = query.compile()
    assert "OR '1'" not in str(compiled)
    assert "x' OR '1'='1" in compiled.params.values()


def test_echo_is_not_clamped(engine: Engine) -> None:
    raw = {"page_size": "2", "current_page": "99"}
    assert run(engine, raw, paged=True) == [5]
    assert parse(raw).echo() == {"filter_groups": [], "page_size": 2, "current_page": 99}


# ---- datetime columns (UTC, as openmsi stores them) ------------------------------------------

moments = Table(
    "moments",
    metadata,
    TableColumn("id", Integer, primary_key=True, autoincrement=False),
    TableColumn("at", UTCDateTime(), nullable=False),
)
MOMENT_FIELDS = {"id": Column(moments.c.id, "int"), "at": Column(moments.c.at, "datetime")}
MOMENT_ROWS = [
    {"id": 1, "at": datetime(2026, 12, 4, 23, 0, 0, tzinfo=UTC)},
    {"id": 2, "at": datetime(2026, 12, 5, 10, 0, 0, tzinfo=UTC)},
    {"id": 3, "at": datetime(2026, 12, 6, 0, 0, 0, tzinfo=UTC)},
]


def run_moments(engine: Engine, field: str, value: str, condition: str) -> list[int]:
    criteria = parse(one_filter(field, value, condition))
    query = apply_filters(select(moments.c.id), criteria, MOMENT_FIELDS).order_by(moments.c.id)
    with engine.begin() as connection:
        if not connection.execute(select(moments.c.id)).first():
            connection.execute(moments.insert(), MOMENT_ROWS)
        return list(connection.scalars(query))


@pytest.mark.parametrize(
    ("value", "condition", "expected"),
    [
        pytest.param("2026-12-05 10:00:00", "eq", [2], id="eq-magento-format"),
        pytest.param("2026-12-05T10:00:00", "eq", [2], id="eq-iso"),
        pytest.param("2026-12-05 12:00:00+02:00", "eq", [2], id="eq-with-offset"),
        pytest.param("2026-12-05", "gteq", [2, 3], id="date-is-midnight"),
        pytest.param("2026-12-05", "lt", [1], id="before-a-date"),
        pytest.param("2026-12-06", "to", [1, 2, 3], id="to"),
        pytest.param("2026-12-04 23:00:00,2026-12-06", "in", [1, 3], id="in"),
        pytest.param("2026-12-05 10:00:00", "neq", [1, 3], id="neq"),
        pytest.param("2026-12-05%", "like", [2], id="like-its-text"),
    ],
)
def test_datetime_values(engine: Engine, value: str, condition: str, expected: list[int]) -> None:
    assert run_moments(engine, "at", value, condition) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("yesterday", id="word"),
        pytest.param("2026-13-01", id="no-such-month"),
        pytest.param("0001-01-01T00:00:00+05:00", id="before-year-1-in-utc"),
    ],
)
def test_datetime_value_errors(engine: Engine, value: str) -> None:
    with pytest.raises(InputError) as caught:
        run_moments(engine, "at", value, "gt")
    assert caught.value.envelope() == {"message": TYPE_ERROR.format(value, "datetime")}
