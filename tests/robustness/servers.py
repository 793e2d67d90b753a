"""The service served for real: in a thread of its own (uvicorn), or as `voke-esm serve`.

`ThreadedService` suits synchronous callers such as schemathesis: the app runs its lifespan in
its own event loop, so nothing of the app is shared with the test's loop. `ServiceProcess` is
the installed command, for tests that kill it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from tests.factories import ADMIN_EMAIL, ADMIN_PASSWORD
from voke_esm.core.db import create_engine, create_sessionmaker, session_scope
from voke_esm.voke.auth import service as auth_service

VOKE_ESM = Path(sys.executable).with_name("voke-esm")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base_url: str, *, timeout: float, alive: Callable[[], bool] | None = None) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            if alive is not None and not alive():
                raise RuntimeError(f"the service at {base_url} stopped while starting")
            try:
                if http.get(f"{base_url}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"{base_url} not ready within {timeout} s")


async def create_super_admin(database_url: str) -> None:
    """The tests' SuperAdmin, through an engine of its own (the app's stays unused until served)."""
    engine = create_engine(database_url)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            await auth_service.ensure_super_admin(
                session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD
            )
    finally:
        await engine.dispose()


@contextmanager
def threaded_service(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """uvicorn serving `app` (lifespan included) on a loopback port in a thread; yields its URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        proxy_headers=False,  # the loopback guard judges the TCP peer (CONTRACT §6)
        log_level="warning",
        log_config=None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, timeout=30, alive=thread.is_alive)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


class ServiceProcess:
    """`voke-esm serve` on a loopback port, with the environment given."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 60) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(VOKE_ESM), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_ready(self.base_url, timeout=timeout, alive=self.running)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{self.log.read_text()[-2000:]}") from None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill_9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.running():
            assert self.process is not None
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
