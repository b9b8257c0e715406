"""Admin users, bearer tokens and the ACL check.

Follows magento2's ``Integration/Model/AdminTokenService.php`` (the token endpoint),
``Oauth/Token/RequestThrottler.php`` (lockout per username) and
``Webapi/Controller/Rest/RequestValidator.php`` (a bad or expired token is a guest, and a
guest is refused with the route's ACL resource in a 401).

Every admin holds every ACL resource (Magento's "Administrators" role); routes still name
their resource so that the 401 says which one was required.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import APIRouter, Request
from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.orm import Session

from openmsi import errors, service_input, webapi
from openmsi.db import TOKEN_CACHE_SECONDS, Database, Lane, insert_ignore
from openmsi.models import AdminToken, AdminUser, LoginFailure, table_of, utcnow
from openmsi.settings import Settings
from openmsi.webapi import MagentoJSONResponse

SIGN_IN_FAILED = (
    "The account sign-in was incorrect or your account is disabled temporarily. "
    "Please wait and try again later."
)

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str

    def allows(self, resource: str) -> bool:
        return True


def create_admin(session: Session, username: str, password: str) -> AdminUser:
    """`openmsi admin create`: raises CouldNotSave when the username is taken or invalid."""
    username = username.strip()
    if not username or len(username) > 40:
        raise errors.CouldNotSave("The username must be 1 to 40 characters long.")
    if len(password) < 7:
        raise errors.CouldNotSave("The password must be at least 7 characters long.")
    if session.scalar(select(AdminUser.user_id).where(AdminUser.username == username)) is not None:
        raise errors.CouldNotSave('An admin user named "%1" already exists.', [username])
    user = AdminUser(username=username, password_hash=hash_password(password), is_active=True)
    session.add(user)
    session.flush()
    return user


def _is_locked(session: Session, username: str) -> bool:
    lock_expires_at = session.scalar(
        select(LoginFailure.lock_expires_at).where(LoginFailure.username == username)
    )
    return lock_expires_at is not None and lock_expires_at > utcnow()


def _record_failure(session: Session, username: str, settings: Settings) -> None:
    # Insert-then-lock keeps concurrent failures for one username from losing counts.
    insert_ignore(session, table_of(LoginFailure), [{"username": username, "failures_count": 0}])
    row = session.scalar(select(LoginFailure).where(LoginFailure.username == username).with_for_update())
    assert row is not None
    now = utcnow()
    if row.lock_expires_at is not None and row.lock_expires_at <= now:
        # An expired lock starts a fresh count, as Magento's RequestThrottler resets it.
        row.failures_count = 0
        row.lock_expires_at = None
    row.failures_count += 1
    if row.failures_count >= settings.login_max_failures:
        row.lock_expires_at = now + timedelta(seconds=settings.login_lock_seconds)
    session.flush()


def issue_admin_token(session: Session, username: Any, password: Any, settings: Settings) -> str:
    """POST /V1/integration/admin/token. Raises InputError (400) or Unauthorized (401)."""
    # ServiceInputProcessor::process converts the present parameters in signature order (a type
    # error is raised at once) and then reports the absent (null) ones; only after that does
    # CredentialsValidator reject empty strings. So a null username with an empty password is
    # one error, and two empty strings are two.
    username = service_input.convert_scalar(username, "string")
    password = service_input.convert_scalar(password, "string")
    credentials = (("username", username), ("password", password))
    absent = [name for name, value in credentials if value is None]
    if absent:
        raise errors.InputError.required(*absent)
    empty = [name for name, value in credentials if value == ""]
    if empty:
        raise errors.InputError.required(*empty)
    if len(username) > 255:
        raise errors.Unauthorized(SIGN_IN_FAILED)
    if _is_locked(session, username):
        raise errors.Unauthorized(SIGN_IN_FAILED)
    user = session.scalar(select(AdminUser).where(AdminUser.username == username))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        verified = user is not None and user.is_active
    except (VerificationError, InvalidHashError):
        verified = False
    if not verified or user is None:
        _record_failure(session, username, settings)
        raise errors.Unauthorized(SIGN_IN_FAILED)
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    token = secrets.token_urlsafe(32)
    lifetime = settings.admin_token_lifetime_hours
    session.add(
        AdminToken(
            token_hash=hash_token(token),
            user_id=user.user_id,
            expires_at=utcnow() + timedelta(hours=lifetime) if lifetime else None,
        )
    )
    # Expired tokens are dead weight; drop this user's as we go.
    session.execute(
        delete(AdminToken).where(AdminToken.user_id == user.user_id, AdminToken.expires_at < utcnow())
    )
    return token


# Built once: constructing this select costs more than running it (every request needs it).
_PRINCIPAL_BY_TOKEN_HASH = (
    select(AdminUser.user_id, AdminUser.username, AdminToken.expires_at)
    .join(AdminToken, AdminToken.user_id == AdminUser.user_id)
    .where(AdminToken.token_hash == bindparam("token_hash"), AdminUser.is_active.is_(True))
)


# Tokens verified recently, by token hash: the principal and until when (time.monotonic()) it
# may be used without asking the database. A process remembers a token at most
# OPENMSI_TOKEN_CACHE_SECONDS (the engine's TOKEN_CACHE_SECONDS option) and never past the
# token's own expiry, so a deactivated user or a deleted token is refused within that window
# in every process, and an expired token at once.
_verified: dict[str, tuple[Principal, float]] = {}
_VERIFIED_MAX = 10_000


def principal_for_token(connection: Connection, token: str) -> Principal | None:
    token_hash = hash_token(token)
    window: float = connection.get_execution_options().get(TOKEN_CACHE_SECONDS, 0)
    if window > 0:
        cached = _verified.get(token_hash)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
    row = connection.execute(_PRINCIPAL_BY_TOKEN_HASH, {"token_hash": token_hash}).first()
    now = utcnow()
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        _verified.pop(token_hash, None)
        return None
    principal = Principal(user_id=row.user_id, username=row.username)
    if window > 0:
        if row.expires_at is not None:
            window = min(window, (row.expires_at - now).total_seconds())
        if len(_verified) >= _VERIFIED_MAX:
            _forget_stale()
        _verified[token_hash] = (principal, time.monotonic() + window)
    return principal


def _forget_stale() -> None:
    now = time.monotonic()
    for token_hash, (_principal, until) in list(_verified.items()):
        if until <= now:
            _verified.pop(token_hash, None)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()


def forget_verified_tokens() -> None:
    """Drop this process's remembered tokens: the next request of each asks the database."""
    _verified.clear()


def bearer_token(authorization: str | None) -> str | None:
    """``Bearer <token>``: scheme case-insensitive, exactly two space-separated parts."""
    if not authorization:
        return None
    parts = authorization.split(" ")
    if len(parts) != 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]


def authorize(connection: Connection, token: str | None, resource: str) -> Principal:
    """The caller behind a bearer token, if it may use ``resource``; Magento's 401 otherwise."""
    principal = principal_for_token(connection, token) if token is not None else None
    if principal is None or not principal.allows(resource):
        raise errors.not_authorized(resource)
    return principal


router = APIRouter()


@router.post("/V1/integration/admin/token")
async def create_admin_access_token(request: Request) -> MagentoJSONResponse:
    database: Database = request.app.state.database
    settings: Settings = request.app.state.settings
    content_type = request.headers.get("content-type")
    body = await request.body()
    query_string: bytes = request.scope.get("query_string", b"")

    def unit_of_work() -> str:
        params = webapi.service_parameters(content_type, body, query_string)
        username = service_input.lookup_parameter(params, "username")
        password = service_input.lookup_parameter(params, "password")
        with database.write_sessions() as session:
            try:
                token = issue_admin_token(session, username, password, settings)
            except errors.Unauthorized:
                # The failure count must survive the error: commit it before answering 401.
                session.commit()
                raise
            session.commit()
        return token

    return MagentoJSONResponse(await database.run(unit_of_work, Lane.WRITE))
