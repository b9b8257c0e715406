"""Inventory benchmarks on generated data: bulk source-item saves, full reindex against bare
SQL, index lag after a link change, and salable-quantity reads against a bare FastAPI ceiling.

For each engine (SQLite, PostgreSQL) this script creates a fresh database, generates S sources,
K stocks and N SKUs with ``bench/datagen.py`` (S × N source items) and measures, in rounds:

1. ``reindex`` vs ``bare-aggregation``: ``indexer.service.rebuild_stock`` for every stock, each
   in its own transaction (what ``openmsi reindex`` and the rebuild job run), against a
   hand-written ``INSERT INTO scratch SELECT … GROUP BY`` over the same joins without the
   salability logic, in the same round;
2. ``save-new`` / ``save-update``: 10,000 source items in one ``POST
   /rest/V1/inventory/source-items`` to ``openmsi serve`` (new SKUs, then the same updated);
3. ``link-inline`` / ``link-job``: seconds from sending ``POST
   /rest/V1/inventory/stock-source-links`` (a source holding N items joins a stock) to the first
   ``GET /rest/V1/inventory/get-product-salable-quantity/{sku}/{stock}`` that shows the new
   quantity, with the source's items applied as a delta in the request (inline) and by a stock
   rebuild in the embedded worker (job);
4. ``salable-get`` vs ``bare``: requests/s of get-product-salable-quantity from a separate load
   generator (wrk, or links_bench's Python client), and of ``bench/bare_app.py``.

The table shows medians over the rounds and ratios to the baselines of the same rounds.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datagen
import links_bench as lb

BATCH_ITEMS = 10_000
# The inline refresh limit of the two servers: above every source's item count (inline path),
# and below it (job path). The default (100,000) keeps a 100,000-item source on the inline path.
INLINE_LIMIT_HIGH = 1_000_000_000
INLINE_LIMIT_LOW = 1000
LAG_TIMEOUT = 120.0
SCRATCH = "bench_scratch_index"


@dataclass(frozen=True)
class Measure:
    name: str
    unit: str  # "items/s", "s", "req/s"
    higher_is_better: bool
    target: str = ""  # shown in the table
    check: Callable[[float, float | None], bool] | None = None  # (median, ratio) → met?
    baseline: str | None = None  # name of the measure this one is divided by


def _at_least(value: float) -> Callable[[float, float | None], bool]:
    return lambda median, _ratio: median >= value


def _at_most(value: float) -> Callable[[float, float | None], bool]:
    return lambda median, _ratio: median <= value


def _ratio_at_most(value: float) -> Callable[[float, float | None], bool]:
    return lambda _median, ratio: ratio is not None and ratio <= value


def _ratio_at_least(value: float) -> Callable[[float, float | None], bool]:
    return lambda _median, ratio: ratio is not None and ratio >= value


BARE_AGG = Measure("bare-aggregation", "s", False)
REINDEX = Measure("reindex", "s", False, "≤1.5× bare", _ratio_at_most(1.5), "bare-aggregation")
SAVE_NEW = Measure("save-new", "items/s", True, "≥5000/s (SQLite)", _at_least(5000))
SAVE_UPDATE = Measure("save-update", "items/s", True, "≥5000/s (SQLite)", _at_least(5000))
SAVE_NEW_PG = Measure("save-new", "items/s", True, "≥10000/s (PG)", _at_least(10_000))
SAVE_UPDATE_PG = Measure("save-update", "items/s", True, "≥10000/s (PG)", _at_least(10_000))
LINK_INLINE = Measure("link-inline", "s", False, "≤1.5 s", _at_most(1.5))
UNLINK_INLINE = Measure("unlink-inline", "s", False, "≤1.5 s", _at_most(1.5))
LINK_JOB = Measure("link-job", "s", False, "≤2 s", _at_most(2.0))
BARE_GET = Measure("bare", "req/s", True)
SALABLE_GET = Measure("salable-get", "req/s", True, "≥30% of bare", _ratio_at_least(0.30), "bare")


@dataclass
class Row:
    engine: str
    measure: Measure
    values: list[float] = field(default_factory=list)
    note: str = ""
    errors: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")


@dataclass
class Options:
    engines: list[str]
    repeat: int
    duration: float
    warmup: float
    concurrency: int
    skus: int
    sources: int
    stocks: int
    batch: int
    seed: int
    loadgen: str
    wrk_threads: int
    pg_url: str
    json_path: Path | None


log = lb.log


# --------------------------------------------------------------------------- 1. reindex


def reindex_seconds(database: Any, config: Any) -> tuple[float, int]:
    """``rebuild_stock`` for every stock, one transaction each, as the CLI and the worker do."""
    from openmsi.indexer import service

    started = time.perf_counter()
    with database.read_sessions() as session:
        stock_ids = service.all_stock_ids(session)
    rows = 0
    for stock_id in stock_ids:
        with database.write_sessions.begin() as session:
            rows += service.rebuild_stock(session, config, stock_id)
    return time.perf_counter() - started, rows


def bare_aggregation_seconds(database: Any) -> tuple[float, int]:
    """The same joins and GROUP BY into a scratch table shaped like the index (same key and
    column types), without reservations and salability: what the aggregation costs by itself."""
    from sqlalchemy import Column, Integer, MetaData, Numeric, Table, text

    from openmsi.indexer import repository

    scratch = Table(
        SCRATCH,
        MetaData(),
        Column("stock_id", Integer, primary_key=True, autoincrement=False),
        Column("sku", repository.index.c.sku.type, primary_key=True),
        Column("quantity", Numeric(12, 4)),
    )
    aggregate = text(
        f"INSERT INTO {SCRATCH} (stock_id, sku, quantity) "
        "SELECT l.stock_id, i.sku, SUM(CASE WHEN i.status = 1 THEN i.quantity ELSE 0 END) "
        "FROM inventory_source_item i "
        "JOIN inventory_source_stock_link l ON l.source_code = i.source_code "
        "JOIN inventory_source s ON s.source_code = i.source_code AND s.enabled = :enabled "
        "GROUP BY l.stock_id, i.sku"
    )
    started = time.perf_counter()
    with database.write_sessions.begin() as session:
        scratch.drop(session.connection(), checkfirst=True)
        scratch.create(session.connection())
        rows = session.execute(aggregate, {"enabled": True}).rowcount
    return time.perf_counter() - started, rows


def drop_scratch(database: Any) -> None:
    from sqlalchemy import text

    with database.write_sessions.begin() as session:
        session.execute(text(f"DROP TABLE IF EXISTS {SCRATCH}"))


# --------------------------------------------------------------------------- HTTP helpers


def start_serve(engine: str, env: dict[str, str], engine_dir: Path, inline_limit: int) -> lb.Server:
    port = lb.free_port()
    openmsi = lb.VENV_BIN / "openmsi"
    argv = [str(openmsi)] if openmsi.exists() else [sys.executable, "-m", "openmsi"]
    server_env = {
        **env,
        "OPENMSI_INDEX_INLINE_LIMIT": str(inline_limit),
        # The rebuild job runs in the serve process on both engines (no separate worker).
        "OPENMSI_EMBEDDED_WORKER": "true",
    }
    server = lb.Server(
        f"openmsi-{engine}-{inline_limit}",
        [*argv, "serve", "--host", lb.HOST, "--port", str(port)],
        server_env,
        engine_dir,
        port,
    )
    try:
        server.wait_ready("/rest/V1/store/websites")
    except BaseException:
        server.stop()
        raise
    return server


def http_client(port: int) -> Any:
    import httpx

    client = httpx.Client(base_url=f"http://{lb.HOST}:{port}", timeout=120.0)
    response = client.post(
        "/rest/V1/integration/admin/token",
        json={"username": lb.ADMIN_USERNAME, "password": lb.ADMIN_PASSWORD},
    )
    lb._expect(response, "admin token")
    client.headers["Authorization"] = f"Bearer {response.json()}"
    return client


# --------------------------------------------------------------------------- 2. bulk save


def save_rates(client: Any, source_code: str, batch: int, round_number: int) -> tuple[float, float]:
    """items/s for saving ``batch`` new items, then for saving them again with new quantities;
    the items are deleted afterwards (not timed) so that every round starts from the same data."""
    skus = [f"BENCH-NEW-{round_number}-{number:06d}" for number in range(batch)]

    def body(quantity_of: Callable[[int], int]) -> bytes:
        items = [
            {"sku": sku, "source_code": source_code, "quantity": quantity_of(number), "status": 1}
            for number, sku in enumerate(skus)
        ]
        return json.dumps({"sourceItems": items}, separators=(",", ":")).encode()

    rates = []
    for what, payload in (("new", body(lambda n: n % 100 + 1)), ("update", body(lambda n: n % 50 + 7))):
        started = time.perf_counter()
        response = client.post(
            "/rest/V1/inventory/source-items", content=payload, headers={"Content-Type": "application/json"}
        )
        elapsed = time.perf_counter() - started
        lb._expect(response, f"save {batch} {what} source items")
        rates.append(batch / elapsed)
    delete = [{"sku": sku, "source_code": source_code} for sku in skus]
    lb._expect(
        client.post("/rest/V1/inventory/source-items-delete", json={"sourceItems": delete}), "delete items"
    )
    return rates[0], rates[1]


# --------------------------------------------------------------------------- 3. link lag


@dataclass
class LinkProbe:
    stock_id: int
    source_code: str
    sku: str
    added: float  # the source's item quantity for the SKU, in stock
    read: Callable[[], float | None]  # current salable quantity (None: no answer yet)
    how: str  # how `read` reads


def make_probe(client: Any, generated: datagen.Generated) -> LinkProbe:
    stock_id = generated.stock_ids[0]
    linked = set(generated.links[stock_id])
    source_index, source_code = next((i, c) for i, c in enumerate(generated.source_codes) if c not in linked)
    number = next(
        n
        for n in range(generated.skus // 2, generated.skus)
        if datagen.status(generated.seed, source_index, n) == 1
        and datagen.quantity(generated.seed, source_index, n) > 0
    )
    sku = datagen.sku(number)
    path = f"/rest/V1/inventory/get-product-salable-quantity/{sku}/{stock_id}"

    def read_http() -> float | None:
        response = client.get(path)
        return float(response.json()) if response.status_code == 200 else None

    if read_http() is None:
        raise RuntimeError(f"GET {path} did not answer 200: the link probe cannot be measured")
    how = "GET get-product-salable-quantity"
    added = float(datagen.quantity(generated.seed, source_index, number))
    return LinkProbe(stock_id, source_code, sku, added, read_http, how)


def wait_for(read: Callable[[], float | None], expected: float, started: float) -> float:
    while True:
        value = read()
        if value is not None and abs(value - expected) < 1e-6:
            return time.perf_counter() - started
        if time.perf_counter() - started > LAG_TIMEOUT:
            raise lb.BenchError(
                f"the index did not show {expected} within {LAG_TIMEOUT:.0f}s (last: {value})"
            )
        time.sleep(0.005)


def link_lag(client: Any, probe: LinkProbe) -> tuple[float, float]:
    """Seconds from sending the link POST to the first read showing the source's quantity, then
    from sending the link delete to the first read showing the old quantity again."""
    before = probe.read()
    if before is None:
        raise lb.BenchError(f"no salable quantity for {probe.sku} in stock {probe.stock_id}")
    link = {"source_code": probe.source_code, "stock_id": probe.stock_id, "priority": 99}
    started = time.perf_counter()
    lb._expect(client.post("/rest/V1/inventory/stock-source-links", json={"links": [link]}), "link save")
    lag = wait_for(probe.read, before + probe.added, started)
    undo = {"source_code": probe.source_code, "stock_id": probe.stock_id}
    started = time.perf_counter()
    lb._expect(client.post("/rest/V1/inventory/stock-source-links-delete", json={"links": [undo]}), "unlink")
    return lag, wait_for(probe.read, before, started)


# --------------------------------------------------------------------------- 4. requests/s


def rps(options: Options, port: int, pid: int, scenario: lb.Scenario, token: str, workdir: Path) -> lb.Run:
    link_options = lb.Options(
        options.engines,
        options.concurrency,
        options.duration,
        options.warmup,
        options.repeat,
        options.loadgen,
        options.wrk_threads,
        options.pg_url,
        lb.DEFAULT_MARIADB_URL,
        [scenario.name],
        None,
    )
    return lb.measure(link_options, port, scenario, token, workdir, pid)


# --------------------------------------------------------------------------- per engine


def bench_engine(engine: str, options: Options, bare: lb.Server, workdir: Path) -> list[Row]:
    from openmsi import db
    from openmsi.sales.configuration import StockItemConfiguration
    from openmsi.settings import Settings

    engine_dir = workdir / engine
    engine_dir.mkdir()
    database_cm = (
        lb.sqlite_database(engine_dir) if engine == "sqlite" else lb.postgresql_database(options.pg_url)
    )
    is_sqlite = engine == "sqlite"
    rows = {
        m.name: Row(engine, m)
        for m in (
            BARE_AGG,
            REINDEX,
            SAVE_NEW if is_sqlite else SAVE_NEW_PG,
            SAVE_UPDATE if is_sqlite else SAVE_UPDATE_PG,
            LINK_INLINE,
            UNLINK_INLINE,
            LINK_JOB,
            BARE_GET,
            SALABLE_GET,
        )
    }
    with database_cm as url:
        env = {**os.environ, "OPENMSI_DATABASE_URL": url}
        log(f"{engine}: preparing {url.split('@')[-1]}")
        lb.run_cli(["migrate"], env, engine_dir)
        lb.run_cli(
            ["admin", "create", "--username", lb.ADMIN_USERNAME, "--password", lb.ADMIN_PASSWORD],
            env,
            engine_dir,
        )
        settings = Settings(database_url=url)
        database = db.Database(db.make_engine(settings))
        try:
            started = time.perf_counter()
            generated = datagen.generate(
                database.engine,
                sources=options.sources,
                stocks=options.stocks,
                skus=options.skus,
                seed=options.seed,
            )
            log(
                f"{engine}: {generated.source_items:,} source items on "
                f"{len(generated.source_codes)} sources, "
                f"stocks {generated.stock_ids}, generated in {time.perf_counter() - started:.1f}s"
            )
            config = StockItemConfiguration.from_settings(settings)
            bare_aggregation_seconds(database)  # warms the cache for both sides; discarded
            for round_number in range(1, options.repeat + 1):
                seconds, index_rows = reindex_seconds(database, config)
                bare_seconds, bare_rows = bare_aggregation_seconds(database)
                rows["reindex"].values.append(seconds)
                rows["bare-aggregation"].values.append(bare_seconds)
                log(
                    f"{engine}: round {round_number}: reindex {seconds:.2f}s ({index_rows:,} rows), "
                    f"bare aggregation {bare_seconds:.2f}s ({bare_rows:,} rows)"
                )
            drop_scratch(database)
            rows["reindex"].note = f"{generated.source_items:,} items → {index_rows:,} index rows"

            server = start_serve(engine, env, engine_dir, INLINE_LIMIT_HIGH)
            try:
                with contextlib.closing(http_client(server.port)) as client:
                    save_source = generated.links[generated.stock_ids[0]][0]
                    for round_number in range(1, options.repeat + 1):
                        new_rate, update_rate = save_rates(client, save_source, options.batch, round_number)
                        rows["save-new"].values.append(new_rate)
                        rows["save-update"].values.append(update_rate)
                        log(
                            f"{engine}: round {round_number}: save {new_rate:,.0f} new, "
                            f"{update_rate:,.0f} updated items/s"
                        )
                    linked = sum(1 for codes in generated.links.values() if save_source in codes)
                    note = f"{options.batch:,} items/request, source in {linked} stocks"
                    rows["save-new"].note = rows["save-update"].note = note
                    probe = make_probe(client, generated)
                    log(
                        f"{engine}: link probe: {probe.source_code} → stock {probe.stock_id}, "
                        f"{probe.sku}; {probe.how}"
                    )
                    for round_number in range(1, options.repeat + 1):
                        lag, unlag = link_lag(client, probe)
                        rows["link-inline"].values.append(lag)
                        rows["unlink-inline"].values.append(unlag)
                        log(f"{engine}: round {round_number}: link, inline: {lag:.2f}s, unlink {unlag:.2f}s")
            finally:
                server.stop()
            items_at_source = generated.skus
            rows["link-inline"].note = rows["unlink-inline"].note = (
                f"{items_at_source:,} items, OPENMSI_INDEX_INLINE_LIMIT={INLINE_LIMIT_HIGH}"
            )
            rows[
                "link-job"
            ].note = (
                f"{items_at_source:,} items, OPENMSI_INDEX_INLINE_LIMIT={INLINE_LIMIT_LOW}, embedded worker"
            )

            server = start_serve(engine, env, engine_dir, INLINE_LIMIT_LOW)
            try:
                with contextlib.closing(http_client(server.port)) as client:
                    probe = make_probe(client, generated)
                    for round_number in range(1, options.repeat + 1):
                        lag, _ = link_lag(client, probe)
                        rows["link-job"].values.append(lag)
                        log(f"{engine}: round {round_number}: link, rebuild job: {lag:.2f}s")
                    token = client.headers["Authorization"].removeprefix("Bearer ")
                salable = lb.Scenario(
                    "salable-get",
                    "GET",
                    f"/rest/V1/inventory/get-product-salable-quantity/{probe.sku}/{probe.stock_id}",
                )
                for round_number in range(1, options.repeat + 1):
                    log(f"{engine}: round {round_number}: requests/s")
                    bare_run = rps(options, bare.port, bare.process.pid, lb.BARE, token, engine_dir)
                    salable_run = rps(options, server.port, server.process.pid, salable, token, engine_dir)
                    rows["bare"].values.append(bare_run.rps)
                    rows["salable-get"].values.append(salable_run.rps)
                    rows["bare"].errors += bare_run.errors
                    rows["salable-get"].errors += salable_run.errors
                    if server.process.poll() is not None:
                        raise lb.BenchError(f"openmsi exited during the benchmark:\n{server.tail()}")
                rows[
                    "salable-get"
                ].note = f"c={options.concurrency}, {options.duration:g}s, {options.loadgen}"
            finally:
                server.stop()
        finally:
            database.dispose()
    return list(rows.values())


# --------------------------------------------------------------------------- output


def _format(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f}"
    return f"{value:,.0f}"


def print_table(rows: list[Row], options: Options) -> bool:
    print()
    print(
        f"{options.sources} sources × {options.skus:,} SKUs, {options.stocks} stocks; "
        f"median of {options.repeat} rounds; requests/s: c={options.concurrency}, "
        f"{options.duration:g}s after {options.warmup:g}s warm-up, {options.loadgen}"
    )
    header = (
        f"{'engine':<10} {'measure':<17} {'median':>10} {'unit':<8} {'rounds':<26} {'ratio':>7}  "
        f"{'target':<18} {'result':<6} note"
    )
    print(header)
    print("-" * len(header))
    all_pass = True
    for row in rows:
        ratio = None
        if row.measure.baseline is not None:
            base = next(r for r in rows if r.engine == row.engine and r.measure.name == row.measure.baseline)
            if base.values and row.values and base.median:
                ratio = row.median / base.median
        verdict = ""
        if row.measure.check is not None:
            passed = bool(row.values) and row.errors == 0 and row.measure.check(row.median, ratio)
            all_pass &= passed
            verdict = "PASS" if passed else "MISS"
        rounds = " ".join(_format(v, row.measure.unit) for v in row.values)
        ratio_text = "" if ratio is None else (f"{ratio:.2f}×" if row.measure.unit == "s" else f"{ratio:.0%}")
        note = row.note + (f"; {row.errors} errors" if row.errors else "")
        print(
            f"{row.engine:<10} {row.measure.name:<17} {_format(row.median, row.measure.unit):>10} "
            f"{row.measure.unit:<8} {rounds:<26} {ratio_text:>7}  {row.measure.target:<18} "
            f"{verdict:<6} {note}"
        )
    print()
    print("ALL TARGETS PASS" if all_pass else "SOME TARGETS MISSED")
    return all_pass


def as_json(rows: list[Row], options: Options) -> dict[str, Any]:
    return {
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(options).items()},
        "rows": [
            {
                "engine": row.engine,
                "measure": row.measure.name,
                "unit": row.measure.unit,
                "median": row.median,
                "values": row.values,
                "baseline": row.measure.baseline,
                "target": row.measure.target,
                "errors": row.errors,
                "note": row.note,
            }
            for row in rows
        ],
    }


def parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--repeat", type=int, default=None, help="rounds per measure (default 3, quick 1)")
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds per requests/s run (default 10)"
    )
    parser.add_argument("--warmup", type=float, default=None, help="warm-up seconds before each (default 2)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections for requests/s (default 16)")
    parser.add_argument("--skus", type=int, default=None, help="SKUs (default 100000, quick 10000)")
    parser.add_argument("--sources", type=int, default=10, help="generated sources (default 10)")
    parser.add_argument("--stocks", type=int, default=3, help="generated stocks (default 3)")
    parser.add_argument("--batch", type=int, default=None, help="items per save request (default 10000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="a small smoke run (10,000 SKUs, 1 round, 3 s)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--pg-url", default=os.environ.get("OPENMSI_BENCH_POSTGRES_URL", lb.DEFAULT_PG_URL))
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = parser.parse_args(argv)

    def pick(value: Any, default: Any, quick: Any) -> Any:
        return value if value is not None else (quick if args.quick else default)

    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    if set(engines) - {"sqlite", "postgresql"}:
        parser.error("engines: sqlite, postgresql")
    options = Options(
        engines=engines,
        repeat=pick(args.repeat, 3, 1),
        duration=pick(args.duration, 10.0, 3.0),
        warmup=pick(args.warmup, 2.0, 1.0),
        concurrency=args.concurrency,
        skus=pick(args.skus, 100_000, 10_000),
        sources=args.sources,
        stocks=args.stocks,
        batch=pick(args.batch, BATCH_ITEMS, 2000),
        seed=args.seed,
        loadgen=args.loadgen,
        wrk_threads=args.wrk_threads,
        pg_url=args.pg_url,
        json_path=args.json,
    )
    if options.repeat < 1 or options.duration <= 0 or options.skus <= INLINE_LIMIT_LOW or options.batch < 1:
        parser.error(f"--repeat and --batch must be ≥ 1, --duration > 0, --skus > {INLINE_LIMIT_LOW}")
    if options.sources < 2:
        parser.error("--sources must be ≥ 2 (a stock needs a source left to link)")
    if options.loadgen == "auto":
        options.loadgen = "wrk" if shutil.which("wrk") else "python"
    elif options.loadgen == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk)")
    return options


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    if options.loadgen == "python":
        log("wrk not found: using the Python load generator, which caps the measurable rate")
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    rows: list[Row] = []
    failed = False
    workdir = Path(tempfile.mkdtemp(prefix="openmsi_inventory_bench_"))
    bare: lb.Server | None = None
    try:
        bare_port = lb.free_port()
        bare = lb.Server(
            "bare",
            [sys.executable, str(lb.BENCH_DIR / "bare_app.py"), "--host", lb.HOST, "--port", str(bare_port)],
            dict(os.environ),
            workdir,
            bare_port,
        )
        bare.wait_ready("/bare")
        for engine in options.engines:
            if engine == "postgresql":
                problem = lb.server_unreachable(options.pg_url)
                if problem is not None:
                    log(f"postgresql: skipped, server not reachable ({problem})")
                    continue
            rows += bench_engine(engine, options, bare, workdir)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except lb.BenchError as error:
        log(f"FAILED: {error}")
        failed = True
    except Exception:
        log(f"FAILED:\n{traceback.format_exc()}")
        failed = True
    finally:
        if bare is not None:
            bare.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    all_pass = print_table(rows, options) if rows else False
    if options.json_path is not None:
        with contextlib.suppress(OSError):
            options.json_path.write_text(json.dumps(as_json(rows, options), indent=2))
    if failed or not rows:
        return 1
    return 0 if all_pass else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
