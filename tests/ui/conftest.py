"""The admin page's browser fixtures: one `voke-esm serve` and one Chromium per test module, and
per test a context that fails it if anything the page loads leaves the machine."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.conftest import CHROMIUM
from tests.ui.support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CHROMIUM_ARGS,
    FOREIGN_SETTINGS,
    LAPTOP,
    VOKE_ESM,
    Service,
    free_port,
    is_local,
    wait_until_healthy,
)

expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`voke-esm serve` as a user starts it: its own SQLite under ./var in a fresh directory."""
    workdir = tmp_path_factory.mktemp("ui-service")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if key not in FOREIGN_SETTINGS}
    env |= {
        "VOKE_ENV": "test",
        "VOKE_ADMIN_EMAIL": ADMIN_EMAIL,
        "VOKE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "VOKE_ESM_INTERNAL_URL": f"{base_url}/api/v1/voke-esm",
    }
    log = workdir / "service.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(VOKE_ESM), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(process, base_url, log)
        yield Service(base_url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def requested_urls() -> list[str]:
    return []


@pytest.fixture
def context(
    browser: Browser, service: Service, requested_urls: list[str]
) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=LAPTOP, base_url=service.base_url, locale="en-GB")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=service.base_url)
    context.on("request", lambda request: requested_urls.append(request.url))
    yield context
    context.close()
    # Nothing the page loads or calls may leave the machine: no CDN, no web fonts.
    foreign = [url for url in requested_urls if not is_local(url)]
    assert foreign == []


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def http(service: Service) -> Iterator[httpx.Client]:
    """A SuperAdmin client of the service."""
    with httpx.Client(base_url=service.base_url) as client:
        login = client.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        client.headers["Authorization"] = f"Bearer {login.json()['accessToken']}"
        yield client
