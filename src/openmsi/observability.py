"""Watching the service run: request ids, one log line per request, metrics, health routes.

``RequestObservation`` is the outermost middleware, so it sees every answer, those that never
reach ``runtime.serve`` too (404 route not found, 413 body too large, 400 bad Accept). For each
HTTP request it

- takes the client's ``X-Request-ID`` when it is a plausible one (1 to 128 visible ASCII
  characters) or makes one up, sends it back in the answer's ``X-Request-ID`` header, and keeps
  it in a context variable for the request's whole life: ``RequestIdFilter`` writes it into every
  log line of the request, on the event loop and on the threads its work runs on (anyio's pool
  copies the context, and ``db.Database``'s own threads are handed a copy);
- once the answer has gone out: counts it (method, route template, status) and its duration
  (method, route template), and writes one line to the ``openmsi.access`` logger.

The route is always the TEMPLATE (``/rest/V1/inventory/stocks/{stockId}``), never the path a
client sent, so that no client can create new series: ``runtime.serve`` notes the route it
serves (``note_route``; the store-code forms of a path count as one route), routes outside
``/rest`` are read from the matched Starlette route, and anything else is ``unmatched``. Methods
outside HTTP's usual ones count as ``other``. The admin user is noted where the token is
checked (``note_user``).

The counting and the log line happen here rather than inside ``serve`` because the status and
the duration are known only once the answer has left: errors raised by ``serve`` become answers
in the exception handlers, and a streamed export is still being sent when ``serve`` returns.
Per request the work is one dictionary look-up, one counter increment, one histogram
observation and one log call.

Several API processes (``openmsi serve --workers N``): each process keeps its own counters. With
``PROMETHEUS_MULTIPROC_DIR`` set (``cli.serve`` sets it to a fresh temporary folder when N > 1),
prometheus-client writes them to files there and ``/metrics``, answered by any of the processes,
adds every process's files up; the database pool's gauge is the sum over the live processes.
The per-stock figures come from the database at scrape time, so any process reports them all.
"""

from __future__ import annotations

import glob
import json
import logging
import logging.config
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openmsi import __version__, health
from openmsi.db import Database
from openmsi.indexer import service as indexer
from openmsi.sales import repository as sales_repository
from openmsi.settings import Settings

ACCESS_LOGGER = "openmsi.access"
REQUEST_ID_HEADER = "X-Request-ID"
# A client's request id is taken as it is when it is 1 to 128 visible ASCII characters (no space,
# no control character: it goes into log lines); otherwise a new one replaces it.
_VALID_REQUEST_ID = re.compile(rb"[\x21-\x7e]{1,128}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
# Seconds: reads by key take well under a millisecond on SQLite, bulk writes seconds.
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# The longest a scrape waits for the database's figures, and a readiness check for the database.
DATABASE_TIMEOUT_SECONDS = 5.0

_access_log = logging.getLogger(ACCESS_LOGGER)
# No "_created" series beside every counter and histogram: twice the lines for a timestamp that
# Prometheus does not need (it sees counter resets by itself).
disable_created_metrics()  # type: ignore[no-untyped-call]


# --------------------------------------------------------------------------- the request's record


@dataclass(slots=True)
class RequestRecord:
    """What the log line and the counters of one request need besides its scope."""

    request_id: str
    route: str | None = None
    user: str | None = None


# Set by RequestObservation for each request and never reset: every request runs in a task of
# its own, whose context ends with it, and the 500 handler (outside the middleware) still needs it.
_current: ContextVar[RequestRecord | None] = ContextVar("openmsi_request", default=None)


def note_route(template: str) -> None:
    """The route template a request was served by (runtime.serve)."""
    record = _current.get()
    if record is not None:
        record.route = template


def note_user(username: str) -> None:
    """The admin user a request was authenticated as."""
    record = _current.get()
    if record is not None:
        record.user = username


def current_request_id() -> str | None:
    record = _current.get()
    return None if record is None else record.request_id


def _request_id(headers: Iterable[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id" and _VALID_REQUEST_ID.fullmatch(value):
            return value.decode("ascii")
    # 128 random bits, as a uuid4 has, for a quarter of uuid4().hex's time.
    return os.urandom(16).hex()


# --------------------------------------------------------------------------- logs


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (``-`` outside a request) to every record a handler writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _current.get()
        record.request_id = "-" if request is None else request.request_id
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        self._second = -1
        self._second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # logging's own text, with strftime run once per second rather than once per access line.
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return f"{self._second_text},{int(record.msecs):03d}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; an access line carries its fields as members too."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            entry.update(access)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def log_config(settings: Settings) -> dict[str, Any]:
    """``logging.config.dictConfig`` for ``openmsi serve`` (uvicorn applies it in every worker
    process) and ``openmsi worker``: openmsi's and uvicorn's lines, and any other library's
    warnings, in one format on stderr. uvicorn's access log stays off: the access lines are
    openmsi's (they know the route template and the user)."""
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"openmsi": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "openmsi",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            "openmsi": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def configure_logging(settings: Settings) -> None:
    """``log_config`` for a command that runs on its own (``openmsi worker``), unless the program
    around it has set logging up already (as a test run has: its capture stays in place)."""
    if not logging.getLogger().handlers:
        logging.config.dictConfig(log_config(settings))


def _log_request(method: str, route: str, status: int, seconds: float, record: RequestRecord) -> None:
    if not _access_log.isEnabledFor(logging.INFO):
        return
    milliseconds = round(seconds * 1000, 2)
    user = record.user or "-"
    _access_log.info(
        "%s %s %s %.2f ms user=%s",
        method,
        route,
        status,
        milliseconds,
        user,
        extra={
            "access": {
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": milliseconds,
                "user": record.user,
            }
        },
    )


# --------------------------------------------------------------------------- the middleware


class RequestObservation:
    """Request id, counters and the access line of every HTTP request (see the module docstring)."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = RequestRecord(_request_id(scope["headers"]))
        _current.set(record)
        echoed = (b"x-request-id", record.request_id.encode("ascii"))
        # Unhandled errors are answered outside this middleware (Starlette's ServerErrorMiddleware):
        # 500 unless an answer had started.
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, observed_send)
        finally:
            elapsed = time.perf_counter() - started
            route = record.route or _matched_route(scope)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            if self.metrics is not None:
                self.metrics.observe(method, route, status, elapsed)
            _log_request(method, route, status, elapsed, record)


def _matched_route(scope: Scope) -> str:
    # Starlette leaves the route it matched in the scope (routes outside /rest: the /rest ones
    # are matched in a copy of the scope made by webapi.MagentoPathMiddleware, and noted by serve).
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


# --------------------------------------------------------------------------- metrics


class Metrics:
    """The request instruments of one application, and what ``GET /metrics`` answers."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "openmsi_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.durations = Histogram(
            "openmsi_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route template.",
            ("method", "route"),
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        # Instruments by (method, route, status): labels() costs a lock and a validation each time.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        # One scrape at a time reads the database; a scrape that finds one still running (the
        # database is slow) does not queue another behind it.
        self._reading = threading.Lock()
        pool = database.engine.pool
        if self.multiprocess_dir is None:
            self.registry.register(_PoolCollector(pool))
            ProcessCollector(registry=self.registry)
        elif hasattr(pool, "checkedout"):
            # A live sum over the processes: each process keeps its own count up to date.
            gauge = Gauge(POOL_GAUGE, POOL_HELP, registry=None, multiprocess_mode="livesum")
            event.listen(database.engine, "checkout", lambda *_: gauge.inc())
            event.listen(database.engine, "checkin", lambda *_: gauge.dec())

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.durations.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    async def scrape(self) -> bytes:
        """The Prometheus text: the request counters, then the database's figures (read now, in
        a thread, for at most DATABASE_TIMEOUT_SECONDS; ``openmsi_database_up`` says whether they
        could be read)."""
        families: list[Metric] | None = None
        with anyio.move_on_after(DATABASE_TIMEOUT_SECONDS):
            families = await anyio.to_thread.run_sync(self._database_families, abandon_on_cancel=True)
        return await anyio.to_thread.run_sync(self._render, families or [])

    def _database_families(self) -> list[Metric]:
        if not self._reading.acquire(blocking=False):
            return []
        try:
            with self.database.read_sessions() as session:
                status = indexer.status(session)
                reservations = sales_repository.reservation_totals(session)
        except Exception:
            logging.getLogger(__name__).warning("metrics: could not read the database", exc_info=True)
            return []
        finally:
            self._reading.release()
        return _stock_families(status["stocks"], reservations)

    def _render(self, database_families: list[Metric]) -> bytes:
        sources: list[Any]
        if self.multiprocess_dir is not None:
            _forget_dead_processes(self.multiprocess_dir)
            sources = [multiprocess.MultiProcessCollector(None, path=self.multiprocess_dir)]  # type: ignore[no-untyped-call]
        else:
            sources = [self.registry]
        up = GaugeMetricFamily(
            "openmsi_database_up", "1 when this scrape could read the database's figures, else 0."
        )
        up.add_metric([], 1 if database_families else 0)
        info = InfoMetricFamily("openmsi_build", "The openmsi version serving.")
        info.add_metric([], {"version": __version__})
        # The classic text format, which every Prometheus reads (CONTENT_TYPE_PLAIN_0_0_4).
        return generate_latest(_Families(sources, [info, up, *database_families]))


POOL_GAUGE = "openmsi_db_pool_checked_out_connections"
POOL_HELP = "Database connections checked out of the pool (in use) now."


class _PoolCollector(Collector):
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def collect(self) -> Iterator[Metric]:
        if hasattr(self.pool, "checkedout"):
            yield GaugeMetricFamily(POOL_GAUGE, POOL_HELP, value=self.pool.checkedout())


class _Families(Collector):
    def __init__(self, sources: list[Any], families: list[Metric]) -> None:
        self.sources = sources
        self.families = families

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()
        yield from self.families


def _stock_families(stocks: list[dict[str, Any]], reservations: dict[int, tuple[int, float]]) -> list[Metric]:
    def family(name: str, documentation: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, documentation, labels=["stock_id"])

    rows = family("openmsi_index_rows", "Rows of the stock's index (one per SKU).")
    pending = family("openmsi_index_pending_jobs", "Rebuild jobs of the stock that are queued or running.")
    oldest = family(
        "openmsi_index_oldest_pending_job_age_seconds",
        "Age of the stock's oldest queued or running rebuild job; 0 when there is none.",
    )
    failed = family("openmsi_index_failed_jobs", "Rebuild jobs of the stock that failed for good.")
    for stock in stocks:
        label = [str(stock["stock_id"])]
        rows.add_metric(label, stock["index_rows"])
        pending.add_metric(label, stock["pending_jobs"])
        oldest.add_metric(label, stock["oldest_pending_age_seconds"] or 0)
        failed.add_metric(label, stock["failed_jobs"])
    count = family("openmsi_reservation_rows", "Reservation rows of the stock.")
    total = family(
        "openmsi_reservation_quantity",
        "Sum of the stock's reservation quantities (negative: held for orders not yet shipped).",
    )
    for stock_id, (rows_of_stock, quantity) in sorted(reservations.items()):
        count.add_metric([str(stock_id)], rows_of_stock)
        total.add_metric([str(stock_id)], quantity)
    return [rows, pending, oldest, failed, count, total]


def _forget_dead_processes(directory: str) -> None:
    """Drop the live gauges of processes that are gone (uvicorn replaced a worker that died):
    prometheus-client's ``mark_process_dead``, which nothing else would call."""
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        pid = path.rsplit("_", 1)[-1].removesuffix(".db")
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), directory)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reset_multiprocess_dir(directory: str) -> None:
    """Delete the figures a previous run left (prometheus-client asks for an empty folder)."""
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.remove(path)


# --------------------------------------------------------------------------- routes


def _lighten_log_records() -> None:
    """No record gathers what no formatter here prints (the logging HOWTO, "Optimization"):
    the caller's file and line (a walk up the stack), thread and process names. With them an
    access line cost 12 % of a salability read's CPU (bench/README.md, "Quick reads")."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def install(app: FastAPI, settings: Settings, database: Database) -> None:
    """The health routes, ``/metrics`` unless OPENMSI_METRICS=false, and the middleware, which
    must be the last one added (the outermost)."""
    metrics = Metrics(database) if settings.metrics else None
    _lighten_log_records()

    async def live(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(_request: Request) -> Response:
        problem: str | None = f"The database did not answer within {DATABASE_TIMEOUT_SECONDS:g} seconds."
        with anyio.move_on_after(DATABASE_TIMEOUT_SECONDS):
            problem = await anyio.to_thread.run_sync(
                health.readiness_problem, database.engine, abandon_on_cancel=True
            )
        if problem is not None:
            return JSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ok"})

    app.add_api_route("/health/live", live, methods=["GET"], include_in_schema=False)
    app.add_api_route("/health/ready", ready, methods=["GET"], include_in_schema=False)
    if metrics is not None:

        async def metrics_page(_request: Request) -> Response:
            return Response(await metrics.scrape(), media_type=CONTENT_TYPE_PLAIN_0_0_4)

        app.add_api_route("/metrics", metrics_page, methods=["GET"], include_in_schema=False)
    app.add_middleware(RequestObservation, metrics=metrics)
