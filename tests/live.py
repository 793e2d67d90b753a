"""Apps served on real loopback ports, for the tests of Voke's ESM client (CONTRACT §7).

The sandbox is the `app` fixture (SQLite and PostgreSQL) served by uvicorn in the test's own
event loop; the `api` fixture drives the Voke side in-process while Voke's ESM client reaches the
sandbox over real TCP at the `esmApiUrl` that enabling an org returns.

The fixtures are in tests/voke/client/conftest.py (the live sandbox) and tests/conftest.py
(`closed_port`); these are the helpers they and the tests share.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

SANDBOX_PREFIX = "/api/v1/voke-esm"


def bound_socket() -> socket.socket:
    """A socket bound to a free loopback port: listening once served, refusing until then."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


@asynccontextmanager
async def serving(app: ASGIApp, sock: socket.socket) -> AsyncIterator[str]:
    """uvicorn serving `app` on `sock` inside the running loop; yields its base URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port_of(sock),
        proxy_headers=False,  # the loopback guard must see the real TCP peer (CONTRACT §6)
        log_level="warning",
        log_config=None,
        lifespan="off",  # the `app` fixture already ran the app's lifespan
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if task.done():
                task.result()  # raises what made the server fail
                raise RuntimeError("uvicorn stopped before it started")
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 10 s")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port_of(sock)}"
    finally:
        server.should_exit = True
        await task


def live_settings(sandbox_url: str, **overrides: Any) -> dict[str, Any]:
    """Settings overrides for an app whose `esmApiUrl` is the live sandbox."""
    return {"voke_esm_internal_url": sandbox_url, **overrides}


class RecordingTransport(httpx.AsyncHTTPTransport):
    """A real HTTP transport that notes `(method, path, status)` of every answered request."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        self.calls.append((request.method, request.url.path, response.status_code))
        return response

    def to(self, path: str) -> list[tuple[str, int]]:
        """`(method, status)` of the calls to the sandbox path, e.g. `/trading/token`."""
        return [
            (method, status)
            for method, called, status in self.calls
            if called == SANDBOX_PREFIX + path
        ]


async def eventually(
    condition: Callable[[], bool], *, timeout: float, what: str, step: float = 0.05
) -> None:
    """Wait until `condition()` holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        await asyncio.sleep(step)


def waiting_on_rate_limit(caplog: pytest.LogCaptureFixture) -> Callable[[], bool]:
    """True once Voke's ESM client has logged that it waits out a 429's Retry-After."""

    def condition() -> bool:
        return any(
            record.levelno >= logging.INFO and "waiting" in record.getMessage()
            for record in caplog.records
            if record.name.startswith("voke_esm") and "rate limited" in record.getMessage()
        )

    return condition
