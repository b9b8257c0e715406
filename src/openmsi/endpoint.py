"""How every Magento route runs: ACL check, input, one unit of work, JSON answer.

Magento's order of checks (spec http.md, "Order of checks for a request") is kept: the route
has matched (FastAPI), then the bearer token must allow the route's ACL resource (401), then the
body is decoded and the parameters converted (400), then the service runs. The whole of it
(token lookup, parsing, service, commit) is one call of ``Database.run``: on this project's
machines handing work to a worker thread costs about 0.5 ms, more than the queries of a
typical request, so a request takes one such hop instead of one per dependency. On SQLite it
takes none (see ``Database.run``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from functools import partial
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import StreamingResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from starlette.types import Receive, Scope, Send

from openmsi import auth, errors, service_input, webapi
from openmsi.db import Database, Lane, is_retryable
from openmsi.webapi import MagentoJSONResponse

JSON_UTF8 = "application/json; charset=utf-8"
# A write that lost a deadlock runs again, up to this many times in all.
WRITE_ATTEMPTS = 4

Work = Callable[[Session, dict[str, Any]], Any]
# Checks the request and returns the body's producer: an iterator of JSON fragments that opens
# its own sessions when first advanced and closes them when exhausted or closed.
StreamWork = Callable[[Session, dict[str, Any]], Generator[bytes, None, None]]


async def run(request: Request, resource: str, work: Work, *, write: bool = False) -> MagentoJSONResponse:
    """Answer ``work(session, parameters)`` as JSON; a write commits before the answer is sent."""
    database: Database = request.app.state.database
    token = auth.bearer_token(request.headers.get("authorization"))
    content_type = request.headers.get("content-type")
    body = await request.body() if request.method in ("POST", "PUT") else None
    query_string: bytes = request.scope.get("query_string", b"")

    def unit_of_work() -> Any:
        if not write:
            # A read checks the token on its own session's connection: one checkout, one BEGIN.
            with database.read_sessions() as session:
                auth.authorize(session.connection(), token, resource)
                return work(session, webapi.service_parameters(content_type, body, query_string))
        # A write checks the token before it opens its transaction, so that a refused request
        # never takes SQLite's write lock.
        with database.engine.connect() as connection:
            auth.authorize(connection, token, resource)
        params = webapi.service_parameters(content_type, body, query_string)
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with database.write_sessions() as session:
                    result = work(session, params)
                    session.commit()
                return result
            except DBAPIError as error:
                # The database chose this transaction as a deadlock victim and rolled it back:
                # run it again rather than hand the client an error it can do nothing about.
                if attempt == WRITE_ATTEMPTS or not is_retryable(error):
                    raise
            except errors.MagentoError as error:
                if attempt == WRITE_ATTEMPTS or not isinstance(error.__cause__, DBAPIError):
                    raise
                if not is_retryable(error.__cause__):
                    raise
        raise AssertionError("unreachable")

    return MagentoJSONResponse(await database.run(unit_of_work, Lane.WRITE if write else Lane.READ))


async def stream(request: Request, resource: str, work: StreamWork) -> StreamingResponse:
    """A read whose answer is too large to hold in memory (a stock export).

    The token, the parameters and whatever ``work`` checks run as one unit of work like
    ``run``'s, and so does the producer's first fragment: an error up to there gets the normal
    envelope and status. The rest is sent as it is produced; an error after that can only cut
    the response short.
    """
    database: Database = request.app.state.database
    token = auth.bearer_token(request.headers.get("authorization"))
    query_string: bytes = request.scope.get("query_string", b"")

    def unit_of_work() -> Generator[bytes, None, None]:
        with database.read_sessions() as session:
            auth.authorize(session.connection(), token, resource)
            return work(session, webapi.service_parameters(None, None, query_string))

    fragments = await database.run(unit_of_work)
    first = await database.run(partial(next, fragments, None))
    return _ClosingStreamingResponse(_send(database, first, fragments))


class _ClosingStreamingResponse(StreamingResponse):
    """Closes the body when the response ends in any way: Starlette leaves an unfinished body
    (the client went away) to the garbage collector, and with it the producer's connections."""

    def __init__(self, body: AsyncGenerator[bytes, None]) -> None:
        super().__init__(body, media_type=JSON_UTF8)
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._body.aclose()


async def _send(
    database: Database, first: bytes | None, fragments: Generator[bytes, None, None]
) -> AsyncGenerator[bytes, None]:
    try:
        fragment = first
        while fragment is not None:
            yield fragment
            fragment = await database.run(partial(next, fragments, None))
    finally:
        # A client that went away leaves the producer half-way: close its sessions off the
        # event loop (MariaDB drains an unfinished streaming cursor before it can close it),
        # even while this task is being cancelled.
        with anyio.CancelScope(shield=True):
            await database.run(fragments.close)


def parameter(params: dict[str, Any], php_name: str) -> Any:
    """A required top-level parameter, or Magento's "is required" error."""
    (value,) = service_input.require_parameters(params, php_name)
    return value
