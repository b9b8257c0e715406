"""Mixed writes: 2 API processes + 1 worker on PostgreSQL against one SQLite process.

Both deployments get the same data and the same load in the same run, round after round:

- SQLite: one ``openmsi serve`` (its embedded worker runs the reindex jobs);
- PostgreSQL: ``openmsi serve --workers 2`` (two API processes) and one ``openmsi worker``.

16 clients (keep-alive connections from a separate load-generator process) each loop, until
the round's deadline, over a seeded mix of:

- ``item-save`` (40 %): POST source-items, 5 items on SKUs drawn from 200 shared SKUs (so
  concurrent saves overlap) on the three sources of stock 2 and the two of stock 3;
- ``salable-get`` (30 %): GET get-product-salable-quantity of one of those SKUs;
- ``link-save`` / ``link-delete`` (10 % / 10 %): link or unlink ``big_src``, a source holding
  30,000 items, to stock 2 or 3 (a link change too large for the writing transaction: a
  stock rebuild is queued for the worker);
- ``source-toggle`` (10 %): PUT a source of stock 3 with ``enabled`` flipped.

The table shows per deployment the median requests/s of the rounds and per request type the
p50/p99 latency of the median round; then the ratio PostgreSQL ÷ SQLite and the item-save p99
on PostgreSQL against the targets of issue 7 (≥ 1.0; ≤ 300 ms). Only 127.0.0.1 is targeted;
every loop is bounded by time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import links_bench as lb

SKUS = [f"MIX-{n:04d}" for n in range(200)]
STOCK_SOURCES = {2: ("mix_a", "mix_b", "mix_c"), 3: ("mix_d", "mix_e")}
BIG_SOURCE = "big_src"
BIG_ITEMS = 30_000
KINDS = (
    ("item-save", 40),
    ("salable-get", 30),
    ("link-save", 10),
    ("link-delete", 10),
    ("source-toggle", 10),
)
TARGET_RATIO = 1.0
TARGET_ITEM_SAVE_P99_MS = 300.0


# --------------------------------------------------------------------------- set-up


def _source(code: str, enabled: bool = True) -> dict[str, Any]:
    return {"source_code": code, "name": code, "enabled": enabled, "country_id": "US", "postcode": "10001"}


def create_data(base_url: str) -> str:
    """Token, sources, two stocks, links, the shared SKUs' items and big_src's 30,000 items."""
    import httpx

    with httpx.Client(base_url=base_url, timeout=120.0) as client:
        response = client.post(
            "/rest/V1/integration/admin/token",
            json={"username": lb.ADMIN_USERNAME, "password": lb.ADMIN_PASSWORD},
        )
        lb._expect(response, "admin token")
        token: str = response.json()
        client.headers["Authorization"] = f"Bearer {token}"
        codes = [code for sources in STOCK_SOURCES.values() for code in sources] + [BIG_SOURCE]
        for code in codes:
            lb._expect(client.post("/rest/V1/inventory/sources", json={"source": _source(code)}), code)
        for (name, website, expected_id), stock_id in zip(lb.STOCKS, STOCK_SOURCES, strict=True):
            stock = {
                "name": name,
                "extension_attributes": {"sales_channels": [{"type": "website", "code": website}]},
            }
            response = client.post("/rest/V1/inventory/stocks", json={"stock": stock})
            lb._expect(response, f"stock {name}")
            if response.json() != expected_id or expected_id != stock_id:
                raise lb.BenchError(f"stock {name} got id {response.text}, expected {stock_id}")
        links = [
            {"source_code": code, "stock_id": stock_id, "priority": priority}
            for stock_id, sources in STOCK_SOURCES.items()
            for priority, code in enumerate(sources, start=1)
        ]
        lb._expect(client.post("/rest/V1/inventory/stock-source-links", json={"links": links}), "links")
        items = [
            {"sku": sku, "source_code": code, "quantity": 100, "status": 1}
            for sources in STOCK_SOURCES.values()
            for code in sources
            for sku in SKUS
        ]
        lb._expect(client.post("/rest/V1/inventory/source-items", json={"sourceItems": items}), "items")
        for start in range(0, BIG_ITEMS, 10_000):
            big = [
                {"sku": f"BIG-{n:06d}", "source_code": BIG_SOURCE, "quantity": n % 50, "status": 1}
                for n in range(start, min(start + 10_000, BIG_ITEMS))
            ]
            response = client.post("/rest/V1/inventory/source-items", json={"sourceItems": big})
            lb._expect(response, "big_src items")
    return token


# --------------------------------------------------------------------------- load


def _requests(rng: random.Random, toggles: dict[str, bool]) -> tuple[str, str, str, str | None]:
    """One request of the mix: (kind, method, path, JSON body)."""
    kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
    stock_id = rng.choice(list(STOCK_SOURCES))
    if kind == "item-save":
        items = [
            {
                "sku": rng.choice(SKUS),
                "source_code": rng.choice(STOCK_SOURCES[rng.choice(list(STOCK_SOURCES))]),
                "quantity": rng.randint(0, 500),
                "status": 1,
            }
            for _ in range(5)
        ]
        return kind, "POST", "/rest/V1/inventory/source-items", json.dumps({"sourceItems": items})
    if kind == "salable-get":
        return (
            kind,
            "GET",
            f"/rest/V1/inventory/get-product-salable-quantity/{rng.choice(SKUS)}/{stock_id}",
            None,
        )
    link = {"source_code": BIG_SOURCE, "stock_id": stock_id, "priority": 9}
    if kind == "link-save":
        return kind, "POST", "/rest/V1/inventory/stock-source-links", json.dumps({"links": [link]})
    if kind == "link-delete":
        return kind, "POST", "/rest/V1/inventory/stock-source-links-delete", json.dumps({"links": [link]})
    code = rng.choice(STOCK_SOURCES[3])
    toggles[code] = not toggles.get(code, True)
    body = json.dumps({"source": _source(code, toggles[code])})
    return kind, "PUT", f"/rest/V1/inventory/sources/{code}", body


async def _load(spec: dict[str, Any]) -> dict[str, Any]:
    port: int = spec["port"]
    token: str = spec["token"]
    latencies: dict[str, list[float]] = {kind: [] for kind, _ in KINDS}
    errors: dict[str, int] = {kind: 0 for kind, _ in KINDS}
    samples: list[str] = []
    deadline = time.monotonic() + float(spec["seconds"])
    start = time.monotonic()

    async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
        header = await reader.readuntil(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await reader.readexactly(length)

    async def client(number: int) -> None:
        rng = random.Random(spec["seed"] * 1000 + number)
        toggles: dict[str, bool] = {}
        reader, writer = await asyncio.open_connection(lb.HOST, port)
        try:
            while time.monotonic() < deadline:
                kind, method, path, body = _requests(rng, toggles)
                raw = body.encode() if body is not None else b""
                head = (
                    f"{method} {path} HTTP/1.1\r\nHost: {lb.HOST}:{port}\r\n"
                    f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(raw)}\r\n\r\n"
                )
                sent = time.perf_counter()
                writer.write(head.encode("latin-1") + raw)
                try:
                    status, content = await asyncio.wait_for(read_response(reader), timeout=60)
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as error:
                    errors[kind] += 1
                    samples.append(f"{kind}: {error.__class__.__name__}")
                    writer.close()
                    reader, writer = await asyncio.open_connection(lb.HOST, port)
                    continue
                latencies[kind].append(time.perf_counter() - sent)
                if status != 200:
                    errors[kind] += 1
                    if len(samples) < 10:
                        samples.append(f"{kind}: HTTP {status} {content[:200].decode(errors='replace')}")
        finally:
            writer.close()

    await asyncio.wait_for(
        asyncio.gather(*(client(n) for n in range(int(spec["concurrency"])))),
        timeout=float(spec["seconds"]) + 120,
    )
    elapsed = time.monotonic() - start
    return {"seconds": elapsed, "latencies": latencies, "errors": errors, "samples": samples}


def loadgen_worker(raw_spec: str) -> None:
    print(json.dumps(asyncio.run(_load(json.loads(raw_spec)))))


@dataclass
class Round:
    seconds: float
    latencies: dict[str, list[float]]
    errors: dict[str, int]
    samples: list[str]

    @property
    def requests(self) -> int:
        return sum(len(values) for values in self.latencies.values())

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, kind: str, p: float) -> float:
        ordered = sorted(self.latencies[kind]) or [0.0]
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1e3


@dataclass
class Deployment:
    name: str
    port: int
    token: str
    rounds: list[Round] = field(default_factory=list)

    @property
    def median_rps(self) -> float:
        return statistics.median(r.rps for r in self.rounds)

    @property
    def median_round(self) -> Round:
        ordered = sorted(self.rounds, key=lambda r: r.rps)
        return ordered[(len(ordered) - 1) // 2]


def run_load(port: int, token: str, seconds: float, concurrency: int, seed: int) -> Round:
    spec = {"port": port, "token": token, "seconds": seconds, "concurrency": concurrency, "seed": seed}
    result = subprocess.run(
        [sys.executable, __file__, "--loadgen-worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=seconds + 180,
    )
    if result.returncode != 0:
        raise lb.BenchError(f"load generator failed:\n{result.stdout}\n{result.stderr}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return Round(**data)


# --------------------------------------------------------------------------- orchestration


def _prepare(url: str, workdir: Path) -> dict[str, str]:
    env = {**os.environ, "OPENMSI_DATABASE_URL": url}
    # Also on SQLite: the CLI refuses a database file that does not exist yet.
    lb.run_cli(["migrate"], env, workdir)
    lb.run_cli(
        ["admin", "create", "--username", lb.ADMIN_USERNAME, "--password", lb.ADMIN_PASSWORD], env, workdir
    )
    for code, name in lb.WEBSITES:
        lb.run_cli(["website", "create", "--code", code, "--name", name], env, workdir)
    return env


def _openmsi() -> list[str]:
    openmsi = lb.VENV_BIN / "openmsi"
    return [str(openmsi)] if openmsi.exists() else [sys.executable, "-m", "openmsi"]


def _wait_idle(base_url: str, token: str, timeout: float = 300) -> None:
    """Until no reindex job is pending, so each round starts from the same state."""
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(
        base_url=base_url, timeout=30.0, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        while time.monotonic() < deadline:
            response = client.get("/rest/V1/openmsi/index-status")
            if response.status_code != 200:
                raise lb.BenchError(f"index-status answered {response.status_code}: {response.text}")
            if not sum(stock["pending_jobs"] for stock in response.json()["stocks"]):
                return
            time.sleep(0.5)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per round and deployment")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds before each round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--api-processes", type=int, default=2, help="PostgreSQL API processes (default 2)")
    parser.add_argument("--pg-url", default=os.environ.get("OPENMSI_BENCH_POSTGRES_URL", lb.DEFAULT_PG_URL))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.duration <= 0 or args.concurrency < 1:
        parser.error("--repeat and --concurrency must be ≥ 1, --duration > 0")
    problem = lb.server_unreachable(args.pg_url)
    if problem is not None:
        lb.log(f"PostgreSQL not reachable ({problem}): nothing to compare")
        return 1
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix="openmsi_mixed_"))
    servers: list[lb.Server] = []
    deployments: list[Deployment] = []
    waits: Counter[tuple[str, str]] = Counter()
    try:
        with lb.sqlite_database(workdir) as sqlite_url, lb.postgresql_database(args.pg_url) as pg_url:
            lite_env = _prepare(sqlite_url, workdir)
            pg_env = _prepare(pg_url, workdir)
            lite_port, pg_port = lb.free_port(), lb.free_port()
            serve = [*_openmsi(), "serve", "--host", lb.HOST]
            servers.append(
                lb.Server("sqlite", [*serve, "--port", str(lite_port)], lite_env, workdir, lite_port)
            )
            pg_serve = [*serve, "--port", str(pg_port), "--workers", str(args.api_processes)]
            servers.append(lb.Server("postgresql", pg_serve, pg_env, workdir, pg_port))
            servers.append(lb.Server("pg-worker", [*_openmsi(), "worker"], pg_env, workdir, 0))
            for name, port in (("sqlite", lite_port), ("postgresql", pg_port)):
                servers[0 if name == "sqlite" else 1].wait_ready("/rest/V1/store/websites")
                lb.log(f"{name}: creating data (30,000 items on {BIG_SOURCE})")
                token = create_data(f"http://{lb.HOST}:{port}")
                deployments.append(Deployment(name, port, token))
            for number in range(1, args.repeat + 1):
                for deployment in deployments:
                    _wait_idle(f"http://{lb.HOST}:{deployment.port}", deployment.token)
                    if args.warmup > 0:
                        run_load(
                            deployment.port, deployment.token, args.warmup, args.concurrency, seed=number
                        )
                    sampler = WaitSampler(pg_url) if deployment.name == "postgresql" else None
                    try:
                        result = run_load(
                            deployment.port, deployment.token, args.duration, args.concurrency, number
                        )
                    finally:
                        if sampler is not None:
                            waits.update(sampler.stop())
                    deployment.rounds.append(result)
                    lb.log(
                        f"round {number} {deployment.name:<10} {result.rps:7.1f} req/s, item-save p99 "
                        f"{result.percentile_ms('item-save', 99):7.1f} ms, "
                        f"errors {sum(result.errors.values())}"
                    )
                for server in servers:
                    if server.process.poll() is not None:
                        raise lb.BenchError(f"{server.name} exited:\n{server.tail()}")
            for server in servers:
                server.stop()
    except KeyboardInterrupt:
        lb.log("interrupted")
        return 130
    except lb.BenchError as error:
        lb.log(f"FAILED: {error}")
        return 1
    finally:
        for server in servers:
            server.stop()
    print_waits(waits)
    return report(deployments, args)


class WaitSampler:
    """What PostgreSQL's backends of the benchmark database do, every 0.5 s, in a thread:
    (wait event or "running", the statement's first words) for each active backend."""

    def __init__(self, url: str) -> None:
        import threading

        from sqlalchemy import create_engine

        self._engine = create_engine(url, isolation_level="AUTOCOMMIT")
        self._stop = threading.Event()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from sqlalchemy import text

        query = text(
            "SELECT coalesce(wait_event_type || '/' || wait_event, 'running') AS what, "
            "regexp_replace(left(query, 200), '\\s+', ' ', 'g') AS statement FROM pg_stat_activity "
            "WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()"
        )
        with self._engine.connect() as connection:
            while not self._stop.wait(0.5):
                for what, statement in connection.execute(query):
                    self._counts[(what, _statement_head(statement))] += 1

    def stop(self) -> Counter[tuple[str, str]]:
        self._stop.set()
        self._thread.join(timeout=10)
        self._engine.dispose()
        return self._counts


def _statement_head(statement: str) -> str:
    """``SELECT … FROM <table> … FOR NO KEY UPDATE`` style: enough to tell the statements apart."""
    words = statement.split()
    head = " ".join(words[:2])
    for keyword in ("FROM", "INTO", "UPDATE"):
        if keyword in words[1:]:
            index = words.index(keyword, 1)
            head = f"{words[0]} … {keyword} {words[index + 1] if index + 1 < len(words) else ''}"
            break
    for suffix in ("FOR NO KEY UPDATE", "FOR UPDATE", "FOR SHARE", "FOR KEY SHARE"):
        if suffix in statement:
            return f"{head} … {suffix}"
    return head


def print_waits(waits: Counter[tuple[str, str]]) -> None:
    total = sum(waits.values())
    if not total:
        return
    print()
    print(
        f"PostgreSQL backends during the measured rounds ({total} samples of active backends, every 0.5 s):"
    )
    for (what, statement), count in waits.most_common(12):
        print(f"  {count / total:6.1%}  {what:<26} {statement}")


def _latency_cell(result: Round, kind: str) -> str:
    p50, p99 = result.percentile_ms(kind, 50), result.percentile_ms(kind, 99)
    return f"{p50:.0f}/{p99:.0f} (n={len(result.latencies[kind])})"


def report(deployments: list[Deployment], args: argparse.Namespace) -> int:
    print()
    print(
        f"{args.concurrency} clients, {args.duration:g}s per round after {args.warmup:g}s warm-up, "
        f"median of {args.repeat} rounds; PostgreSQL: {args.api_processes} API processes + 1 worker"
    )
    header = f"{'deployment':<11} {'req/s':>7} {'rounds':<22}" + "".join(
        f" {kind + ' p50/p99 ms':>28}" for kind, _ in KINDS
    )
    print(header)
    print("-" * len(header))
    for deployment in deployments:
        median = deployment.median_round
        rounds = " ".join(f"{r.rps:.0f}" for r in deployment.rounds)
        cells = "".join(f" {_latency_cell(median, kind):>28}" for kind, _ in KINDS)
        print(f"{deployment.name:<11} {deployment.median_rps:7.1f} {rounds:<22}{cells}")
    errors = {d.name: sum(sum(r.errors.values()) for r in d.rounds) for d in deployments}
    for deployment in deployments:
        for sample in [s for r in deployment.rounds for s in r.samples][:5]:
            print(f"  {deployment.name} error: {sample}")
    lite, pg = deployments
    ratio = pg.median_rps / lite.median_rps if lite.median_rps else 0.0
    p99 = pg.median_round.percentile_ms("item-save", 99)
    ratio_ok = ratio >= TARGET_RATIO
    p99_ok = p99 <= TARGET_ITEM_SAVE_P99_MS
    print()
    print(
        f"PostgreSQL ÷ SQLite requests/s: {ratio:.2f}  "
        f"(target ≥ {TARGET_RATIO:.1f}: {'PASS' if ratio_ok else 'MISS'})"
    )
    print(
        f"PostgreSQL item-save p99: {p99:.0f} ms  (target ≤ {TARGET_ITEM_SAVE_P99_MS:.0f} ms: "
        f"{'PASS' if p99_ok else 'MISS'})"
    )
    print(f"errors: {errors}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    d.name: {
                        "median_rps": d.median_rps,
                        "rounds": [
                            {
                                "rps": r.rps,
                                "errors": r.errors,
                                "p50_ms": {k: r.percentile_ms(k, 50) for k, _ in KINDS},
                                "p99_ms": {k: r.percentile_ms(k, 99) for k, _ in KINDS},
                            }
                            for r in d.rounds
                        ],
                    }
                    for d in deployments
                },
                indent=2,
            )
        )
    return 0 if ratio_ok and p99_ok and not any(errors.values()) else 2


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--loadgen-worker":
        loadgen_worker(sys.argv[2])
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
