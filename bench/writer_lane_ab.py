"""Where SQLite writes run: openmsi's writer thread (``Database.run(..., Lane.WRITE)``) against
anyio's thread pool behind a one-token limiter. 16 concurrent tasks each run 200 small write
transactions (an upsert and a commit) on a fresh SQLite file; transactions/s, p50 and p99 per
variant, medians of 5 interleaved rounds. See bench/README.md."""

from __future__ import annotations

import statistics
import tempfile
import time

import anyio
import anyio.to_thread
from sqlalchemy import text

from openmsi import db, schema
from openmsi.settings import Settings

CLIENTS = 16
PER_CLIENT = 200
ROUNDS = 5
UPSERT = text(
    "INSERT INTO inventory_source_item (source_code, sku, quantity, status) "
    "VALUES ('default', :sku, 1, 1) "
    "ON CONFLICT (source_code, sku) DO UPDATE SET quantity = quantity + 1"
)


def main() -> None:
    workdir = tempfile.mkdtemp(prefix="openmsi-writer-ab-")
    settings = Settings(database_url=f"sqlite:///{workdir}/ab.db", _env_file=None)  # type: ignore[call-arg]
    database = db.Database(db.make_engine(settings))
    schema.upgrade(database.engine)
    counter = iter(range(10**9))

    def work() -> None:
        with database.write_sessions() as session:
            session.execute(UPSERT, {"sku": f"S{next(counter) % 500}"})
            session.commit()

    async def variant(name: str) -> tuple[float, float, float]:
        limiter = anyio.CapacityLimiter(1)
        latencies: list[float] = []

        async def client() -> None:
            for _ in range(PER_CLIENT):
                started = time.perf_counter()
                if name == "writer-thread":
                    await database.run(work, db.Lane.WRITE)
                else:
                    await anyio.to_thread.run_sync(work, limiter=limiter)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(CLIENTS):
                group.start_soon(client)
        elapsed = time.perf_counter() - started
        latencies.sort()
        return (
            len(latencies) / elapsed,
            latencies[len(latencies) // 2] * 1e3,
            latencies[int(len(latencies) * 0.99)] * 1e3,
        )

    results: dict[str, list[tuple[float, float, float]]] = {"writer-thread": [], "pool-limiter-1": []}
    try:
        for _ in range(ROUNDS):
            for name, runs in results.items():
                runs.append(anyio.run(variant, name))
    finally:
        database.dispose()
    for name, runs in results.items():
        print(
            f"{name:<15} {statistics.median(r[0] for r in runs):7.0f} tx/s"
            f"  p50 {statistics.median(r[1] for r in runs):6.1f} ms"
            f"  p99 {statistics.median(r[2] for r in runs):6.1f} ms"
            f"  rounds {[round(r[0]) for r in runs]}"
        )


if __name__ == "__main__":
    main()
