"""Does one request freeze the others? p50/p99 of concurrent authenticated GETs against a real
``openmsi serve`` on SQLite, idle and while something heavy runs in the same process or holds
SQLite's write lock from another one.

One fresh SQLite database with ``bench/datagen.py`` data (2 sources, 1 stock, N SKUs: the stock
holds one source, the other is free to link), one ``openmsi serve`` (the CLI's own uvicorn
settings, ``OPENMSI_INDEX_INLINE_LIMIT`` above N so a link change refreshes the index inside the
request), and a separate load generator (wrk, or links_bench's Python client) sending
``GET get-product-salable-quantity/{sku}/{stock}`` with c connections while, in turn:

- ``idle``: nothing else;
- ``save-20mb``: one ``POST /V1/inventory/source-items`` of about 20 MB (280,000 items, the
  stock's source) after the other;
- ``rebuild``: the free source (N items) linked to the stock and unlinked again, each change
  refreshing N SKUs of the stock's index in the request;
- ``lock-held``: another process (this one) holds SQLite's write lock (``BEGIN IMMEDIATE``) for
  3 s at a time while a small source-item save waits for it.

Then the ``regexp`` filter ``^(a+)+$`` on the source name, against a source whose name is 254
"a" and a "!", in seconds per request.

Every measurement is repeated (``--repeat``, default 3); the table shows medians and each
round's figure. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import datagen
import links_bench as lb

SAVE_ITEMS = 280_000  # about 20 MB of JSON
LOCK_SECONDS = 3.0
TARGET_P99_MS = 100.0
TARGET_REGEXP_S = 1.0
SOURCES = "/rest/V1/inventory/sources"
REGEXP_QUERY = {
    "searchCriteria[filter_groups][0][filters][0][field]": "name",
    "searchCriteria[filter_groups][0][filters][0][value]": "^(a+)+$",
    "searchCriteria[filter_groups][0][filters][0][condition_type]": "regexp",
}


@dataclass
class Row:
    scenario: str
    runs: list[lb.Run] = field(default_factory=list)
    background: list[int] = field(default_factory=list)  # heavy requests completed per round

    def median(self, value: Callable[[lb.Run], float]) -> float:
        return statistics.median(value(run) for run in self.runs)


def log(message: str) -> None:
    lb.log(message)


class Background:
    """Repeats ``step`` in a thread until stopped; counts the steps that ended."""

    def __init__(self, step: Callable[[], None]) -> None:
        self._step = step
        self._stop = threading.Event()
        self.completed = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._step()
                self.completed += 1
        except BaseException as error:
            self.error = error

    def __enter__(self) -> Background:
        self._thread.start()
        time.sleep(0.5)  # let the first heavy request get going
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=300)
        if self.error is not None:
            raise lb.BenchError(f"background work failed: {self.error!r}")


def expect(response: httpx.Response, what: str) -> None:
    lb._expect(response, what)


def scenarios(
    client: httpx.Client, generated: datagen.Generated, database_path: Path
) -> dict[str, Callable[[], None] | None]:
    stock_id = generated.stock_ids[0]
    linked_source = generated.links[stock_id][0]
    free_source = next(code for code in generated.source_codes if code not in generated.links[stock_id])
    items = [
        {"sku": datagen.sku(number), "source_code": linked_source, "quantity": number % 97 + 1, "status": 1}
        for number in range(SAVE_ITEMS)
    ]
    save_body = json.dumps({"sourceItems": items}, separators=(",", ":")).encode()
    log(f"save body: {len(save_body) / 1e6:.1f} MB, {SAVE_ITEMS:,} items")
    json_headers = {"Content-Type": "application/json"}

    def save() -> None:
        expect(
            client.post("/rest/V1/inventory/source-items", content=save_body, headers=json_headers), "save"
        )

    def rebuild() -> None:
        link = {"source_code": free_source, "stock_id": stock_id, "priority": 9}
        expect(client.post("/rest/V1/inventory/stock-source-links", json={"links": [link]}), "link")
        unlink = {"source_code": free_source, "stock_id": stock_id}
        expect(
            client.post("/rest/V1/inventory/stock-source-links-delete", json={"links": [unlink]}), "unlink"
        )

    small = {"sourceItems": [{"sku": "LOCK-PROBE", "source_code": free_source, "quantity": 1, "status": 1}]}

    def hold_lock() -> None:
        holder = sqlite3.connect(database_path, isolation_level=None, timeout=60)
        try:
            holder.execute("BEGIN IMMEDIATE")
            waiting = threading.Thread(
                target=lambda: expect(
                    client.post("/rest/V1/inventory/source-items", json=small), "waiting save"
                )
            )
            waiting.start()
            time.sleep(LOCK_SECONDS)
            holder.execute("ROLLBACK")
            waiting.join(timeout=120)
        finally:
            holder.close()

    return {"idle": None, "save-20mb": save, "rebuild": rebuild, "lock-held": hold_lock}


def regexp_seconds(client: httpx.Client, timeout: float) -> float:
    """Seconds for the adversarial filter; ``inf`` when no answer came within ``timeout`` (the
    server is then still busy with it: no further measurement would mean anything)."""
    started = time.perf_counter()
    try:
        response = client.get(SOURCES, params=REGEXP_QUERY, timeout=timeout)
    except httpx.TimeoutException:
        return float("inf")
    elapsed = time.perf_counter() - started
    if response.status_code not in (200, 400):
        raise lb.BenchError(f"regexp filter answered {response.status_code}: {response.text[:300]}")
    return elapsed


@dataclass(frozen=True)
class Options:
    skus: int
    concurrency: int
    duration: float
    repeat: int
    loadgen: str
    wrk_threads: int
    regexp_timeout: float
    json_path: Path | None
    scenarios: list[str] = field(default_factory=list)  # empty: all of them


def bench(options: Options, workdir: Path) -> tuple[list[Row], list[float]]:
    from openmsi import db
    from openmsi.settings import Settings

    database_path = workdir / "openmsi.db"
    url = f"sqlite:///{database_path}"
    env = {**os.environ, "OPENMSI_DATABASE_URL": url, "OPENMSI_INDEX_INLINE_LIMIT": str(options.skus * 10)}
    lb.run_cli(["migrate"], env, workdir)
    lb.run_cli(
        ["admin", "create", "--username", lb.ADMIN_USERNAME, "--password", lb.ADMIN_PASSWORD], env, workdir
    )
    database = db.Database(db.make_engine(Settings(database_url=url)))
    try:
        started = time.perf_counter()
        generated = datagen.generate(database.engine, sources=2, stocks=1, skus=options.skus)
        log(f"{generated.source_items:,} source items generated in {time.perf_counter() - started:.1f}s")
    finally:
        database.dispose()
    port = lb.free_port()
    openmsi = lb.VENV_BIN / "openmsi"
    argv = [str(openmsi)] if openmsi.exists() else [sys.executable, "-m", "openmsi"]
    server = lb.Server(
        "openmsi-loop", [*argv, "serve", "--host", lb.HOST, "--port", str(port)], env, workdir, port
    )
    try:
        server.wait_ready("/rest/V1/store/websites")
        with contextlib.closing(httpx.Client(base_url=f"http://{lb.HOST}:{port}", timeout=300)) as client:
            response = client.post(
                "/rest/V1/integration/admin/token",
                json={"username": lb.ADMIN_USERNAME, "password": lb.ADMIN_PASSWORD},
            )
            expect(response, "admin token")
            token = response.json()
            client.headers["Authorization"] = f"Bearer {token}"
            stock_id = generated.stock_ids[0]
            get = lb.Scenario(
                "salable-get",
                "GET",
                f"/rest/V1/inventory/get-product-salable-quantity/{datagen.sku(1)}/{stock_id}",
            )
            name = "a" * 254 + "!"
            body = {
                "source": {"source_code": "regexp_probe", "name": name, "country_id": "US", "postcode": "1"}
            }
            expect(client.post(SOURCES, json=body), "regexp probe source")
            steps = scenarios(client, generated, database_path)
            if options.scenarios:
                unknown = sorted(set(options.scenarios) - set(steps))
                if unknown:
                    raise lb.BenchError(f"unknown scenarios {unknown}; known: {sorted(steps)}")
                steps = {name: step for name, step in steps.items() if name in options.scenarios}
            rows = [Row(scenario) for scenario in steps]
            regexp: list[float] = []
            link_options = lb.Options(
                engines=["sqlite"],
                concurrency=options.concurrency,
                duration=options.duration,
                warmup=1.0,
                repeat=1,
                loadgen=options.loadgen,
                wrk_threads=options.wrk_threads,
                pg_url="",
                mariadb_url="",
                scenarios=[],
                json_path=None,
            )
            for round_number in range(1, options.repeat + 1):
                log(f"round {round_number}/{options.repeat}")
                for row in rows:
                    step = steps[row.scenario]
                    if step is None:
                        row.runs.append(
                            lb.measure(link_options, port, get, token, workdir, server.process.pid)
                        )
                        continue
                    with Background(step) as background:
                        row.runs.append(
                            lb.measure(link_options, port, get, token, workdir, server.process.pid)
                        )
                    row.background.append(background.completed)
                    log(f"  {row.scenario}: {background.completed} heavy requests completed")
                    if server.process.poll() is not None:
                        raise lb.BenchError(f"openmsi exited:\n{server.tail()}")
            # Last: a backtracking engine would keep the server busy long after the timeout.
            for _ in range(options.repeat):
                regexp.append(regexp_seconds(client, options.regexp_timeout))
                log(f"regexp ^(a+)+$ on 255 characters: {regexp[-1]:.3f}s")
                if regexp[-1] == float("inf"):
                    break
            return rows, regexp
    finally:
        server.stop()


def p99_ms(run: lb.Run) -> float:
    # No answer at all within the measurement: every request waited longer than it lasted.
    return run.p99_ms if run.requests else float("inf")


def print_table(rows: list[Row], regexp: list[float], options: Options) -> bool:
    met = True
    print()
    print(
        f"SQLite, GET get-product-salable-quantity, c={options.concurrency}, "
        f"{options.duration:g}s, {options.loadgen}"
    )
    print(
        f"{'while':<11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}  {'p99 per round':<26} result"
    )
    for row in rows:
        p99 = row.median(p99_ms)
        ok = p99 <= TARGET_P99_MS and all(run.errors == 0 for run in row.runs)
        met &= ok
        rounds = ", ".join(f"{p99_ms(run):.0f}" for run in row.runs)
        print(
            f"{row.scenario:<11} {row.median(lambda run: run.rps):8.0f}"
            f" {row.median(lambda run: run.p50_ms):8.1f}"
            f" {p99:8.1f} {sum(run.errors for run in row.runs):6d}  {rounds:<26}"
            f" {'PASS' if ok else 'MISS'} (p99 ≤ {TARGET_P99_MS:.0f} ms)"
        )
    seconds = statistics.median(regexp)
    ok = seconds <= TARGET_REGEXP_S
    met &= ok
    rounds = ", ".join(f"{value:.3f}" for value in regexp)
    print(
        f"regexp ^(a+)+$ vs 255 chars: {seconds:.3f} s ({rounds})"
        f" {'PASS' if ok else 'MISS'} (≤ {TARGET_REGEXP_S:g} s)"
    )
    return met


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--regexp-timeout", type=float, default=60.0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--scenarios", default="", help="comma-separated, of idle,save-20mb,rebuild,lock-held (default: all)"
    )
    args = parser.parse_args(argv)
    loadgen = args.loadgen
    if loadgen == "auto":
        loadgen = "wrk" if shutil.which("wrk") else "python"
    options = Options(
        args.skus,
        args.concurrency,
        args.duration,
        args.repeat,
        loadgen,
        args.wrk_threads,
        args.regexp_timeout,
        args.json,
        [name for name in args.scenarios.split(",") if name],
    )
    workdir = Path(tempfile.mkdtemp(prefix="openmsi-loop-bench-"))
    try:
        rows, regexp = bench(options, workdir)
    except lb.BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    met = print_table(rows, regexp, options)
    if options.json_path is not None:
        result: dict[str, Any] = {
            "rows": [
                {
                    "scenario": row.scenario,
                    "background": row.background,
                    "runs": [vars(run) for run in row.runs],
                }
                for row in rows
            ],
            "regexp_seconds": regexp,
        }
        options.json_path.write_text(json.dumps(result, indent=2))
    return 0 if met else 2


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--loadgen-worker":
        lb.loadgen_worker(sys.argv[2])
    else:
        sys.exit(main(sys.argv[1:]))
