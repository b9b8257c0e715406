"""The ASGI application: routes under ``/rest``, Magento's URL handling, error envelope and docs."""

from __future__ import annotations

import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from openmsi import __version__, db, observability, openapi, runtime, schema
from openmsi.admin.router import router as admin_router
from openmsi.export.router import router as export_router
from openmsi.indexer import service as indexer
from openmsi.indexer.router import router as indexer_router
from openmsi.indexer.service import Indexing
from openmsi.integration.router import ADMIN_TOKEN
from openmsi.inventory.router import router as inventory_router
from openmsi.low_quantity.router import router as low_quantity_router
from openmsi.orders.router import router as orders_router
from openmsi.sales.router import router as sales_router
from openmsi.settings import Settings, get_settings
from openmsi.source_selection.router import router as source_selection_router
from openmsi.store import repository as store_repository
from openmsi.store.router import router as store_router
from openmsi.webapi import BodyLimitMiddleware, MagentoPathMiddleware, StoreCodes

# On SQLite the event loop answers quick reads itself, and shares the interpreter with the writer
# thread. Each time the loop gives the interpreter up (uvloop between its callbacks, sqlite3 around
# every statement step, a socket send), a busy writer thread takes it and the loop waits for
# the switch interval before getting it back: at the default 5 ms, several such waits per
# answer while a large save ran. A thread holds the interpreter this long only when another
# one waits for it, so the interval costs nothing when one thread runs.
SQLITE_SWITCH_INTERVAL_S = 0.001


class PendingMigrations(RuntimeError):
    pass


def prepare_database(database: db.Database) -> None:
    """SQLite is embedded and migrates itself; shared servers are migrated on purpose only."""
    if db.is_sqlite(database.engine):
        schema.upgrade(database.engine)
    elif not schema.is_up_to_date(database.engine):
        raise PendingMigrations(
            "The database schema is not up to date: run `openmsi migrate` before `openmsi serve`."
        )


def create_app(settings: Settings | None = None, database: db.Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    owns_database = database is None
    database = database or db.Database(db.make_engine(settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        switch_interval = sys.getswitchinterval()
        if database.inline:
            sys.setswitchinterval(SQLITE_SWITCH_INTERVAL_S)
        worker = None
        embedded = settings.embedded_worker
        if embedded is None:
            embedded = db.is_sqlite(database.engine)
        if embedded:
            worker = indexer.make_worker(database, settings)
            thread = threading.Thread(target=worker.run_forever, name="openmsi-worker", daemon=True)
            thread.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
                thread.join(timeout=settings.job_lease_seconds)
            if owns_database:
                database.dispose()
            sys.setswitchinterval(switch_interval)

    docs = settings.docs_enabled
    app = FastAPI(
        title="openmsi",
        version=__version__,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        redirect_slashes=False,
        lifespan=lifespan,
    )
    # What runtime.serve hands each unit of work (runtime.Context).
    app.state.settings = settings
    app.state.database = database
    app.state.indexing = Indexing.from_settings(settings)

    def load_store_codes() -> set[str]:
        with database.read_sessions() as session:
            return store_repository.store_view_codes(session)

    # Straight into the app: each extra level of included routers makes FastAPI match the routes
    # before the chosen one again on every request.
    # Matched in this order, one route after the other: the salability reads, the hottest
    # routes of a store, come first, then source selection (asked for every shipment). No two
    # routers share a path.
    routes = [
        *sales_router.routes, ADMIN_TOKEN, *source_selection_router.routes,
        *inventory_router.routes, *export_router.routes, *low_quantity_router.routes, *store_router.routes,
        *indexer_router.routes, *orders_router.routes,
    ]  # fmt: skip
    runtime.mount(app, routes)
    # The admin pages, after the REST routes: a path under /rest never reaches them.
    app.include_router(admin_router)

    def openapi_document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi.document(routes, title=app.title, version=app.version)
        return app.openapi_schema

    app.openapi = openapi_document  # type: ignore[method-assign]
    # Innermost: the REST routes answered without FastAPI's routing (runtime.RestRoutes).
    app.add_middleware(runtime.RestRoutes, routes=routes)
    app.add_middleware(MagentoPathMiddleware, store_codes=StoreCodes(load_store_codes))
    # A body too large is refused before anything else looks at the request.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    # /health/*, /metrics and, outermost, the middleware that gives every request its id, log
    # line and counters: added last.
    observability.install(app, settings, database)
    runtime.install_handlers(app)
    return app
