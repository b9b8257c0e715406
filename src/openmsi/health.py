"""Is this process ready to serve? The database answers and its schema is at the latest migration.

``GET /health/ready`` answers 503 with the reason this module gives (observability.py). A
process without an HTTP port, ``openmsi worker``, is checked with the same test by running
``python -m openmsi.health`` (exit code 0 or 1, the reason on stderr): the compose file's
worker health check.
"""

from __future__ import annotations

import logging
import sys
from functools import cache

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from openmsi import schema

log = logging.getLogger(__name__)


@cache
def _head_revision() -> str | None:
    # Reading the migration scripts takes milliseconds; they do not change while a process runs.
    return schema.head_revision()


def readiness_problem(engine: Engine) -> str | None:
    """Why the database cannot serve requests, or None. The driver's error goes to the log, not
    into the answer: a health route answers anyone."""
    try:
        current = schema.current_revision(engine)
    except SQLAlchemyError as error:
        log.warning("readiness: the database does not answer: %s", error)
        return f"The database does not answer ({error.__class__.__name__})."
    head = _head_revision()
    if current != head:
        found = "has no openmsi tables" if current is None else f"is at revision {current}"
        return f"The database schema {found}, not at the latest migration {head}: run `openmsi migrate`."
    return None


def main() -> int:
    from openmsi import db
    from openmsi.settings import get_settings

    engine = db.make_engine(get_settings())
    try:
        problem = readiness_problem(engine)
    finally:
        engine.dispose()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
