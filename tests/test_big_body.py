"""Large request bodies are decoded in pieces (``openmsi.piecewise_json``) so that the event
loop keeps answering (issue 7): the result and the errors must be exactly those of the
whole-document ``json.loads`` path, for every input.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from factories import SOURCE_ITEMS, source_item, stored_source_items
from openmsi import errors, piecewise_json, webapi


def reject_constant(name: str) -> Any:
    raise ValueError(name)


def whole(text: str) -> Any:
    return json.loads(text, parse_constant=reject_constant)


def outcome(decode: Any, argument: Any) -> str:
    """repr() of the result (types, key order and -0.0 included), or the error's kind."""
    try:
        return "value " + repr(decode(argument))
    except (ValueError, RecursionError):
        return "ValueError"
    except errors.MagentoError as error:
        return f"MagentoError {error.envelope()}"


# --- generated JSON text: whitespace variants, duplicate keys, escapes, invalid pieces -------------

# Mostly valid pieces, a few invalid ones (1 in 10–20), so that many whole documents decode.
SPACE = st.sampled_from(
    ["", "", "", "", " ", " ", "\n", "\n  ", "\t", "\r\n  ", "\u00a0", "\x0b"] + [""] * 12
)
SCALARS = st.one_of(
    st.sampled_from(
        [
            "0",
            "-0",
            "-0.0",
            "1.5e3",
            "1E-2",
            "1e999",
            "true",
            "false",
            "null",
            '"a"',
            '"\\ud800"',
            '"\\udfff x"',
            '"\\ud83d\\ude00"',
            '"\\ude00\\ud83d"',
            '"\\u00e9"',
            '"é"',
            '"\\/"',
            '"\\u0000"',
        ]
    ),
    st.sampled_from(
        [
            "01",
            "1.",
            ".5",
            "-",
            "+1",
            "NaN",
            "Infinity",
            "-Infinity",
            "nul",
            '"\x01"',
            '"\\x"',
            '"\\u12"',
            '"',
            "'a'",
        ]
    ),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False).map(json.dumps),
    st.text(max_size=8).map(lambda text: json.dumps(text)),
    st.text(max_size=8).map(lambda text: json.dumps(text, ensure_ascii=False)),
)
# Few keys, so that objects often repeat one (the last wins, in the first one's place).
KEYS = st.sampled_from(['"sku"', '"a"', '"\\u0061"', '"\\ud800"', '""', '"é"'] * 3 + ["sku", "1"])


def arrays(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    element = st.tuples(SPACE, children, SPACE).map("".join)
    separator = st.sampled_from([","] * 18 + [";", ",,"])
    return st.tuples(
        st.lists(st.tuples(element, separator), max_size=6), SPACE, st.integers(0, 9).map(bool)
    ).map(
        lambda parts: (
            "["
            + "".join(e + s for e, s in parts[0])[: -1 if parts[0] and parts[2] else None]
            + parts[1]
            + "]"
        )
    )


def objects(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    member = st.tuples(SPACE, KEYS, SPACE, st.sampled_from([":"] * 19 + ["="]), SPACE, children, SPACE)
    return st.tuples(
        st.lists(member.map("".join), max_size=6), st.integers(0, 19).map(lambda n: n == 0), SPACE
    ).map(lambda parts: "{" + ",".join(parts[0]) + ("," if parts[1] and parts[0] else "") + parts[2] + "}")


VALUES = st.recursive(SCALARS, lambda children: arrays(children) | objects(children), max_leaves=40)
# The shape of a large save: an object holding an array of many small objects.
BIG_SAVES = st.lists(
    st.fixed_dictionaries(
        {
            "sku": st.text(max_size=6),
            "source_code": st.just("default"),
            "quantity": st.floats(),
            "status": st.integers(),
        }
    ),
    max_size=40,
).map(lambda items: json.dumps({"sourceItems": items, "sourceItems ": [[1, [2]], {}]}))
# Objects repeating keys, also as elements of an array, with values that mostly decode.
REPEATED_KEYS = st.lists(
    st.tuples(
        st.sampled_from(['"a"', '"b"', '"\\u0061"']),
        st.one_of(st.sampled_from(["1", "[2, []]", '{"x": [3, {}]}', '"s"']), VALUES),
    ),
    min_size=2,
    max_size=8,
).map(lambda members: "{" + ",".join(f"{key}:{value}" for key, value in members) + "}")
DOCUMENTS = st.tuples(
    st.sampled_from(["", "", " ", "\ufeff", "\n\t"]),
    st.one_of(
        VALUES,
        BIG_SAVES,
        REPEATED_KEYS,
        st.lists(REPEATED_KEYS, max_size=4).map(", ".join).map("[{}]".format),
    ),
    SPACE,
).map("".join)


@st.composite
def damaged(draw: st.DrawFn, documents: st.SearchStrategy[str]) -> str:
    """A document cut short, or with one character removed or inserted."""
    text = draw(documents)
    at = draw(st.integers(0, len(text)))
    how = draw(st.sampled_from(["cut", "remove", "insert"]))
    if how == "cut":
        return text[:at]
    if how == "remove":
        return text[:at] + text[at + 1 :]
    return text[:at] + draw(st.sampled_from(list(',:[]{}" \\0-e.'))) + text[at:]


TEXTS = st.one_of(DOCUMENTS, damaged(DOCUMENTS))
SETTINGS = settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(TEXTS)
def test_piecewise_loads_is_json_loads(text: str) -> None:
    assert outcome(lambda t: piecewise_json.loads(t, reject_constant), text) == outcome(whole, text)


@SETTINGS
@given(TEXTS)
def test_a_large_body_decodes_as_a_small_one(text: str) -> None:
    body = text.encode("utf-8", "surrogatepass")
    expected = outcome(webapi.decode_json_body, body)
    piecewise_from = webapi.PIECEWISE_DECODE_BYTES
    try:
        webapi.PIECEWISE_DECODE_BYTES = 0
        assert outcome(webapi.decode_json_body, body) == expected
    finally:
        webapi.PIECEWISE_DECODE_BYTES = piecewise_from


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


@pytest.mark.parametrize(
    "text",
    [
        *[
            pytest.param('{"sourceItems":' + nested(depth - 1) + "}", id=f"depth-{depth}")
            for depth in (511, 512, 513, 950, 5000)
        ],
        *[pytest.param(nested(depth), id=f"array-depth-{depth}") for depth in (512, 513, 2000)],
        pytest.param('{"a":[1,2],"a":{"b":3},"c":[],"a":[4]}', id="duplicate-keys"),
        pytest.param(b'{"a":"\xff"}'.decode("latin-1"), id="latin-1"),
        pytest.param('{"a":[{"b":"\\ud800"}]}', id="surrogate-in-element"),
        pytest.param('{"\\udc00":[]}', id="surrogate-key"),
        pytest.param('[{"a":1}] [', id="extra-data"),
    ],
)
def test_edge_documents_decode_alike(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    body = text.encode("utf-8", "surrogatepass")
    expected = outcome(webapi.decode_json_body, body)
    monkeypatch.setattr(webapi, "PIECEWISE_DECODE_BYTES", 0)
    assert outcome(webapi.decode_json_body, body) == expected


def test_invalid_utf8_is_a_decoding_error_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webapi, "PIECEWISE_DECODE_BYTES", 0)
    with pytest.raises(errors.MagentoError, match=r"Decoding error\."):
        webapi.decode_json_body(b'{"a":"\xff"}')


# --- through HTTP ----------------------------------------------------------------------------------


def test_a_large_save_is_decoded_in_pieces_and_stored(
    client: TestClient, auth_headers: dict[str, str], session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [source_item(f"big-{n:05}", "default", n % 97 + 0.5, n % 2) for n in range(4000)]
    body = json.dumps({"sourceItems": items}, indent=1).encode()
    assert len(body) > webapi.PIECEWISE_DECODE_BYTES
    calls: list[int] = []
    loads = piecewise_json.loads

    def counting_loads(text: str, parse_constant: Any) -> Any:
        calls.append(len(text))
        return loads(text, parse_constant)

    monkeypatch.setattr(piecewise_json, "loads", counting_loads)
    response = client.post(
        SOURCE_ITEMS, content=body, headers={**auth_headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.text == "[]"
    assert calls == [len(body)]
    stored = stored_source_items(session)
    for item in items:
        assert stored[("default", item["sku"])] == (item["quantity"], item["status"])


def test_a_large_invalid_body_is_a_decoding_error(
    client: TestClient, auth_headers: dict[str, str], session: Session
) -> None:
    items = [source_item(f"bad-{n:05}", "default") for n in range(5000)]
    body = json.dumps({"sourceItems": items}).encode()[:-2] + b",]}"
    assert len(body) > webapi.PIECEWISE_DECODE_BYTES
    response = client.post(
        SOURCE_ITEMS, content=body, headers={**auth_headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"message": "Decoding error."}
    assert not any(sku.startswith("bad-") for _, sku in stored_source_items(session))
