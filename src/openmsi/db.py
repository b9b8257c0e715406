"""Engines, sessions, the request unit of work, and every dialect switch.

Dialect names appear only here and in ``migrations/env.py``.

SQLite: the sqlite3 driver's own transaction handling is turned off and ``BEGIN`` is emitted by
us (SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL" for pysqlite).
Write sessions begin with ``BEGIN IMMEDIATE`` so concurrent writers queue on ``busy_timeout``
instead of failing with "database is locked" when a read lock would have to be upgraded; WAL
lets readers go on during a write.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
import select as io_select
import threading
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from enum import Enum
from functools import lru_cache
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import re2
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    String,
    Table,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    literal,
    literal_column,
    select,
    text,
    true,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import TextualSelect

from openmsi.settings import Settings

WRITE = "openmsi_write"
# Engine option: seconds ``auth.principal_for_token`` may remember a verified token.
TOKEN_CACHE_SECONDS = "openmsi_token_cache_seconds"
T = TypeVar("T")
# PostgreSQL and MariaDB: the threads, and held connections, of the quick reads of a process.
# A quick read takes a fraction of a millisecond of them; four keep two cores busy.
QUICK_READ_THREADS = 4


def is_sqlite(engine_or_url: Engine | URL | str) -> bool:
    return _backend(engine_or_url) == "sqlite"


def _backend(engine_or_url: Engine | URL | str) -> str:
    if isinstance(engine_or_url, Engine):
        return engine_or_url.dialect.name
    return make_url(engine_or_url).get_backend_name()


def make_engine(settings: Settings) -> Engine:
    url = make_url(settings.database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(
            url,
            connect_args={"timeout": settings.sqlite_busy_timeout, "check_same_thread": False},
            execution_options={TOKEN_CACHE_SECONDS: settings.token_cache_seconds},
            pool_size=settings.pool_size,
            max_overflow=settings.pool_max_overflow,
        )
        _configure_sqlite(engine)
        return engine
    url = _server_url(url)
    engine = create_engine(url, **_server_options(settings, url))
    event.listen(engine, "checkout", _refuse_closed_connection)
    return engine


def _server_url(url: URL) -> URL:
    if url.get_backend_name() == "mysql" and url.query.get("charset") is None:
        return url.update_query_dict({"charset": "utf8mb4"})
    return url


def _server_options(settings: Settings, url: URL) -> dict[str, Any]:
    # No pool_pre_ping: it costs a round trip on every checkout (see _refuse_closed_connection).
    # pool_recycle retires connections before server or proxy idle timeouts cut them.
    options: dict[str, Any] = {
        "pool_size": settings.pool_size,
        "max_overflow": settings.pool_max_overflow,
        "pool_recycle": settings.pool_recycle_seconds,
        "execution_options": {TOKEN_CACHE_SECONDS: settings.token_cache_seconds},
    }
    if url.get_backend_name() == "mysql":
        # Plain REPEATABLE READ takes gap locks on every upsert and makes concurrent batches
        # deadlock; READ COMMITTED keeps only record locks (MariaDB KB, "InnoDB Lock Modes").
        options["isolation_level"] = "READ COMMITTED"
    return options


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server has closed (restart, idle timeout, terminated backend)
    is replaced before use, without the round trip of a ping."""
    if _closed_by_server(dbapi_connection):
        # The pool discards this connection and checks out another (SQLAlchemy docs,
        # "Disconnect Handling - Pessimistic").
        raise DisconnectionError()


def _closed_by_server(dbapi_connection: Any) -> bool:
    """An idle connection has nothing to read; one the server closed has its farewell or end
    of stream waiting on the socket."""
    try:
        sock = getattr(dbapi_connection, "_sock", None)  # PyMySQL
        fileno = sock.fileno() if sock is not None else dbapi_connection.fileno()
        poller = io_select.poll()
        poller.register(fileno, io_select.POLLIN)
        return bool(poller.poll(0)) or fileno < 0
    except Exception:
        return True


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # In place of the REGEXP SQLAlchemy registers (Python's backtracking ``re``, where
        # "^(a+)+$" against 30 characters took 43 s, holding the process): RE2 runs in time
        # linear in the value.
        dbapi_connection.create_function("regexp", 2, _sqlite_regexp, deterministic=True)
        dbapi_connection.create_function("openmsi_json_string", 2, _sqlite_json_string, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _sqlite_json_string(document: Any, member: str) -> str | None:
    """``json_member_key`` of metadata with ``\\u`` escapes, on SQLite: its ``json_extract`` hands
    an unpaired surrogate back as bytes that are not UTF-8, which the driver then cannot read.
    NUL is refused as PostgreSQL refuses it."""
    if not isinstance(document, str):
        return None
    try:
        value = json.loads(document)
    except ValueError:
        return None
    found = value.get(member) if isinstance(value, dict) else None
    if not isinstance(found, str) or "\x00" in found:
        return None
    try:
        found.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return found


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # an invalid pattern is the client's 400, not a log line


@lru_cache(maxsize=256)
def compile_re2(pattern: str) -> Any:
    """A linear-time regular expression (RE2); raises ``re2.error`` for what RE2 cannot run."""
    return re2.compile(pattern, _RE2_OPTIONS)


def _sqlite_regexp(pattern: str | None, value: Any) -> bool | None:
    if pattern is None or value is None:
        return None
    return compile_re2(pattern).search(str(value)) is not None


# PCRE2 backtracks: MariaDB stops a match after its own limit (10,000,000 steps, about 0.6 s per
# value on this project's machines) and counts the value as not matching. Ordinary patterns
# find their matches in 255 characters well within 100,000 steps (checked with nested
# quantifiers and alternations on values that match); adversarial ones ("^(a+)+$") then stop
# after a few milliseconds per value instead of 0.6 s.
MARIADB_REGEXP_MATCH_LIMIT = 100_000


class regexp_pattern(FunctionElement[str]):
    """The pattern of a ``regexp`` filter, bounded where the engine's regexp backtracks."""

    inherit_cache = True
    type = String()


@compiles(regexp_pattern)
def _regexp_pattern_default(element: regexp_pattern, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(regexp_pattern, "mysql")
@compiles(regexp_pattern, "mariadb")
def _regexp_pattern_mysql(element: regexp_pattern, compiler: SQLCompiler, **kw: Any) -> str:
    pattern = compiler.process(element.clauses, **kw)
    if not compiler.dialect.is_mariadb:  # type: ignore[attr-defined]
        return pattern  # MySQL's ICU engine has a time limit of its own (regexp_time_limit)
    return f"CONCAT('(*LIMIT_MATCH={MARIADB_REGEXP_MATCH_LIMIT})', {pattern})"


class PreparedRead:
    """A SELECT built once, compiled once per dialect, and run by a ``Reader`` straight on the DBAPI
    connection.

    What a read by key costs, in-process on SQLite (bench/README.md, "Quick reads"): a Session
    per request, its BEGIN event and SQLAlchemy's statement cache key (a walk over the whole
    statement on every execution) 210 µs; the same statement run as compiled SQL on the driver's
    cursor 18 µs. Values come back through each column type's own result processor, as
    SQLAlchemy would hand them out; rows are named tuples of the selected columns' keys.
    Only plain binds: a statement with expanding (IN) or literal-execute parameters is refused
    when compiled.
    """

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: dict[str, _CompiledRead] = {}

    def compiled(self, dialect: Dialect) -> _CompiledRead:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _CompiledRead(self.statement, dialect)
        return compiled


class _CompiledRead:
    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if (
            compiled.literal_execute_params
            or compiled.post_compile_params
            or any(bind.expanding for bind in compiled.binds.values())
        ):
            raise TypeError("a prepared read takes plain bound parameters only")
        self.sql = str(compiled)
        self.defaults = compiled.construct_params(_check=False)
        # qmark (SQLite) binds by position; pyformat (psycopg, PyMySQL) by name.
        self.positions = tuple(compiled.positiontup or ()) if compiled.positional else None
        self._dialect = dialect
        self._types = [column.type.dialect_impl(dialect) for column in statement.selected_columns]
        # Set at the first execution: a processor may depend on the type the driver reports
        # (PostgreSQL's numerics), as in SQLAlchemy's own results.
        self._processors: list[Any] | None = None
        keys = [str(column.key) for column in statement.selected_columns]
        self.row: Any = namedtuple("Row", keys, rename=True)  # type: ignore[misc]

    def parameters(self, params: Mapping[str, Any]) -> Any:
        values = {**self.defaults, **params}
        if self.positions is None:
            return values
        return [values[name] for name in self.positions]

    @property
    def has_processors(self) -> bool:
        return self._processors is not None

    def rows(self, raw: Sequence[Any], description: Sequence[Any] | None) -> list[Any]:
        processors = self._processors
        if processors is None:
            assert description is not None
            processors = self._processors = [
                type_.result_processor(self._dialect, column[1])
                for type_, column in zip(self._types, description, strict=True)
            ]
        return [
            self.row(
                *[
                    value if process is None else process(value)
                    for process, value in zip(processors, row, strict=True)
                ]
            )
            for row in raw
        ]


class Reader:
    """Runs ``PreparedRead`` statements on one DBAPI connection: a quick read's own (``Database.
    quick_reader``), or the connection under a session or Core connection (``Reader.of``), in
    whatever transaction that holds. Driver errors leave as SQLAlchemy's ``DBAPIError``, so the
    runtime maps them as it maps every other database failure."""

    def __init__(self, owner: Any, dialect: Dialect, options: Mapping[str, Any]) -> None:
        # A pooled DBAPI connection, or the SQLAlchemy connection holding one: both invalidate.
        self._owner = owner
        self.dbapi_connection = owner.connection if isinstance(owner, Connection) else owner
        self.dialect = dialect
        # The engine's execution options (TOKEN_CACHE_SECONDS).
        self.options = options

    @classmethod
    def of(cls, holder: Session | Connection) -> Reader:
        connection = holder.connection() if isinstance(holder, Session) else holder
        return cls(connection, connection.dialect, connection.get_execution_options())

    def all(self, read: PreparedRead, params: Mapping[str, Any]) -> list[Any]:
        compiled = read.compiled(self.dialect)
        parameters = compiled.parameters(params)
        cursor = self.dbapi_connection.cursor()
        try:
            cursor.execute(compiled.sql, parameters)
            raw = cursor.fetchall()
            # Read once per statement: psycopg builds its description anew on every call.
            description = None if compiled.has_processors else cursor.description
        except self.dialect.loaded_dbapi.Error as error:
            raise self._failure(compiled.sql, parameters, error) from error
        finally:
            cursor.close()
        return compiled.rows(raw, description)

    def first(self, read: PreparedRead, params: Mapping[str, Any]) -> Any | None:
        rows = self.all(read, params)
        return rows[0] if rows else None

    def _failure(self, sql: str, parameters: Any, error: Exception) -> DBAPIError:
        invalidated = self.dialect.is_disconnect(error, self.dbapi_connection, None)  # type: ignore[arg-type]
        if invalidated:
            # The pool must not hand this connection out again.
            self._owner.invalidate(error)
        wrapped = DBAPIError.instance(
            sql, parameters, error, self.dialect.loaded_dbapi.Error,
            connection_invalidated=invalidated, dialect=self.dialect,
        )  # fmt: skip
        assert isinstance(wrapped, DBAPIError)
        return wrapped


class Lane(Enum):
    """What a unit of work is, so ``Database.run`` can choose where it runs.

    - ``QUICK_READ``: a read by key (one entity, a salability answer): a few indexed queries.
    - ``READ``: a read that may run long (lists with searchCriteria, exports).
    - ``WRITE``: a write transaction; on SQLite it may wait for the database's write lock.
    - ``CPU``: no database work worth the name, but CPU time (password hashing).
    """

    QUICK_READ = "quick_read"
    READ = "read"
    WRITE = "write"
    CPU = "cpu"


class Database:
    """The engine, the session factories and the threads of one process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.inline = is_sqlite(engine)
        # PostgreSQL and MariaDB read in autocommit: at READ COMMITTED every statement takes a
        # fresh snapshot anyway, so a read transaction bought nothing but the BEGIN and ROLLBACK
        # round trips, half of a salability read's time. SQLite keeps its read transaction:
        # there it is what gives the statements of a request one snapshot.
        reads = engine if self.inline else engine.execution_options(isolation_level="AUTOCOMMIT")
        self._reads = reads
        self._autocommit_switch = engine.dialect.name == "postgresql"
        self.token_cache_seconds: float = engine.get_execution_options().get(TOKEN_CACHE_SECONDS, 0)
        # SQLite: the connection the event loop's quick reads use, one request after the other.
        self._loop_connection: Any = None
        self.read_sessions = sessionmaker(reads, expire_on_commit=False, autoflush=False)
        # Reads inside a transaction, for server-side cursors (yield_per), which PostgreSQL
        # only opens in one.
        self.streaming_sessions = sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self.write_sessions = sessionmaker(
            engine.execution_options(**{WRITE: True}), expire_on_commit=False, autoflush=False
        )
        # SQLite lets one writer in at a time, so one thread runs every write of the process.
        # As fast as anyio's pool behind a one-token limiter (bench/writer_lane_ab.py), and it
        # keeps each write's session on one thread and the pool free for reads.
        self._writer = _Threads("openmsi-writer", 1)
        # CPU work, one piece at a time: an argon2 verify already runs on several threads of
        # its own (parallelism 4), so one at a time fills the cores and leaves the event loop
        # its share (bench/login_bench.py: GET p99 101 ms under failed logins, 535 ms with
        # the hashes unbounded in anyio's pool).
        self._cpu = _Threads("openmsi-cpu", 1)
        # PostgreSQL and MariaDB: every unit of work, each on a thread of its own while it waits
        # on the network. As many threads as anyio's default pool; a cheaper hand-off than
        # anyio.to_thread (about half the event loop's CPU per call, bench/README.md).
        self._server_threads = _Threads("openmsi-db", 40)
        # PostgreSQL and MariaDB: quick reads run on a few threads of their own, each holding
        # one connection in autocommit (see quick_reader).
        self._quick_local = threading.local()
        self._held: list[Connection] = []
        self._held_lock = threading.Lock()
        self._quick_threads = _Threads(
            "openmsi-quick", QUICK_READ_THREADS, initializer=self._hold_connections
        )

    async def run(self, unit_of_work: Callable[[], T], lane: Lane = Lane.READ) -> T:
        """Run a request's database work from the event loop, where its ``lane`` says.

        ``CPU`` work runs on a thread of its own, one piece at a time, on every engine.

        SQLite is a library call and WAL readers never wait for the writer, so a
        ``QUICK_READ`` runs right here, on the loop: its queries take a fraction of a
        millisecond, less than handing them to a thread (an indexed read on the loop reaches
        0.79 of a bare endpoint, in a thread pool 0.38; ISSUE 7). What can wait or run long
        leaves the loop: a ``WRITE`` runs on the one writer thread (SQLite serialises writers
        anyway; a write waiting for another process's write lock, up to
        OPENMSI_SQLITE_BUSY_TIMEOUT, then holds only that thread and the writes queued behind
        it, never the loop or the reads), a ``READ`` in anyio's thread pool.

        PostgreSQL and MariaDB: every other lane in a worker thread, on the sync driver, so the
        loop serves other requests while this one waits on the network; ``QUICK_READ`` on a
        few threads of its own that hold their connections (``quick_reader``). Measured on this
        project's machine (bench/README.md, "How a read reaches the server"), running quick
        reads on the loop through an async driver instead (SQLAlchemy's greenlet bridge over
        asyncpg or psycopg's async mode, asyncmy for MariaDB) cost as much CPU per request as
        the thread hop or more, and added a second pool per process.
        """
        if lane is Lane.CPU:
            return await self._cpu.run(unit_of_work)
        if not self.inline:
            if lane is Lane.QUICK_READ:
                return await self._quick_threads.run(unit_of_work)
            return await self._server_threads.run(unit_of_work)
        if lane is Lane.QUICK_READ:
            return unit_of_work()
        if lane is Lane.WRITE:
            return await self._writer.run(unit_of_work)
        return await anyio.to_thread.run_sync(unit_of_work)

    @contextmanager
    def quick_reader(self) -> Iterator[Reader]:
        """A ``Reader`` for a ``QUICK_READ`` unit of work, without a session.

        SQLite: the event loop's own connection (quick reads run on the loop, one after the
        other). PostgreSQL
        and MariaDB: a pooled connection in autocommit, as every read there (see ``__init__``).
        """
        if self.inline:
            connection = self._loop_connection
            if connection is None or connection.invalidated:
                # Connected through the engine: a failure to connect is a DBAPIError (503).
                connection = self._loop_connection = self.engine.connect()
            # In autocommit: each prepared read is a read transaction of its own (the hot
            # reads are one statement each); a unit of work that needs one snapshot across
            # statements reads through its session.
            yield Reader(connection, self.engine.dialect, self.engine.get_execution_options())
            return
        if getattr(self._quick_local, "holds", False):
            yield Reader.of(self._held_connection())
            return
        with self._reads.connect() as connection:
            yield Reader.of(connection)

    def _hold_connections(self) -> None:
        """Run by each quick-read thread as it starts."""
        self._quick_local.holds = True

    def _held_connection(self) -> Connection:
        """This quick-read thread's connection, in autocommit (set once, when it is opened).

        Checking a connection out of the pool for each read, and back in, cost about 50 µs of
        CPU of a 380 µs PostgreSQL read under load (pool events, the isolation level set and
        reset, the return's rollback; bench/README.md, "Quick reads"). A held connection the
        server has closed (restart, idle timeout) is found as the pool finds one, by its socket,
        and replaced; one that failed as a disconnect was invalidated by the reader. These
        connections count against the pool's size (OPENMSI_POOL_SIZE), QUICK_READ_THREADS of
        them per process, and are not recycled by age.
        """
        connection: Connection | None = getattr(self._quick_local, "connection", None)
        if connection is not None and (
            connection.invalidated or _closed_by_server(connection.connection.dbapi_connection)
        ):
            self._release(connection)
            connection = None
        if connection is None:
            connection = self._reads.connect()
            with self._held_lock:
                self._held.append(connection)
            self._quick_local.connection = connection
        return connection

    def _release(self, connection: Connection) -> None:
        with self._held_lock:
            if connection in self._held:
                self._held.remove(connection)
        try:
            if not connection.invalidated:
                connection.invalidate()
            connection.close()
        except DBAPIError:
            pass  # a connection already gone needs no closing
        self._quick_local.connection = None

    @contextmanager
    def token_reader(self) -> Iterator[Reader]:
        """A reader for a token check outside any unit of work's transaction (before a write's,
        or a route made of steps), on a connection of its own, from any thread."""
        with self._reads.connect() as connection:
            yield Reader.of(connection)

    def dispose(self) -> None:
        """Finish the queued work, stop the threads, close the connections."""
        self._writer.shutdown()
        self._cpu.shutdown()
        self._server_threads.shutdown()
        self._quick_threads.shutdown()
        with self._held_lock:
            held, self._held = self._held, []
        for connection in held:
            connection.close()
        if self._loop_connection is not None:
            self._loop_connection.close()
            self._loop_connection = None
        self.engine.dispose()


class _Threads:
    """A named set of threads, started on first use, that the event loop hands work to."""

    def __init__(self, name: str, count: int, initializer: Callable[[], None] | None = None) -> None:
        self._name = name
        self._count = count
        self._initializer = initializer
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    async def run(self, work: Callable[[], T]) -> T:
        executor = self._executor
        if executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        self._count, thread_name_prefix=self._name, initializer=self._initializer
                    )
                executor = self._executor
        # In the caller's context, as anyio.to_thread does: the request's id reaches the log
        # lines written there (observability.py).
        future = executor.submit(contextvars.copy_context().run, work)
        # As anyio.to_thread.run_sync: a cancelled request still waits for its work to end, so
        # a write is never left behind half-way with nobody to see how it ended.
        with anyio.CancelScope(shield=True):
            result = await asyncio.wrap_future(future)
        return result

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)


def upsert(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str],
) -> None:
    """INSERT … ON CONFLICT/ON DUPLICATE KEY UPDATE in the dialect of the session's engine.

    Rows are applied in order (a later duplicate wins). One statement, built once per table,
    runs for every row (executemany): building and compiling a multi-row VALUES statement costs
    more than the database's work, and the drivers batch executemany themselves (psycopg
    pipelines it, PyMySQL rewrites it into multi-row VALUES). ``EXECUTEMANY_ROWS`` rows per
    call.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    statement = _upsert_statement(dialect.name, table, tuple(keys), tuple(update))
    prepared = _prepared_write(dialect, statement, tuple(rows[0]))
    for start in range(0, len(rows), EXECUTEMANY_ROWS):
        batch = rows[start : start + EXECUTEMANY_ROWS]
        if prepared is None:
            session.execute(statement, [dict(row) for row in batch])
        else:
            connection.exec_driver_sql(prepared.sql, [prepared.parameters(row) for row in batch])


# Rows per executemany call of ``upsert`` and ``insert_ignore``. The parameter lists of one call
# are freed in one piece when it returns, holding the interpreter throughout (70 ms for the
# 280,000 rows of a 20 MB save, 3 ms for 10,000; pieces.py); a call of 10,000 rows costs the
# same per row as one of all of them.
EXECUTEMANY_ROWS = 10_000


class _PreparedWrite:
    """An INSERT compiled once for one set of row keys, with the bind processors of its columns.

    The dialects' upserts (``on_conflict_do_update``, ``on_duplicate_key_update``) are never
    found in SQLAlchemy's statement cache (their classes opt out of it): each execution compiled
    the statement again, more than half the CPU of a seven-link POST (bench/README.md, "Quick
    reads"). Compiled here once, the rows go to the driver's executemany as before."""

    def __init__(self, sql: str, names: tuple[str, ...], processors: list[Any], positional: bool) -> None:
        self.sql = sql
        self._names = names
        self._pairs = list(zip(names, processors, strict=True))
        self._positional = positional

    def parameters(self, row: Mapping[str, Any]) -> Any:
        values = [row[name] if process is None else process(row[name]) for name, process in self._pairs]
        return tuple(values) if self._positional else dict(zip(self._names, values, strict=True))


@lru_cache(maxsize=128)
def _prepared_write(dialect: Dialect, statement: Any, names: tuple[str, ...]) -> _PreparedWrite | None:
    compiled = statement.compile(dialect=dialect, column_keys=list(names))
    binds = tuple(compiled.positiontup) if compiled.positional else tuple(compiled.binds)
    if set(binds) != set(names) or len(binds) != len(names):
        # Column defaults or onupdate values the rows do not carry: SQLAlchemy's execution
        # fills those in, so the statement runs through it.
        return None
    processors = [compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in binds]
    return _PreparedWrite(str(compiled), binds, processors, compiled.positional)


@lru_cache(maxsize=64)
def _upsert_statement(backend: str, table: Table, keys: tuple[str, ...], update: tuple[str, ...]) -> Any:
    if backend == "mysql":
        mysql_stmt = mysql.insert(table)
        return mysql_stmt.on_duplicate_key_update({name: mysql_stmt.inserted[name] for name in update})
    if backend == "postgresql":
        pg_stmt = postgresql.insert(table)
        return pg_stmt.on_conflict_do_update(
            index_elements=list(keys), set_={name: pg_stmt.excluded[name] for name in update}
        )
    lite_stmt = sqlite.insert(table)
    return lite_stmt.on_conflict_do_update(
        index_elements=list(keys), set_={name: lite_stmt.excluded[name] for name in update}
    )


def upsert_from_select(
    session: Session, table: Table, columns: Sequence[str], rows: Any, *, keys: Sequence[str]
) -> None:
    """INSERT … SELECT that overwrites the non-key columns of rows whose ``keys`` exist.

    Conflicts are found through the key's index, one probe per row, whatever the table's
    statistics say: on PostgreSQL a DELETE of the same keys, planned on the statistics of a
    just-rebuilt table, scanned the stocks' rows instead (README, "Source-item saves").
    """
    backend = session.get_bind().dialect.name
    update = [name for name in columns if name not in keys]
    if backend == "mysql":
        mysql_stmt = mysql.insert(table).from_select(list(columns), rows)
        session.execute(
            mysql_stmt.on_duplicate_key_update({name: mysql_stmt.inserted[name] for name in update})
        )
        return
    if backend == "postgresql":
        pg_stmt = postgresql.insert(table).from_select(list(columns), rows)
        session.execute(
            pg_stmt.on_conflict_do_update(
                index_elements=list(keys), set_={name: pg_stmt.excluded[name] for name in update}
            )
        )
        return
    # SQLite reads "ON CONFLICT" after a join's ON clause as part of it unless a WHERE comes
    # between them (its documented upsert parsing ambiguity).
    lite_stmt = sqlite.insert(table).from_select(list(columns), select(rows.subquery()).where(true()))
    session.execute(
        lite_stmt.on_conflict_do_update(
            index_elements=list(keys), set_={name: lite_stmt.excluded[name] for name in update}
        )
    )


def in_keys(session: Session, column: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[bool]:
    """``column IN (values)`` for a case-insensitive key column.

    PostgreSQL gets the values as one array joined as a set (``IN (SELECT unnest(…))``): an IN
    list of thousands of CITEXT values was planned as a sequential scan of the items filtering
    every row through the list (0.7 s for 5,000 SKUs among 1,000,000 items), the set as one
    index probe per value (0.35 s).
    """
    if session.get_bind().dialect.name == "postgresql":
        array_type = postgresql.ARRAY(postgresql.CITEXT())
        keys = cast(literal(list(values), array_type), array_type)
        return column.in_(select(func.unnest(keys)))
    return column.in_(values)


def many_groups(query: Select[Any]) -> Select[Any]:
    """A GROUP BY that yields nearly as many groups as rows it reads: MariaDB sorts the rows
    (SQL_BIG_RESULT) instead of filling a temporary table that spills to disk past
    ``tmp_table_size`` (190,000 reservation groups: 1.0 s instead of 3.1 s)."""
    return query.prefix_with("SQL_BIG_RESULT", dialect="mysql").prefix_with(
        "SQL_BIG_RESULT", dialect="mariadb"
    )


def insert_ignore(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """INSERT that silently skips rows colliding with a unique key; returns how many it inserted
    (exact for one row, which is what callers that need the count send).

    A row colliding with one that another transaction inserted and has not committed waits for
    that transaction (PostgreSQL's speculative insertion, InnoDB's lock on the duplicate) and is
    skipped if it commits, inserted if it rolls back.

    One statement, built once per table, executed for every row, as ``upsert``: compiling a
    multi-row VALUES of 10,000 rows took longer than inserting them (bench/bulk_bench.py).
    """
    if not rows:
        return 0
    statement = _insert_ignore_statement(session.get_bind().dialect.name, table)
    inserted = 0
    for start in range(0, len(rows), EXECUTEMANY_ROWS):
        chunk = rows[start : start + EXECUTEMANY_ROWS]
        parameters: Any = dict(chunk[0]) if len(chunk) == 1 else [dict(row) for row in chunk]
        # SQLAlchemy keeps an INSERT's rowcount only when asked ("preserve_rowcount"): psycopg's
        # is gone once the result is closed.
        result = session.execute(statement, parameters, execution_options={"preserve_rowcount": True})
        inserted += result.rowcount  # type: ignore[attr-defined]
    return inserted


@lru_cache(maxsize=64)
def _insert_ignore_statement(backend: str, table: Table) -> Any:
    if backend == "mysql":
        return mysql.insert(table).prefix_with("IGNORE")
    if backend == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def insert_ignore_returning(session: Session, table: Table, row: Mapping[str, Any], column: str) -> Any:
    """``insert_ignore`` of one row that answers its ``column`` (a generated id), or None when
    the row collided with a unique key: one round trip where an insert and a read would take
    two (RETURNING: PostgreSQL, SQLite 3.35+, MariaDB 10.5+)."""
    dialect = session.get_bind().dialect
    statement = _insert_ignore_returning_statement(dialect, table, tuple(row), column)
    return session.execute(statement, dict(row)).scalar()


@lru_cache(maxsize=16)
def _insert_ignore_returning_statement(
    dialect: Dialect, table: Table, names: tuple[str, ...], column: str
) -> TextualSelect:
    """The statement as text with typed parameters: SQLAlchemy does not cache the compiled
    form of the dialects' own ``insert()`` (ON CONFLICT, IGNORE), and compiling it again took
    0.7 ms of each order placement (bench/place_profile.py); a text clause is compiled once."""
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(table.c[name].name) for name in names)
    values = ", ".join(f":{name}" for name in names)
    into = f"INTO {dialect.identifier_preparer.format_table(table)} ({columns}) VALUES ({values})"
    if dialect.name in ("mysql", "mariadb"):
        sql = f"INSERT IGNORE {into}"
    else:  # PostgreSQL, SQLite (3.24+)
        sql = f"INSERT {into} ON CONFLICT DO NOTHING"
    sql += f" RETURNING {quote(table.c[column].name)}"
    return (
        text(sql)
        .bindparams(*(bindparam(name, type_=table.c[name].type) for name in names))
        .columns(table.c[column])
    )


def sync_id_sequence(session: Session, table: Table, column: str) -> None:
    """Move PostgreSQL's sequence past ids that callers chose themselves.

    MariaDB's AUTO_INCREMENT and SQLite's AUTOINCREMENT follow explicit ids by themselves;
    a PostgreSQL identity sequence does not, and the next generated id would collide.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column}'), "
            f"GREATEST((SELECT COALESCE(MAX({column}), 0) FROM {table.name}), 1))"
        )
    )


def lock_rows_for_update(
    session: Session,
    table: Table,
    column: str,
    values: Sequence[Any],
    *,
    within: tuple[str, Any] | None = None,
    key_share: bool = True,
) -> None:
    """Lock the given rows in key order so that concurrent writers queue instead of deadlocking.

    ``key_share`` False: also against ``lock_rows_for_share(key_share=True)`` (PostgreSQL's
    FOR UPDATE rather than FOR NO KEY UPDATE; the same FOR UPDATE elsewhere).

    ``within`` (a column and its value) narrows the rows to one leading key, for a composite
    key such as the index's (stock_id, sku): the rows ``within`` that have ``column`` in
    ``values``, locked in ``column`` order. Rows that do not exist are not locked.

    SQLite has no row locks and needs none: BEGIN IMMEDIATE already serialises writers, so
    the statement is not even sent there.
    """
    if not values or session.get_bind().dialect.name == "sqlite":
        return
    scope, scope_value = within if within is not None else (None, None)
    parameters: dict[str, Any] = {"values": sorted(set(values))}
    if scope is not None:
        parameters["scope"] = scope_value
    session.execute(_lock_statement(table, column, scope=scope, key_share=key_share), parameters)


def lock_rows_for_share(
    session: Session, table: Table, column: str, values: Sequence[Any], *, key_share: bool = False
) -> None:
    """Shared locks on the given rows, in key order: writers holding them exclude
    ``lock_rows_for_update`` of the same rows, not each other. ``key_share`` True: on
    PostgreSQL only ``lock_rows_for_update(key_share=False)`` (FOR KEY SHARE: a plain UPDATE
    of the row's other columns, FOR NO KEY UPDATE, passes); elsewhere a plain shared lock."""
    if not values or session.get_bind().dialect.name == "sqlite":
        return
    statement = _lock_statement(table, column, shared=True, key_share=key_share)
    session.execute(statement, {"values": sorted(set(values))})


@lru_cache(maxsize=64)
def _lock_statement(
    table: Table, column: str, shared: bool = False, scope: str | None = None, key_share: bool = True
) -> Any:
    col = table.c[column]
    query = select(col).where(col.in_(bindparam("values", expanding=True))).order_by(col)
    if scope is not None:
        query = query.where(table.c[scope] == bindparam("scope"))
    if shared:
        return query.with_for_update(read=True, key_share=key_share)
    # key_share: FOR NO KEY UPDATE on PostgreSQL, so foreign-key checks of other writers that
    # merely reference these rows are not blocked; the lock only serialises our own writers.
    return query.with_for_update(key_share=key_share)


def is_retryable(error: DBAPIError) -> bool:
    """A deadlock or serialization failure: the transaction was rolled back and may simply run
    again (PostgreSQL SQLSTATE 40P01/40001, MariaDB 1213 and 1205)."""
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate in ("40P01", "40001"):
        return True
    args: tuple[Any, ...] = tuple(getattr(original, "args", ()))
    return len(args) > 0 and args[0] in (1213, 1205)


def ci_string(length: int) -> Any:
    """A VARCHAR that compares case-insensitively on every engine, as MySQL's ci collations do.

    Magento relies on MySQL collations for SKUs, codes and names (spec README, "Data model").
    """
    return (
        String(length)
        .with_variant(String(length, collation="NOCASE"), "sqlite")
        .with_variant(postgresql.CITEXT(), "postgresql")
        .with_variant(
            mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_general_ci"), "mysql", "mariadb"
        )
    )


def exact_ascii_string(length: int) -> Any:
    """A VARCHAR of visible ASCII compared byte for byte on every engine (MariaDB's default
    collation would otherwise fold case and trailing spaces): header values such as
    Idempotency-Key."""
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
    )


class case_insensitive(FunctionElement[str]):
    """A plain VARCHAR/TEXT column compared and sorted case-insensitively on every engine, like
    a ``ci_string`` column: MySQL's ci collation already does it (the column itself), SQLite
    gets ``COLLATE NOCASE`` and PostgreSQL a cast to CITEXT. Bound values take the ``ci_string``
    type, so PostgreSQL compares citext with citext."""

    inherit_cache = True
    type = ci_string(255)


@compiles(case_insensitive)
def _case_insensitive_default(element: case_insensitive, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(case_insensitive, "sqlite")
def _case_insensitive_sqlite(element: case_insensitive, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.clauses, **kw)} COLLATE NOCASE"


@compiles(case_insensitive, "postgresql")
def _case_insensitive_postgresql(element: case_insensitive, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS CITEXT)"


# A JSON object of strings, numbers, booleans and nulls (RFC 8259), whose members PostgreSQL can
# read without an error: ``CAST(… AS JSON)`` raises on anything else, and PostgreSQL 15 has no
# test that does not (``IS JSON`` and ``pg_input_is_valid`` came in 16). Escapes that ``->>``
# refuses to decode (``\u0000``, an unpaired surrogate) are left out too.
_JSON_WS = r"[ \t\n\r]*"
_JSON_STRING = (
    r'"(?:[^"\\\u0001-\u001f]|\\["\\/bfnrt]'
    r"|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    r'|\\u(?!0000)(?![dD][89a-fA-F])[0-9a-fA-F]{4})*"'
)
_JSON_VALUE = rf"(?:{_JSON_STRING}|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null)"
_JSON_MEMBER = rf"{_JSON_STRING}{_JSON_WS}:{_JSON_WS}{_JSON_VALUE}"
_JSON_MEMBERS = rf"(?:{_JSON_MEMBER}(?:{_JSON_WS},{_JSON_WS}{_JSON_MEMBER})*)?"
FLAT_JSON_OBJECT = rf"^{_JSON_WS}\{{{_JSON_WS}{_JSON_MEMBERS}{_JSON_WS}\}}{_JSON_WS}$"
# The shape json.dumps and Magento's json_encode give metadata: string members without escapes,
# compact or with json.dumps' ", " and ": ". Its test costs a fifth of FLAT_JSON_OBJECT's, whose
# lookaheads PostgreSQL's regex engine runs slowly (0.2 s against 3 s for 190,000 rows).
_PLAIN_STRING = r'"[^"\\\u0001-\u001f]*"'
_PLAIN_MEMBER = rf'"[a-z_]+": ?{_PLAIN_STRING}'
PLAIN_JSON_OBJECT = rf"^\{{(?:{_PLAIN_MEMBER}, ?)*{_PLAIN_MEMBER}\}}$"


class json_member_key(FunctionElement[str]):
    """The string one member of the JSON object in a text column holds, decoded; ``''`` when
    the text is not a JSON object, lacks the member or holds anything but a string there.
    Compared and grouped case-insensitively, as ``ci_string`` columns are.

    Each engine decodes the JSON itself, escapes included, so that the database can group by
    it: SQLite's ``json_extract`` behind ``json_valid`` (text with ``\\u`` escapes through
    Python's json instead, ``_sqlite_json_string``), MariaDB's ``JSON_VALUE`` (NULL for text
    that is not JSON), PostgreSQL's ``->>`` behind ``PLAIN_JSON_OBJECT`` or
    ``FLAT_JSON_OBJECT``, so there, and only there, an object with nested values counts as no
    object. Strings only, as the engines spell numbers differently (SQLite ``1e2`` as
    ``100.0``); a string holding NUL or an unpaired surrogate counts as none, as PostgreSQL
    cannot decode it.
    """

    inherit_cache = True
    type = ci_string(255)

    def __init__(self, column: ColumnElement[Any], member: str) -> None:
        if not re.fullmatch(r"[a-z_]+", member):
            raise ValueError(f"not a plain member name: {member!r}")
        # A literal column: the name is part of the statement's cache key.
        super().__init__(column, literal_column(member))


def _json_member_parts(element: json_member_key, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    column, member = element.clauses.clauses
    return compiler.process(column, **kw), str(member.name)


@compiles(json_member_key, "sqlite")
def _json_member_key_sqlite(element: json_member_key, compiler: SQLCompiler, **kw: Any) -> str:
    column, member = _json_member_parts(element, compiler, **kw)
    # Nested CASEs: SQLite does not promise to stop at a false AND, and json_type raises on
    # malformed JSON. Text with \u escapes goes to Python's json (_sqlite_json_string).
    value = (
        f"CASE WHEN instr({column}, '\\u') = 0 THEN CASE WHEN json_valid({column}) THEN "
        f"CASE WHEN json_type({column}, '$.{member}') = 'text' THEN json_extract({column}, '$.{member}') "
        f"END END ELSE openmsi_json_string({column}, '{member}') END"
    )
    return f"COALESCE({value}, '') COLLATE NOCASE"


@compiles(json_member_key, "postgresql")
def _json_member_key_postgresql(element: json_member_key, compiler: SQLCompiler, **kw: Any) -> str:
    column, member = _json_member_parts(element, compiler, **kw)
    # Inline, not bound: PostgreSQL matches GROUP BY expressions by their text, and two binds of
    # one pattern would make the grouped expression differ from the selected one.
    plain = compiler.render_literal_value(PLAIN_JSON_OBJECT, String())
    flat = compiler.render_literal_value(FLAT_JSON_OBJECT, String())
    document = f"CAST({column} AS JSON)"
    value = (
        f"CASE WHEN {column} ~ {plain} THEN {document} ->> '{member}' "
        f"WHEN {column} ~ {flat} THEN CASE WHEN json_typeof({document} -> '{member}') = 'string' "
        f"THEN {document} ->> '{member}' END END"
    )
    return f"CAST(COALESCE({value}, '') AS CITEXT)"


@compiles(json_member_key, "mysql")
@compiles(json_member_key, "mariadb")
def _json_member_key_mysql(element: json_member_key, compiler: SQLCompiler, **kw: Any) -> str:
    column, member = _json_member_parts(element, compiler, **kw)
    # The collation of the key columns whatever the server's default (ci_string).
    path = f"'$.{member}'"
    string = f"JSON_VALUE({column}, {path})"
    # NUL refused as PostgreSQL refuses it.
    value = (
        f"COALESCE(CASE WHEN JSON_TYPE(JSON_EXTRACT({column}, {path})) = 'STRING' "
        f"AND LOCATE(CHAR(0), {string}) = 0 THEN {string} END, '')"
    )
    return f"CONVERT({value} USING utf8mb4) COLLATE utf8mb4_general_ci"
