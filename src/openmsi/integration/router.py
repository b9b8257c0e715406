"""Magento's Integration route for admin tokens (``Integration/etc/webapi.xml``):
``POST /V1/integration/admin/token``, anonymous.

A sign-in is three units of work, each in its own lane (``auth`` module docstring): read the
login state, verify the password with argon2 in the CPU lane while no connection or lock is
held, then a short write that issues the token or counts the failure. The failure count must
survive the 401, so the write commits before raising it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from openmsi import auth, errors, service_input
from openmsi.db import Lane
from openmsi.runtime import Context, Route


class AdminTokenBody(BaseModel):
    username: str
    password: str


async def create_admin_access_token(context: Context, parameters: Callable[[], dict[str, Any]]) -> str:
    """Issue an admin bearer token (AdminTokenServiceInterface::createAdminAccessToken)."""
    database, settings = context.database, context.settings

    def read() -> auth.LoginAttempt:
        params = parameters()
        username = service_input.lookup_parameter(params, "username")
        password = service_input.lookup_parameter(params, "password")
        with database.read_sessions() as session:
            return auth.read_login_attempt(session, username, password, settings)

    # The body is decoded here too, so this read runs in a thread rather than on the loop.
    attempt = await database.run(read, Lane.READ)
    verified = await database.run(lambda: auth.verify_password(attempt), Lane.CPU)

    def write() -> str:
        with database.write_sessions() as session:
            try:
                token = auth.finish_login(session, attempt, verified, settings)
            except errors.Unauthorized:
                session.commit()
                raise
            session.commit()
        return token

    return await database.run(write, Lane.WRITE)


ADMIN_TOKEN = Route(
    "POST",
    "/V1/integration/admin/token",
    None,
    Lane.READ,
    steps=create_admin_access_token,
    summary="Issue an admin bearer token (AdminTokenServiceInterface::createAdminAccessToken).",
    body=AdminTokenBody,
    response=str,
)
