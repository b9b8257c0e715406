"""The framework layer is a leaf: the services, repositories, validators, the indexer and the
jobs run in the CLI and the worker without FastAPI or Starlette (STYLE.md, "Rules that keep it
flat"), and errors, webapi and service_input no longer import each other in a cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import openmsi

PACKAGE = Path(openmsi.__file__).parent
# Everything below HTTP: nothing here may pull in the web framework, even indirectly.
LEAVES = [
    "openmsi.settings",
    "openmsi.db",
    "openmsi.models",
    "openmsi.schema",
    "openmsi.health",
    "openmsi.errors",
    "openmsi.service_input",
    "openmsi.search_criteria",
    "openmsi.phpjson",
    "openmsi.piecewise_json",
    "openmsi.pieces",
    "openmsi.openapi",
    "openmsi.jobs",
    "openmsi.idempotency",
    "openmsi.worker",
    "openmsi.auth",
    "openmsi.admin.service",
    "openmsi.admin.sessions",
    "openmsi.indexer.service",
    "openmsi.indexer.repository",
    "openmsi.indexer.schemas",
    "openmsi.inventory.service",
    "openmsi.inventory.repository",
    "openmsi.inventory.source_items",
    "openmsi.inventory.bulk",
    "openmsi.inventory.validators",
    "openmsi.inventory.schemas",
    "openmsi.sales.configuration",
    "openmsi.sales.salable",
    "openmsi.sales.repository",
    "openmsi.sales.reservations",
    "openmsi.sales.consistency",
    "openmsi.sales.consistency_repository",
    "openmsi.sales.schemas",
    "openmsi.export.service",
    "openmsi.export.repository",
    "openmsi.export.schemas",
    "openmsi.low_quantity.service",
    "openmsi.low_quantity.repository",
    "openmsi.low_quantity.schemas",
    "openmsi.store.service",
    "openmsi.store.repository",
    "openmsi.store.schemas",
    "openmsi.orders.service",
    "openmsi.orders.repository",
    "openmsi.orders.schemas",
    "openmsi.source_selection.service",
    "openmsi.source_selection.repository",
    "openmsi.source_selection.distance",
    "openmsi.source_selection.geonames",
    "openmsi.source_selection.schemas",
]


def test_leaf_modules_import_no_web_framework() -> None:
    # A fresh interpreter: this test process has FastAPI loaded already.
    script = (
        "import importlib, sys\n"
        f"for name in {LEAVES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'starlette'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_every_leaf_module_is_listed() -> None:
    """A new service or repository module joins the list above (or the test says why not)."""
    framework = {"app", "runtime", "webapi", "auth", "cli", "__main__", "observability"}
    modules = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).with_suffix("")
        parts = relative.parts
        if parts[0] == "migrations" or parts[-1] in ("__init__", "router") or parts[0] in framework:
            continue
        modules.add(".".join(("openmsi", *parts)))
    assert modules - set(LEAVES) == set(), "add them to LEAVES"


def _imports(module_path: Path) -> set[str]:
    tree = ast.parse(module_path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_errors_and_service_input_do_not_import_the_web_layer() -> None:
    for name in ("errors", "service_input", "search_criteria"):
        imported = _imports(PACKAGE / f"{name}.py")
        assert not {"openmsi.webapi", "openmsi.runtime", "openmsi.app"} & imported, name
