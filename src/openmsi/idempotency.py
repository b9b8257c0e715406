"""Idempotency-Key on writes (spec orders.md, "Idempotency-Key"; the IETF httpapi draft
``draft-ietf-httpapi-idempotency-key-header``): per admin user, a key, the fingerprint of the
request that used it and, once that request finished, its answer. Statements only: the runtime
(``runtime.serve``) owns the transactions.

A key's row goes through these states (``expires_at`` always says until when the row holds)::

    (none) ──claim──▶ in flight: response_status NULL, expires_at = claimed + lease
    in flight ──finish, in the work's own transaction──▶ finished: status, body,
                                                          expires_at = finished + TTL
    in flight ──release: the work failed and wrote nothing──▶ (none)
    expired (finished past its TTL, or in flight past its lease: abandoned, its process was
    killed) ──claim──▶ in flight again (taken over), or ──purge (the workers)──▶ (none)

``created_at`` is the claim's identity: a claim that was taken over finds no row of its own to
finish, so its work rolls back and two runs of one key never both commit.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, select, tuple_, update
from sqlalchemy.orm import Session

from openmsi import errors
from openmsi.db import insert_ignore
from openmsi.models import IDEMPOTENCY_KEY_LENGTH, IdempotencyKey, table_of, utcnow

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Visible ASCII (RFC 5234 VCHAR, %x21-7E), as the spec allows: 1 to 255 of them.
KEY_PATTERN = re.compile(rf"[!-~]{{1,{IDEMPOTENCY_KEY_LENGTH}}}", re.ASCII)
INVALID_KEY = f"The Idempotency-Key header must be 1 to {IDEMPOTENCY_KEY_LENGTH} visible ASCII characters."

keys = table_of(IdempotencyKey)
# A claim that finds the key's row changing under it looks again, at most this many times.
_CLAIM_LOOKS = 3


@dataclass(frozen=True)
class Answer:
    """A finished request's answer, as it was sent."""

    status: int
    body: bytes


@dataclass(frozen=True)
class Claim:
    """A key this request owns while it runs."""

    user_id: int
    key: str
    claimed_at: datetime


def parse_key(values: list[str]) -> str:
    """The key of the request's ``Idempotency-Key`` header(s). Raises MagentoError (400)."""
    if len(values) != 1 or KEY_PATTERN.fullmatch(values[0]) is None:
        raise errors.MagentoError(INVALID_KEY)
    return values[0]


def fingerprint(method: str, store_code: str, path: str, query_string: bytes, body: bytes | None) -> str:
    """SHA-256 of what identifies a request: method, store scope, path, query string, body bytes.

    Each part is preceded by its length, so that no two different requests read the same."""
    digest = hashlib.sha256()
    parts = (
        method.encode("ascii"),
        store_code.lower().encode("utf-8", "surrogatepass"),  # store codes compare case-insensitively
        path.encode("utf-8", "surrogatepass"),
        query_string,
        body or b"",
    )
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def in_progress(key: str) -> errors.Conflict:
    return errors.Conflict('A request with Idempotency-Key "%1" is still in progress.', [key])


def used_for_another_request(key: str) -> errors.UnprocessableContent:
    return errors.UnprocessableContent('Idempotency-Key "%1" was used for another request.', [key])


def _row_key(user_id: int, key: str) -> ColumnElement[bool]:
    return and_(keys.c.user_id == user_id, keys.c.idempotency_key == key)


def _owned(claim: Claim) -> ColumnElement[bool]:
    return and_(
        _row_key(claim.user_id, claim.key),
        keys.c.created_at == claim.claimed_at,
        keys.c.response_status.is_(None),
    )


def _row(session: Session, user_id: int, key: str) -> Any:
    return session.execute(
        select(keys.c.fingerprint, keys.c.response_status, keys.c.response_body, keys.c.expires_at).where(
            _row_key(user_id, key)
        )
    ).first()


def _decide(row: Any, key: str, request_fingerprint: str, now: datetime) -> Answer | None:
    """What a request with this key gets from the key's row: the stored answer, or None when
    the row has expired and the request is to run. Raises UnprocessableContent (422) for
    another request's key and Conflict (409) while the first request runs."""
    if row.expires_at <= now:
        return None
    if row.fingerprint != request_fingerprint:
        raise used_for_another_request(key)
    if row.response_status is None:
        raise in_progress(key)
    return Answer(row.response_status, (row.response_body or "").encode("utf-8"))


def look_up(session: Session, user_id: int, key: str, request_fingerprint: str) -> Answer | None:
    """The stored answer of the key, or None when the request is to run (no row, or an
    expired one). A read: a repeat is answered without taking any write lock. Raises
    UnprocessableContent (422) or Conflict (409)."""
    row = _row(session, user_id, key)
    return None if row is None else _decide(row, key, request_fingerprint, utcnow())


def claim(
    session: Session, user_id: int, key: str, request_fingerprint: str, lease: timedelta
) -> Claim | Answer:
    """Make the key this request's (a new row, or an expired one taken over), or the stored
    answer when a request with the key finished meanwhile. Raises UnprocessableContent (422) or
    Conflict (409).

    The primary key decides between concurrent claims: the losers' inserts are skipped (after
    waiting for the winner's commit on PostgreSQL and MariaDB) and they read the winner's row.
    A takeover is an UPDATE conditional on the row still being expired, so only one of several
    concurrent takeovers matches it.
    """
    for _ in range(_CLAIM_LOOKS):
        now = utcnow()
        values = {
            "fingerprint": request_fingerprint,
            "response_status": None,
            "response_body": None,
            "created_at": now,
            "expires_at": now + lease,
        }
        if insert_ignore(session, keys, [{"user_id": user_id, "idempotency_key": key, **values}]):
            return Claim(user_id, key, now)
        row = _row(session, user_id, key)
        if row is None:
            continue  # released or purged since the insert was skipped: insert again
        answer = _decide(row, key, request_fingerprint, now)
        if answer is not None:
            return answer
        taken = session.execute(
            update(keys).where(_row_key(user_id, key), keys.c.expires_at <= now).values(**values)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return Claim(user_id, key, now)
    # The row kept changing under this request: another one with the key is running.
    raise in_progress(key)


def finish(session: Session, claim: Claim, answer: Answer, ttl: timedelta) -> bool:
    """Store the answer with the key, in the transaction of the work that produced it; False
    when the claim was taken over meanwhile (the work must then roll back)."""
    result = session.execute(
        update(keys)
        .where(_owned(claim))
        .values(
            response_status=answer.status,
            response_body=answer.body.decode("utf-8"),
            expires_at=utcnow() + ttl,
        )
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release(session: Session, claim: Claim) -> None:
    """Forget an unfinished claim whose work wrote nothing, so that a repeat runs it again."""
    session.execute(delete(keys).where(_owned(claim)))


def purge_expired(session: Session, batch: int = 500) -> int:
    """Delete a batch of expired keys (finished past their TTL, or abandoned in flight);
    returns how many. A key taken over meanwhile is no longer expired and stays."""
    now = utcnow()
    expired = session.execute(
        select(keys.c.user_id, keys.c.idempotency_key).where(keys.c.expires_at < now).limit(batch)
    ).all()
    if expired:
        session.execute(
            delete(keys).where(
                tuple_(keys.c.user_id, keys.c.idempotency_key).in_([tuple(row) for row in expired]),
                keys.c.expires_at < now,
            )
        )
    return len(expired)
