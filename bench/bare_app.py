"""The ceiling for ``links_bench.py``: a bare FastAPI app with one constant JSON endpoint.

``GET /bare`` answers a constant body shaped and sized like the answer of
``GET /rest/V1/inventory/get-sources-assigned-to-stock-ordered-by-priority/2`` on the tutorial
data (four sources). No database, no auth, no middleware: what FastAPI + uvicorn cost by
themselves on this machine.

Served exactly as ``openmsi serve`` serves openmsi (``src/openmsi/cli.py``): ``uvicorn.run`` of
an app factory, one worker, ``log_level="info"``, ``access_log=False``::

    .venv/bin/python bench/bare_app.py --host 127.0.0.1 --port 8090
"""

from __future__ import annotations

import argparse
from typing import Any

from fastapi import FastAPI


def _source(code: str, name: str, postcode: str, country: str) -> dict[str, Any]:
    return {
        "source_code": code,
        "name": name,
        "enabled": True,
        "country_id": country,
        "postcode": postcode,
        "use_default_carrier_config": True,
        "carrier_links": [],
        "extension_attributes": {"is_pickup_location_active": False, "frontend_name": name},
    }


BODY: list[dict[str, Any]] = [
    _source("baltimore_wh", "Baltimore Warehouse", "21201", "US"),
    _source("austin_wh", "Austin Warehouse", "73301", "US"),
    _source("reno_wh", "Reno Warehouse", "89501", "US"),
    _source("hq", "Headquarters", "10001", "US"),
]


def create_app() -> FastAPI:
    app = FastAPI(title="bare", docs_url=None, redoc_url=None, openapi_url=None, redirect_slashes=False)

    @app.get("/bare")
    async def bare() -> Any:
        return BODY

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    # The same call as `openmsi serve` (workers=1 is its default).
    uvicorn.run(
        "bare_app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=1,
        log_level="info",
        access_log=False,
    )


if __name__ == "__main__":
    main()
