"""The container files, tested without a Docker engine (there is none on this project's machines).

- The Dockerfile: a non-root user, the /data volume made and owned by that user before it is
  declared, the SQLite URL under /data, a health check on /health/ready with Python's urllib
  (the slim image has no curl); then the image's start command and health check run as they
  are, on this machine, with /data replaced by a temporary folder: `docker run -p 8080:8080 IMAGE`
  must need nothing else.
- docker-compose.yml: valid against the Compose Specification's JSON schema (vendored in
  tests/data, see tests/data/README.md), and the start-up order that survives a fresh volume.

What only a Docker engine could show (the image builds, the user can write to a new volume,
compose's ordering at run time) is listed in the README, "Container".
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COMPOSE_SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions in order, (KEYWORD, arguments), continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def instruction(keyword: str) -> str:
    (found,) = [arguments for name, arguments in dockerfile() if name == keyword]
    return found


def exec_form(arguments: str) -> list[str]:
    parsed: list[str] = json.loads(arguments)
    return parsed


def test_the_image_runs_as_a_user_that_owns_its_data_volume() -> None:
    steps = dockerfile()
    keywords = [name for name, _ in steps]
    user = instruction("USER")
    assert user not in ("root", "0", "")
    assert instruction("VOLUME") == "/data"
    run = " ".join(arguments for name, arguments in steps if name == "RUN")
    assert "useradd" in run and f" {user}" in run
    assert "mkdir -p /data" in run
    assert f"chown {user}:{user} /data" in run
    # Changes to a volume's path after VOLUME are discarded: /data is made and handed over first,
    # and the user switch comes after the last RUN.
    last_run = max(index for index, name in enumerate(keywords) if name == "RUN")
    assert last_run < keywords.index("VOLUME") < keywords.index("USER")
    env = [shlex.split(arguments) for name, arguments in steps if name == "ENV"]
    assert ["OPENMSI_DATABASE_URL=sqlite:////data/openmsi.db"] in env


def test_the_health_check_asks_for_readiness_without_curl() -> None:
    options, _, command = instruction("HEALTHCHECK").partition(" CMD ")
    assert "--interval" in options
    argv = exec_form(command)
    assert argv[:2] == ["python", "-c"]
    assert "http://127.0.0.1:8080/health/ready" in argv[2]
    assert "curl" not in instruction("HEALTHCHECK")
    compile(argv[2], "HEALTHCHECK", "exec")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _on_this_machine(argv: list[str], port: int) -> list[str]:
    """An image command as it runs here: this venv's `openmsi` and `python`, a free port."""
    program = {"openmsi": str(BIN / "openmsi"), "python": sys.executable}[argv[0]]
    return [part.replace("8080", str(port)) for part in [program, *argv[1:]]]


def test_the_start_command_serves_a_fresh_sqlite_volume(tmp_path: Path) -> None:
    """`docker run -p 8080:8080 IMAGE`: CMD on an empty /data creates and migrates the database,
    and the HEALTHCHECK command then passes; before that it fails."""
    data = tmp_path / "data"
    data.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "OPENMSI_DATABASE_URL": "sqlite:////data/openmsi.db".replace("/data", str(data)),
    }
    health = _on_this_machine(exec_form(instruction("HEALTHCHECK").partition(" CMD ")[2]), port)
    assert subprocess.run(health, env=env, capture_output=True, timeout=60).returncode != 0
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            _on_this_machine(exec_form(instruction("CMD")), port),
            env=env, cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            checked = subprocess.run(health, env=env, capture_output=True, timeout=60)
            if checked.returncode == 0:
                break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        assert (data / "openmsi.db").is_file()
        # What the README tells the user to run next, with `docker exec`.
        created = subprocess.run(
            [str(BIN / "openmsi"), "admin", "create", "--username", "admin", "--password", "admin123"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    # A graceful stop (uvicorn re-raises the signal once it has shut down: `docker stop` sees 143).
    assert server.returncode in (0, -signal.SIGTERM), log.read_text()
    assert "Finished server process" in log.read_text()


# --- docker-compose.yml ---------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_compose_file_follows_the_compose_specification() -> None:
    validator().validate(compose())


def test_the_schema_check_would_catch_a_mistake() -> None:
    broken = compose()
    broken["services"]["api"]["depends_on"]["migrate"]["condition"] = "service_finished"
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(broken)


def test_compose_starts_in_order_on_a_fresh_volume() -> None:
    services = compose()["services"]
    # PostgreSQL's init scripts run on a server reachable by its Unix socket only: ask over TCP.
    postgres_check = services["postgres"]["healthcheck"]["test"]
    assert postgres_check[:2] == ["CMD", "pg_isready"]
    assert postgres_check[postgres_check.index("-h") + 1] == "127.0.0.1"
    migrate = services["migrate"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["command"][:2] == ["openmsi", "migrate"]
    assert int(migrate["command"][migrate["command"].index("--wait") + 1]) >= 30
    assert migrate["healthcheck"] == {"disable": True}
    for name in ("api", "worker"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    api_check = services["api"]["healthcheck"]["test"]
    assert api_check[:3] == ["CMD", "python", "-c"]
    assert "http://127.0.0.1:8080/health/ready" in api_check[3]
    compile(api_check[3], "api healthcheck", "exec")
    # The worker has no HTTP port: the same readiness test, run as a command (tests/test_health.py).
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "python", "-m", "openmsi.health"]


def test_the_compose_commands_exist() -> None:
    """Each service's command parses with this version's `openmsi` (`--help` after them)."""
    for name, service in compose()["services"].items():
        command = service.get("command")
        if not command or command[0] != "openmsi":
            continue
        result = subprocess.run(
            [str(BIN / "openmsi"), *command[1:], "--help"], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, (name, result.stderr)
