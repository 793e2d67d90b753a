"""The sandbox served on a real loopback port for Voke's ESM client to reach (CONTRACT §7).

Every test here runs the `app` fixture with `esmApiUrl` pointing at `sandbox_socket`'s port, so
that what enabling an org returns is where the live sandbox listens.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from tests.live import SANDBOX_PREFIX, bound_socket, live_settings, port_of, serving


@pytest.fixture(name="sandbox_socket")
def sandbox_socket_fixture() -> Iterator[socket.socket]:
    sock = bound_socket()
    try:
        yield sock
    finally:
        sock.close()


@pytest.fixture(name="sandbox_url")
def sandbox_url_fixture(sandbox_socket: socket.socket) -> str:
    """The sandbox's `esmApiUrl`: chosen before the app is built, so its settings can carry it."""
    return f"http://127.0.0.1:{port_of(sandbox_socket)}{SANDBOX_PREFIX}"


@pytest.fixture(name="settings_overrides")
def settings_overrides_fixture(sandbox_url: str) -> dict[str, Any]:
    return live_settings(sandbox_url)


@pytest.fixture(name="live_sandbox")
async def live_sandbox_fixture(app: FastAPI, sandbox_socket: socket.socket) -> AsyncIterator[str]:
    """The `app` served on its loopback port; yields the base URL (no path)."""
    async with serving(app, sandbox_socket) as base_url:
        yield base_url
