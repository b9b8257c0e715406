"""openmsi.service_input: PHP parse_str, parameter lookup, ServiceInputProcessor conversions.

Expected values for parse_str and the scalar casts were checked against PHP 8.2's own
parse_str / settype / filter_var / (string) while the module was written.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from openmsi.errors import InputError
from openmsi.service_input import (
    INVALID_UTF8,
    Field,
    ListOf,
    ObjectSpec,
    Parameter,
    convert_list,
    convert_object,
    convert_scalar,
    lookup_parameter,
    merge_parameters,
    parse_query_string,
    php_float_to_string,
    put_id_override,
    require_parameters,
    resolve_parameters,
    snake_case,
    upper_camel_case,
)

REQUIRED = '"%fieldName" is required. Enter and try again.'
NOT_SUPPORTED = '"%fieldName" is not supported. Correct the field name and try again.'


def type_error(value: str, type_name: str, *fields: str) -> str:
    text = (
        f'The "{value}" value\'s type is invalid. The "{type_name}" type was expected. Verify and try again.'
    )
    for field_name in reversed(fields):
        text = f'Error occurred during "{field_name}" processing. {text}'
    return text


def ordered(value: Any) -> Any:
    """Dicts as lists of pairs, so that comparisons also check PHP's key order."""
    if isinstance(value, dict):
        return [(key, ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [ordered(item) for item in value]
    return value


# --------------------------------------------------------------------------------------------
# parse_query_string
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b"", {}, id="empty"),
        pytest.param(b"a=1&b=2", {"a": "1", "b": "2"}, id="plain"),
        pytest.param(b"a=1&b=2&a=3", {"a": "3", "b": "2"}, id="repeated-key-last-wins-keeps-position"),
        pytest.param(b"a", {"a": ""}, id="no-equals-is-empty-value"),
        pytest.param(b"a=", {"a": ""}, id="empty-value"),
        pytest.param(b"a=1=2", {"a": "1=2"}, id="value-keeps-later-equals"),
        pytest.param(b"&&a=1&&", {"a": "1"}, id="empty-pairs-skipped"),
        pytest.param(b"=x&[a]=y&%20=z", {}, id="empty-base-name-dropped"),
        pytest.param(b"a=%41%2B+%zz%4", {"a": "A+ %zz%4"}, id="url-decoding"),
        pytest.param(b"a+b=1", {"a_b": "1"}, id="plus-in-name-is-space-then-underscore"),
        pytest.param(b"a.b=1&c d=2", {"a_b": "1", "c_d": "2"}, id="dot-space-mangled"),
        pytest.param(b"%20%20a=1&++b=2", {"a": "1", "b": "2"}, id="leading-spaces-dropped"),
        pytest.param(b"\ta=1", {"\ta": "1"}, id="only-spaces-are-leading-spaces"),
        pytest.param(b"sku=%C3%A9&%C3%A9=x", {"sku": "é", "é": "x"}, id="utf8"),
        pytest.param(b"a%00b=1", {"a": "1"}, id="name-ends-at-nul"),
        pytest.param(b"a=x%00y", {"a": "x\x00y"}, id="value-keeps-nul"),
        pytest.param(b"a=1\x00&b=2", {"a": "1"}, id="raw-nul-ends-query"),
        pytest.param(b"a%3Db=1&c%26d=2", {"a=b": "1", "c&d": "2"}, id="encoded-separators-are-text"),
        # Arrays
        pytest.param(b"a[b][c]=1", {"a": {"b": {"c": "1"}}}, id="nested"),
        pytest.param(b"a%5Bb%5D=1", {"a": {"b": "1"}}, id="encoded-brackets"),
        pytest.param(b"a[]=x&a[]=y", {"a": {"0": "x", "1": "y"}}, id="append"),
        pytest.param(b"a[5]=x&a[]=y", {"a": {"5": "x", "6": "y"}}, id="append-after-max-int-key"),
        pytest.param(
            b"a[5]=x&a[2]=y&a[]=z", {"a": {"5": "x", "2": "y", "6": "z"}}, id="append-uses-max-not-last"
        ),
        pytest.param(b"a[x]=1&a[]=2", {"a": {"x": "1", "0": "2"}}, id="string-keys-do-not-count"),
        pytest.param(b"a[05]=x&a[]=y", {"a": {"05": "x", "0": "y"}}, id="leading-zero-is-string-key"),
        pytest.param(b"a[-0]=x&a[]=y", {"a": {"-0": "x", "0": "y"}}, id="minus-zero-is-string-key"),
        pytest.param(b"a[-5]=x&a[]=y", {"a": {"-5": "x", "-4": "y"}}, id="append-after-negative"),
        pytest.param(
            b"a[9223372036854775806]=x&a[]=y",
            {"a": {"9223372036854775806": "x", "9223372036854775807": "y"}},
            id="append-up-to-int-max",
        ),
        pytest.param(
            b"a[9223372036854775807]=x&a[]=y",
            {"a": {"9223372036854775807": "x"}},
            id="append-after-int-max-dropped",
        ),
        pytest.param(
            b"a[9223372036854775808]=x&a[]=y",
            {"a": {"9223372036854775808": "x", "0": "y"}},
            id="beyond-int-max-is-string-key",
        ),
        pytest.param(b"a[ ]=1&a[\t]=2", {"a": {"0": "1", "1": "2"}}, id="one-space-in-brackets-appends"),
        pytest.param(b"a[ x]=1&a[  ]=2", {"a": {" x": "1", "  ": "2"}}, id="spaces-kept-in-keys"),
        pytest.param(b"a[b.c d]=1", {"a": {"b.c d": "1"}}, id="no-mangling-inside-brackets"),
        pytest.param(b"a.b[c.d]=1", {"a_b": {"c.d": "1"}}, id="mangling-only-in-base"),
        pytest.param(b"a[b[c]=1", {"a": {"b[c": "1"}}, id="open-bracket-inside-key"),
        pytest.param(
            b"a[b]c=1&x[y]z[w]=2", {"a": {"b": "1"}, "x": {"y": "2"}}, id="text-after-bracket-ignored"
        ),
        pytest.param(b"a[b=1", {"a_b": "1"}, id="unclosed-bracket-in-base"),
        pytest.param(b"a[=1", {"a_": "1"}, id="lone-open-bracket"),
        pytest.param(b"a.b[c.d e[f=1", {"a_b_c_d_e_f": "1"}, id="unclosed-bracket-mangles-rest"),
        pytest.param(b"a[b][c=1", {"a": {"b": "1"}}, id="unclosed-bracket-deeper-ignored"),
        pytest.param(b"a[][c=1", {"a": {"0": "1"}}, id="unclosed-after-append"),
        pytest.param(b"a]=1&a]b[c]=2", {"a]": "1", "a]b": {"c": "2"}}, id="close-bracket-in-base"),
        pytest.param(b"a=1&a[b]=2", {"a": {"b": "2"}}, id="array-replaces-scalar"),
        pytest.param(b"a[b]=2&a=1", {"a": "1"}, id="scalar-replaces-array"),
        pytest.param(b"a[b]=1&a[b][c]=2", {"a": {"b": {"c": "2"}}}, id="nested-replaces-scalar"),
        pytest.param(
            b"a[b][]=1&a[b]=x&a[b][]=2", {"a": {"b": {"0": "2"}}}, id="replaced-array-restarts-index"
        ),
        pytest.param(b"a[x]=1&b=2&a[y]=3", {"a": {"x": "1", "y": "3"}, "b": "2"}, id="insertion-order"),
        pytest.param(
            b"searchCriteria[filter_groups][][filters][][field]=f&searchCriteria[filter_groups][][filters][][value]=v",
            {
                "searchCriteria": {
                    "filter_groups": {
                        "0": {"filters": {"0": {"field": "f"}}},
                        "1": {"filters": {"0": {"value": "v"}}},
                    }
                }
            },
            id="each-empty-brackets-is-a-new-element",
        ),
        pytest.param(
            b"links[0][source_code]=eu-1&links[0][stock_id]=10&links[1][source_code]=eu-2&links[1][stock_id]=10",
            {
                "links": {
                    "0": {"source_code": "eu-1", "stock_id": "10"},
                    "1": {"source_code": "eu-2", "stock_id": "10"},
                }
            },
            id="msi-delete-test-query",
        ),
        # PHP's cookie-prefix protection (CVE-2022-31629 and later releases)
        pytest.param(
            b"__Host-x=1&__Secure-y[z]=2", {"__Host-x": "1", "__Secure-y": {"z": "2"}}, id="real-prefix-kept"
        ),
        pytest.param(b"..Host-x=1&_.Secure-y=2", {}, id="prefix-made-by-mangling-dropped"),
        pytest.param(b"a[__Host-x]=1&a[b][__Secure-]=2", {"a": {"b": {}}}, id="prefix-in-index-dropped"),
        pytest.param(b"a[__Host-x][y]=1", {"a": {}}, id="prefix-in-intermediate-index-dropped"),
        pytest.param(
            b"__Host-a[__Host-x]=1", {"__Host-a": {"__Host-x": "1"}}, id="prefix-allowed-when-name-has-it"
        ),
        pytest.param(
            b"a[x__Host-]=1&a[__host-x]=2", {"a": {"x__Host-": "1", "__host-x": "2"}}, id="prefix-exact"
        ),
    ],
)
def test_parse_query_string(raw: bytes, expected: dict[str, Any]) -> None:
    assert ordered(parse_query_string(raw)) == ordered(expected)


def _nested(depth: int, value: Any) -> Any:
    for _ in range(depth):
        value = {"b": value}
    return value


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b"a" + b"[b]" * 64 + b"=1", {"a": _nested(64, "1")}, id="64-levels-kept"),
        pytest.param(b"a" + b"[b]" * 65 + b"=1", {}, id="65-levels-dropped"),
        pytest.param(b"c=0&a[x]=1&a" + b"[b]" * 65 + b"=2", {"c": "0"}, id="too-deep-deletes-whole-variable"),
        pytest.param(b"a" + b"[b]" * 65 + b"=2&a[y]=3", {"a": {"y": "3"}}, id="variable-can-come-back"),
        pytest.param(b"a" + b"[b]" * 64 + b"[c=2", {}, id="unclosed-65th-still-too-deep"),
        pytest.param(b"a" + b"[b]" * 63 + b"[c=2", {"a": _nested(63, "2")}, id="unclosed-64th-ignored"),
    ],
)
def test_parse_query_string_nesting_limit(raw: bytes, expected: dict[str, Any]) -> None:
    assert parse_query_string(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"a=%FF", id="value"),
        pytest.param(b"%FF=1", id="name"),
        pytest.param(b"a=\xc3", id="raw-truncated-sequence"),
        pytest.param(b"a[%ED%A0%80]=1", id="encoded-surrogate"),
        pytest.param(b"ok=1&a=%C0%AF", id="overlong"),
    ],
)
def test_parse_query_string_rejects_invalid_utf8(raw: bytes) -> None:
    with pytest.raises(InputError) as caught:
        parse_query_string(raw)
    assert caught.value.message == INVALID_UTF8
    assert caught.value.envelope() == {"message": INVALID_UTF8}


def test_parse_query_string_random_bytes_only_raise_input_error() -> None:
    rng = random.Random(20240611)
    alphabet = b"ab[]=&%+. \t\x00\xff\xc3\xa9019-_"
    for _ in range(3000):
        if rng.random() < 0.5:
            raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40)))
        else:
            raw = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        try:
            result = parse_query_string(raw)
        except InputError as error:
            assert error.message == INVALID_UTF8
        else:
            assert isinstance(result, dict)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"a" + b"[" * 300_000 + b"=1", id="many-open-brackets"),
        pytest.param(b"a[" + b"x" * 300_000 + b"]" * 300_000 + b"=1", id="long-key-many-close-brackets"),
        pytest.param(b"a[]=1&" * 100_000, id="many-appends"),
        pytest.param(b"&".join(b"a" + b"[b]" * 70 + b"=1" for _ in range(5_000)), id="many-too-deep"),
        pytest.param(b"x=" + b"%41" * 300_000, id="long-value"),
    ],
)
def test_parse_query_string_is_linear(raw: bytes) -> None:
    started = time.perf_counter()
    parse_query_string(raw)
    assert time.perf_counter() - started < 5


# --------------------------------------------------------------------------------------------
# Top-level parameters
# --------------------------------------------------------------------------------------------


def test_merge_parameters_later_source_wins() -> None:
    body = {"source": {"name": "body"}, "a": 1, "b": 1}
    query = {"b": "2", "c": "2", "source": {"name": "query"}}
    path = {"c": "3", "sourceCode": "x"}
    merged = merge_parameters(body, query, path)
    assert merged == {"source": {"name": "query"}, "a": 1, "b": "2", "c": "3", "sourceCode": "x"}
    assert body == {"source": {"name": "body"}, "a": 1, "b": 1}  # inputs untouched


@pytest.mark.parametrize(
    ("php_name", "expected"),
    [
        pytest.param("sourceItems", "source_items", id="two-words"),
        pytest.param("originSourceCode", "origin_source_code", id="three-words"),
        pytest.param("source", "source", id="one-word"),
        pytest.param("skuRequests", "sku_requests", id="sku"),
        pytest.param("searchCriteria", "search_criteria", id="criteria"),
    ],
)
def test_snake_case(php_name: str, expected: str) -> None:
    assert snake_case(php_name) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param("source_code", "SourceCode", id="snake"),
        pytest.param("sourceCode", "SourceCode", id="camel"),
        pytest.param("SourceCode", "SourceCode", id="upper-camel"),
        pytest.param("_source__code_", "SourceCode", id="extra-underscores-vanish"),
        pytest.param("SOURCE_CODE", "SOURCECODE", id="upper"),
        pytest.param("sourcecode", "Sourcecode", id="one-word"),
        pytest.param("city.", "City.", id="punctuation-kept"),
        pytest.param("default_shipping_1", "DefaultShipping1", id="digit"),
        pytest.param("0", "0", id="list-index"),
        pytest.param("élan_x", "élanX", id="ascii-only-upper-casing"),
        pytest.param("", "", id="empty"),
    ],
)
def test_upper_camel_case(key: str, expected: str) -> None:
    assert upper_camel_case(key) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"sourceItems": [1]}, [1], id="camel"),
        pytest.param({"source_items": [2]}, [2], id="snake"),
        pytest.param({"source_items": [2], "sourceItems": [1]}, [1], id="camel-wins"),
        pytest.param({"sourceItems": None, "source_items": [2]}, [2], id="null-camel-falls-back"),
        pytest.param({"sourceItems": None}, None, id="null-is-absent"),
        pytest.param({"source_items": None}, None, id="null-snake-is-absent"),
        pytest.param({}, None, id="missing"),
        pytest.param({"SourceItems": [1], "sourceitems": [1]}, None, id="other-spellings-ignored"),
        pytest.param({"sourceItems": ""}, "", id="empty-string-is-present"),
        pytest.param({"sourceItems": []}, [], id="empty-list-is-present"),
        pytest.param({"sourceItems": False}, False, id="false-is-present"),
        pytest.param({"sourceItems": 0}, 0, id="zero-is-present"),
    ],
)
def test_lookup_parameter(params: dict[str, Any], expected: Any) -> None:
    assert lookup_parameter(params, "sourceItems") == expected


def test_require_parameters_returns_values_in_order() -> None:
    params = {"stock_id": "10", "skus": ["a"]}
    assert require_parameters(params, "skus", "stockId") == [["a"], "10"]


def test_require_parameters_one_missing() -> None:
    with pytest.raises(InputError) as caught:
        require_parameters({"skus": ["a"], "stockId": None}, "skus", "stockId")
    assert caught.value.envelope() == {"message": REQUIRED, "parameters": {"fieldName": "stockId"}}


def test_require_parameters_several_missing_in_signature_order() -> None:
    with pytest.raises(InputError) as caught:
        require_parameters({"password": None}, "username", "password")
    assert caught.value.envelope() == {
        "message": "One or more input exceptions have occurred.",
        "errors": [
            {"message": REQUIRED, "parameters": {"fieldName": "username"}},
            {"message": REQUIRED, "parameters": {"fieldName": "password"}},
        ],
    }


def _to_int(raw: Any) -> Any:
    return convert_scalar(raw, "int")


def _to_strings(raw: Any) -> Any:
    return convert_list(raw, "string", parameter="skus")


def test_resolve_parameters_converts_and_defaults() -> None:
    signature = (
        Parameter("skus", _to_strings),
        Parameter("stockId", _to_int),
        Parameter("searchCriteria", dict, required=False, default={"filter_groups": []}),
    )
    values = resolve_parameters({"skus": {"0": "a", "1": 5}, "stock_id": "10"}, *signature)
    assert values == [["a", "5"], 10, {"filter_groups": []}]


def test_resolve_parameters_conversion_error_before_missing_ones() -> None:
    # Magento converts while walking the signature and reports missing ones at the end.
    signature = (Parameter("skus", _to_strings), Parameter("stockId", _to_int))
    with pytest.raises(InputError) as caught:
        resolve_parameters({"stockId": "abc"}, *signature)
    assert caught.value.message == type_error("abc", "int")


def test_resolve_parameters_reports_all_missing() -> None:
    signature = (Parameter("skus", _to_strings), Parameter("stockId", _to_int))
    with pytest.raises(InputError) as caught:
        resolve_parameters({}, *signature)
    assert [error.parameters for error in caught.value.errors] == [
        {"fieldName": "skus"},
        {"fieldName": "stockId"},
    ]


# --------------------------------------------------------------------------------------------
# Scalars
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "raw", "expected"),
    [
        # int: is_numeric, then settype
        pytest.param("int", 5, 5, id="int-int"),
        pytest.param("int", -7, -7, id="int-negative"),
        pytest.param("int", 10**30, 10**30, id="int-huge-not-clamped"),
        pytest.param("int", 2.7, 2, id="int-float-truncates"),
        pytest.param("int", -1.5, -1, id="int-float-toward-zero"),
        pytest.param("int", 5.0, 5, id="int-integral-float"),
        pytest.param("int", "12", 12, id="int-string"),
        pytest.param("int", "1.9", 1, id="int-decimal-string"),
        pytest.param("int", "-1.9", -1, id="int-negative-decimal-string"),
        pytest.param("int", " 12", 12, id="int-leading-space"),
        pytest.param("int", "12 \t\n", 12, id="int-trailing-whitespace"),
        pytest.param("int", "\x0b12\x0c", 12, id="int-vertical-tab-form-feed"),
        pytest.param("int", "+3", 3, id="int-plus"),
        pytest.param("int", "007", 7, id="int-leading-zeros"),
        pytest.param("int", "1e3", 1000, id="int-exponent"),
        pytest.param("int", "1.5E2", 150, id="int-decimal-exponent"),
        pytest.param("int", ".5", 0, id="int-dot-five"),
        pytest.param("int", "5.", 5, id="int-five-dot"),
        pytest.param("int", "99999999999999999999", 99999999999999999999, id="int-long-string-exact"),
        # float
        pytest.param("float", 5, 5.0, id="float-int"),
        pytest.param("float", 5.5, 5.5, id="float-float"),
        pytest.param("float", "5.5", 5.5, id="float-string"),
        pytest.param("float", " -1e-3 ", -0.001, id="float-exponent-whitespace"),
        pytest.param("float", "10", 10.0, id="float-integer-string"),
        # string: PHP string cast
        pytest.param("string", "abc", "abc", id="string-string"),
        pytest.param("string", "", "", id="string-empty"),
        pytest.param("string", 5, "5", id="string-int"),
        pytest.param("string", 5.0, "5", id="string-integral-float"),
        pytest.param("string", 1.5, "1.5", id="string-float"),
        pytest.param("string", 0.1 + 0.2, "0.3", id="string-float-precision-14"),
        pytest.param("string", 1e20, "1.0E+20", id="string-float-exponent"),
        pytest.param("string", True, "1", id="string-true"),
        pytest.param("string", False, "", id="string-false"),
        # bool: FILTER_VALIDATE_BOOLEAN
        pytest.param("bool", True, True, id="bool-true"),
        pytest.param("bool", False, False, id="bool-false"),
        pytest.param("bool", 1, True, id="bool-one"),
        pytest.param("bool", 0, False, id="bool-zero"),
        pytest.param("bool", 2, False, id="bool-two"),
        pytest.param("bool", 1.0, True, id="bool-float-one"),
        pytest.param("bool", 1.0000000000000002, True, id="bool-float-prints-as-one"),
        pytest.param("bool", "1", True, id="bool-string-one"),
        pytest.param("bool", "true", True, id="bool-string-true"),
        pytest.param("bool", "TRUE", True, id="bool-upper"),
        pytest.param("bool", "On", True, id="bool-on"),
        pytest.param("bool", "yes", True, id="bool-yes"),
        pytest.param("bool", " yes\t\n", True, id="bool-trimmed"),
        pytest.param("bool", "\fyes", False, id="bool-form-feed-not-trimmed"),
        pytest.param("bool", "0", False, id="bool-string-zero"),
        pytest.param("bool", "false", False, id="bool-string-false"),
        pytest.param("bool", "", False, id="bool-empty"),
        pytest.param("bool", "abc", False, id="bool-other-string"),
        pytest.param("bool", "y", False, id="bool-y"),
        # null passes through
        pytest.param("int", None, None, id="int-null"),
        pytest.param("string", None, None, id="string-null"),
        pytest.param("bool", None, None, id="bool-null"),
    ],
)
def test_convert_scalar_accepts(type_name: str, raw: Any, expected: Any) -> None:
    result = convert_scalar(raw, type_name)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("type_name", "raw", "rendered"),
    [
        pytest.param("int", "abc", "abc", id="int-word"),
        pytest.param("int", "", "", id="int-empty"),
        pytest.param("int", " ", " ", id="int-space"),
        pytest.param("int", "12abc", "12abc", id="int-trailing-text"),
        pytest.param("int", "0x1A", "0x1A", id="int-hex"),
        pytest.param("int", "1_000", "1_000", id="int-underscore"),
        pytest.param("int", "1e", "1e", id="int-bare-exponent"),
        pytest.param("int", "inf", "inf", id="int-inf-word"),
        pytest.param("int", "1 2", "1 2", id="int-inner-space"),
        pytest.param("int", "１２", "１２", id="int-fullwidth-digits"),
        pytest.param("int", "1e400", "1e400", id="int-infinite-string"),
        pytest.param("int", True, "1", id="int-true"),
        pytest.param("int", False, "", id="int-false"),
        pytest.param("int", float("inf"), "inf", id="int-infinity"),
        pytest.param("int", float("nan"), "nan", id="int-nan"),
        pytest.param("int", [], "array", id="int-list"),
        pytest.param("int", {"a": 1}, "array", id="int-object"),
        pytest.param("float", "", "", id="float-empty"),
        pytest.param("float", "test", "test", id="float-word"),
        pytest.param("float", "-1e400", "-1e400", id="float-infinite-string"),
        pytest.param("float", float("inf"), "inf", id="float-infinity"),
        pytest.param("float", 10**400, str(10**400), id="float-int-too-large"),
        pytest.param("float", True, "1", id="float-true"),
        pytest.param("float", [1], "array", id="float-list"),
        pytest.param("string", [], "array", id="string-list"),
        pytest.param("string", {}, "array", id="string-object"),
        pytest.param("bool", [], "array", id="bool-list"),
        pytest.param("bool", {"a": True}, "array", id="bool-object"),
    ],
)
def test_convert_scalar_rejects(type_name: str, raw: Any, rendered: str) -> None:
    with pytest.raises(InputError) as caught:
        convert_scalar(raw, type_name)
    assert caught.value.envelope() == {"message": type_error(rendered, type_name)}
    with pytest.raises(InputError) as caught:
        convert_scalar(raw, type_name, field="quantity")
    assert caught.value.envelope() == {"message": type_error(rendered, type_name, "quantity")}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("0" * 5000 + "7", 7, id="long-but-small"),
        pytest.param("1" * 5000, None, id="long-and-infinite"),
    ],
)
def test_convert_scalar_int_beyond_python_digit_limit(raw: str, expected: int | None) -> None:
    # More digits than Python's int-from-str limit: converted through float instead.
    if expected is None:
        with pytest.raises(InputError):
            convert_scalar(raw, "int")
    else:
        assert convert_scalar(raw, "int") == expected


def test_convert_scalar_path_variable_message_pinned() -> None:
    # GetSourcesAssignedToStockOrderedByPriorityTest, not_numeric case.
    with pytest.raises(InputError) as caught:
        convert_scalar("abc", "int")
    assert caught.value.message == (
        'The "abc" value\'s type is invalid. The "int" type was expected. Verify and try again.'
    )


def test_convert_scalar_unknown_type_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        convert_scalar("1", "integer")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(5.0, "5", id="integral"),
        pytest.param(-0.0, "-0", id="negative-zero"),
        pytest.param(1.5, "1.5", id="fraction"),
        pytest.param(0.1 + 0.2, "0.3", id="rounded-to-14-digits"),
        pytest.param(1 / 3, "0.33333333333333", id="third"),
        pytest.param(1e13, "10000000000000", id="fourteen-digits-fixed"),
        pytest.param(1e14, "1.0E+14", id="fifteen-digits-exponent"),
        pytest.param(123456789012345.0, "1.2345678901234E+14", id="rounded-exponent"),
        pytest.param(1e20, "1.0E+20", id="exponent-gets-fraction"),
        pytest.param(1.5e300, "1.5E+300", id="three-digit-exponent"),
        pytest.param(0.0001, "0.0001", id="small-fixed"),
        pytest.param(0.00001, "1.0E-5", id="small-exponent"),
        pytest.param(-2.5e-7, "-2.5E-7", id="negative-small"),
        pytest.param(float("inf"), "INF", id="inf"),
        pytest.param(float("-inf"), "-INF", id="minus-inf"),
        pytest.param(float("nan"), "NAN", id="nan"),
    ],
)
def test_php_float_to_string(value: float, expected: str) -> None:
    assert php_float_to_string(value) == expected


# --------------------------------------------------------------------------------------------
# Data objects
# --------------------------------------------------------------------------------------------

CARRIER_LINK = ObjectSpec(
    "carrier_link",
    (Field("carrier_code", "string"), Field("position", "int")),
)
SOURCE_EXTENSION = ObjectSpec(
    "source_extension",
    (Field("is_pickup_location_active", "bool"), Field("frontend_name", "string")),
)
SOURCE = ObjectSpec(
    "source",
    (
        Field("source_code", "string"),
        Field("name", "string"),
        Field("enabled", "bool"),
        Field("latitude", "float"),
        Field("priority", "int"),
        Field("use_default_carrier_config", "bool"),
        Field("carrier_links", ListOf(CARRIER_LINK)),
        Field("tags", ListOf("string")),
        Field("extension_attributes", SOURCE_EXTENSION),
    ),
)
FILTER = ObjectSpec(
    "filter", (Field("field", "string"), Field("value", "string"), Field("condition_type", "string"))
)
FILTER_GROUP = ObjectSpec("filter_group", (Field("filters", ListOf(FILTER)),))
SEARCH_CRITERIA = ObjectSpec(
    "search_criteria",
    (Field("filter_groups", ListOf(FILTER_GROUP)), Field("page_size", "int"), Field("current_page", "int")),
)
SOURCE_ITEM = ObjectSpec(
    "source_item",
    (
        Field("sku", "string"),
        Field("source_code", "string"),
        Field("quantity", "float"),
        Field("status", "int"),
    ),
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({}, {}, id="empty"),
        pytest.param(
            {"source_code": "eu-1", "name": "EU 1", "enabled": True, "latitude": "52.5", "priority": "3"},
            {"source_code": "eu-1", "name": "EU 1", "enabled": True, "latitude": 52.5, "priority": 3},
            id="snake-case-converted",
        ),
        pytest.param(
            {"sourceCode": "eu-1", "useDefaultCarrierConfig": "1"},
            {"source_code": "eu-1", "use_default_carrier_config": True},
            id="camel-case-keys-map-to-snake",
        ),
        pytest.param({"SourceCode": "x"}, {"source_code": "x"}, id="upper-camel-key"),
        pytest.param({"source__code_": "x"}, {"source_code": "x"}, id="extra-underscores"),
        pytest.param(
            {"name": None, "latitude": None}, {"name": None, "latitude": None}, id="null-kept-as-none"
        ),
        pytest.param({"extension_attributes": None}, {"extension_attributes": None}, id="null-object-field"),
        pytest.param(
            {"name": "b", "source_code": "a"}, {"name": "b", "source_code": "a"}, id="input-order-kept"
        ),
        pytest.param({"source_code": "a", "sourceCode": "b"}, {"source_code": "b"}, id="last-spelling-wins"),
        pytest.param(
            {
                "carrier_links": [{"carrier_code": "ups", "position": "1"}, {"carrierCode": "dhl"}],
                "tags": {"0": "a", "1": 2},
                "extension_attributes": {"isPickupLocationActive": "yes", "frontend_name": 5},
            },
            {
                "carrier_links": [{"carrier_code": "ups", "position": 1}, {"carrier_code": "dhl"}],
                "tags": ["a", "2"],
                "extension_attributes": {"is_pickup_location_active": True, "frontend_name": "5"},
            },
            id="nested-objects-and-lists",
        ),
        pytest.param({"carrier_links": []}, {"carrier_links": []}, id="empty-list-field"),
        pytest.param({"carrier_links": {}}, {"carrier_links": []}, id="empty-object-as-list"),
        pytest.param(
            {"carrier_links": {"5": {"position": 5}, "2": {"position": 2}}},
            {"carrier_links": [{"position": 5}, {"position": 2}]},
            id="object-as-list-keeps-order",
        ),
        pytest.param(
            {"carrier_links": ["x", None]}, {"carrier_links": [{}, {}]}, id="non-object-elements-are-empty"
        ),
        pytest.param(
            {"extension_attributes": "x"}, {"extension_attributes": {}}, id="scalar-for-object-is-empty"
        ),
        pytest.param({"extension_attributes": []}, {"extension_attributes": {}}, id="empty-list-for-object"),
    ],
)
def test_convert_object(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    assert ordered(convert_object(raw, SOURCE)) == ordered(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("", {}, id="empty-string-is-empty-criteria"),
        pytest.param("x", {}, id="scalar-is-empty-criteria"),
        pytest.param(None, {}, id="null"),
        pytest.param([], {}, id="empty-list"),
        pytest.param(
            parse_query_string(
                b"searchCriteria[filter_groups][0][filters][0][field]=stock_id"
                b"&searchCriteria[filter_groups][0][filters][0][value]=10"
                b"&searchCriteria[filter_groups][0][filters][0][conditionType]=eq"
                b"&searchCriteria[pageSize]=2&searchCriteria[current_page]=1.9"
            )["searchCriteria"],
            {
                "filter_groups": [
                    {"filters": [{"field": "stock_id", "value": "10", "condition_type": "eq"}]}
                ],
                "page_size": 2,
                "current_page": 1,
            },
            id="from-query-string",
        ),
    ],
)
def test_convert_search_criteria(raw: Any, expected: dict[str, Any]) -> None:
    assert ordered(convert_object(raw, SEARCH_CRITERIA)) == ordered(expected)


@pytest.mark.parametrize(
    ("spec", "raw", "message", "parameters"),
    [
        pytest.param(SOURCE, {"foo": 1}, NOT_SUPPORTED, {"fieldName": "Foo"}, id="unknown-snake"),
        pytest.param(SOURCE, {"source_codes": "x"}, NOT_SUPPORTED, {"fieldName": "SourceCodes"}, id="typo"),
        pytest.param(
            SOURCE, {"SOURCE_CODE": "x"}, NOT_SUPPORTED, {"fieldName": "SOURCECODE"}, id="wrong-case"
        ),
        pytest.param(SOURCE, {"city.": "x"}, NOT_SUPPORTED, {"fieldName": "City."}, id="punctuation"),
        pytest.param(SOURCE, ["x"], NOT_SUPPORTED, {"fieldName": "0"}, id="list-for-object"),
        pytest.param(SOURCE, {"0": "x"}, NOT_SUPPORTED, {"fieldName": "0"}, id="query-index-for-object"),
        pytest.param(
            SOURCE,
            {"carrier_links": [{"carrier_code": "a", "bogus_key": 1}]},
            NOT_SUPPORTED,
            {"fieldName": "BogusKey"},
            id="nested-unknown-not-wrapped",
        ),
        pytest.param(
            SOURCE,
            {"extension_attributes": {"source_name": "x"}},
            NOT_SUPPORTED,
            {"fieldName": "SourceName"},
            id="unknown-extension-attribute",
        ),
        pytest.param(
            SOURCE, {"foo": 1, "priority": "x"}, NOT_SUPPORTED, {"fieldName": "Foo"}, id="first-error-wins"
        ),
        pytest.param(
            SOURCE, {"priority": "x", "foo": 1}, type_error("x", "int", "priority"), None, id="in-order"
        ),
        pytest.param(
            SOURCE, {"name": []}, type_error("array", "string", "name"), None, id="array-for-string"
        ),
        pytest.param(
            SOURCE, {"sourceCode": {}}, type_error("array", "string", "sourceCode"), None, id="key-as-sent"
        ),
        pytest.param(
            SOURCE, {"latitude": "north"}, type_error("north", "float", "latitude"), None, id="float"
        ),
        pytest.param(
            SOURCE, {"enabled": ["1"]}, type_error("array", "bool", "enabled"), None, id="bool-array"
        ),
        pytest.param(
            SOURCE,
            {"carrier_links": "ups"},
            type_error("ups", "object[]", "carrier_links"),
            None,
            id="scalar-for-object-list",
        ),
        pytest.param(
            SOURCE, {"tags": 5}, type_error("5", "string[]", "tags"), None, id="scalar-for-scalar-list"
        ),
        pytest.param(
            SOURCE, {"tags": ["a", []]}, type_error("array", "string", "tags"), None, id="bad-list-element"
        ),
        pytest.param(
            SOURCE, {"tags": ["a", None]}, type_error("", "string", "tags"), None, id="null-list-element"
        ),
        pytest.param(
            SOURCE,
            {"carrier_links": [{"position": 1}, {"position": "first"}]},
            type_error("first", "int", "carrier_links", "position"),
            None,
            id="wrapped-once-per-level",
        ),
        pytest.param(
            SOURCE,
            {"extensionAttributes": {"is_pickup_location_active": {}}},
            type_error("array", "bool", "extensionAttributes", "is_pickup_location_active"),
            None,
            id="nested-object-wrapped",
        ),
        pytest.param(
            SEARCH_CRITERIA,
            {"filter_groups": [{"filters": [{"field": ["x"]}]}]},
            type_error("array", "string", "filter_groups", "filters", "field"),
            None,
            id="three-levels",
        ),
        pytest.param(
            SEARCH_CRITERIA,
            {"page_size": "abc"},
            type_error("abc", "int", "page_size"),
            None,
            id="page-size",
        ),
    ],
)
def test_convert_object_errors(
    spec: ObjectSpec, raw: Any, message: str, parameters: dict[str, str] | None
) -> None:
    with pytest.raises(InputError) as caught:
        convert_object(raw, spec)
    assert type(caught.value) is InputError
    assert caught.value.message == message
    assert caught.value.parameters == parameters


@pytest.mark.parametrize(
    ("raw", "item", "expected"),
    [
        pytest.param([], "int", [], id="empty"),
        pytest.param({}, "int", [], id="empty-object"),
        pytest.param([1, "2", 3.9], "int", [1, 2, 3], id="ints"),
        pytest.param({"0": "a", "1": "b"}, "string", ["a", "b"], id="query-string-list"),
        pytest.param({"1": "b", "0": "a"}, "string", ["b", "a"], id="insertion-order-not-key-order"),
        pytest.param(["yes", 0], "bool", [True, False], id="bools"),
        pytest.param(
            [{"sku": "SKU-1", "source_code": "eu-1", "quantity": 5.5, "status": 1}],
            SOURCE_ITEM,
            [{"sku": "SKU-1", "source_code": "eu-1", "quantity": 5.5, "status": 1}],
            id="objects",
        ),
        pytest.param(
            parse_query_string(b"links[0][source_code]=eu-1&links[0][stockId]=10&links[1][source_code]=eu-2")[
                "links"
            ],
            ObjectSpec("link", (Field("source_code", "string"), Field("stock_id", "int"))),
            [{"source_code": "eu-1", "stock_id": 10}, {"source_code": "eu-2"}],
            id="links-from-query-string",
        ),
        pytest.param(["x", None, 5], SOURCE_ITEM, [{}, {}, {}], id="non-object-elements-are-empty"),
    ],
)
def test_convert_list(raw: Any, item: str | ObjectSpec, expected: list[Any]) -> None:
    assert ordered(convert_list(raw, item, parameter="values")) == ordered(expected)


@pytest.mark.parametrize(
    ("raw", "item", "parameter", "message"),
    [
        pytest.param("abc", "string", "skus", type_error("abc", "string[]"), id="scalar-for-string-list"),
        pytest.param("", "string", "skus", type_error("", "string[]"), id="empty-string"),
        pytest.param(5, SOURCE_ITEM, "sourceItems", type_error("5", "object[]"), id="scalar-for-object-list"),
        pytest.param(None, "int", "ids", type_error("", "int[]"), id="null"),
        pytest.param(
            ["1", "x"], "int", "ids", type_error("x", "int", "ids"), id="bad-element-named-by-parameter"
        ),
        pytest.param(
            [["a"]], "string", "skus", type_error("array", "string", "skus"), id="nested-array-element"
        ),
        pytest.param([None], "string", "skus", type_error("", "string", "skus"), id="null-element"),
        # Pinned by InventoryApi/Test/Api/SourceItemsSave/ValidationTest.php: fields inside the
        # items of a top-level list are named by the field only.
        pytest.param(
            [{"sku": "SKU-1", "quantity": ""}],
            SOURCE_ITEM,
            "sourceItems",
            type_error("", "float", "quantity"),
            id="pinned-quantity-empty",
        ),
        pytest.param(
            [{"sku": "SKU-1", "quantity": "test"}],
            SOURCE_ITEM,
            "sourceItems",
            type_error("test", "float", "quantity"),
            id="pinned-quantity-text",
        ),
        pytest.param(
            [{"sku": "SKU-1", "source_code": []}],
            SOURCE_ITEM,
            "sourceItems",
            type_error("array", "string", "source_code"),
            id="pinned-source-code-array",
        ),
    ],
)
def test_convert_list_errors(raw: Any, item: str | ObjectSpec, parameter: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        convert_list(raw, item, parameter=parameter)
    assert caught.value.envelope() == {"message": message}


def test_pinned_messages_read_exactly() -> None:
    with pytest.raises(InputError) as caught:
        convert_list([{"quantity": ""}], SOURCE_ITEM, parameter="sourceItems")
    assert caught.value.message == (
        'Error occurred during "quantity" processing. The "" value\'s type is invalid. '
        'The "float" type was expected. Verify and try again.'
    )


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: Field("x", "integer"), id="unknown-scalar"),
        pytest.param(lambda: ListOf("object"), id="unknown-item"),
        pytest.param(
            lambda: ObjectSpec("o", (Field("source_code", "string"), Field("sourceCode", "int"))), id="dup"
        ),
    ],
)
def test_spec_definition_errors(build: Any) -> None:
    with pytest.raises(ValueError):
        build()


def test_specs_are_hashable_and_comparable() -> None:
    again = ObjectSpec("carrier_link", (Field("carrier_code", "string"), Field("position", "int")))
    assert again == CARRIER_LINK
    assert hash(again) == hash(CARRIER_LINK)
    assert CARRIER_LINK.field_for("carrierCode") == Field("carrier_code", "string")
    assert CARRIER_LINK.field_for("carriercode") is None


def test_convert_object_does_not_mutate_input() -> None:
    raw = {"carrierLinks": [{"position": "1"}], "priority": "2"}
    convert_object(raw, SOURCE)
    assert raw == {"carrierLinks": [{"position": "1"}], "priority": "2"}


# --------------------------------------------------------------------------------------------
# PUT id override
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "snake_name", "value", "expected"),
    [
        pytest.param(
            {"stock": {"stock_id": 99, "name": "x"}},
            "stock_id",
            "10",
            {"stock": {"stock_id": "10", "name": "x"}},
            id="replaces-body-id",
        ),
        pytest.param(
            {"source": {"name": "EU"}},
            "source_code",
            "eu-1",
            {"source": {"name": "EU", "source_code": "eu-1"}},
            id="adds-missing-id",
        ),
        pytest.param(
            {"source": {"sourceCode": "old", "name": "EU"}},
            "source_code",
            "eu-1",
            {"source": {"sourceCode": "eu-1", "name": "EU"}},
            id="camel-key-replaced",
        ),
        pytest.param(
            {"source": {"sourceCode": None}},
            "source_code",
            "eu-1",
            {"source": {"sourceCode": None, "source_code": "eu-1"}},
            id="null-camel-is-not-set",
        ),
        pytest.param(
            {"source": {"source_code": "old", "sourceCode": "older"}},
            "source_code",
            "eu-1",
            {"source": {"source_code": "old", "sourceCode": "eu-1"}},
            id="both-spellings-only-camel-replaced",
        ),
        pytest.param({}, "stock_id", "10", {"stock_id": "10"}, id="empty-body"),
        pytest.param(
            {"stock": {"name": "x"}, "other": 1},
            "stock_id",
            "10",
            {"stock": {"name": "x"}, "other": 1, "stock_id": "10"},
            id="two-keys-top-level",
        ),
        pytest.param(
            {"stock": "x"}, "stock_id", "10", {"stock": "x", "stock_id": "10"}, id="scalar-value-top-level"
        ),
        pytest.param({"stockId": "5"}, "stock_id", "10", {"stockId": "10"}, id="top-level-camel"),
        pytest.param(
            {"stock": []}, "stock_id", "10", {"stock": {"stock_id": "10"}}, id="empty-list-is-php-array"
        ),
        pytest.param({"stock": {}}, "stock_id", "10", {"stock": {"stock_id": "10"}}, id="empty-object"),
    ],
)
def test_put_id_override(body: dict[str, Any], snake_name: str, value: Any, expected: dict[str, Any]) -> None:
    snapshot = repr(body)
    assert ordered(put_id_override(body, snake_name, value)) == ordered(expected)
    assert repr(body) == snapshot


def test_put_id_override_then_convert_uses_url_id() -> None:
    stock = ObjectSpec("stock", (Field("stock_id", "int"), Field("name", "string")))
    body = put_id_override({"stock": {"stock_id": 99, "name": "x"}}, "stock_id", "10")
    assert convert_object(body["stock"], stock) == {"stock_id": 10, "name": "x"}


def test_put_id_override_both_spellings_last_one_wins_on_conversion() -> None:
    # Magento's quirk: only the camelCase key is replaced, so a snake_case key after it wins.
    stock = ObjectSpec("stock", (Field("stock_id", "int"),))
    body = put_id_override({"stock": {"stockId": 5, "stock_id": 99}}, "stock_id", "10")
    assert convert_object(body["stock"], stock) == {"stock_id": 99}
