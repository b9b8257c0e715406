"""The README's walkthrough, run as printed against a real `openmsi serve` on SQLite."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from admin_pages import form_key, table

README = Path(__file__).resolve().parents[1] / "README.md"
BIN = Path(sys.executable).parent


def _walkthrough_commands() -> str:
    text = README.read_text()
    section = text.split("## Walkthrough", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert blocks, "the README walkthrough has no shell blocks"
    return "\n".join(blocks)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_serving(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"openmsi serve exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/rest/V1/store/websites", timeout=1)
        except urllib.error.HTTPError:
            return  # 401 without a token: it is serving
        except OSError:
            time.sleep(0.1)
    raise AssertionError("openmsi serve did not start")


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough uses curl")
def test_walkthrough_runs_as_printed(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMSI_")}
    openmsi = str(BIN / "openmsi")
    # The quick start's set-up: create the database, then the admin user.
    for command in (["migrate"], ["admin", "create", "--username", "admin", "--password", "admin123"]):
        setup = subprocess.run(
            [openmsi, *command], cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert setup.returncode == 0, setup.stderr
    server = subprocess.Popen(
        [openmsi, "serve", "--port", str(port)], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_until_serving(port, server)
        script = _walkthrough_commands().replace(".venv/bin/", f"{BIN}/").replace(":8080", f":{port}")
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        stocks_grid = _admin_stocks_grid(port)
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    # Two websites, six sources ([] each), two stocks (2 and 3), the link POST ([]), two reads.
    assert lines[2:8] == ["[]"] * 6
    assert lines[8:10] == ["2", "3"]
    assert lines[10] == "[]"
    assert [source["source_code"] for source in json.loads(lines[11])] == [
        "baltimore_wh", "austin_wh", "reno_wh", "hq",
    ]  # fmt: skip
    printed = re.search(r"which prints\n\n```json\n(.*?)\n```", README.read_text(), flags=re.S)
    assert printed is not None
    assert json.loads(lines[12]) == json.loads(printed.group(1))
    # Source items ([]), four salable quantities, the link delete ([]), Europe's 24-WB03 again.
    assert lines[13:20] == ["[]", "70", "44", "30", "40", "[]", "15"]
    # Source selection by priority, then by fewest-splits, as the README prints them.
    section = README.read_text().split("## Walkthrough", 1)[1].split("\n## ", 1)[0]
    selections = re.findall(r"```json\n(.*?)\n```", section, flags=re.S)[1:3]
    assert len(selections) == 2
    assert [json.loads(line) for line in lines[20:22]] == [json.loads(block) for block in selections]
    # The partial transfer ([]) and both stocks' 24-WB01; the refused one and Europe's again.
    assert lines[22:25] == ["[]", "75", "25"]
    refused = re.search(
        r"Europe still has 25:\n.*?which prints\n\n```json\n(.*?)\n```", README.read_text(), flags=re.S
    )
    assert refused is not None
    assert json.loads(lines[25]) == json.loads(refused.group(1))
    assert lines[26] == "25"
    # Orders: the placed order and 73, the refused one, the shipment, Baltimore's item and 73.
    orders = README.read_text().split("### Orders: place", 1)[1].split("\n## ", 1)[0]
    printed_order, refused_order, baltimore = (
        json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", orders, flags=re.S)
    )
    order = json.loads(lines[27])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", order["created_at"])
    assert order == {**printed_order, "created_at": order["created_at"]}
    assert lines[28] == "73"
    assert json.loads(lines[29]) == refused_order
    shipped = json.loads(lines[30])
    assert shipped["status"] == "complete"
    assert shipped["items"] == [{**printed_order["items"][0], "qty_shipped": 2, "qty_open": 0}]
    assert json.loads(lines[31]) == baltimore
    assert lines[32:] == ["73"]
    # "Admin pages": sign in at /admin and see Step 4's "Verify this step", the Stocks grid.
    assert [row[:4] for row in stocks_grid] == [
        ["1", "Default Stock", "Websites: Main Website", "Default Source"],
        ["2", "North America Stock", "Websites: North America Site",
         "Baltimore Warehouse, Austin Warehouse, Reno Warehouse, Headquarters"],
        ["3", "Europe Stock", "Websites: Europe Site", "Berlin Warehouse, Frankfurt Warehouse"],
    ]  # fmt: skip


def _admin_stocks_grid(port: int) -> list[list[str]]:
    """Open http://127.0.0.1:<port>/admin, sign in as the README says, read the Stocks grid."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=True) as browser:
        login = browser.get("/admin")
        assert str(login.url).endswith("/admin/login")
        credentials = {"username": "admin", "password": "admin123", "form_key": form_key(login.text)}
        grid = browser.post("/admin/login", data=credentials)
        assert grid.status_code == 200 and str(grid.url).endswith("/admin/stocks")
        return table(grid.text, "stocks")
