"""How long can decoding a 20 MB body keep other threads waiting? (issue 7)

Decodes the 280,000-item save body of ``loop_bench.py`` with ``webapi.decode_json_body``,
alternately in one piece (``json.loads``) and in pieces (``piecewise_json``), while a thread
beside it sleeps 1 ms at a time and records how long each sleep really took: the longest is the
longest time the decoding kept the interpreter lock from the other threads (the event loop).
Prints, per round, the decoding time and the longest and five longest gaps, then the medians.

    .venv/bin/python bench/decode_bench.py [--repeat 3] [--items 280000]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import threading
import time

from openmsi import webapi


def measure(body: bytes, threshold: int) -> tuple[float, list[float]]:
    webapi.PIECEWISE_DECODE_BYTES = threshold
    gaps: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    time.sleep(0.05)
    started = time.perf_counter()
    decoded = webapi.decode_json_body(body)
    elapsed = time.perf_counter() - started
    stop.set()
    ticker.join()
    del decoded
    gc.collect()
    return elapsed, sorted(gaps)[-5:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--items", type=int, default=280_000)
    options = parser.parse_args()
    items = [
        {"sku": f"SKU-{n:07}", "source_code": "gen_src_00", "quantity": n % 97 + 1, "status": 1}
        for n in range(options.items)
    ]
    body = json.dumps({"sourceItems": items}, separators=(",", ":")).encode()
    del items
    gc.collect()
    print(f"body: {len(body) / 1e6:.1f} MB, {options.items:,} items")
    results: dict[str, list[tuple[float, list[float]]]] = {"one piece": [], "in pieces": []}
    thresholds = {"one piece": len(body), "in pieces": webapi.PIECEWISE_DECODE_BYTES}
    for _ in range(options.repeat):
        for name, threshold in thresholds.items():
            elapsed, longest = measure(body, threshold)
            results[name].append((elapsed, longest))
            gaps_ms = [round(gap * 1000) for gap in longest]
            print(f"{name:9}  {elapsed * 1000:6.0f} ms  longest gaps (ms) {gaps_ms}")
    for name, rounds in results.items():
        decode_ms = statistics.median(elapsed for elapsed, _ in rounds) * 1000
        gap_ms = statistics.median(longest[-1] for _, longest in rounds) * 1000
        print(f"median {name:9}: decoding {decode_ms:.0f} ms, longest gap {gap_ms:.0f} ms")


if __name__ == "__main__":
    main()
