"""Magento's Web API framework on the wire: URL handling, request bodies, JSON rendering.

- ``MagentoPathMiddleware`` does what magento2's ``Webapi/Controller/PathProcessor.php`` and
  ``Rest/Request.php`` do before routing: only GET/POST/PUT/DELETE, the ``Accept`` check,
  the optional store code after ``/rest``, slashes at either end ignored (never a redirect),
  and path segments decoded with PHP ``urldecode`` (``+`` is a space).
- ``service_parameters`` builds the parameters of a service call: JSON body (POST/PUT), then
  the query string, later keys winning (``Rest/Request.php::getRequestData``).
- ``BodyLimitMiddleware`` refuses a request body over OPENMSI_MAX_BODY_BYTES (413).
- ``MagentoJSONResponse`` encodes like PHP's ``json_encode``: compact, ``\\/``, ASCII only.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote_plus

import anyio.to_thread
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openmsi import errors, pieces, piecewise_json, service_input
from openmsi.phpjson import render_json

ALLOWED_METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})
JSON_MEDIA_TYPES = frozenset({"*/*", "application/*", "application/json"})


class MagentoJSONResponse(Response):
    """JSON as Magento renders it (``phpjson.render_json``), ``Content-Type: application/json;
    charset=utf-8``. Its headers are set here, not by Starlette's ``init_headers``, which looks
    for a content type and a length in the given headers on every answer of every hot read."""

    media_type = "application/json"

    def __init__(
        self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status_code = status_code
        self.background = None
        self.body = render_json(content)
        given = (
            []
            if headers is None
            else [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        )
        self.raw_headers = [
            *given,
            (b"content-length", str(len(self.body)).encode("latin-1")),
            (b"content-type", b"application/json; charset=utf-8"),
        ]


def _error_response(error: errors.MagentoError) -> MagentoJSONResponse:
    return MagentoJSONResponse(error.envelope(), status_code=error.status_code)


def _accepts_json(accept: str) -> str | None:
    """The first offered media type when none of the offered ones can be served as JSON."""
    offered = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
    if not offered or any(media in JSON_MEDIA_TYPES for media in offered):
        return None
    return offered[0]


class StoreCodes:
    """Store-view codes that may follow ``/rest``, reloaded at most every few seconds so that a
    ``openmsi website create`` in another process shows up without a restart."""

    def __init__(self, load: Callable[[], set[str]], max_age: float = 5.0) -> None:
        self._load = load
        self._max_age = max_age
        self._codes: set[str] = set()
        self._loaded_at = float("-inf")

    async def contains(self, code: str) -> bool:
        # Codes compare case-insensitively in the database, so here too.
        code = code.lower()
        if code in self._codes:
            return True
        if time.monotonic() - self._loaded_at > self._max_age:
            self._codes = {c.lower() for c in await anyio.to_thread.run_sync(self._load)}
            self._loaded_at = time.monotonic()
        return code in self._codes


class MagentoPathMiddleware:
    def __init__(self, app: ASGIApp, store_codes: StoreCodes) -> None:
        self.app = app
        self.store_codes = store_codes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/rest/"):
            await self.app(scope, receive, send)
            return
        problem = self._check_request(scope)
        if problem is not None:
            await _error_response(problem)(scope, receive, send)
            return
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        try:
            # Only a segment with an escape or a "+" changes when unquoted.
            segments = [
                unquote_plus(segment, errors="strict") if "%" in segment or "+" in segment else segment
                for segment in raw_path.decode("ascii").split("?")[0].split("/")
            ]
        except UnicodeError:
            await _error_response(errors.RouteNotFound())(scope, receive, send)
            return
        if any("\x00" in segment for segment in segments):
            await _error_response(nul_character_error())(scope, receive, send)
            return
        # "/rest/<store>/V1/…" or "/rest/V1/…"; leading/trailing empty segments are ignored.
        while segments and segments[-1] == "":
            segments.pop()
        segments = segments[2:]  # "", "rest"
        store_code = "default"
        if segments and segments[0] != "V1":
            candidate = segments[0]
            if candidate == "all":
                store_code, segments = "all", segments[1:]
            elif candidate != "admin" and await self.store_codes.contains(candidate):
                store_code, segments = candidate, segments[1:]
        scope = dict(scope)
        scope["path"] = "/rest/" + "/".join(segments)
        scope["raw_path"] = scope["path"].encode("utf-8", "surrogateescape")
        scope.setdefault("state", {})["store_code"] = store_code
        await self.app(scope, receive, send)

    @staticmethod
    def _check_request(scope: Scope) -> errors.MagentoError | None:
        headers = dict(scope["headers"])
        accept = headers.get(b"accept", b"").decode("latin-1")
        unacceptable = _accepts_json(accept) if accept else None
        if unacceptable is not None:
            return errors.NotAcceptable(
                "Server cannot match any of the given Accept HTTP header media type(s) from the request: "
                f'"{unacceptable}" with media types from the config of response renderer.'
            )
        if scope["method"] not in ALLOWED_METHODS:
            return errors.MagentoError("Request method is invalid.")
        return None


class RequestTooLarge(errors.MagentoError):
    status_code = 413

    def __init__(self, limit: int) -> None:
        super().__init__("The request body exceeds the maximum size of %1 bytes.", [limit])


class BodyLimitMiddleware:
    """At most ``limit`` bytes of request body (OPENMSI_MAX_BODY_BYTES), else 413 in the envelope.

    A declared ``Content-Length`` over the limit is refused before the body is read; a body
    sent without one (chunked) is counted as it arrives and refused once it passes the limit,
    so the process never holds more than ``limit`` bytes of it. Magento has no limit of its
    own: the web server's and PHP's (``post_max_size``) apply.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _error_response(RequestTooLarge(self.limit))(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Raised inside the route's body read, before any answer: the error handlers
                    # render it like any other Magento error.
                    raise RequestTooLarge(self.limit)
            return message

        await self.app(scope, counting_receive, send)


# Rest/Request.php::getContentType: preg_match('~^([a-z\d/\-+.]+)(?:; *charset=(.+))?$~Ui', ...).
_CONTENT_TYPE = re.compile(r"([a-z\d/\-+.]+)(?:; *charset=(.+))?", re.IGNORECASE | re.ASCII)


def _check_content_type(header: str | None) -> None:
    """Rest/Request.php::getContentType and DeserializerFactory, with their messages: anything
    but a bare media type or one followed by ``; charset=…`` is invalid, the charset must be
    ``utf-8`` (any case), and the media type must be exactly ``application/json``."""
    if not header or header == "0":  # PHP: `if (!$headerValue)`, and "0" is falsy
        raise errors.MagentoError("Content-Type header is empty.")
    match = _CONTENT_TYPE.fullmatch(header)
    if match is None:
        raise errors.MagentoError("Content-Type header is invalid.")
    media_type, charset = match.groups()
    if charset is not None and charset.lower() != "utf-8":
        raise errors.MagentoError("UTF-8 is the only supported charset.")
    if media_type != "application/json":
        raise errors.MagentoError(
            f"Server cannot understand Content-Type HTTP header media type {media_type}"
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


# PHP json_decode's default depth: an array or object nested deeper fails (JSON_ERROR_DEPTH).
JSON_MAX_DEPTH = 512
_SURROGATE = re.compile("[\ud800-\udfff]")
# Bodies above this size are decoded in pieces, so that the event loop is not stalled for the
# whole decoding (piecewise_json); below it one json.loads call is short and the fastest.
PIECEWISE_DECODE_BYTES = 256 * 1024


def decode_json_body(body: bytes) -> dict[str, Any]:
    """PHP json_decode into an array: anything that is not an object has no named parameters.

    What json_decode refuses is Magento's "Decoding error." (``Deserializer/Json.php``): besides
    syntax errors, an unpaired UTF-16 surrogate escape (JSON_ERROR_UTF16; Python would decode it
    into a string no database accepts) and nesting deeper than 512 (JSON_ERROR_DEPTH).
    """
    try:
        text = body.decode("utf-8")
        if len(body) > PIECEWISE_DECODE_BYTES:
            decoded = piecewise_json.loads(text, _reject_constant)
        else:
            decoded = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise errors.MagentoError("Decoding error.") from None
    if _may_not_be_php_decodable(text) and not _php_decodable(decoded):
        raise errors.MagentoError("Decoding error.")
    if isinstance(decoded, dict):
        return decoded
    if isinstance(decoded, list):
        return {str(index): value for index, value in enumerate(decoded)}
    return {}


# A surrogate can reach a decoded string only through a \uD800–\uDFFF escape: the UTF-8 decoder
# refuses encoded ones.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _may_not_be_php_decodable(text: str) -> bool:
    """Whether the decoded value must be walked (``_php_decodable``): only a text with a
    surrogate escape, or with more brackets than the depth allows, can fail it."""
    # In pieces: over a 20 MB body each of these is a C call of 5–20 ms (pieces.py).
    return (
        pieces.search(_SURROGATE_ESCAPE, text, longest_match=4)
        or pieces.count_character(text, "[") + pieces.count_character(text, "{") > JSON_MAX_DEPTH
    )


def _php_decodable(value: Any) -> bool:
    # A loop, not recursion: the depth is the client's to choose.
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return False
        elif isinstance(item, (dict, list)):
            if depth > JSON_MAX_DEPTH:
                return False
            if isinstance(item, dict):
                pending.extend((key, depth) for key in item)
                pending.extend((element, depth + 1) for element in item.values())
            else:
                pending.extend((element, depth + 1) for element in item)
    return True


def nul_character_error() -> errors.MagentoError:
    return errors.MagentoError(
        "The request contains a NUL character (\\u0000), which openmsi does not accept."
    )


def _contains_nul(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def service_parameters(content_type: str | None, body: bytes | None, query_string: bytes) -> dict[str, Any]:
    """The parameters of a service call: the JSON body (POST and PUT only), then the query
    string, later keys winning (magento2's ``Rest/Request.php::getRequestData``)."""
    decoded: dict[str, Any] = {}
    if body is not None:
        _check_content_type(content_type)
        decoded = decode_json_body(body)
    query = service_input.parse_query_string(query_string)
    params = service_input.merge_parameters(decoded, query, {})
    # PostgreSQL can neither store nor even compare a string holding NUL, and no code, name or
    # SKU needs one: refuse it up front so that every engine answers the same. JSON can carry
    # one only as the escape \u0000 (a raw control character does not decode), so a body
    # without that text is not walked.
    body_has_nul = body is not None and pieces.contains(body, b"\\u0000") and _contains_nul(decoded)
    if body_has_nul or _contains_nul(query):
        raise nul_character_error()
    return params
