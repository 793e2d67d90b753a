"""Baseline 1 for bench/run.py: bare Starlette serving the service's own response bytes from memory.

It answers the benchmarked paths with the bytes that bench/run.py captured from the real service
(file named by BENCH_RESPONSES), reading each request body as the service does, so the gap to the
service is everything the service does beyond HTTP parsing and routing: auth, the limiter,
the database, validation and serialization. Served by uvicorn exactly as `voke-esm serve` does.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TRADING = "/api/v1/voke-esm/trading"
ADMIN = "/api/v1/voke-esm/admin"


def build_app(responses: dict[str, str]) -> Starlette:
    bodies = {name: text.encode() for name, text in responses.items()}

    def static(name: str, *, read_body: bool = False) -> object:
        payload = bodies[name]

        async def endpoint(request: Request) -> Response:
            if read_body:
                await request.body()
            return Response(payload, media_type="application/json")

        return endpoint

    return Starlette(
        routes=[
            Route("/readyz", static("readyz")),
            Route(f"{TRADING}/token", static("token", read_body=True), methods=["POST"]),
            Route(f"{TRADING}/plant/list", static("plant_list")),
            Route(f"{TRADING}/plant/config", static("plant_config")),
            Route(
                f"{TRADING}/plant/config/update",
                static("config_update", read_body=True),
                methods=["POST"],
            ),
            Route(f"{ADMIN}/plants", static("admin_plants")),
        ]
    )


def load_responses() -> dict[str, str]:
    responses: dict[str, str] = json.loads(Path(os.environ["BENCH_RESPONSES"]).read_text())
    return {**responses, "readyz": '{"message":"ready"}'}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The same uvicorn options as `voke-esm serve` (src/voke_esm/cli.py), default logging included.
    uvicorn.run(
        build_app(load_responses()),
        host="127.0.0.1",
        port=args.port,
        proxy_headers=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
