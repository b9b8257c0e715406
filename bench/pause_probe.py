"""Where does one big source-item save hold the interpreter? In-process, on SQLite.

One fresh SQLite database (``bench/datagen.py``: 2 sources, 1 stock, ``--skus`` SKUs), the app
in this process behind FastAPI's TestClient (event loop, writer thread and CPU thread as in
``openmsi serve``), then ``--saves`` times one ``POST /V1/inventory/source-items`` of ``--items``
items (about 20 MB for 280,000) on the stock's source. Meanwhile a thread sleeps 1 ms at a
time: whenever it wakes more than ``--threshold`` ms late, another thread held the interpreter
(or the machine was busy) that long, and it records the stacks of the app's threads right
then, i.e. where the long call just returned. ``gc.callbacks`` times every collection.

Prints the save's seconds and items/s, the pauses (longest first) with the innermost frames of
the writer thread, and the collections over 10 ms. On a busy machine a pause can be another
process's doing: look for the same stack in several runs. To compare two versions of the code,
run it with ``PYTHONPATH=<a copy of the other version's src>``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import datagen
import links_bench as lb


@dataclass
class Pause:
    ms: float
    stacks: dict[str, list[str]]


@dataclass
class Probe:
    threshold_s: float
    watch: bool = True  # False: no sleeper thread (it takes its own turns at the interpreter)
    pauses: list[Pause] = field(default_factory=list)
    delays_ms: list[float] = field(default_factory=list)  # every wake-up's lateness
    collections: list[tuple[int, float, int]] = field(default_factory=list)  # generation, ms, collected
    _stop: threading.Event = field(default_factory=threading.Event)
    _gc_started: float = 0.0

    def _watch(self) -> None:
        me = threading.get_ident()
        while not self._stop.is_set():
            before = time.perf_counter()
            time.sleep(0.001)
            late = time.perf_counter() - before - 0.001
            self.delays_ms.append(late * 1000)
            if late > self.threshold_s:
                frames = sys._current_frames()
                stacks: dict[str, list[str]] = {}
                for thread in threading.enumerate():
                    frame = frames.get(thread.ident or 0)
                    if (
                        frame is None
                        or thread.ident == me
                        or not thread.name.startswith(("openmsi", "Asyncio", "Main"))
                    ):
                        continue
                    summary = traceback.extract_stack(frame)
                    stacks[thread.name] = [
                        f"{Path(entry.filename).name}:{entry.lineno} {entry.name}: {entry.line}"
                        for entry in summary[-6:]
                    ]
                self.pauses.append(Pause(late * 1000, stacks))

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            elapsed = (time.perf_counter() - self._gc_started) * 1000
            self.collections.append((info["generation"], elapsed, info["collected"]))

    def __enter__(self) -> Probe:
        gc.callbacks.append(self._gc)
        self._thread = threading.Thread(target=self._watch, name="pause-probe", daemon=True)
        if self.watch:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self.watch:
            self._thread.join()
        gc.callbacks.remove(self._gc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=280_000)
    parser.add_argument("--saves", type=int, default=2)
    parser.add_argument("--threshold", type=float, default=20.0, help="ms")
    parser.add_argument("--show", type=int, default=15, help="pauses to print")
    parser.add_argument("--no-probe", action="store_true", help="no sleeper thread: the save's items/s alone")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from openmsi.app import create_app
    from openmsi.settings import Settings

    workdir = Path(tempfile.mkdtemp(prefix="openmsi-pause-probe-"))
    try:
        url = f"sqlite:///{workdir / 'openmsi.db'}"
        env = {**os.environ, "OPENMSI_DATABASE_URL": url, "OPENMSI_INDEX_INLINE_LIMIT": str(args.skus * 10)}
        lb.run_cli(["migrate"], env, workdir)
        lb.run_cli(
            ["admin", "create", "--username", lb.ADMIN_USERNAME, "--password", lb.ADMIN_PASSWORD],
            env,
            workdir,
        )
        settings = Settings(database_url=url, index_inline_limit=args.skus * 10)
        app = create_app(settings)
        generated = datagen.generate(app.state.database.engine, sources=2, stocks=1, skus=args.skus)
        stock_id = generated.stock_ids[0]
        source = generated.links[stock_id][0]
        with TestClient(app) as client:
            response = client.post(
                "/rest/V1/integration/admin/token",
                json={"username": lb.ADMIN_USERNAME, "password": lb.ADMIN_PASSWORD},
            )
            client.headers["Authorization"] = f"Bearer {response.json()}"
            for number in range(args.saves):
                items = [
                    {
                        "sku": datagen.sku(n),
                        "source_code": source,
                        "quantity": (n + number) % 97 + 1,
                        "status": 1,
                    }
                    for n in range(args.items)
                ]
                body = json.dumps({"sourceItems": items}, separators=(",", ":")).encode()
                del items
                gc.collect()
                with Probe(args.threshold / 1000, watch=not args.no_probe) as probe:
                    started = time.perf_counter()
                    response = client.post(
                        "/rest/V1/inventory/source-items",
                        content=body,
                        headers={"Content-Type": "application/json"},
                    )
                    seconds = time.perf_counter() - started
                if response.status_code != 200:
                    raise SystemExit(f"save answered {response.status_code}: {response.text[:300]}")
                pauses = sorted(probe.pauses, key=lambda pause: -pause.ms)
                delays = sorted(probe.delays_ms) or [0.0]
                print(
                    f"\nsave {number + 1}: {len(body) / 1e6:.1f} MB, {args.items:,} items, {seconds:.2f} s, "
                    f"{args.items / seconds:,.0f} items/s; pauses > {args.threshold:g} ms: {len(pauses)}, "
                    f"longest {pauses[0].ms if pauses else 0:.0f} ms, "
                    f"total {sum(pause.ms for pause in pauses):.0f} ms; wake-up delay p50 "
                    f"{delays[len(delays) // 2]:.1f} ms, p99 {delays[len(delays) * 99 // 100]:.1f} ms, "
                    f"in switch interval {sys.getswitchinterval() * 1000:g} ms"
                )
                for pause in pauses[: args.show]:
                    print(f"  {pause.ms:6.0f} ms")
                    for name, stack in pause.stacks.items():
                        if not name.startswith("openmsi-writer"):
                            continue
                        print(f"    [{name}]")
                        for line in stack:
                            print(f"      {line}")
                slow = [c for c in probe.collections if c[1] > 10]
                print(
                    f"  collections: {len(probe.collections)} "
                    f"({sum(1 for c in probe.collections if c[0] == 2)} of generation 2); over 10 ms: "
                    + ", ".join(f"gen{g} {ms:.0f} ms" for g, ms, _ in slow)
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
