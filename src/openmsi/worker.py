"""The job worker: the entry point that claims and runs queued jobs, and owns their transactions.

Three transactions per job, each short and committed here:

1. the claim (``jobs.claim``) commits at once, so the lease is visible to every other worker;
2. the handler's effect and the ``done`` mark (``jobs.mark_done``) commit together, so a worker
   killed mid-job leaves nothing behind but an expired lease, and the next worker runs the job
   again; when the lease was lost to another worker meanwhile, everything rolls back;
3. on failure, the back-off or the ``failed`` mark (``jobs.mark_failed``), after the handler's
   transaction was rolled back.

When no job is due, a worker deletes a batch of finished jobs past their retention and one of
expired Idempotency-Keys (``idempotency.purge_expired``).

``openmsi worker`` runs ``Worker.run_forever`` in its own process; ``openmsi serve`` runs it in a
thread when the worker is embedded (SQLite by default). ``run_forever`` first runs the
``startup`` statements, each in a transaction of its own: they queue recurring jobs (the
reservation cleanup) that are not queued yet.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from openmsi import idempotency, jobs
from openmsi.db import Database

log = logging.getLogger(__name__)

# A handler does the job's work in the session it is given and never commits.
Handler = Callable[[Session, dict[str, Any]], None]
# Run once when a worker starts, in a transaction the worker commits.
Startup = Callable[[Session], None]


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Claims and runs jobs until stopped. Thread-safe to stop from another thread."""

    def __init__(
        self,
        database: Database,
        handlers: dict[str, Handler],
        *,
        lease: timedelta,
        poll_seconds: float,
        retention: timedelta,
        worker_id: str | None = None,
        startup: Sequence[Startup] = (),
    ) -> None:
        self.database = database
        self.handlers = handlers
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.retention = retention
        self.worker_id = worker_id or new_worker_id()
        self.startup = tuple(startup)
        self.stopping = threading.Event()

    def run_once(self) -> bool:
        """Claim and run one job; False when none was due."""
        with self.database.read_sessions() as session:
            if not jobs.any_due(session):
                return False
        with self.database.write_sessions.begin() as session:
            job = jobs.claim(session, self.worker_id, self.lease)
        if job is None:
            return False
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            with self.database.write_sessions() as session:
                handler(session, job.payload)
                if jobs.mark_done(session, job, self.worker_id):
                    session.commit()
                else:
                    log.warning("job %s: lease lost to another worker; rolled back", job.id)
                    session.rollback()
        except Exception:
            log.exception("job %s (%s) failed, attempt %s", job.id, job.kind, job.attempts)
            with self.database.write_sessions.begin() as session:
                jobs.mark_failed(session, job, self.worker_id, traceback.format_exc())
        return True

    def run_until_idle(self) -> int:
        """Run jobs until none is due; returns how many ran."""
        count = 0
        while not self.stopping.is_set() and self.run_once():
            count += 1
        return count

    def run_forever(self) -> None:
        for statement in self.startup:
            try:
                with self.database.write_sessions.begin() as session:
                    statement(session)
            except Exception:
                log.exception("worker %s: a start-up statement failed", self.worker_id)
        while not self.stopping.is_set():
            try:
                self.run_until_idle()
                # No job is due now (or the worker is stopping): the idle-time housekeeping.
                if not self.stopping.is_set():
                    with self.database.write_sessions.begin() as session:
                        jobs.purge_finished(session, self.retention)
                        idempotency.purge_expired(session)
            except Exception:
                # A lost connection or a locked database: wait and try again, never die.
                log.exception("worker %s: could not poll for jobs", self.worker_id)
            self.stopping.wait(self.poll_seconds)

    def stop(self) -> None:
        self.stopping.set()
