"""The ``openmsi`` command. Each command owns its transaction and commits it itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from openmsi import auth, db, errors, schema
from openmsi.settings import get_settings

app = typer.Typer(help="openmsi: a standalone, Magento-compatible Multi-Source Inventory service.",
                  no_args_is_help=True, add_completion=False)  # fmt: skip
admin_app = typer.Typer(help="Admin users (they obtain tokens with POST /rest/V1/integration/admin/token).")
website_app = typer.Typer(help="Websites: the sales channels that stocks serve.")
app.add_typer(admin_app, name="admin")
app.add_typer(website_app, name="website")


def _database() -> db.Database:
    return db.Database(db.make_engine(get_settings()))


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
    """Serve the REST API. On SQLite pending migrations are applied first; on PostgreSQL or
    MariaDB the server refuses to start until `openmsi migrate` has run."""
    import uvicorn

    from openmsi.app import PendingMigrations, prepare_database

    database = _database()
    try:
        prepare_database(database)
    except PendingMigrations as error:
        raise _fail(str(error)) from None
    finally:
        database.dispose()
    uvicorn.run("openmsi.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", access_log=False)  # fmt: skip


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply pending database migrations (alembic upgrade)."""
    database = _database()
    try:
        schema.upgrade(database.engine, revision)
        typer.echo(f"Database at revision {schema.current_revision(database.engine)}.")
    finally:
        database.dispose()


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
    if db.is_sqlite(database.engine):
        schema.upgrade(database.engine)
    elif not schema.is_up_to_date(database.engine):
        raise _fail("The database schema is not up to date: run `openmsi migrate` first.")
