"""What failed logins cost everyone else: an authenticated GET's latency, idle and while
anonymous clients hammer the token route with wrong credentials, on SQLite.

One run builds a fresh SQLite database in a temporary folder, creates an admin with
``openmsi admin create``, starts ``openmsi serve`` (one process) on a free loopback port and
takes a token. Then, for each round:

- ``idle``: one client sends ``GET /rest/V1/inventory/sources/default`` (bearer token), one
  request at a time, for ``--duration`` seconds and at least ``--min-samples`` answers (at most
  120 s): p50/p99 of its latency;
- ``logins``: the same, while ``--clients`` connections (8) post
  ``POST /rest/V1/integration/admin/token`` with a fresh random username and a wrong password
  each time (each one costs an argon2 verify, ~140 ms of CPU; a fixed username would be locked
  after 6 and cost nothing).

The table shows the median of the rounds (3) for each figure, every round's figure beside it,
and the ratio of the p50 under logins to the idle p50 measured in the same rounds. At the end
it prints how many rows the failure table holds, against ``OPENMSI_LOGIN_FAILURE_MAX_ROWS``
(set to ``--max-rows``). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import links_bench as lb

GET_PATH = "/rest/V1/inventory/sources/default"
TOKEN_PATH = "/rest/V1/integration/admin/token"
MAX_PROBE_SECONDS = 120.0


@dataclass
class Probe:
    samples: int
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass
class Round:
    idle: Probe
    logins: Probe
    failed_logins_per_s: float


def _worker(mode: str, spec: dict[str, Any]) -> subprocess.Popen[str]:
    """This file in a worker mode, in its own process (its own GIL)."""
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), mode, json.dumps(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(process: subprocess.Popen[str], what: str, timeout: float) -> dict[str, Any]:
    out, err = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise lb.BenchError(f"the {what} failed:\n{err}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    header = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=MAX_PROBE_SECONDS)
    lines = header.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return int(lines[0].split(" ", 2)[1])


async def _hammer(spec: dict[str, Any]) -> dict[str, Any]:
    """Failed logins with fresh random usernames on C connections, until the stop file appears."""
    port: int = spec["port"]
    stop = Path(spec["stop_file"])
    statuses: dict[int, int] = {}

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(lb.HOST, port)
        try:
            while not stop.exists():
                body = json.dumps({"username": f"u-{secrets.token_hex(8)}", "password": "wrong"}).encode()
                head = (
                    f"POST {TOKEN_PATH} HTTP/1.1\r\nHost: {lb.HOST}:{port}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                )
                status = await _exchange(reader, writer, head.encode() + body)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(connection() for _ in range(int(spec["clients"]))))
    return {"statuses": statuses, "seconds": time.monotonic() - started}


async def _probe(spec: dict[str, Any]) -> dict[str, Any]:
    """One client, one GET at a time, for the duration and at least min_samples answers (at
    most MAX_PROBE_SECONDS): a slow server gives fewer samples, never none."""
    port: int = spec["port"]
    request = (
        f"GET {GET_PATH} HTTP/1.1\r\nHost: {lb.HOST}:{port}\r\nAuthorization: Bearer {spec['token']}\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    errors = 0
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(lb.HOST, port)
    try:
        while time.monotonic() - started < MAX_PROBE_SECONDS:
            enough = len(latencies) >= int(spec["min_samples"])
            if enough and time.monotonic() - started >= float(spec["seconds"]):
                break
            sent = time.perf_counter()
            status = await _exchange(reader, writer, request)
            latencies.append(time.perf_counter() - sent)
            errors += status != 200
    finally:
        writer.close()
    ordered = sorted(latencies)

    def percentile(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1e3

    return {"samples": len(ordered), "p50_ms": percentile(50), "p99_ms": percentile(99), "errors": errors}


def probe(port: int, token: str, options: argparse.Namespace) -> Probe:
    spec = {"port": port, "token": token, "seconds": options.duration, "min_samples": options.min_samples}
    return Probe(**_result(_worker("--probe-worker", spec), "GET client", MAX_PROBE_SECONDS + 60))


def run_round(port: int, token: str, options: argparse.Namespace, workdir: Path) -> Round:
    idle = probe(port, token, options)
    stop_file = workdir / "stop-logins"
    stop_file.unlink(missing_ok=True)
    attack = _worker(
        "--hammer-worker", {"port": port, "clients": options.clients, "stop_file": str(stop_file)}
    )
    try:
        time.sleep(options.warmup)
        logins = probe(port, token, options)
    finally:
        stop_file.touch()
    result = _result(attack, "login clients", MAX_PROBE_SECONDS + 60)
    statuses = {int(k): v for k, v in result["statuses"].items()}
    if set(statuses) - {401}:
        raise lb.BenchError(f"failed logins answered {statuses}")
    return Round(idle, logins, statuses.get(401, 0) / result["seconds"])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of logins before measuring")
    parser.add_argument("--clients", type=int, default=8, help="connections failing logins")
    parser.add_argument("--max-rows", type=int, default=10000, help="OPENMSI_LOGIN_FAILURE_MAX_ROWS")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--min-samples", type=int, default=20, help="GET answers per measurement, at least")
    parser.add_argument("--hammer-worker", help=argparse.SUPPRESS)
    parser.add_argument("--probe-worker", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.hammer_worker:
        print(json.dumps(asyncio.run(_hammer(json.loads(options.hammer_worker)))))
        return 0
    if options.probe_worker:
        print(json.dumps(asyncio.run(_probe(json.loads(options.probe_worker)))))
        return 0

    with tempfile.TemporaryDirectory(prefix="openmsi-login-bench-") as raw_workdir:
        workdir = Path(raw_workdir)
        url = f"sqlite:///{workdir / 'openmsi.db'}"
        env = {
            **os.environ,
            "OPENMSI_DATABASE_URL": url,
            "OPENMSI_LOGIN_FAILURE_MAX_ROWS": str(options.max_rows),
        }
        lb.run_cli(["migrate"], env, workdir)
        lb.run_cli(
            ["admin", "create", "--username", lb.ADMIN_USERNAME, "--password", lb.ADMIN_PASSWORD],
            env,
            workdir,
        )
        port = lb.free_port()
        argv_serve = [str(lb.VENV_BIN / "openmsi"), "serve", "--port", str(port)]
        server = lb.Server("openmsi", argv_serve, env, workdir, port)
        try:
            server.wait_ready("/rest/V1/store/websites")
            import httpx

            response = httpx.post(
                f"http://{lb.HOST}:{port}{TOKEN_PATH}",
                json={"username": lb.ADMIN_USERNAME, "password": lb.ADMIN_PASSWORD},
            )
            lb._expect(response, "token")
            token = response.json()
            rounds = []
            for index in range(options.rounds):
                rounds.append(run_round(port, token, options, workdir))
                last = rounds[-1]
                lb.log(
                    f"round {index + 1}: idle p50 {last.idle.p50_ms:.1f} ms, under logins "
                    f"p50 {last.logins.p50_ms:.1f} ms ({last.failed_logins_per_s:.1f} failed logins/s)"
                )
        finally:
            server.stop()
        with sqlite3.connect(workdir / "openmsi.db") as connection:
            failure_rows = connection.execute("SELECT COUNT(*) FROM admin_login_failure").fetchone()[0]

    def figures(values: list[float]) -> str:
        return f"{statistics.median(values):8.1f}   ({', '.join(f'{v:.1f}' for v in values)})"

    idle_p50 = [r.idle.p50_ms for r in rounds]
    logins_p50 = [r.logins.p50_ms for r in rounds]
    print()
    print(f"authenticated GET {GET_PATH}, one client; {options.clients} clients failing logins; SQLite")
    print(f"{'':32} median   (rounds)")
    print(f"{'idle p50 ms':32}{figures(idle_p50)}")
    print(f"{'idle p99 ms':32}{figures([r.idle.p99_ms for r in rounds])}")
    print(f"{'under logins p50 ms':32}{figures(logins_p50)}")
    print(f"{'under logins p99 ms':32}{figures([r.logins.p99_ms for r in rounds])}")
    print(f"{'failed logins/s':32}{figures([r.failed_logins_per_s for r in rounds])}")
    ratios = [b / a for a, b in zip(idle_p50, logins_p50, strict=True) if a > 0]
    print(f"{'p50 under logins / idle p50':32}{figures(ratios)}")
    print(f"{'GET samples idle / under logins':32}{figures([float(r.idle.samples) for r in rounds])}", end="")
    print(f"  /{figures([float(r.logins.samples) for r in rounds])}")
    print(f"{'GET errors':32}{sum(r.idle.errors + r.logins.errors for r in rounds):8d}")
    print(
        f"admin_login_failure rows at the end: {failure_rows} "
        f"(OPENMSI_LOGIN_FAILURE_MAX_ROWS={options.max_rows})"
    )
    if options.json:
        options.json.write_text(
            json.dumps(
                {
                    "rounds": [
                        {
                            "idle_samples": r.idle.samples,
                            "logins_samples": r.logins.samples,
                            "idle_p50_ms": r.idle.p50_ms,
                            "idle_p99_ms": r.idle.p99_ms,
                            "logins_p50_ms": r.logins.p50_ms,
                            "logins_p99_ms": r.logins.p99_ms,
                            "failed_logins_per_s": r.failed_logins_per_s,
                        }
                        for r in rounds
                    ],
                    "failure_rows": failure_rows,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
