"""Shared fixtures: the app over HTTP on a real database, a SuperAdmin, and service markers.

Every API test runs twice: on SQLite (a copy of a migrated template per test) and on
PostgreSQL (one migrated database for the run, truncated before each test). The schema always
comes from the Alembic migrations, so they are tested too.

Markers `postgres`, `redis`, `rabbitmq` and `browser` name the services a test needs. Outside CI a
missing service skips the test with a one-line reason; under CI=true it fails the test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.factories import ADMIN_EMAIL, ADMIN_PASSWORD, Api, EnabledOrg, bootstrap_admin
from tests.live import bound_socket, port_of
from voke_esm.app import create_app
from voke_esm.core.config import Settings
from voke_esm.migrations import upgrade_to_head

T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_HOST = os.environ.get("VOKE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("VOKE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("VOKE_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("VOKE_TEST_PG_DB", "test")
REDIS_URL = os.environ.get("VOKE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
AMQP_URL = os.environ.get("VOKE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
CHROMIUM = Path(os.environ.get("VOKE_TEST_CHROMIUM", "/usr/bin/chromium"))

_SERVICE_PORTS = {
    "postgres": (PG_HOST, PG_PORT),
    "redis": ("127.0.0.1", 6379),
    "rabbitmq": ("127.0.0.1", 5672),
}


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _service_missing(name: str) -> str | None:
    if name == "browser":
        return None if CHROMIUM.exists() else f"Chromium not found at {CHROMIUM}"
    host, port = _SERVICE_PORTS[name]
    return None if _port_open(host, port) else f"{name} is not reachable at {host}:{port}"


def require_service(name: str) -> None:
    """Skip (or, under CI=true, fail) when a service the test needs is not there."""
    reason = _service_missing(name)
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}: start it, CI never skips service tests", pytrace=False)
    pytest.skip(reason)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for name in ("postgres", "redis", "rabbitmq", "browser"):
        if item.get_closest_marker(name) is not None:
            require_service(name)


# Databases -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "voke-esm.db"
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    require_service("postgres")
    name = f"voke_esm_test_{os.getpid()}"
    url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"

    def setup() -> None:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        upgrade_to_head(url)

    # The first user may be an async test: set up in a thread of its own, outside that loop.
    run_in_thread(setup)
    yield url
    run_in_thread(lambda: asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))


def run_in_thread(function: Callable[[], T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function).result()


async def _pg_admin(sql: str) -> None:
    connection = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _truncate_all(url: str) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        if tables:
            names = ", ".join(f'"{row["tablename"]}"' for row in tables)
            await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> str:
    if request.param == "sqlite":
        path = tmp_path / "voke-esm.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database_url")
    await _truncate_all(url)
    return url


# The app ---------------------------------------------------------------------------------------


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "voke_env": "test",
        "var_dir": tmp_path / "var",
        "database_url": database_url,
        "jwt_secret": "test-jwt-secret-" + "x" * 32,
        "voke_encryption_key": "test-encryption-key-" + "y" * 32,
        "voke_esm_rate_limit": "10000/minute",
        "voke_esm_internal_url": "http://127.0.0.1:4410/api/v1/voke-esm",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module (or with indirect parametrization) to change the app's settings."""
    return {}


@pytest.fixture
def settings(tmp_path: Path, database_url: str, settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(tmp_path, database_url, **settings_overrides)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    # asgi-lifespan allows 5 s by default: too little for a PostgreSQL pool to close on a busy
    # two-core machine, which then fails a test that passed.
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        await bootstrap_admin(application)
        yield application


def http_client(app: FastAPI, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    """An HTTP client to the app in-process; `peer` is the TCP peer address the app sees."""
    transport = httpx.ASGITransport(app=app, client=(peer, 50_000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as http:
        yield http


@pytest.fixture
async def api(client: httpx.AsyncClient) -> Api:
    """The client signed in as the bootstrap SuperAdmin, with helpers for the common steps."""
    response = await client.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return Api(client, response.json()["accessToken"])


@pytest.fixture
async def enabled(api: Api) -> EnabledOrg:
    """An org with the sandbox enabled: its credentials and its one default plant."""
    return await api.enabled_org()


@pytest.fixture
async def trading_token(api: Api, enabled: EnabledOrg) -> str:
    """A trading token of the `enabled` org's client."""
    return await api.trading_token(enabled.client_id, enabled.client_secret)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(name="closed_port")
def closed_port_fixture() -> Iterator[int]:
    """A loopback port that refuses connections (bound, never listening) for the whole test."""
    sock = bound_socket()
    try:
        yield port_of(sock)
    finally:
        sock.close()
