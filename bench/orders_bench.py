"""Order placements per second next to the salable-quantity GET, and proof of no oversell.

For each engine (SQLite, PostgreSQL; MariaDB on request) this script builds a fresh database
with Magento's MSI tutorial data (links_bench.py's set-up), adds ``--skus`` SKUs with a large
quantity on ``baltimore_wh`` (stock 2, website ``na_site``) and one SKU with ``--last-units``
units, starts ``openmsi serve`` and drives it from wrk with ``--concurrency`` connections:

- ``salable-get``: GET get-product-salable-quantity/bench-sku-1/2, the baseline;
- ``place-spread``: single-line placements of 1 unit, each a new increment id, the SKU
  cycling over the ``--skus`` SKUs (placements that share no SKU do not wait on each other);
- ``place-hot``: the same, every placement on one SKU (they all serialise on its lock);
- ``last-units``: placements of 1 unit of the SKU that has ``--last-units`` units, for the
  whole run: exactly that many must be accepted, every other one refused with a 400 envelope,
  and the salable quantity must end at 0 (the oversold count is printed; it must be 0).

The table shows the median requests/s of the rounds and each placement scenario's ratio to
the salable GET measured in the same rounds (target: ``place-spread`` ≥ 50 %).

    .venv/bin/python bench/orders_bench.py                       # sqlite,postgresql; c=16, 10 s, 3 rounds
    .venv/bin/python bench/orders_bench.py --engines postgresql --duration 5 --repeat 2

wrk is required (``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import links_bench as lb

ORDERS_PATH = "/rest/V1/openmsi/orders"
SALABLE_PATH = f"/rest/V1/inventory/get-product-salable-quantity/{lb.SALABLE_SKU}/2"
SPREAD_QUANTITY = 1_000_000
LAST_SKU = "bench-last"
TARGET = 0.5

PLACE_SCRIPT = """
wrk.method = "POST"
{headers}

local threads = {{}}
local skus = {{ {skus} }}

function setup(thread)
  table.insert(threads, thread)
  thread:set("prefix", {run_id} .. "-" .. #threads .. "-")
end

function init(args)
  counter = 0
  accepted = 0
  refused = 0
  other = 0
  samples = ""
  nsamples = 0
end

function request()
  counter = counter + 1
  local sku = skus[(counter % #skus) + 1]
  local body = '{{"order":{{"increment_id":"' .. prefix .. counter ..
    '","sales_channel":{{"type":"website","code":"na_site"}},"items":[{{"sku":"' .. sku ..
    '","qty":1}}]}}}}'
  return wrk.format(nil, {path}, nil, body)
end

function response(status, headers, body)
  if status == 200 then
    accepted = accepted + 1
  elseif status == 400 and string.find(body or "", "message", 1, true) then
    refused = refused + 1
  else
    other = other + 1
  end
  if status ~= 200 and nsamples < 3 then
    nsamples = nsamples + 1
    samples = samples .. "HTTP " .. status .. " " .. string.sub(body or "", 1, 300) .. "\\n"
  end
end

function done(summary, latency, requests)
  local a, r, o, text = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    a = a + thread:get("accepted")
    r = r + thread:get("refused")
    o = o + thread:get("other")
    text = text .. thread:get("samples")
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d " ..
    "accepted=%d refused=%d other=%d socket=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), a, r, o,
    e.connect + e.read + e.write + e.timeout))
  io.write("BENCH_SAMPLES_BEGIN\\n" .. text .. "BENCH_SAMPLES_END\\n")
end
"""


@dataclass
class PlaceRun:
    run: lb.Run
    accepted: int
    refused: int


@dataclass
class Row(lb.Measured):
    accepted: int = 0
    refused: int = 0


def place(
    port: int, token: str, skus: list[str], concurrency: int, seconds: float, threads: int, workdir: Path
) -> PlaceRun:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    run_id = secrets.token_hex(3)
    script = PLACE_SCRIPT.format(
        headers="\n".join(
            f"wrk.headers[ {lb._lua_string(k)} ] = {lb._lua_string(v)}" for k, v in headers.items()
        ),
        skus=", ".join(lb._lua_string(sku) for sku in skus),
        run_id=lb._lua_string(run_id),
        path=lb._lua_string(ORDERS_PATH),
    )
    script_path = workdir / f"wrk_place_{run_id}.lua"
    script_path.write_text(script)
    values, samples = lb.run_wrk(port, script_path, concurrency, seconds, threads)
    run = lb.Run(
        requests=values["requests"],
        seconds=values["duration_us"] / 1e6,
        p50_ms=values["p50_us"] / 1e3,
        p99_ms=values["p99_us"] / 1e3,
        errors=values["other"] + values["socket"],
        error_samples=samples,
    )
    return PlaceRun(run, values["accepted"], values["refused"])


def add_inventory(base_url: str, token: str, skus: list[str], last_units: int) -> None:
    import httpx

    items = [
        {"sku": sku, "source_code": "baltimore_wh", "quantity": SPREAD_QUANTITY, "status": 1} for sku in skus
    ]
    items.append({"sku": LAST_SKU, "source_code": "baltimore_wh", "quantity": last_units, "status": 1})
    with httpx.Client(
        base_url=base_url, timeout=120.0, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        lb._expect(
            client.post("/rest/V1/inventory/source-items", json={"sourceItems": items}), "source items"
        )


def salable(base_url: str, token: str, sku: str) -> Decimal:
    import httpx

    response = httpx.get(
        f"{base_url}/rest/V1/inventory/get-product-salable-quantity/{sku}/2",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30.0,
    )
    lb._expect(response, f"salable quantity of {sku}")
    return Decimal(response.text)


@dataclass
class Options:
    engines: list[str]
    concurrency: int
    duration: float
    warmup: float
    repeat: int
    wrk_threads: int
    skus: int
    last_units: int
    pg_url: str
    mariadb_url: str


def bench_engine(engine: str, options: Options, workdir: Path) -> tuple[list[Row], dict[str, Any]]:
    engine_dir = workdir / engine
    engine_dir.mkdir()
    with lb.openmsi_server(engine, options.pg_url, options.mariadb_url, engine_dir) as (server, _url):
        port = server.port
        base_url = f"http://{lb.HOST}:{port}"
        token = lb.create_tutorial_data(base_url)
        skus = [f"bench-o-{n:05d}" for n in range(options.skus)]
        add_inventory(base_url, token, skus, options.last_units)
        lb.log(f"{engine}: openmsi on port {port} (pid {server.process.pid}), {options.skus} SKUs added")
        salable_row = Row(engine, "salable-get")
        spread = Row(engine, "place-spread")
        hot = Row(engine, "place-hot")
        salable_scenario = lb.Scenario("salable-get", "GET", SALABLE_PATH)
        for round_number in range(1, options.repeat + 1):
            lb.log(f"{engine}: round {round_number}/{options.repeat}")
            if options.warmup > 0:
                lb.wrk_run(port, salable_scenario, token, options.concurrency, options.warmup, 1, engine_dir)
            run = lb.wrk_run(
                port,
                salable_scenario,
                token,
                options.concurrency,
                options.duration,
                options.wrk_threads,
                engine_dir,
            )
            salable_row.runs.append(run)
            lb.log(
                f"  salable-get   {run.rps:9.1f} req/s  p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:7.2f} ms"
            )
            for row, chosen in ((spread, skus), (hot, skus[:1])):
                if options.warmup > 0:
                    place(port, token, chosen, options.concurrency, options.warmup, 1, engine_dir)
                result = place(
                    port,
                    token,
                    chosen,
                    options.concurrency,
                    options.duration,
                    options.wrk_threads,
                    engine_dir,
                )
                row.runs.append(result.run)
                row.accepted += result.accepted
                row.refused += result.refused
                flag = f", {result.run.errors} ERRORS" if result.run.errors else ""
                lb.log(
                    f"  {row.name:<13} {result.run.rps:9.1f} req/s  p50 {result.run.p50_ms:7.2f} ms"
                    f"  p99 {result.run.p99_ms:7.2f} ms"
                    f"  accepted {result.accepted} refused {result.refused}{flag}"
                )
                for sample in result.run.error_samples:
                    lb.log(f"    error: {sample}")
        last = place(
            port,
            token,
            [LAST_SKU],
            options.concurrency,
            options.duration,
            options.wrk_threads,
            engine_dir,
        )
        left = salable(base_url, token, LAST_SKU)
        proof = {
            "units": options.last_units,
            "attempts": last.run.requests,
            "accepted": last.accepted,
            "refused": last.refused,
            "other": last.run.errors,
            "salable_after": str(left),
            "oversold": max(0, last.accepted - options.last_units),
        }
        lb.log(f"{engine}: last-units {proof}")
        if server.process.poll() is not None:
            raise lb.BenchError(f"openmsi exited during the benchmark:\n{server.tail()}")
        return [salable_row, spread, hot], proof


def print_table(rows: list[Row], proofs: dict[str, dict[str, Any]], options: Options) -> bool:
    print()
    print(
        f"concurrency {options.concurrency}, {options.duration:g}s per run"
        f" after {options.warmup:g}s warm-up, median of {options.repeat} runs, wrk"
    )
    all_pass = lb.print_vs_salable(rows, "place-spread", TARGET)
    print()
    for engine, proof in proofs.items():
        exact = (
            proof["accepted"] == proof["units"]
            and Decimal(proof["salable_after"]) == 0
            and proof["other"] == 0
        )
        all_pass &= exact and proof["oversold"] == 0
        print(
            f"{engine}: last-units: {proof['attempts']} placements of 1 for {proof['units']} units: "
            f"{proof['accepted']} accepted, {proof['refused']} refused, {proof['other']} other;"
            f" salable after {proof['salable_after']};"
            f" oversold {proof['oversold']} {'OK' if exact else 'WRONG'}"
        )
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
    parser.add_argument("--skus", type=int, default=1000, help="SKUs the spread placements cycle over")
    parser.add_argument(
        "--last-units", type=int, default=500, help="units of the SKU the last-units run sells out"
    )
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
    if args.skus < 1 or args.last_units < 1:
        parser.error("--skus and --last-units must be ≥ 1")
    return Options(
        engines,
        args.concurrency,
        args.duration,
        args.warmup,
        args.repeat,
        args.wrk_threads,
        args.skus,
        args.last_units,
        args.pg_url,
        args.mariadb_url,
    )


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix="openmsi_orders_bench_"))
    rows: list[Row] = []
    proofs: dict[str, dict[str, Any]] = {}
    try:
        for engine in options.engines:
            if engine != "sqlite":
                problem = lb.server_unreachable(
                    options.pg_url if engine == "postgresql" else options.mariadb_url
                )
                if problem:
                    lb.log(f"{engine}: skipped, server unreachable ({problem})")
                    continue
            engine_rows, proof = bench_engine(engine, options, workdir)
            rows.extend(engine_rows)
            proofs[engine] = proof
    except lb.BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if print_table(rows, proofs, options) else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
