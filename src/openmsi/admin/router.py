"""The admin pages under ``/admin`` (spec admin.md): Stores > Inventory for the people who run
the inventory, served as HTML by the same process as the REST API.

Every page and action is one function here, in the runtime's lanes: a page is one read unit of
work (the session cookie, the ACL, the reads, the HTML); an action checks the session cookie
before its transaction opens (as ``runtime`` checks a token), then its form key and ACL, then
runs the REST routes' service calls in one write transaction (``runtime.run_write``: commit,
deadlock retry, the route's database error). Success redirects (303) to a page that shows what
changed; a Magento error shows the page again with Magento's messages.

Security (``admin.sessions``): a signed, ``HttpOnly``, ``SameSite=Strict`` cookie (``Secure``
over https) naming a server-side session; a form key on every POST form; each action checks the
ACL resource of the REST route it stands for. The ``Authorization`` header is never read here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, partial
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jinja2
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from openmsi import auth, errors, observability
from openmsi.admin import service as admin_service
from openmsi.admin import sessions
from openmsi.admin.sessions import Cookie, Keys
from openmsi.db import Database, Lane
from openmsi.indexer.service import Indexing
from openmsi.inventory import router as inventory_routes
from openmsi.runtime import Context, run_write
from openmsi.sales.router import SALES_STOCK
from openmsi.settings import Settings
from openmsi.webapi import nul_character_error

router = APIRouter(prefix="/admin", include_in_schema=False)

COOKIE = "openmsi_admin"
FLASH_COOKIE = "openmsi_admin_flash"
COOKIE_PATH = "/admin"
FORM_KEY = "form_key"
# The resource of each REST route a page stands for (acl.md). Reindexing has no REST route: it
# takes the resource of Index Management's "Invalidate index", which also leaves the rebuild to
# a background run (magento2:app/code/Magento/Indexer/Controller/Adminhtml/Indexer.php).
SOURCE = inventory_routes.SOURCE
SOURCE_EDIT = inventory_routes.SOURCE_EDIT
STOCK = inventory_routes.STOCK
STOCK_EDIT = inventory_routes.STOCK_EDIT
STOCK_SOURCE_LINK = inventory_routes.STOCK_SOURCE_LINK
INDEX_INVALIDATE = "Magento_Indexer::invalidate"

# Magento's admin messages (magento2:app/code/Magento/Backend/App/AbstractAction.php,
# .../Backend/Controller/Adminhtml/Auth/Logout.php, .../Backend/view/adminhtml/templates/admin/
# access_denied.phtml, InventoryAdminUi's Save controllers), then openmsi's own.
INVALID_FORM_KEY = "Invalid Form Key. Please refresh the page."
LOGGED_OUT = "You have logged out."
ACCESS_DENIED = "Sorry, you need permissions to view this content."
SOURCE_SAVED = "The Source has been saved."
STOCK_SAVED = "The Stock has been saved."
SESSION_EXPIRED = "Your session has expired. Please sign in again."
NOT_FOUND = "This page does not exist."

# Every HTML answer: never cached, never framed, only this server's own CSS and forms.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
STATIC = {"admin.css": "text/css; charset=utf-8"}
MAX_FORM_FIELDS = 20_000
UNREADABLE_FORM = "The form could not be read: it is not UTF-8 or has too many fields."


def _qty(value: Decimal | float | int) -> str:
    """A quantity as Magento's admin shows it: no trailing zeros."""
    text = format(Decimal(str(value)).normalize(), "f")
    return "0" if text in ("-0", "") else text


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("openmsi.admin", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.globals.update(qty=_qty, age=_age, urlencode=lambda **values: urlencode(values))


# What a request brings and what a unit of work hands back


class Form:
    """A form body (``application/x-www-form-urlencoded``), its fields in order; ``problem``
    when the body is none that these pages' forms send."""

    def __init__(self, pairs: list[tuple[str, str]], problem: errors.MagentoError | None = None) -> None:
        self.pairs = pairs
        self.problem = problem

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.pairs:
            if key == name:
                return value
        return default

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.pairs)

    def as_dict(self) -> dict[str, str]:
        return dict(reversed(self.pairs))  # the first value of each name wins, as ``get``


@dataclass
class Page:
    """A rendered page and what to do with the cookies."""

    html: str
    status: int = 200
    set_cookie: Cookie | None = None


@dataclass
class Redirect:
    location: str
    flash: list[tuple[str, str]] = field(default_factory=list)
    set_cookie: Cookie | None = None


Outcome = Page | Redirect


@dataclass(frozen=True)
class Visit:
    """One request to the pages: where it came from and who it is, if anyone."""

    request: Request
    keys: Keys
    cookie: Cookie | None
    flash: list[tuple[str, str]]

    @property
    def settings(self) -> Settings:
        settings: Settings = self.request.app.state.settings
        return settings

    @property
    def database(self) -> Database:
        database: Database = self.request.app.state.database
        return database

    @property
    def indexing(self) -> Indexing:
        indexing: Indexing = self.request.app.state.indexing
        return indexing

    @property
    def context(self) -> Context:
        return Context(self.settings, self.database, self.indexing)

    def render(
        self,
        template: str,
        principal: auth.Principal | None,
        status: int = 200,
        errors_shown: Iterable[str] = (),
        **values: Any,
    ) -> Page:
        messages = [*self.flash, *(("error", text) for text in errors_shown)]
        values.setdefault("section", "")
        html = _templates.get_template(template).render(
            user=principal.username if principal else None,
            form_key=self.keys.form_key(self.cookie) if self.cookie else "",
            messages=messages,
            **values,
        )
        return Page(html, status)


async def _keys(request: Request) -> Keys:
    """The process's signing keys: loaded (or generated and stored) once, by the first request."""
    state = request.app.state
    keys: Keys | None = getattr(state, "admin_keys", None)
    if keys is None:
        database: Database = state.database
        settings: Settings = state.settings

        def load() -> Keys:
            with database.write_sessions() as session:
                secret = sessions.load_secret(session, settings)
                session.commit()
            return Keys.derive(secret)

        keys = await database.run(load, Lane.WRITE)
        state.admin_keys = keys
    return keys


async def _visit(request: Request) -> Visit:
    keys = await _keys(request)
    cookie = keys.unsign(request.cookies.get(COOKIE))
    flash: list[tuple[str, str]] = []
    signed_flash = keys.verify(request.cookies.get(FLASH_COOKIE))
    if signed_flash is not None and signed_flash.startswith("f:"):
        # Signed by this server: it holds what a Redirect put there.
        messages = json.loads(base64.urlsafe_b64decode(signed_flash[2:]))
        flash = [(str(level), str(text)) for level, text in messages]
    return Visit(request, keys, cookie, flash)


async def _form(request: Request) -> Form:
    """The posted fields."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return Form([])
    try:
        text = (await request.body()).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return Form([], errors.MagentoError(UNREADABLE_FORM))
    if any("\x00" in key or "\x00" in value for key, value in pairs):
        # As the REST API: PostgreSQL cannot even compare such a string. The fields stay, for
        # the form key's check.
        return Form(pairs, nul_character_error())
    return Form(pairs)


def _respond(visit: Visit, outcome: Outcome) -> Response:
    secure = visit.request.url.scheme == "https"
    response: Response
    if isinstance(outcome, Redirect):
        response = RedirectResponse(outcome.location, status_code=303, headers=PAGE_HEADERS)
        if outcome.flash:
            messages = json.dumps(outcome.flash, separators=(",", ":")).encode()
            content = "f:" + base64.urlsafe_b64encode(messages).decode()
            response.set_cookie(
                FLASH_COOKIE, visit.keys.sign(content), path=COOKIE_PATH,
                httponly=True, samesite="strict", secure=secure,
            )  # fmt: skip
    else:
        response = HTMLResponse(outcome.html, status_code=outcome.status, headers=PAGE_HEADERS)
    cookie = outcome.set_cookie
    if visit.flash and not (isinstance(outcome, Redirect) and outcome.flash):
        response.delete_cookie(
            FLASH_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure
        )
    if cookie is not None:
        lifetime = visit.settings.admin_token_lifetime_hours
        max_age = int(lifetime * 3600) if lifetime and cookie.session_id is not None else None
        response.set_cookie(
            COOKIE, visit.keys.sign(cookie.content), max_age=max_age, path=COOKIE_PATH,
            httponly=True, samesite="strict", secure=secure,
        )  # fmt: skip
    return response


def _to_login(visit: Visit) -> Redirect:
    """Not signed in (or no longer): the sign-in page, then back here."""
    request = visit.request
    target = request.url.path if request.method == "GET" else "/admin/stocks"
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return Redirect("/admin/login?" + urlencode({"next": target}))


def _safe_next(value: str) -> str:
    """Only a page of this admin: never another site (``//evil``) or the sign-in page itself."""
    if (
        value.startswith("/admin/")
        and not value.startswith(("//", "/admin/login", "/admin/logout"))
        and "\\" not in value
        and all(char.isprintable() for char in value)
    ):
        return value
    return "/admin/stocks"


def _denied(visit: Visit, principal: auth.Principal, wanted: tuple[str, ...]) -> Page | None:
    if all(principal.allows(resource) for resource in wanted):
        return None
    return visit.render("message.html", principal, 403, title=ACCESS_DENIED, link=None, link_text="")


def _error_page(visit: Visit, principal: auth.Principal | None, error: errors.MagentoError) -> Page:
    return visit.render(
        "message.html", principal, error.status_code, errors_shown=error.rendered(),
        title="Something went wrong", link="/admin/stocks", link_text="Back to the stocks",
    )  # fmt: skip


Build = Callable[[Session, auth.Principal], Page]


async def _show(visit: Visit, wanted: tuple[str, ...], build: Build) -> Response:
    """A page: the session, the ACL, then ``build`` in one read session."""
    database = visit.database

    def unit() -> Outcome:
        with database.read_sessions() as session:
            principal = sessions.principal_for_cookie(session.connection(), visit.cookie)
            if principal is None:
                return _to_login(visit)
            observability.note_user(principal.username)
            denied = _denied(visit, principal, wanted)
            if denied is not None:
                return denied
            try:
                return build(session, principal)
            except errors.MagentoError as error:
                return _error_page(visit, principal, error)

    return _respond(visit, await database.run(unit, Lane.READ))


Work = Callable[[Session], Redirect]
Retry = Callable[[errors.MagentoError], Build]


async def _act(
    visit: Visit,
    form: Form,
    wanted: tuple[str, ...],
    work: Work,
    on_error: Retry,
    database_error: tuple[type[errors.MagentoError], str] | None = None,
) -> Response:
    """An action: the session (before the transaction, as runtime's token check), the form key,
    the ACL, then ``work`` in one write transaction. A Magento error shows the page again,
    built by ``on_error``, with the error's messages."""
    database = visit.database

    def unit() -> Outcome | tuple[auth.Principal, errors.MagentoError]:
        with database.engine.connect() as connection:
            principal = sessions.principal_for_cookie(connection, visit.cookie)
        if principal is None:
            return _to_login(visit)
        observability.note_user(principal.username)
        if not visit.keys.form_key_valid(visit.cookie, form.get(FORM_KEY)):
            return visit.render(
                "message.html", principal, 403, title=INVALID_FORM_KEY, link=None, link_text=""
            )
        denied = _denied(visit, principal, wanted)
        if denied is not None:
            return denied
        if form.problem is not None:
            return _error_page(visit, principal, form.problem)
        try:
            return run_write(visit.context, work, database_error)
        except errors.MagentoError as error:
            return principal, error

    outcome = await database.run(unit, Lane.WRITE)
    if not isinstance(outcome, tuple):
        return _respond(visit, outcome)
    principal, error = outcome
    build = on_error(error)

    def again() -> Page:
        with database.read_sessions() as session:
            try:
                return build(session, principal)
            except errors.MagentoError as failure:
                return _error_page(visit, principal, failure)

    return _respond(visit, await database.run(again, Lane.READ))


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


# Sign-in and sign-out


@router.get("")
async def admin_home(request: Request) -> Response:
    """``/admin``: the Stocks grid, or the sign-in page."""
    visit = await _visit(request)
    return _respond(visit, Redirect("/admin/stocks" if await _signed_in(visit) else "/admin/login"))


async def _signed_in(visit: Visit) -> bool:
    database = visit.database

    def look_up() -> bool:
        with database.engine.connect() as connection:
            return sessions.principal_for_cookie(connection, visit.cookie) is not None

    return await database.run(look_up, Lane.QUICK_READ)


def _login_page(
    visit: Visit,
    cookie: Cookie,
    next_page: str,
    username: str = "",
    status: int = 200,
    error: str | None = None,
) -> Page:
    form_key = visit.keys.form_key(cookie)
    messages = [*visit.flash, *([("error", error)] if error else [])]
    html = _templates.get_template("login.html").render(
        user=None, form_key=form_key, messages=messages, title="Sign in", next=next_page, username=username
    )
    return Page(html, status, set_cookie=cookie)


@router.get("/login")
async def login_form(request: Request) -> Response:
    """The sign-in form; a signed-in user goes on to the Stocks grid."""
    visit = await _visit(request)
    next_page = _safe_next(request.query_params.get("next", ""))
    if await _signed_in(visit):
        return _respond(visit, Redirect(next_page))
    expired = visit.cookie is not None and visit.cookie.session_id is not None
    # A fresh anonymous cookie whenever there is none (or only a dead session): the form key
    # of the sign-in form is bound to it.
    cookie = visit.cookie if visit.cookie is not None and not expired else Cookie.anonymous()
    return _respond(visit, _login_page(visit, cookie, next_page, error=SESSION_EXPIRED if expired else None))


@router.post("/login")
async def login(request: Request) -> Response:
    """Sign in with an admin user: the token route's checks and lockout, in the same three
    steps (read, argon2 in the CPU lane, a short write that counts a failure or starts the
    session)."""
    visit = await _visit(request)
    form = await _form(request)
    database, settings = visit.database, visit.settings
    next_page = _safe_next(form.get("next"))
    username = form.get("username")
    if not visit.keys.form_key_valid(visit.cookie, form.get(FORM_KEY)):
        page = _login_page(visit, Cookie.anonymous(), next_page, username, 403, INVALID_FORM_KEY)
        return _respond(visit, page)
    assert visit.cookie is not None
    old_cookie = visit.cookie

    def read() -> auth.LoginAttempt:
        with database.read_sessions() as session:
            return auth.read_login_attempt(session, username, form.get("password"), settings)

    def write(attempt: auth.LoginAttempt, verified: bool) -> Cookie:
        with database.write_sessions() as session:
            try:
                user_id = auth.accept_login(session, attempt, verified, settings)
            except errors.Unauthorized:
                session.commit()  # the failure's count survives the refusal
                raise
            sessions.end_session(session, old_cookie)
            cookie = sessions.start_session(session, user_id, settings)
            session.commit()
        return cookie

    try:
        attempt = await database.run(read, Lane.READ)
        verified = await database.run(partial(auth.verify_password, attempt), Lane.CPU)
        cookie = await database.run(partial(write, attempt, verified), Lane.WRITE)
    except errors.MagentoError as error:
        page = _login_page(visit, old_cookie, next_page, username, error.status_code, error.rendered()[0])
        return _respond(visit, page)
    return _respond(visit, Redirect(next_page, set_cookie=cookie))


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out: the session ends in the database, at once, for every process."""
    visit = await _visit(request)
    form = await _form(request)
    if not visit.keys.form_key_valid(visit.cookie, form.get(FORM_KEY)):
        # The cookie stays as it is: a request that cannot prove it comes from these pages
        # does not sign anyone out.
        page = visit.render(
            "message.html", None, 403, title=INVALID_FORM_KEY, link="/admin", link_text="Back"
        )
        return _respond(visit, page)
    database = visit.database

    def end() -> None:
        with database.write_sessions() as session:
            sessions.end_session(session, visit.cookie)
            session.commit()

    await database.run(end, Lane.WRITE)
    return _respond(visit, Redirect("/admin/login", [("success", LOGGED_OUT)], set_cookie=Cookie.anonymous()))


# Stocks


@router.get("/stocks")
async def stocks(request: Request) -> Response:
    """Stores > Inventory > Stocks: ID, Name, Sales Channels, Assigned Sources (by priority)."""
    return await _grid_page(request, "name", admin_service.stocks_grid, "stocks", "Stocks", (STOCK, SOURCE))


async def _grid_page(
    request: Request,
    filter_name: str,
    grid_of: Callable[[Session, str, int, int], admin_service.Grid],
    section: str,
    title: str,
    resources: tuple[str, ...],
) -> Response:
    """A grid with one text filter (``filter_name`` in the query and the template) and pages."""
    visit = await _visit(request)
    query = request.query_params
    text = query.get(filter_name, "")
    page_size = admin_service.page_size_of(_int(query.get("page_size"), 0))
    page = _int(query.get("page"), 1)

    def build(session: Session, principal: auth.Principal) -> Page:
        grid = grid_of(session, text, page, page_size)

        def link(**changes: Any) -> str:
            return urlencode({filter_name: text, "page_size": page_size, "page": grid.page, **changes})

        values: dict[str, Any] = {filter_name: text}
        return visit.render(
            f"{section}.html", principal, title=title, section=section, grid=grid,
            page_sizes=admin_service.PAGE_SIZES, base=f"/admin/{section}", query=link, **values,
        )  # fmt: skip

    return await _show(visit, resources, build)


def _stock_page(
    visit: Visit,
    stock_id: int,
    error: errors.MagentoError | None = None,
    form: Form | None = None,
) -> Build:
    def build(session: Session, principal: auth.Principal) -> Page:
        page = admin_service.stock_page(session, stock_id)
        checked = page.website_codes
        name = None
        if form is not None and form.has("name"):
            # The form as it was sent, so that nothing typed is lost.
            name, checked = form.get("name"), {code.lower() for code in form.getlist("websites")}
        return visit.render(
            "stock.html", principal, error.status_code if error else 200,
            errors_shown=error.rendered() if error else (),
            title=page.stock.name, section="stocks", page=page, name=name, checked_websites=checked,
        )  # fmt: skip

    return build


@router.get("/stocks/{stock_id:int}")
async def stock(request: Request, stock_id: int) -> Response:
    """One stock: name and sales channels, its sources by priority, its index."""
    visit = await _visit(request)
    return await _show(visit, (STOCK, STOCK_SOURCE_LINK, SOURCE), _stock_page(visit, stock_id))


@router.post("/stocks/{stock_id:int}")
async def save_stock(request: Request, stock_id: int) -> Response:
    """Save the name and the websites (PUT /V1/inventory/stocks/:stockId)."""
    visit = await _visit(request)
    form = await _form(request)

    def work(session: Session) -> Redirect:
        admin_service.save_stock(session, stock_id, form.get("name"), form.getlist("websites"))
        return Redirect(f"/admin/stocks/{stock_id}", [("success", STOCK_SAVED)])

    return await _act(
        visit, form, (STOCK_EDIT,), work,
        lambda error: _stock_page(visit, stock_id, error, form), inventory_routes.SAVE_STOCK_FAILED,
    )  # fmt: skip


@router.post("/stocks/{stock_id:int}/sources")
async def stock_sources(request: Request, stock_id: int) -> Response:
    """The Sources section: Up, Down, Unassign or Save Priorities (POST stock-source-links,
    stock-source-links-delete)."""
    visit = await _visit(request)
    form = await _form(request)
    seen = form.getlist("seen")
    indexing = visit.indexing
    database_error: tuple[type[errors.MagentoError], str] = inventory_routes.SAVE_LINKS_FAILED

    def work(session: Session) -> Redirect:
        if form.has("up") or form.has("down"):
            code = form.get("up") or form.get("down")
            offset = -1 if form.has("up") else 1
            admin_service.move_source(session, indexing, stock_id, seen, code, offset)
            message = f'Source "{code}" moved {"up" if offset < 0 else "down"}.'
        elif form.has("unassign"):
            code = form.get("unassign")
            admin_service.unassign_source(session, indexing, stock_id, seen, code)
            message = f'Source "{code}" unassigned.'
        else:
            admin_service.save_priorities(session, indexing, stock_id, seen, form.getlist("priority"))
            message = "The priorities have been saved."
        return Redirect(f"/admin/stocks/{stock_id}", [("success", message)])

    if form.has("unassign"):
        database_error = inventory_routes.DELETE_LINKS_FAILED
    return await _act(
        visit,
        form,
        (STOCK_SOURCE_LINK,),
        work,
        lambda error: _stock_page(visit, stock_id, error),
        database_error,
    )


@router.post("/stocks/{stock_id:int}/sources/assign")
async def assign_source(request: Request, stock_id: int) -> Response:
    """Assign a source, after the others (POST /V1/inventory/stock-source-links)."""
    visit = await _visit(request)
    form = await _form(request)
    code = form.get("source_code")

    def work(session: Session) -> Redirect:
        admin_service.assign_source(session, visit.indexing, stock_id, form.getlist("seen"), code)
        return Redirect(f"/admin/stocks/{stock_id}", [("success", f'Source "{code}" assigned.')])

    return await _act(
        visit, form, (STOCK_SOURCE_LINK,), work,
        lambda error: _stock_page(visit, stock_id, error), inventory_routes.SAVE_LINKS_FAILED,
    )  # fmt: skip


# Sources


@router.get("/sources")
async def sources_grid(request: Request) -> Response:
    """Stores > Inventory > Sources: code, name, status, country, postcode."""
    return await _grid_page(request, "search", admin_service.sources_grid, "sources", "Sources", (SOURCE,))


def _source_form_page(
    visit: Visit,
    source_code: str | None,
    error: errors.MagentoError | None = None,
    form: Form | None = None,
) -> Build:
    def build(session: Session, principal: auth.Principal) -> Page:
        values: dict[str, Any] = {}
        if source_code is not None:
            values = admin_service.source_form(session, source_code)
        if form is not None:
            # The form as it was sent, so that nothing typed is lost.
            values.update(
                {name: form.get(name) for name in admin_service.SOURCE_FORM_FIELDS if form.has(name)}
            )
            values["enabled"] = form.get("enabled") == "1"
        creating = source_code is None
        return visit.render(
            "source_form.html", principal, error.status_code if error else 200,
            errors_shown=error.rendered() if error else (), section="sources", values=values,
            creating=creating, title="New Source" if creating else values.get("name", source_code),
            action="/admin/sources/new" if creating else "/admin/sources/edit?" + urlencode(
                {"source_code": source_code}
            ),
        )  # fmt: skip

    return build


@router.get("/sources/new")
async def new_source(request: Request) -> Response:
    visit = await _visit(request)
    return await _show(visit, (SOURCE_EDIT,), _source_form_page(visit, None))


@router.post("/sources/new")
async def create_source(request: Request) -> Response:
    """Add New Source's Save (POST /V1/inventory/sources)."""
    visit = await _visit(request)
    form = await _form(request)

    def work(session: Session) -> Redirect:
        code = admin_service.create_source(session, visit.indexing, form.as_dict())
        target = "/admin/sources/edit?" + urlencode({"source_code": code})
        return Redirect(target, [("success", SOURCE_SAVED)])

    return await _act(
        visit, form, (SOURCE_EDIT,), work,
        lambda error: _source_form_page(visit, None, error, form), inventory_routes.SAVE_SOURCE_FAILED,
    )  # fmt: skip


@router.get("/sources/edit")
async def edit_source(request: Request) -> Response:
    visit = await _visit(request)
    code = request.query_params.get("source_code", "")
    return await _show(visit, (SOURCE,), _source_form_page(visit, code))


@router.post("/sources/edit")
async def update_source(request: Request) -> Response:
    """The edit form's Save (PUT /V1/inventory/sources/:sourceCode)."""
    visit = await _visit(request)
    form = await _form(request)
    code = request.query_params.get("source_code", "")

    def work(session: Session) -> Redirect:
        admin_service.update_source(session, visit.indexing, code, form.as_dict())
        return Redirect(
            "/admin/sources/edit?" + urlencode({"source_code": code}), [("success", SOURCE_SAVED)]
        )

    return await _act(
        visit, form, (SOURCE_EDIT,), work,
        lambda error: _source_form_page(visit, code, error, form), inventory_routes.SAVE_SOURCE_FAILED,
    )  # fmt: skip


async def _enable(request: Request, enabled: bool) -> Response:
    visit = await _visit(request)
    form = await _form(request)
    code = form.get("source_code")

    def work(session: Session) -> Redirect:
        admin_service.set_source_enabled(session, visit.indexing, code, enabled)
        return Redirect("/admin/sources", [("success", SOURCE_SAVED)])

    def grid_again(error: errors.MagentoError) -> Build:
        def build(session: Session, principal: auth.Principal) -> Page:
            grid = admin_service.sources_grid(session, "", 1, admin_service.PAGE_SIZES[0])
            return visit.render(
                "sources.html", principal, error.status_code, errors_shown=error.rendered(),
                title="Sources", section="sources", grid=grid, search="",
                page_sizes=admin_service.PAGE_SIZES, base="/admin/sources",
                query=lambda **changes: urlencode({"page": grid.page, **changes}),
            )  # fmt: skip

        return build

    return await _act(visit, form, (SOURCE_EDIT,), work, grid_again, inventory_routes.SAVE_SOURCE_FAILED)


@router.post("/sources/enable")
async def enable_source(request: Request) -> Response:
    """Enable (GET the source, PUT it back enabled)."""
    return await _enable(request, True)


@router.post("/sources/disable")
async def disable_source(request: Request) -> Response:
    """Disable (GET the source, PUT it back disabled): its items leave every stock at once."""
    return await _enable(request, False)


# One SKU


@router.get("/products")
async def product(request: Request) -> Response:
    """One SKU: per source quantity and status; per stock index quantity, reservations, salable
    quantity and is salable."""
    visit = await _visit(request)
    sku = request.query_params.get("sku", "")
    config = visit.indexing.config

    def build(session: Session, principal: auth.Principal) -> Page:
        page = admin_service.product_page(session, config, sku) if sku else None
        return visit.render(
            "product.html", principal, title=sku or "Products", section="products", page=page, sku=sku
        )

    return await _show(visit, (SOURCE, SALES_STOCK), build)


# The index


def _index_page(visit: Visit, error: errors.MagentoError | None = None) -> Build:
    def build(session: Session, principal: auth.Principal) -> Page:
        page = admin_service.index_page(session)
        return visit.render(
            "index.html", principal, error.status_code if error else 200,
            errors_shown=error.rendered() if error else (), title="Index", section="index", page=page,
        )  # fmt: skip

    return build


@router.get("/index")
async def index(request: Request) -> Response:
    """Per stock: index rows, pending and failed rebuild jobs, the oldest one's age."""
    visit = await _visit(request)
    return await _show(visit, (STOCK,), _index_page(visit))


@router.post("/index/reindex")
async def reindex(request: Request) -> Response:
    """Reindex: queue a rebuild job of the stock, run by a worker."""
    visit = await _visit(request)
    form = await _form(request)
    stock_id = _int(form.get("stock_id"), -1)
    back = f"/admin/stocks/{stock_id}" if form.get("back") == "stock" else "/admin/index"

    def work(session: Session) -> Redirect:
        admin_service.request_reindex(session, stock_id)
        return Redirect(back, [("success", f"A rebuild of stock {stock_id} has been queued.")])

    return await _act(visit, form, (INDEX_INVALIDATE,), work, lambda error: _index_page(visit, error))


# What the pages need besides themselves


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """The stylesheet, shipped inside the package: the pages work with no internet."""
    media_type = STATIC.get(name)
    if media_type is None:
        return HTMLResponse(NOT_FOUND, status_code=404, headers=PAGE_HEADERS)
    return Response(
        _static_file(name), media_type=media_type, headers={"Cache-Control": "public, max-age=3600"}
    )


@cache
def _static_file(name: str) -> bytes:
    return resources.files("openmsi.admin").joinpath("static", name).read_bytes()


@router.api_route("/{rest:path}", methods=["GET", "POST"])
async def not_found(request: Request, rest: str) -> Response:
    """Any other path under /admin: an HTML 404, not the REST API's JSON."""
    visit = await _visit(request)
    page = visit.render(
        "message.html", None, 404, title=NOT_FOUND, link="/admin", link_text="Go to the admin"
    )
    return _respond(visit, page)
