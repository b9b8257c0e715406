"""The ``openmsi`` command. Each command owns its transaction and commits it itself.

Every command says on stderr which database it uses (the password masked), so that the
standard output of ``--json`` stays JSON. Commands other than ``migrate`` and ``serve`` never
create a database: on a SQLite file that does not exist, or a server database that cannot be
reached or has no schema yet, they say so and how to fix it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session

from openmsi import auth, db, errors, schema
from openmsi.settings import Settings, get_settings

# Plain click help: typer's rich help shows "<bool>" beside every flag, as if it took a value.
PLAIN_HELP: Any = {"rich_markup_mode": None}
app = typer.Typer(help="openmsi: a standalone, Magento-compatible Multi-Source Inventory service.",
                  no_args_is_help=True, add_completion=False, **PLAIN_HELP)  # fmt: skip
admin_app = typer.Typer(
    help="Admin users (they obtain tokens with POST /rest/V1/integration/admin/token).", **PLAIN_HELP
)
website_app = typer.Typer(help="Websites: the sales channels that stocks serve.", **PLAIN_HELP)
index_app = typer.Typer(
    help="The aggregated stock index: compare it with its sources, see its lag.", **PLAIN_HELP
)
reservations_app = typer.Typer(
    help="Reservations: compare them with the orders, compensate, clean up.", **PLAIN_HELP
)
geonames_app = typer.Typer(
    help="GeoNames postal codes: where the offline distance provider finds addresses.", **PLAIN_HELP
)
app.add_typer(admin_app, name="admin")
app.add_typer(website_app, name="website")
app.add_typer(index_app, name="index")
app.add_typer(reservations_app, name="reservations")
app.add_typer(geonames_app, name="geonames")


def _database(log: logging.Logger | None = None) -> db.Database:
    """The configured database, named on stderr (through ``log`` when given: a JSON log stays
    JSON); nothing is connected yet."""
    settings = get_settings()
    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        raise _fail("OPENMSI_DATABASE_URL is not a database URL (see README, Configuration).") from None
    described = url.render_as_string(hide_password=True)
    path = _sqlite_file(url)
    if path is not None:
        described += f" ({path})"
    if log is not None and log.isEnabledFor(logging.INFO):
        log.info("Database: %s", described)
    else:
        typer.echo(f"Database: {described}", err=True)
    return db.Database(db.make_engine(settings))


def _sqlite_file(url: Any) -> Path | None:
    """The file of a SQLite URL (absolute), or None (a server, or an in-memory database)."""
    if not db.is_sqlite(url) or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).resolve()


def _cannot_connect(database: db.Database, error: OperationalError) -> str:
    detail = str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error)
    path = _sqlite_file(database.engine.url)
    if path is not None:
        return f"Cannot open the database file {path}: {detail}\nIts folder must exist and be writable."
    return (
        f"Cannot connect to the database: {detail}\n"
        'If the server runs but the database does not exist yet, create it (README, "PostgreSQL or '
        'MariaDB"), then run `openmsi migrate`.'
    )


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def _render(error: errors.MagentoError) -> str:
    """Substitute placeholders for a human reader (the API keeps them raw, as Magento does)."""
    text = error.message
    if isinstance(error.parameters, dict):
        for name, value in error.parameters.items():
            text = text.replace(f"%{name}", str(value))
    elif isinstance(error.parameters, list):
        for index, value in enumerate(error.parameters, start=1):
            text = text.replace(f"%{index}", str(value))
    return text


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes (uvicorn --workers).")] = 1,
) -> None:
    """Serve the REST API. On SQLite pending migrations are applied first (the file is created
    if need be); on PostgreSQL or MariaDB the server refuses to start until `openmsi migrate` has
    run."""
    import uvicorn

    from openmsi import observability
    from openmsi.app import PendingMigrations, prepare_database

    settings = get_settings()
    # From the first line on in OPENMSI_LOG_FORMAT (uvicorn applies the same configuration again
    # in each of its processes).
    observability.configure_logging(settings)
    database = _database(logging.getLogger("openmsi.cli"))
    try:
        prepare_database(database)
    except PendingMigrations as error:
        raise _fail(str(error)) from None
    except OperationalError as error:
        raise _fail(_cannot_connect(database, error)) from None
    finally:
        database.dispose()
    with _metrics_shared_by(workers, settings):
        # One log format for openmsi's and uvicorn's lines, in every worker process; uvicorn's own
        # access lines stay off (openmsi writes one line per request, observability.py).
        uvicorn.run("openmsi.app:create_app", factory=True, host=host, port=port, workers=workers,
                    log_config=observability.log_config(settings), access_log=False)  # fmt: skip


@contextmanager
def _metrics_shared_by(workers: int, settings: Settings) -> Iterator[None]:
    """Several uvicorn worker processes answer on one port: their counters go to files in
    PROMETHEUS_MULTIPROC_DIR, which /metrics adds up (prometheus-client's multiprocess mode).
    A folder given in the environment is emptied first; otherwise a temporary one is used and
    removed afterwards. The worker processes inherit the variable."""
    variable = "PROMETHEUS_MULTIPROC_DIR"
    if not settings.metrics or workers < 2:
        yield
        return
    from openmsi import observability

    given = os.environ.get(variable)
    if given:
        observability.reset_multiprocess_dir(given)
        yield
        return
    folder = tempfile.mkdtemp(prefix="openmsi-metrics-")
    os.environ[variable] = folder
    try:
        yield
    finally:
        os.environ.pop(variable, None)
        shutil.rmtree(folder, ignore_errors=True)


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    wait: Annotated[
        float,
        typer.Option(
            min=0, metavar="SECONDS", help="Keep trying this long while the database server does not answer."
        ),
    ] = 0,
) -> None:
    """Apply pending database migrations (alembic upgrade).

    A SQLite database file is created if need be."""
    database = _database()
    try:
        _wait_for(database, wait)
        schema.upgrade(database.engine, revision)
        typer.echo(f"Database at revision {schema.current_revision(database.engine)}.")
    finally:
        database.dispose()


def _wait_for(database: db.Database, seconds: float) -> None:
    """Connect, trying again every second for up to ``seconds`` (a server still starting: compose
    starts `migrate` beside a fresh PostgreSQL)."""
    deadline = time.monotonic() + seconds
    waiting = False
    while True:
        try:
            with database.engine.connect():
                return
        except OperationalError as error:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _fail(_cannot_connect(database, error)) from None
            if not waiting:
                typer.echo(f"Waiting up to {seconds:g} s for the database to answer.", err=True)
                waiting = True
            time.sleep(min(1.0, left))


@contextmanager
def _transaction() -> Iterator[Session]:
    """One command, one transaction, on a schema that is up to date; service errors become a
    readable message and exit code 1."""
    database = _database()
    try:
        _require_schema(database)
        with database.write_sessions.begin() as session:
            yield session
    except errors.MagentoError as error:
        raise _fail(_render(error)) from None
    finally:
        database.dispose()


@admin_app.command("create")
def admin_create(
    username: Annotated[str, typer.Option(help="Login name.")],
    password: Annotated[str, typer.Option(help="At least 7 characters.")],
) -> None:
    """Create an admin user that holds every ACL resource."""
    with _transaction() as session:
        auth.create_admin(session, username, password)
    typer.echo(f'Admin user "{username}" created.')


@admin_app.command("list")
def admin_list() -> None:
    """Every admin user: active or not, and until when a lockout refuses its sign-in."""
    database = _database()
    try:
        _require_schema(database)
        with database.read_sessions() as session:
            admins = auth.list_admins(session, get_settings())
    finally:
        database.dispose()
    width = max([len("username"), *(len(admin.username) for admin in admins)])
    typer.echo(f"{'username':<{width}}  active  locked until")
    for admin in admins:
        until = "-" if admin.locked_until is None else admin.locked_until.strftime("%Y-%m-%d %H:%M:%SZ")
        typer.echo(f"{admin.username:<{width}}  {_flag(admin.is_active):<6}  {until}")


UsernameOption = Annotated[str, typer.Option(help="Login name (compared case-insensitively).")]


@admin_app.command("unlock")
def admin_unlock(username: UsernameOption) -> None:
    """Lift a lockout: forget the user's failed sign-ins."""
    with _transaction() as session:
        user = auth.unlock_admin(session, username)
    typer.echo(f'Admin user "{user.username}" unlocked.')


@admin_app.command("password")
def admin_password(
    username: UsernameOption,
    password: Annotated[
        str,
        typer.Option(
            prompt="New password",
            hide_input=True,
            confirmation_prompt=True,
            help="At least 7 characters; asked for (hidden, twice) when not given.",
        ),
    ],
) -> None:
    """Set a new password; the user's tokens stop working at once."""
    with _transaction() as session:
        user, revoked = auth.change_admin_password(session, username, password)
    typer.echo(f'Password of admin user "{user.username}" changed; {revoked} token(s) revoked.')


@admin_app.command("deactivate")
def admin_deactivate(username: UsernameOption) -> None:
    """Refuse the user's sign-in and revoke its tokens at once."""
    with _transaction() as session:
        user, revoked = auth.set_admin_active(session, username, False)
    typer.echo(f'Admin user "{user.username}" deactivated; {revoked} token(s) revoked.')


@admin_app.command("activate")
def admin_activate(username: UsernameOption) -> None:
    """Let a deactivated user sign in again (its old tokens stay revoked)."""
    with _transaction() as session:
        user, _ = auth.set_admin_active(session, username, True)
    typer.echo(f'Admin user "{user.username}" activated.')


@website_app.command("create")
def website_create(
    code: Annotated[str, typer.Option(help="Website code, also used for its store view.")],
    name: Annotated[str, typer.Option(help="Display name.")],
) -> None:
    """Add a website (with a store group and store view); it is served by the default stock."""
    from openmsi.store import service as store_service

    with _transaction() as session:
        store_service.create_website(session, code, name)
    typer.echo(f'Website "{code}" created and assigned to the default stock.')


def _require_schema(database: db.Database) -> None:
    """An existing database whose schema is at the latest migration (SQLite migrates itself);
    never an empty one made on the way."""
    engine = database.engine
    if db.is_sqlite(engine):
        path = _sqlite_file(engine.url)
        if path is not None and not path.exists():
            raise _fail(
                f"The database file {path} does not exist. Create it with `openmsi migrate` (or start "
                "`openmsi serve`, which creates and migrates a SQLite database), or set "
                "OPENMSI_DATABASE_URL to the database you meant."
            )
    try:
        if db.is_sqlite(engine):
            schema.upgrade(engine)
            return
        current = schema.current_revision(engine)
    except OperationalError as error:
        raise _fail(_cannot_connect(database, error)) from None
    if current is None:
        raise _fail("The database has no openmsi schema yet: run `openmsi migrate` first.")
    if current != schema.head_revision():
        raise _fail("The database schema is not up to date: run `openmsi migrate` first.")


StockOption = Annotated[
    list[int] | None,
    typer.Option("--stock", metavar="ID", help="Stock id; repeat for several. Default: every stock."),
]


def _stock_ids(database: db.Database, requested: Sequence[int] | None) -> list[int]:
    """The requested stocks (all when none is named); an unknown id ends the command."""
    from openmsi.indexer import service as indexer

    with database.read_sessions() as session:
        existing = indexer.all_stock_ids(session)
    if not requested:
        return existing
    unknown = sorted(set(requested) - set(existing))
    if unknown:
        raise _fail(f"No stock with id {', '.join(map(str, unknown))}.")
    return sorted(set(requested))


@app.command()
def reindex(
    stock: StockOption = None,
    enqueue: Annotated[
        bool, typer.Option("--enqueue", help="Only queue rebuild jobs for `openmsi worker`.")
    ] = False,
) -> None:
    """Rebuild the index of one or all stocks, each stock in its own transaction."""
    from openmsi import jobs
    from openmsi.indexer import service as indexer
    from openmsi.sales.configuration import StockItemConfiguration

    database = _database()
    try:
        _require_schema(database)
        stock_ids = _stock_ids(database, stock)
        if enqueue:
            with database.write_sessions.begin() as session:
                jobs.enqueue_stock_reindex(session, stock_ids, reason="openmsi reindex --enqueue")
            typer.echo(f"Queued a rebuild of {len(stock_ids)} stock(s); `openmsi worker` runs them.")
            return
        if not stock:
            with database.read_sessions() as session:
                stock_ids = sorted(set(stock_ids) | set(indexer.stale_stock_ids(session)))
        config = StockItemConfiguration.from_settings(get_settings())
        started = time.monotonic()
        rows = 0
        with typer.progressbar(stock_ids, label="Rebuilding", file=sys.stderr) as progress:
            for stock_id in progress:
                with database.write_sessions.begin() as session:
                    rows += indexer.rebuild_stock(session, config, stock_id)
        elapsed = time.monotonic() - started
        typer.echo(f"Rebuilt {len(stock_ids)} stock(s): {rows} index row(s) in {elapsed:.2f} s.")
    finally:
        database.dispose()


@app.command()
def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Run the jobs that are due, then exit (for cron and tests).")
    ] = False,
) -> None:
    """Run reindex jobs until SIGINT or SIGTERM; the job in progress is finished first."""
    from openmsi import observability
    from openmsi.indexer import service as indexer

    settings = get_settings()
    database = _database()
    try:
        _require_schema(database)
        # The job log lines in the format of the API's (OPENMSI_LOG_FORMAT).
        observability.configure_logging(settings)
        runner = indexer.make_worker(database, settings)
        if once:
            count = runner.run_until_idle()
            typer.echo(f"Ran {count} job(s).")
            return

        def stop(signum: int, _frame: FrameType | None) -> None:
            typer.echo(f"{signal.Signals(signum).name}: stopping after the current job.", err=True)
            runner.stop()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        typer.echo(f"Worker {runner.worker_id} waiting for jobs.", err=True)
        runner.run_forever()
        typer.echo("Worker stopped.", err=True)
    finally:
        database.dispose()


def _flag(value: Any) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _quantity(value: Any) -> str:
    return "-" if value is None else f"{float(value):g}"


@index_app.command("verify")
def index_verify(stock: StockOption = None) -> None:
    """Compare the index with a fresh aggregation; exit code 1 if they differ anywhere."""
    from openmsi.indexer import service as indexer
    from openmsi.sales.configuration import StockItemConfiguration

    database = _database()
    try:
        _require_schema(database)
        stock_ids = _stock_ids(database, stock)
        config = StockItemConfiguration.from_settings(get_settings())
        with database.read_sessions() as session:
            # Without --stock, everything: rows left behind by a stock that no longer exists too.
            differences = indexer.verify(session, config, stock_ids if stock else None)
    finally:
        database.dispose()
    for row in differences:
        typer.echo(
            f"stock {row[0]} sku {row[1]}: index quantity={_quantity(row[2])} "
            f"is_salable={_flag(row[3])}, fresh quantity={_quantity(row[4])} is_salable={_flag(row[5])}"
        )
    if differences:
        affected = len({row[0] for row in differences})
        raise _fail(
            f"{len(differences)} difference(s) in {affected} of {len(stock_ids)} stock(s): "
            "run `openmsi reindex`."
        )
    typer.echo(f"The index of {len(stock_ids)} stock(s) matches a fresh aggregation.")


@index_app.command("status")
def index_status(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON of GET /rest/V1/openmsi/index-status.")
    ] = False,
) -> None:
    """Index rows, pending and failed rebuild jobs per stock (as GET /V1/openmsi/index-status)."""
    from openmsi.indexer import service as indexer

    database = _database()
    try:
        _require_schema(database)
        with database.read_sessions() as session:
            report = indexer.status(session)
    finally:
        database.dispose()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"{'stock':>7} {'index rows':>11} {'pending':>8} {'oldest (s)':>11} {'failed':>7}")
    for entry in report["stocks"]:
        age = entry["oldest_pending_age_seconds"]
        typer.echo(
            f"{entry['stock_id']:>7} {entry['index_rows']:>11} {entry['pending_jobs']:>8} "
            f"{'-' if age is None else f'{age:.1f}':>11} {entry['failed_jobs']:>7}"
        )
    for job in report["failed_jobs"]:
        typer.echo(
            f"failed job {job['job_id']} (stock {job['stock_id']}, {job['attempts']} attempts, "
            f"queued {job['created_at']}): {job['last_error']}"
        )


def _decimal(value: Decimal) -> str:
    """A quantity as written, without trailing zeros: -2, 1.5."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


@reservations_app.command("inconsistencies")
def reservations_inconsistencies(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every order whose reservations per stock and SKU are not -(its open quantity), and
    every group of reservations naming no order that does not sum to 0; exit code 1 if any."""
    from openmsi.sales import consistency

    database = _database()
    try:
        _require_schema(database)
        with database.read_sessions() as session:
            found = consistency.inconsistencies(session)
    finally:
        database.dispose()
    if as_json:
        entries = [
            {"object_id": entry.object_id, "order_exists": entry.order_exists, "stock_id": entry.stock_id,
             "sku": entry.sku, "reserved": float(entry.reserved), "expected": float(entry.expected),
             "compensation": float(entry.compensation)}
            for entry in found
        ]  # fmt: skip
        typer.echo(json.dumps({"inconsistencies": entries}, indent=2))
    elif found:
        header = ("object_id", "order", "stock", "sku", "reserved", "expected", "compensation")
        rows = [
            (entry.object_id or '""', _flag(entry.order_exists), str(entry.stock_id), entry.sku,
             _decimal(entry.reserved), _decimal(entry.expected), _decimal(entry.compensation))
            for entry in found
        ]  # fmt: skip
        widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
        for row in [header, *rows]:
            typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if found:
        raise _fail(
            f"{len(found)} inconsistent reservation group(s): "
            "`openmsi reservations compensate` appends what makes them consistent."
        )
    if not as_json:
        typer.echo("The reservations of every order match its open quantities.")


@reservations_app.command("compensate")
def reservations_compensate() -> None:
    """Append the manual_compensation reservations that make every inconsistency consistent
    (one transaction), and print them."""
    from openmsi.sales import consistency
    from openmsi.sales.configuration import StockItemConfiguration

    config = StockItemConfiguration.from_settings(get_settings())
    with _transaction() as session:
        rows = consistency.compensate(session, config)
    for row in rows:
        quantity = _decimal(row.quantity)
        typer.echo(
            f"stock {row.stock_id} sku {row.sku}: {'' if quantity.startswith('-') else '+'}{quantity} "
            f"{row.metadata}"
        )
    if rows:
        typer.echo(f"Appended {len(rows)} compensating reservation(s).")
    else:
        typer.echo("Nothing to compensate.")


@reservations_app.command("cleanup")
def reservations_cleanup() -> None:
    """Delete now what the workers' cleanup job deletes: the reservations of orders with
    nothing open, per stock and SKU where they sum to 0 (and zero-sum groups naming no order)."""
    from openmsi.sales import consistency

    with _transaction() as session:
        deleted = consistency.cleanup(session)
    typer.echo(f"Deleted {deleted} reservation(s).")


GeonameFiles = Annotated[
    list[Path],
    typer.Argument(
        help="GeoNames postal-code dumps (allCountries.txt or <CC>.txt, unzipped).",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]


@geonames_app.command("import")
def geonames_import(files: GeonameFiles) -> None:
    """Load GeoNames postal codes for the offline distance provider (Magento's
    inventory-geonames:import, from files). Each country replaces its earlier import, in a
    transaction of its own; a country with a malformed line is not imported at all (its line is
    named) and the command then exits 1."""
    from openmsi.source_selection import geonames
    from openmsi.source_selection import repository as selection_repository

    total = sum(path.stat().st_size for path in files)
    with typer.progressbar(length=total, label="Checking ", file=sys.stderr) as progress:
        found = geonames.check(files, progress.update)
    refused = found.refused()
    countries = found.importable()
    database = _database()
    imported: dict[str, int] = {}
    replaced: dict[str, int] = {}
    try:
        _require_schema(database)
        with typer.progressbar(length=total, label="Importing", file=sys.stderr) as progress:
            session: Session | None = None
            current: str | None = None
            try:
                for country, rows in geonames.batches(files, set(countries), progress.update):
                    if country != current:
                        if session is not None:
                            session.commit()
                            session.close()
                        session, current = database.write_sessions(), country
                        if country not in replaced:
                            replaced[country] = selection_repository.delete_geonames(session, country)
                    assert session is not None
                    selection_repository.insert_geonames(session, rows)
                    imported[country] = imported.get(country, 0) + len(rows)
                if session is not None:
                    session.commit()
            finally:
                if session is not None:
                    session.close()
    finally:
        database.dispose()
    for country in countries:
        count, before = imported.get(country, 0), replaced.get(country, 0)
        typer.echo(f"{country}: {count} postcodes imported (replacing {before}).")
    for country, problem in refused.items():
        typer.secho(f"{country}: not imported, nothing changed: {problem}", fg=typer.colors.RED, err=True)
    for path, problem in found.file_problems.items():
        if not found.countries_of_file.get(path):
            typer.secho(f"{path}: nothing imported: {problem}", fg=typer.colors.RED, err=True)
    if refused or found.file_problems:
        raise typer.Exit(code=1)
