"""Admin users, bearer tokens and the ACL check.

Follows magento2's ``Integration/Model/AdminTokenService.php`` (the token endpoint),
``Oauth/Token/RequestThrottler.php`` (lockout per username) and
``Webapi/Controller/Rest/RequestValidator.php`` (a bad or expired token is a guest, and a
guest is refused with the route's ACL resource in a 401).

Every admin holds every ACL resource (Magento's "Administrators" role); routes still name
their resource so that the 401 says which one was required.

Failed sign-ins (``admin_login_failure``, Magento's ``oauth_token_request_log``, written by
``Integration/Model/ResourceModel/Oauth/Token/RequestLog.php``) and why the table stays small:

- every failure sets ``lock_expires_at`` to now + OPENMSI_LOGIN_LOCK_SECONDS, as Magento's
  ``incrementFailuresCount`` does, so the column says when the row stops mattering; a username
  is locked while ``failures_count`` >= OPENMSI_LOGIN_MAX_FAILURES and that time is ahead;
- a row whose time has passed counts as absent (Magento's cron ``clearExpiredFailures``
  deletes it): the next failure of that username starts a fresh count, and such rows are
  deleted, a bounded batch at a time, whenever room is needed;
- usernames that are not admin users add rows only while the table holds fewer than
  OPENMSI_LOGIN_FAILURE_MAX_ROWS rows once ended rows are deleted. An admin user's failures are
  always counted, so filling the table with random names never lifts a real lockout.

So the table holds at most OPENMSI_LOGIN_FAILURE_MAX_ROWS rows plus one per admin user (plus
the inserts of one instant racing on PostgreSQL/MariaDB). The price: while attackers keep the
table full, unknown usernames are no longer counted, so they never lock where an admin's
username would; telling the two apart that way takes OPENMSI_LOGIN_FAILURE_MAX_ROWS fresh
usernames per lock window, and Magento tells them apart by timing alone (it skips the hash for
unknown usernames; openmsi verifies a dummy hash).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, or_, select
from sqlalchemy.orm import Session

from openmsi import errors, service_input
from openmsi.db import TOKEN_CACHE_SECONDS, PreparedRead, Reader, insert_ignore
from openmsi.models import AdminSession, AdminToken, AdminUser, LoginFailure, table_of, utcnow
from openmsi.settings import Settings

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


def _check_password(password: str) -> None:
    if len(password) < 7:
        raise errors.CouldNotSave("The password must be at least 7 characters long.")


def create_admin(session: Session, username: str, password: str) -> AdminUser:
    """`openmsi admin create`: raises CouldNotSave when the username is taken or invalid."""
    username = username.strip()
    if not username or len(username) > 40:
        raise errors.CouldNotSave("The username must be 1 to 40 characters long.")
    _check_password(password)
    # Hashed before the first statement: on SQLite that statement takes the write lock.
    password_hash = hash_password(password)
    if session.scalar(select(AdminUser.user_id).where(AdminUser.username == username)) is not None:
        raise errors.CouldNotSave('An admin user named "%1" already exists.', [username])
    user = AdminUser(username=username, password_hash=password_hash, is_active=True)
    session.add(user)
    session.flush()
    return user


@dataclass(frozen=True)
class AdminSummary:
    username: str
    is_active: bool
    locked_until: datetime | None


def list_admins(session: Session, settings: Settings) -> list[AdminSummary]:
    """`openmsi admin list`: every admin user, with the end of its lockout if it is locked."""
    rows = session.execute(
        select(AdminUser.username, AdminUser.is_active, LoginFailure)
        .outerjoin(LoginFailure, LoginFailure.username == AdminUser.username)
        .order_by(AdminUser.username)
    )
    now = utcnow()
    return [
        AdminSummary(
            row.username,
            row.is_active,
            row.LoginFailure.lock_expires_at if _locks(row.LoginFailure, now, settings) else None,
        )
        for row in rows
    ]


def _admin(session: Session, username: str) -> AdminUser:
    user = session.scalar(select(AdminUser).where(AdminUser.username == username.strip()).with_for_update())
    if user is None:
        raise errors.NoSuchEntity('There is no admin user named "%1".', [username])
    return user


def _revoke_tokens(session: Session, user: AdminUser) -> int:
    """Deletes the user's tokens and admin page sessions; returns how many tokens went."""
    session.execute(delete(AdminSession).where(AdminSession.user_id == user.user_id))
    result = session.execute(delete(AdminToken).where(AdminToken.user_id == user.user_id))
    revoked: int = result.rowcount  # type: ignore[attr-defined]
    return revoked


def unlock_admin(session: Session, username: str) -> AdminUser:
    """`openmsi admin unlock`: forgets the user's failed logins. Raises NoSuchEntity."""
    user = _admin(session, username)
    session.execute(delete(LoginFailure).where(LoginFailure.username == user.username))
    return user


def change_admin_password(session: Session, username: str, password: str) -> tuple[AdminUser, int]:
    """`openmsi admin password`: a new password; the user's tokens and admin page sessions stop
    working. Raises NoSuchEntity or CouldNotSave (too short). Returns the user and the tokens
    revoked."""
    _check_password(password)
    # Hashed before the first statement: on SQLite that statement takes the write lock.
    password_hash = hash_password(password)
    user = _admin(session, username)
    user.password_hash = password_hash
    session.flush()
    return user, _revoke_tokens(session, user)


def set_admin_active(session: Session, username: str, active: bool) -> tuple[AdminUser, int]:
    """`openmsi admin deactivate` / `activate`. Deactivation revokes the user's tokens and admin
    page sessions, so the REST API and the pages refuse them from the next request. Raises
    NoSuchEntity."""
    user = _admin(session, username)
    user.is_active = active
    session.flush()
    return user, 0 if active else _revoke_tokens(session, user)


# ============================================================================================
# The token route, in three steps
#
# Step 1 reads (a quick read), step 2 hashes (the CPU lane: ~140 ms of argon2, no connection
# held, no transaction open), step 3 writes (a short write transaction). Nothing waits on the
# hash: not the other requests, not SQLite's single writer. What may change during the hash
# is checked again in step 3: a lockout reached by concurrent failures still refuses the
# login, and a deactivated user or a changed password issues no token.
#
# The failure table and its bound: see the module docstring.
# ============================================================================================


_PRUNE_BATCH = 1000


@dataclass(frozen=True)
class LoginAttempt:
    """What step 1 found: the converted credentials and the user they name, if any."""

    username: str
    password: str
    user_id: int | None
    password_hash: str | None
    is_active: bool


def _has_ended(failure: LoginFailure, now: datetime) -> bool:
    # NULL: a row counted before failures carried their window; forget it.
    return failure.lock_expires_at is None or failure.lock_expires_at <= now


def _locks(failure: LoginFailure | None, now: datetime, settings: Settings) -> bool:
    """RequestThrottler::isUserLocked: the count reached the maximum within the window."""
    return (
        failure is not None
        and not _has_ended(failure, now)
        and failure.failures_count >= settings.login_max_failures
    )


def _failure(session: Session, username: str, *, for_update: bool = False) -> LoginFailure | None:
    query = select(LoginFailure).where(LoginFailure.username == username)
    return session.scalar(query.with_for_update() if for_update else query)


def read_login_attempt(session: Session, username: Any, password: Any, settings: Settings) -> LoginAttempt:
    """POST /V1/integration/admin/token, step 1: the checks before the hash, in Magento's
    order. Raises InputError (400) or Unauthorized (401, a locked username too)."""
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
    # Magento's AdminTokenService throttles before it looks at the password: a locked username
    # is refused without hashing.
    if _locks(_failure(session, username), utcnow(), settings):
        raise errors.Unauthorized(SIGN_IN_FAILED)
    user = session.execute(
        select(AdminUser.user_id, AdminUser.password_hash, AdminUser.is_active).where(
            AdminUser.username == username
        )
    ).first()
    if user is None:
        return LoginAttempt(username, password, None, None, False)
    return LoginAttempt(username, password, user.user_id, user.password_hash, user.is_active)


def verify_password(attempt: LoginAttempt) -> bool:
    """Step 2: argon2, CPU only. An unknown username is verified against a dummy hash, so that
    it costs what a known one costs; an inactive user fails like a wrong password."""
    try:
        _hasher.verify(attempt.password_hash or _DUMMY_HASH, attempt.password)
    except (VerificationError, InvalidHashError):
        return False
    return attempt.user_id is not None and attempt.is_active


def finish_login(session: Session, attempt: LoginAttempt, verified: bool, settings: Settings) -> str:
    """Step 3, a short write transaction: the token, or the failure counted. Raises
    Unauthorized (401); the caller commits in both cases, so that the count survives."""
    user_id = accept_login(session, attempt, verified, settings)
    now = utcnow()
    token = secrets.token_urlsafe(32)
    session.add(AdminToken(token_hash=hash_token(token), user_id=user_id, expires_at=expiry(now, settings)))
    # Expired tokens are dead weight; drop this user's as we go.
    session.execute(delete(AdminToken).where(AdminToken.user_id == user_id, AdminToken.expires_at < now))
    session.flush()
    return token


def accept_login(session: Session, attempt: LoginAttempt, verified: bool, settings: Settings) -> int:
    """Step 3's checks, shared by the token route and the admin pages' sign-in: the user id, or
    Unauthorized (401) with the failure counted. The caller commits in both cases."""
    now = utcnow()
    # Locked (and re-read under the row lock) before anything else: failures that other clients
    # committed during the hash may have locked the username since step 1. A locked attempt is
    # refused and not counted, as in step 1.
    failure = _failure(session, attempt.username, for_update=True)
    if _locks(failure, now, settings):
        raise errors.Unauthorized(SIGN_IN_FAILED)
    if verified:
        user = session.execute(
            select(AdminUser.password_hash, AdminUser.is_active).where(AdminUser.user_id == attempt.user_id)
        ).first()
        # Deactivated, deleted or given a new password during the hash: the verify was against
        # what no longer holds.
        verified = user is not None and user.is_active and user.password_hash == attempt.password_hash
    if not verified or attempt.user_id is None:
        _record_failure(session, attempt, failure, now, settings)
        raise errors.Unauthorized(SIGN_IN_FAILED)
    if failure is not None:
        session.delete(failure)
    return attempt.user_id


def expiry(now: datetime, settings: Settings) -> datetime | None:
    """When a token (or an admin page session) issued now expires; None: never."""
    lifetime = settings.admin_token_lifetime_hours
    return now + timedelta(hours=lifetime) if lifetime else None


def _record_failure(
    session: Session, attempt: LoginAttempt, failure: LoginFailure | None, now: datetime, settings: Settings
) -> None:
    if failure is None:
        if attempt.user_id is None and not _room_for_a_failure(session, now, settings):
            return
        # Insert-then-lock keeps concurrent failures for one username from losing counts.
        insert_ignore(session, table_of(LoginFailure), [{"username": attempt.username, "failures_count": 0}])
        failure = _failure(session, attempt.username, for_update=True)
        assert failure is not None
    elif _has_ended(failure, now):
        failure.failures_count = 0
    failure.failures_count += 1
    failure.lock_expires_at = now + timedelta(seconds=settings.login_lock_seconds)
    session.flush()


def _room_for_a_failure(session: Session, now: datetime, settings: Settings) -> bool:
    """Whether a username that is no admin user may add a row; makes room by deleting rows
    whose time has passed when the table is full."""
    rows = session.scalar(select(func.count()).select_from(LoginFailure)) or 0
    if rows < settings.login_failure_max_rows:
        return True
    # SKIP LOCKED: rows other sign-ins hold are theirs to update; two pruning transactions must
    # not wait on (or deadlock with) each other. A bounded batch keeps the transaction short.
    ended = session.scalars(
        select(LoginFailure.username)
        .where(or_(LoginFailure.lock_expires_at.is_(None), LoginFailure.lock_expires_at <= now))
        .limit(_PRUNE_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    if ended:
        session.execute(delete(LoginFailure).where(LoginFailure.username.in_(ended)))
    return rows - len(ended) < settings.login_failure_max_rows


# Built once: constructing this select costs more than running it (every request needs it).
_PRINCIPAL_BY_TOKEN_HASH = PreparedRead(
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


def remembered_principal(token: str) -> Principal | None:
    """The principal of a token this process verified within its window, without a database
    read; None when it must be asked (never remembered with a window of 0)."""
    cached = _verified.get(hash_token(token))
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    return None


def principal_for_token(reader: Reader, token: str) -> Principal | None:
    token_hash = hash_token(token)
    window: float = reader.options.get(TOKEN_CACHE_SECONDS, 0)
    if window > 0:
        cached = _verified.get(token_hash)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
    row = reader.first(_PRINCIPAL_BY_TOKEN_HASH, {"token_hash": token_hash})
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


def authorize(reader: Reader, token: str | None, resource: str) -> Principal:
    """The caller behind a bearer token, if it may use ``resource``; Magento's 401 otherwise."""
    principal = principal_for_token(reader, token) if token is not None else None
    return allowed(principal, resource)


def allowed(principal: Principal | None, resource: str) -> Principal:
    """``principal`` if it may use ``resource``; Magento's 401 otherwise."""
    if principal is None or not principal.allows(resource):
        raise errors.not_authorized(resource)
    return principal
