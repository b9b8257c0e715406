"""The one request runtime: every route is declared once (``Route``) and runs through ``serve``.

A route states its method, path, ACL resource, lane and Magento request and response shapes
(the shapes feed the OpenAPI document, ``openapi.py``). ``serve`` is the single seam between
HTTP and the service layer, in Magento's order of checks (spec http.md, "Order of checks for a
request"): the route has matched, then the bearer token must allow the route's ACL resource
(401), then the body is decoded and the parameters converted (400), then the work runs in one
unit of work, a write commits before the answer is sent, a deadlock victim runs again, and a
database failure becomes the route's Magento error. The token lookup, the parsing, the work and
the commit are one call of ``Database.run`` in the route's lane: one thread hop at most.

A write that carries an ``Idempotency-Key`` header (spec orders.md) takes a path of its own,
``_keyed_write``; a write without one runs exactly as before. What comes next hooks in here, once
for every route: an event row joins the write transaction in ``_run_write`` (it commits or rolls
back with the work). Metrics and request logs (``observability.py``) count and log every answer
once it has left, in the outermost middleware: ``serve`` notes the route template it serves
and the admin user the token belongs to.
"""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from openmsi import auth, errors, idempotency, observability, pieces, service_input, webapi
from openmsi.db import Database, Lane, Reader, is_retryable
from openmsi.indexer.service import Indexing
from openmsi.openapi import QueryParameter
from openmsi.phpjson import render_json
from openmsi.search_criteria import EMPTY as EMPTY_SEARCH_CRITERIA
from openmsi.search_criteria import SearchCriteria
from openmsi.search_criteria import parse as parse_search_criteria
from openmsi.settings import Settings
from openmsi.webapi import MagentoJSONResponse

logger = logging.getLogger("openmsi")
T = TypeVar("T")

JSON_UTF8 = "application/json; charset=utf-8"
# A write that lost a deadlock runs again, up to this many times in all.
WRITE_ATTEMPTS = 4
DATABASE_UNAVAILABLE = "The database is not available right now. Try again later."
# What a void service method answers (Magento renders PHP's empty array).
VOID: list[Any] = []


@dataclass(slots=True)
class Context:
    """What a unit of work may use besides its session: the process's configuration."""

    settings: Settings
    database: Database
    indexing: Indexing


class Call:
    """One service call: its parameters (JSON body, then query string), the path variables as
    the URL spelled them (decoded, not converted), and its database access: ``session``, or for
    the hot reads ``reader`` (prepared statements, no session; ``db.PreparedRead``).

    A quick read (``Lane.QUICK_READ``) starts with a reader only and opens a session the first
    time its work asks for one; every other unit of work has its session, and a reader on the
    session's connection when asked."""

    def __init__(
        self,
        params: dict[str, Any],
        path: dict[str, str],
        context: Context,
        *,
        session: Session | None = None,
        reader: Reader | None = None,
        open_session: Callable[[], Session] | None = None,
    ) -> None:
        self.params = params
        self.path = path
        self.context = context
        self._session = session
        self._reader = reader
        self._open_session = open_session

    @property
    def session(self) -> Session:
        if self._session is None:
            assert self._open_session is not None
            self._session = self._open_session()
        return self._session

    @property
    def reader(self) -> Reader:
        if self._reader is None:
            self._reader = Reader.of(self.session)
        return self._reader

    def parameter(self, php_name: str) -> Any:
        """A required top-level parameter, or Magento's "is required" error."""
        (value,) = service_input.require_parameters(self.params, php_name)
        return value

    def search_criteria(self, *, required: bool = True) -> SearchCriteria:
        """The ``searchCriteria`` parameter of a list route, bounded by OPENMSI_MAX_PAGE_SIZE.
        Required: Magento's "is required" error when absent; otherwise absent means none."""
        if required:
            criteria = parse_search_criteria(self.parameter("searchCriteria"))
        else:
            raw = service_input.lookup_parameter(self.params, "searchCriteria")
            criteria = EMPTY_SEARCH_CRITERIA if raw is None else parse_search_criteria(raw)
        return criteria.bounded(self.context.settings.max_page_size)


# The work of a route, run in a session the runtime opens, commits and closes.
Work = Callable[[Call], Any]
# A route made of several units of work in different lanes (the token route: read the login
# state, hash in the CPU lane with no connection held, then a short write that commits a failed
# login's count even though the answer is a 401). It gets the context and a function that
# decodes the request's parameters, to call inside its first unit of work (never on the loop),
# and runs each unit through ``context.database.run`` itself.
Steps = Callable[[Context, Callable[[], dict[str, Any]]], Awaitable[Any]]


@dataclass(frozen=True)
class Route:
    """One Magento route, declared once. ``body``, ``query`` and ``response`` document the
    request and answer (OpenAPI); parsing is ``service_input``'s, with Magento's rules."""

    method: str
    path: str  # below /rest, e.g. "/V1/inventory/sources/{sourceCode}"
    resource: str | None  # the ACL resource; None: anonymous
    lane: Lane
    work: Work | None = None
    steps: Steps | None = None
    summary: str = ""
    body: Any = None
    query: tuple[QueryParameter, ...] = ()
    response: Any = None
    # The Magento error a database failure becomes ("Could not save Source"); without one a
    # database failure is a bug and answers 500.
    database_error: tuple[type[errors.MagentoError], str] | None = None
    # The answer grows with the data: sent as it is produced (a stock export).
    stream: bool = False
    # A POST that may come without a body (openmsi's order cancellation: "no body" cancels
    # everything open): an empty body is then no body, not Magento's "Decoding error.".
    optional_body: bool = False

    @property
    def template(self) -> str:
        """The path as mounted, placeholders and all: the route's label in metrics and logs."""
        return "/rest" + self.path

    @property
    def name(self) -> str:
        work = self.work or self.steps
        assert work is not None
        return work.__name__


@dataclass
class Router:
    """The routes of one Magento module, in matching order."""

    routes: list[Route] = field(default_factory=list)

    def route(
        self, method: str, path: str, resource: str | None, lane: Lane, **shape: Any
    ) -> Callable[[Work], Work]:
        def declare(work: Work) -> Work:
            summary = " ".join((work.__doc__ or "").strip().split("\n\n")[0].split())
            self.routes.append(Route(method, path, resource, lane, work=work, summary=summary, **shape))
            return work

        return declare


@dataclass(slots=True)
class _Incoming:
    """What the seam reads from the HTTP request, so that the unit of work never touches it."""

    token: str | None
    content_type: str | None
    body: bytes | None
    query_string: bytes
    path: dict[str, str]


def mount(app: FastAPI, routes: list[Route]) -> None:
    """Answer the routes under ``/rest`` with ``serve``: straight from ``RestRoutes`` (added
    to the app's middleware by ``app.create_app``), and, for what looks at the app's routes
    (``url_path_for``, tests), as FastAPI routes too, in the same order."""
    for route in routes:
        app.add_api_route(
            route.template,
            _endpoint(route),
            methods=[route.method],
            name=route.name,
            include_in_schema=False,  # openapi.py documents the routes from their declarations
        )


def _endpoint(route: Route) -> Callable[[Request], Awaitable[Response]]:
    # FastAPI reads the endpoint's signature for parameters: the route must not appear in it.
    async def endpoint(request: Request) -> Response:
        return await serve(route, request)

    return endpoint


class RestRoutes:
    """The declared routes, matched and answered without FastAPI's request handling.

    A route's whole answer is ``serve``'s, so FastAPI's part (routing down a list of regular
    expressions, dependency solving, its exception middleware) bought nothing but its cost:
    about 80 µs of a 210 µs salability read in-process (bench/README.md, "Quick reads"). This
    middleware sits inside ``webapi.MagentoPathMiddleware`` (the path it sees has no store code)
    and matches a path as Starlette would (every ``{name}`` is one segment, the first declared
    route wins), among the routes with the same method and number of segments. Errors are
    answered by ``error_response``, the same mapping FastAPI's handlers use (``install_handlers``).
    Whatever does not match goes on to FastAPI, which answers it as before (404 and 405 become
    Magento's "Request does not match any route.").
    """

    def __init__(self, app: ASGIApp, routes: list[Route]) -> None:
        self.app = app
        self._routes: dict[tuple[str, int], list[tuple[re.Pattern[str], Route]]] = {}
        for route in routes:
            pattern, _format, _convertors = compile_path(route.template)
            key = (route.method, route.template.count("/"))
            self._routes.setdefault(key, []).append((pattern, route))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route a request is for, and its path variables; None: not a declared route."""
        for pattern, route in self._routes.get((method, path.count("/")), ()):
            found = pattern.match(path)
            if found is not None:
                return route, found.groupdict()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = self.match(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if matched is None:
            await self.app(scope, receive, send)
            return
        route, scope["path_params"] = matched
        request = Request(scope, receive)
        try:
            response = await serve(route, request)
        except Exception as error:
            response = await error_response(request, error)
        await response(scope, receive, send)


async def serve(route: Route, request: Request) -> Response:
    """The one seam every route passes through: token and ACL, parameters, unit of work,
    commit, deadlock retry, database error mapping, JSON answer."""
    observability.note_route(route.template)
    state = request.app.state
    context = Context(state.settings, state.database, state.indexing)
    body = await request.body() if request.method in ("POST", "PUT") else None
    if route.optional_body and not body:
        body = None
    incoming = _Incoming(
        token=auth.bearer_token(request.headers.get("authorization")),
        content_type=request.headers.get("content-type"),
        body=body,
        query_string=request.scope.get("query_string", b""),
        path=dict(request.path_params),
    )
    if route.stream:
        return await _stream(route, context, incoming)
    if route.steps is not None:
        return MagentoJSONResponse(await _steps(route, context, incoming))
    if route.lane is Lane.WRITE:
        keys = request.headers.getlist(idempotency.HEADER)
        if keys and route.resource is not None:
            # An anonymous route has no user to keep keys for: it ignores the header.
            return await _keyed_write(route, context, incoming, _keyed(request, keys))
        unit_of_work = partial(_write, route, context, incoming)
    elif route.lane is Lane.QUICK_READ:
        unit_of_work = partial(_quick_read, route, context, incoming)
    else:
        unit_of_work = partial(_read, route, context, incoming)
    return MagentoJSONResponse(await context.database.run(_sized(incoming, unit_of_work), route.lane))


def _sized(incoming: _Incoming, unit_of_work: Callable[[], T]) -> Callable[[], T]:
    """The unit of work of a large body (decoded in pieces, webapi.PIECEWISE_DECODE_BYTES) runs
    without full garbage collections: its millions of objects made each one a pause of
    50–270 ms for every other request (pieces.full_collections_deferred)."""
    if incoming.body is None or len(incoming.body) <= webapi.PIECEWISE_DECODE_BYTES:
        return unit_of_work

    def deferred() -> T:
        with pieces.full_collections_deferred():
            return unit_of_work()

    return deferred


def _params(incoming: _Incoming) -> dict[str, Any]:
    return webapi.service_parameters(incoming.content_type, incoming.body, incoming.query_string)


def _read(route: Route, context: Context, incoming: _Incoming) -> Any:
    assert route.work is not None and route.resource is not None
    for attempt in (1, 2):
        try:
            # A read checks the token on its own session's connection: one checkout, one BEGIN.
            with context.database.read_sessions() as session:
                _check_token(Reader.of(session), incoming.token, route.resource)
                return route.work(Call(_params(incoming), incoming.path, context, session=session))
        except DBAPIError as error:
            # Pooled connections are not pinged (db.make_engine): one that the server closed
            # after the checkout's socket check fails its first statement. SQLAlchemy has thrown
            # it away; a read simply runs again on a fresh one.
            if attempt == 1 and error.connection_invalidated:
                continue
            raise _database_failure(route, error) from error
    raise AssertionError("unreachable")


def _quick_read(route: Route, context: Context, incoming: _Incoming) -> Any:
    """A read by key: the token and the work on the quick reader (``Database.quick_reader``),
    with no session unless the work asks for one."""
    assert route.work is not None and route.resource is not None
    database = context.database
    for attempt in (1, 2):
        try:
            with database.quick_reader() as reader, ExitStack() as sessions:
                _check_token(reader, incoming.token, route.resource)
                call = Call(
                    _params(incoming), incoming.path, context, reader=reader,
                    open_session=lambda: sessions.enter_context(database.read_sessions()),
                )  # fmt: skip
                return route.work(call)
        except DBAPIError as error:
            # As in _read: a pooled connection the server closed fails its first statement.
            if attempt == 1 and error.connection_invalidated:
                continue
            raise _database_failure(route, error) from error
    raise AssertionError("unreachable")


def _write(route: Route, context: Context, incoming: _Incoming) -> Any:
    if route.resource is not None:
        # The token is checked before the transaction opens, so that a refused request never
        # takes SQLite's write lock.
        _check_token_first(context, incoming.token, route.resource)
    params = _params(incoming)
    try:
        return _run_write(route, context, params, incoming.path)
    finally:
        if incoming.body is not None and len(incoming.body) > webapi.PIECEWISE_DECODE_BYTES:
            # A large body's decoded parameters, freed a piece at a time (pieces.release).
            pieces.release_parameters(params)


def _run_write(
    route: Route,
    context: Context,
    params: dict[str, Any],
    path: dict[str, str],
    before_commit: Callable[[Session, Any], Any] | None = None,
) -> Any:
    """The route's work in one transaction, run again when it was a deadlock victim.
    ``before_commit`` joins the transaction last and turns the work's result into the answer."""
    work = route.work
    assert work is not None

    def unit(session: Session) -> Any:
        result = work(Call(params, path, context, session=session))
        return result if before_commit is None else before_commit(session, result)

    return run_write(context, unit, route.database_error)


def run_write(
    context: Context,
    unit: Callable[[Session], T],
    database_error: tuple[type[errors.MagentoError], str] | None = None,
) -> T:
    """``unit`` in one write transaction, committed, run again when it was a deadlock victim; a
    database failure becomes ``database_error``. A route's write (``serve``) and an admin page's
    action (``openmsi.admin``) both run here."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with context.database.write_sessions() as session:
                result = unit(session)
                session.commit()
            return result
        except DBAPIError as error:
            # The database chose this transaction as a deadlock victim and rolled it back:
            # run it again rather than hand the client an error it can do nothing about.
            if attempt == WRITE_ATTEMPTS or not is_retryable(error):
                raise _mapped_failure(database_error, error) from error
        except errors.MagentoError as error:
            # A service that names a more precise error for one step (the stock's sales
            # channels) raises it from the database error: a deadlock there is retried too.
            cause = error.__cause__
            if attempt == WRITE_ATTEMPTS or not isinstance(cause, DBAPIError) or not is_retryable(cause):
                raise
    raise AssertionError("unreachable")


# Idempotency-Key
#
# Two units of work. The first, a read (on SQLite off the writer thread, so that it never queues
# behind the write it may be a repeat of), checks the token and the header and looks the key up:
# a finished request's answer is replayed from there, a running one is a 409, another request's
# key a 422. The second, in the write lane, claims the key in a short transaction of its own
# (committed, so that repeats see it in flight), then runs the work and stores the answer with
# the key in the work's transaction: both commit, or neither.
#
# When the work fails: a Magento error of the work itself (400 validation, 404 no such entity,
# ...) is the request's answer, stored and replayed like a success, as Stripe does with every
# answer of a request that began to run, so that one key never gets two different answers. A
# database failure, or an unexpected error (500), wrote nothing and may well succeed when tried
# again: the claim is released and a repeat runs the request again. Errors before the key is
# claimed (token, header, body decoding) store nothing.


@dataclass(frozen=True)
class _Keyed:
    """What identifies a keyed request, besides its user."""

    header_values: list[str]
    method: str
    store_code: str
    path: str


@dataclass(frozen=True)
class _KeyFound:
    """The key, once the token and the header were checked and no stored answer applies."""

    user_id: int
    key: str
    fingerprint: str


class _ClaimLost(Exception):
    """The key was taken over while the work ran (it outlived OPENMSI_IDEMPOTENCY_LEASE_SECONDS)."""


def _keyed(request: Request, header_values: list[str]) -> _Keyed:
    store_code: str = request.scope.get("state", {}).get("store_code", "default")
    return _Keyed(header_values, request.method, store_code, request.scope["path"])


async def _keyed_write(route: Route, context: Context, incoming: _Incoming, keyed: _Keyed) -> Response:
    database = context.database
    found = await database.run(partial(_look_up_key, route, context, incoming, keyed), Lane.READ)
    if isinstance(found, idempotency.Answer):
        return _answer(found, replayed=True)
    keyed_write = _sized(incoming, partial(_run_keyed, route, context, incoming, found))
    answer, replayed = await database.run(keyed_write, Lane.WRITE)
    return _answer(answer, replayed)


def _answer(answer: idempotency.Answer, replayed: bool) -> Response:
    # The stored bytes as they are: a replay is the first answer byte for byte.
    headers = {idempotency.REPLAYED_HEADER: "true"} if replayed else None
    return Response(answer.body, answer.status, headers=headers, media_type=JSON_UTF8)


def _look_up_key(
    route: Route, context: Context, incoming: _Incoming, keyed: _Keyed
) -> _KeyFound | idempotency.Answer:
    assert route.resource is not None
    with context.database.read_sessions() as session:
        principal = _check_token(Reader.of(session), incoming.token, route.resource)
        key = idempotency.parse_key(keyed.header_values)
        fingerprint = idempotency.fingerprint(
            keyed.method, keyed.store_code, keyed.path, incoming.query_string, incoming.body
        )
        stored = idempotency.look_up(session, principal.user_id, key, fingerprint)
    return stored if stored is not None else _KeyFound(principal.user_id, key, fingerprint)


def _run_keyed(
    route: Route, context: Context, incoming: _Incoming, found: _KeyFound
) -> tuple[idempotency.Answer, bool]:
    """Claim the key, run the work, store its answer; the answer and whether it is a replay."""
    settings = context.settings
    params = _params(incoming)
    claimed = _claim_key(route, context, found)
    if isinstance(claimed, idempotency.Answer):
        return claimed, True  # finished by a concurrent repeat since the look-up
    ttl = timedelta(seconds=settings.idempotency_ttl)

    def store_answer(session: Session, result: Any) -> idempotency.Answer:
        answer = idempotency.Answer(200, render_json(result))
        if not idempotency.finish(session, claimed, answer, ttl):
            raise _ClaimLost()
        return answer

    try:
        return _run_write(route, context, params, incoming.path, store_answer), False
    except _ClaimLost:
        raise idempotency.in_progress(found.key) from None
    except errors.MagentoError as error:
        if isinstance(error.__cause__, DBAPIError):
            _settle_claim(context, claimed, None)
        else:
            answer = idempotency.Answer(error.status_code, render_json(error.envelope()))
            _settle_claim(context, claimed, answer)
        raise
    except BaseException:
        _settle_claim(context, claimed, None)
        raise


def _claim_key(route: Route, context: Context, found: _KeyFound) -> idempotency.Claim | idempotency.Answer:
    lease = timedelta(seconds=context.settings.idempotency_lease_seconds)
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            # Committed at once: repeats must see the key in flight while the work runs.
            with context.database.write_sessions.begin() as session:
                return idempotency.claim(session, found.user_id, found.key, found.fingerprint, lease)
        except DBAPIError as error:
            # Concurrent takeovers of one expired key can deadlock on MariaDB (both hold the
            # duplicate-key check's shared lock and want the row): the victim looks again.
            if attempt == WRITE_ATTEMPTS or not is_retryable(error):
                raise _database_failure(route, error) from error
    raise AssertionError("unreachable")


def _settle_claim(context: Context, claimed: idempotency.Claim, answer: idempotency.Answer | None) -> None:
    """After a failed work: store its Magento error as the key's answer, or (``None``) release
    the key. When the database refuses this too, the key stays in flight until its lease ends,
    and a repeat then runs the request again."""
    ttl = timedelta(seconds=context.settings.idempotency_ttl)
    try:
        with context.database.write_sessions.begin() as session:
            if answer is None:
                idempotency.release(session, claimed)
            else:
                idempotency.finish(session, claimed, answer, ttl)
    except DBAPIError:
        logger.exception("could not settle Idempotency-Key %r after a failed write", claimed.key)


async def _steps(route: Route, context: Context, incoming: _Incoming) -> Any:
    assert route.steps is not None
    if route.resource is not None:
        await context.database.run(partial(_authorize, context, incoming, route.resource), Lane.QUICK_READ)
    try:
        return await route.steps(context, partial(_params, incoming))
    except DBAPIError as error:
        raise _database_failure(route, error) from error


def _authorize(context: Context, incoming: _Incoming, resource: str) -> None:
    _check_token_first(context, incoming.token, resource)


def _check_token_first(context: Context, token: str | None, resource: str) -> auth.Principal:
    """The token checked before a unit of work's transaction: from this process's memory of
    verified tokens when it may be used (no connection at all), else on a connection of its
    own."""
    database = context.database
    if token is not None and database.token_cache_seconds > 0:
        principal = auth.remembered_principal(token)
        if principal is not None:
            auth.allowed(principal, resource)
            observability.note_user(principal.username)
            return principal
    with database.token_reader() as reader:
        return _check_token(reader, token, resource)


def _check_token(reader: Reader, token: str | None, resource: str) -> auth.Principal:
    """``auth.authorize``, and the request's log line names the admin user."""
    principal = auth.authorize(reader, token, resource)
    observability.note_user(principal.username)
    return principal


def _database_failure(route: Route, error: DBAPIError) -> Exception:
    return _mapped_failure(route.database_error, error)


def _mapped_failure(
    database_error: tuple[type[errors.MagentoError], str] | None, error: DBAPIError
) -> Exception:
    if database_error is None:
        return error
    kind, message = database_error
    return kind(message)


# Streaming answers


async def _stream(route: Route, context: Context, incoming: _Incoming) -> StreamingResponse:
    """A read whose answer is too large to hold in memory (a stock export).

    The token, the parameters and whatever the work checks run as one unit of work, and so does
    the producer's first fragment: an error up to there gets the normal envelope and status.
    The rest is sent as it is produced; an error after that can only cut the response short.
    """
    database = context.database
    fragments: Generator[bytes, None, None] = await database.run(
        partial(_read, route, context, incoming), route.lane
    )
    try:
        first = await database.run(partial(next, fragments, None), route.lane)
    except DBAPIError as error:
        raise _database_failure(route, error) from error
    return _ClosingStreamingResponse(_send(database, route.lane, first, fragments))


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
    database: Database, lane: Lane, first: bytes | None, fragments: Generator[bytes, None, None]
) -> AsyncGenerator[bytes, None]:
    try:
        fragment = first
        while fragment is not None:
            yield fragment
            fragment = await database.run(partial(next, fragments, None), lane)
    finally:
        # A client that went away leaves the producer half-way: close its sessions off the
        # event loop (MariaDB drains an unfinished streaming cursor before it can close it),
        # even while this task is being cancelled.
        with anyio.CancelScope(shield=True):
            await database.run(fragments.close, lane)


# Errors


def _is_connection_failure(error: Exception) -> bool:
    """A DBAPIError raised while connecting, or because the connection was lost: the request
    never reached the database, or its transaction died with the connection."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    # A failed connect has no statement: the pool raised it while opening a connection.
    return error.statement is None and isinstance(error, OperationalError)


async def error_response(request: Request, error: Exception) -> Response:
    """The answer to an error raised while serving a route (``RestRoutes``): the handler
    ``install_handlers`` registers for the error's class or its nearest base, as Starlette
    chooses one."""
    handlers = request.app.exception_handlers
    for kind in type(error).__mro__:
        handler = handlers.get(kind)
        if handler is not None:
            response: Response = await handler(request, error)
            return response
    raise error


def install_handlers(app: FastAPI) -> None:
    """Every error leaves as Magento's envelope; nothing else reaches the client."""

    async def magento_error(_request: Request, error: Exception) -> Response:
        assert isinstance(error, errors.MagentoError)
        return MagentoJSONResponse(error.envelope(), status_code=error.status_code)

    async def http_error(_request: Request, error: Exception) -> Response:
        # Magento never answers 405: a path known for another method is simply not a route.
        assert isinstance(error, StarletteHTTPException)
        if error.status_code in (404, 405):
            return await magento_error(_request, errors.RouteNotFound())
        return MagentoJSONResponse({"message": str(error.detail)}, status_code=error.status_code)

    async def validation_error(_request: Request, error: Exception) -> Response:
        return await magento_error(_request, errors.MagentoError("Invalid request."))

    async def unexpected_error(request: Request, error: Exception) -> Response:
        report_id = uuid.uuid4().hex[:13]
        logger.exception("webapi-%s: unhandled error on %s %s", report_id, request.method, request.url.path)
        body = errors.internal_error_envelope(report_id)
        if request.app.state.settings.debug:
            body["trace"] = "".join(traceback.format_exception(error))
        # Answered outside the middleware that adds the header to every other answer.
        request_id = observability.current_request_id()
        headers = None if request_id is None else {observability.REQUEST_ID_HEADER: request_id}
        return MagentoJSONResponse(body, status_code=500, headers=headers)

    async def database_unavailable(request: Request, error: Exception) -> Response:
        # No connection could be had (the server is down or refuses more clients, or the pool
        # stayed exhausted): nothing was written, and the client may simply try again.
        logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, error)
        response = await magento_error(request, errors.ServiceUnavailable(DATABASE_UNAVAILABLE))
        response.headers["Retry-After"] = "1"
        return response

    async def database_error(request: Request, error: Exception) -> Response:
        if _is_connection_failure(error):
            return await database_unavailable(request, error)
        return await unexpected_error(request, error)

    app.add_exception_handler(errors.MagentoError, magento_error)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(SQLAlchemyTimeoutError, database_unavailable)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)
