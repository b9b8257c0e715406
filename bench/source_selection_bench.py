"""Source selection per second next to the salable-quantity GET, on a stock of 50 sources.

For each engine (SQLite, PostgreSQL; MariaDB on request) this script builds a fresh database
with Magento's MSI tutorial data (links_bench.py's set-up), then a stock of ``--sources``
sources (``ssa_00`` … by priority) holding ``--skus`` SKUs, each on 3 of those sources with
0–19 units (every 11th item out of stock): 300,000 source items by default, saved over HTTP
(PostgreSQL then gets an ``ANALYZE``, what autovacuum would do). It starts ``openmsi serve``
and drives it from wrk with ``--concurrency`` connections:

- ``salable-get``: GET get-product-salable-quantity/bench-sku-1/2, the baseline;
- ``ssa-priority``: POST source-selection-algorithm-result, algorithm ``priority``, an order of
  ``--lines`` lines (random SKUs of the stock, 1–15 units each, so many lines split), cycling
  over 200 such orders;
- ``ssa-fewest``: the same orders with ``fewest-splits``.

The table shows the median requests/s of the rounds and each selection scenario's ratio to the
salable GET measured in the same rounds (target: ``ssa-priority`` ≥ 50 %).

    .venv/bin/python bench/source_selection_bench.py              # sqlite,postgresql; c=16, 10 s, 3 rounds
    .venv/bin/python bench/source_selection_bench.py --engines sqlite --skus 20000 --duration 5

wrk is required (``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import links_bench as lb

SELECTION_PATH = "/rest/V1/inventory/source-selection-algorithm-result"
SALABLE_PATH = f"/rest/V1/inventory/get-product-salable-quantity/{lb.SALABLE_SKU}/2"
STOCK_NAME = "Selection Stock"
STOCK_ID = 4  # after the tutorial's 2 and 3
ORDERS = 200
SAVE_BATCH = 20_000
TARGET = 0.5
ALGORITHMS = (("ssa-priority", "priority"), ("ssa-fewest", "fewest-splits"))

SELECT_SCRIPT = """
wrk.method = "POST"
wrk.path = {path}
{headers}

local threads = {{}}
local bodies = {{ {bodies} }}

function setup(thread)
  table.insert(threads, thread)
  thread:set("offset", #threads * 37)
end

function init(args)
  counter = offset
  non200 = 0
  unshippable = 0
  samples = ""
  nsamples = 0
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, bodies[(counter % #bodies) + 1])
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if nsamples < 3 then
      nsamples = nsamples + 1
      samples = samples .. "HTTP " .. status .. " " .. string.sub(body or "", 1, 300) .. "\\n"
    end
  elseif string.find(body, '"shippable":false', 1, true) then
    unshippable = unshippable + 1
  end
end

function done(summary, latency, requests)
  local bad, unship, text = 0, 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non200")
    unship = unship + thread:get("unshippable")
    text = text .. thread:get("samples")
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non200=%d unshippable=%d socket=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), bad, unship,
    e.connect + e.read + e.write + e.timeout))
  io.write("BENCH_SAMPLES_BEGIN\\n" .. text .. "BENCH_SAMPLES_END\\n")
end
"""


@dataclass
class Options:
    engines: list[str]
    concurrency: int
    duration: float
    warmup: float
    repeat: int
    wrk_threads: int
    skus: int
    sources: int
    lines: int
    pg_url: str
    mariadb_url: str


@dataclass
class Row(lb.Measured):
    unshippable: int = 0


def source_codes(options: Options) -> list[str]:
    return [f"ssa_{n:02d}" for n in range(options.sources)]


def sku(n: int) -> str:
    return f"ssa-{n:06d}"


def holders(n: int, sources: int) -> tuple[int, int, int]:
    """The three distinct sources (positions) that hold SKU n."""
    first = n % sources
    return first, (first + 1 + n % 7) % sources, (first + 10 + n % 13) % sources


def create_selection_stock(base_url: str, token: str, options: Options) -> None:
    """The sources, the stock, its links, and the SKUs' items, over HTTP."""
    import httpx

    codes = source_codes(options)
    with httpx.Client(
        base_url=base_url, timeout=600.0, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for code in codes:
            source = {
                "source_code": code,
                "name": code,
                "enabled": True,
                "country_id": "US",
                "postcode": "10001",
            }
            lb._expect(client.post("/rest/V1/inventory/sources", json={"source": source}), f"source {code}")
        response = client.post("/rest/V1/inventory/stocks", json={"stock": {"name": STOCK_NAME}})
        lb._expect(response, "selection stock")
        if response.json() != STOCK_ID:
            raise lb.BenchError(f"the selection stock got id {response.text}, expected {STOCK_ID}")
        links = [
            {"stock_id": STOCK_ID, "source_code": code, "priority": n} for n, code in enumerate(codes, 1)
        ]
        lb._expect(client.post("/rest/V1/inventory/stock-source-links", json={"links": links}), "links")
        items: list[dict[str, Any]] = []
        started = time.monotonic()
        for n in range(options.skus):
            for position in holders(n, options.sources):
                status = 0 if (n + position) % 11 == 0 else 1
                quantity = (n * 7 + position) % 20
                items.append(
                    {"sku": sku(n), "source_code": codes[position], "quantity": quantity, "status": status}
                )
            if len(items) >= SAVE_BATCH or n == options.skus - 1:
                lb._expect(
                    client.post("/rest/V1/inventory/source-items", json={"sourceItems": items}), "items"
                )
                items = []
        lb.log(f"  {options.skus * 3} source items saved in {time.monotonic() - started:.1f} s")


def analyze(url: str) -> None:
    """What autovacuum does some time after a bulk load: without statistics PostgreSQL plans
    the candidates' join from the links instead of the requested SKUs (0.4 s a selection on the
    default data instead of under 1 ms)."""
    lb.maintain(url, "ANALYZE")


def orders(options: Options, algorithm: str) -> list[str]:
    rng = random.Random(20261206)
    bodies = []
    for _ in range(ORDERS):
        chosen = rng.sample(range(options.skus), options.lines)
        items = [{"sku": sku(n), "qty": rng.randint(1, 15)} for n in chosen]
        body = {"inventoryRequest": {"stockId": STOCK_ID, "items": items}, "algorithmCode": algorithm}
        bodies.append(json.dumps(body, separators=(",", ":")))
    return bodies


def check_answer(base_url: str, token: str, body: str, options: Options) -> int:
    """One selection, checked: every line's SKU is listed and nothing is over-deducted."""
    import httpx

    response = httpx.post(
        base_url + SELECTION_PATH,
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30.0,
    )
    lb._expect(response, "source selection")
    result = response.json()
    for item in result["source_selection_items"]:
        if not 0 <= item["qty_to_deduct"] <= max(item["qty_available"], 0):
            raise lb.BenchError(f"over-deducted: {item}")
    requested = {line["sku"] for line in json.loads(body)["inventoryRequest"]["items"]}
    listed = {item["sku"] for item in result["source_selection_items"]}
    if not listed <= requested:
        raise lb.BenchError(f"listed SKUs that were not requested: {listed - requested}")
    return len(response.content)


def select_run(
    port: int, token: str, bodies: list[str], concurrency: int, seconds: float, threads: int, workdir: Path
) -> tuple[lb.Run, int]:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    script = SELECT_SCRIPT.format(
        path=lb._lua_string(SELECTION_PATH),
        headers="\n".join(
            f"wrk.headers[ {lb._lua_string(k)} ] = {lb._lua_string(v)}" for k, v in headers.items()
        ),
        bodies=", ".join(lb._lua_string(body) for body in bodies),
    )
    script_path = workdir / f"wrk_select_{secrets.token_hex(3)}.lua"
    script_path.write_text(script)
    values, samples = lb.run_wrk(port, script_path, concurrency, seconds, threads)
    run = lb.Run(
        requests=values["requests"],
        seconds=values["duration_us"] / 1e6,
        p50_ms=values["p50_us"] / 1e3,
        p99_ms=values["p99_us"] / 1e3,
        errors=values["non200"] + values["socket"],
        error_samples=samples,
    )
    return run, values["unshippable"]


def bench_engine(engine: str, options: Options, workdir: Path) -> list[Row]:
    engine_dir = workdir / engine
    engine_dir.mkdir()
    with lb.openmsi_server(engine, options.pg_url, options.mariadb_url, engine_dir) as (server, url):
        port = server.port
        base_url = f"http://{lb.HOST}:{port}"
        token = lb.create_tutorial_data(base_url)
        create_selection_stock(base_url, token, options)
        if engine == "postgresql":
            analyze(url)
        bodies = {name: orders(options, algorithm) for name, algorithm in ALGORITHMS}
        sizes = [check_answer(base_url, token, body, options) for body in bodies["ssa-priority"][:20]]
        lb.log(
            f"{engine}: openmsi on port {port} (pid {server.process.pid}); answers of"
            f" {statistics.mean(sizes) / 1024:.1f} KiB on average"
        )
        salable_row = Row(engine, "salable-get")
        rows = [salable_row] + [Row(engine, name) for name, _ in ALGORITHMS]
        salable_scenario = lb.Scenario("salable-get", "GET", SALABLE_PATH)
        for round_number in range(1, options.repeat + 1):
            lb.log(f"{engine}: round {round_number}/{options.repeat}")
            if options.warmup > 0:
                lb.wrk_run(port, salable_scenario, token, options.concurrency, options.warmup, 1, engine_dir)
            run = lb.wrk_run(
                port, salable_scenario, token, options.concurrency, options.duration, options.wrk_threads,
                engine_dir,
            )  # fmt: skip
            salable_row.runs.append(run)
            latency = f"p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:7.2f} ms"
            lb.log(f"  salable-get   {run.rps:9.1f} req/s  {latency}")
            for row in rows[1:]:
                if options.warmup > 0:
                    select_run(
                        port, token, bodies[row.name], options.concurrency, options.warmup, 1, engine_dir
                    )
                run, unshippable = select_run(
                    port, token, bodies[row.name], options.concurrency, options.duration,
                    options.wrk_threads, engine_dir,
                )  # fmt: skip
                row.runs.append(run)
                row.unshippable += unshippable
                flag = f", {run.errors} ERRORS" if run.errors else ""
                lb.log(
                    f"  {row.name:<13} {run.rps:9.1f} req/s  p50 {run.p50_ms:7.2f} ms"
                    f"  p99 {run.p99_ms:7.2f} ms  not shippable {unshippable}{flag}"
                )
                for sample in run.error_samples:
                    lb.log(f"    error: {sample}")
        if server.process.poll() is not None:
            raise lb.BenchError(f"openmsi exited during the benchmark:\n{server.tail()}")
        return rows


def print_table(rows: list[Row], options: Options) -> bool:
    print()
    print(
        f"concurrency {options.concurrency}, {options.duration:g}s per run after {options.warmup:g}s warm-up,"
        f" median of {options.repeat} runs, wrk; stock of {options.sources} sources, {options.skus} SKUs"
        f" ({options.skus * 3} source items), orders of {options.lines} lines"
    )
    all_pass = lb.print_vs_salable(rows, "ssa-priority", TARGET)
    print("ALL TARGETS PASS" if all_pass else "SOME TARGETS MISSED")
    return all_pass


def parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--engines", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql, mariadb"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of warm-up before each measurement"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--skus", type=int, default=100_000, help="SKUs of the selection stock")
    parser.add_argument("--sources", type=int, default=50, help="sources of the selection stock")
    parser.add_argument("--lines", type=int, default=20, help="lines per order")
    parser.add_argument("--pg-url", default=os.environ.get("OPENMSI_BENCH_POSTGRES_URL", lb.DEFAULT_PG_URL))
    parser.add_argument(
        "--mariadb-url", default=os.environ.get("OPENMSI_BENCH_MARIADB_URL", lb.DEFAULT_MARIADB_URL)
    )
    args = parser.parse_args(argv)
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    if set(engines) - {"sqlite", "postgresql", "mariadb"}:
        parser.error("engines: sqlite, postgresql, mariadb")
    if not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk)")
    if args.sources < 23 or args.lines < 1 or args.skus < args.lines:
        parser.error("--sources must be ≥ 23 (each SKU sits on 3 distinct sources), --skus ≥ --lines ≥ 1")
    return Options(
        engines, args.concurrency, args.duration, args.warmup, args.repeat, args.wrk_threads, args.skus,
        args.sources, args.lines, args.pg_url, args.mariadb_url,
    )  # fmt: skip


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix="openmsi_ssa_bench_"))
    rows: list[Row] = []
    try:
        for engine in options.engines:
            if engine != "sqlite":
                problem = lb.server_unreachable(
                    options.pg_url if engine == "postgresql" else options.mariadb_url
                )
                if problem:
                    lb.log(f"{engine}: skipped, server unreachable ({problem})")
                    continue
            rows.extend(bench_engine(engine, options, workdir))
    except lb.BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if print_table(rows, options) else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
