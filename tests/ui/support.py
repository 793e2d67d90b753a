"""What the admin page's browser tests share: the service as a user starts it, signing in,
screenshots for the README, and the API calls that set a test's scene. The fixtures are in
`conftest.py` beside this file."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect

ADMIN_EMAIL = "ui-admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
REPO = Path(__file__).resolve().parents[2]
VOKE_ESM = REPO / ".venv" / "bin" / "voke-esm"
# The README shows docs/screenshots; a test run writes its own under test-artifacts/ (ignored by
# git) and refreshes the README's only when asked (VOKE_UPDATE_SCREENSHOTS=1), so that running
# the tests leaves the checkout as it was.
SCREENSHOTS = (
    REPO / "docs" / "screenshots"
    if os.environ.get("VOKE_UPDATE_SCREENSHOTS") == "1"
    else REPO / "test-artifacts" / "screenshots"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
# Variables of the caller's environment that would point the service elsewhere.
FOREIGN_SETTINGS = (
    "DATABASE_URL",
    "JWT_SECRET",
    "VOKE_ENCRYPTION_KEY",
    "VOKE_ESM_ENABLED",
    "VOKE_ESM_RATE_LIMIT",
    "VOKE_LOGIN_RATE_LIMIT",
    "VOKE_ESM_TOKEN_TTL_S",
    "RATE_LIMIT_STORAGE_URL",
    "AMQP_URL",
    "TRADING_SYNC_INTERVAL_S",
    "TELEMETRY_INTERVAL_S",
    "VOKE_VAR_DIR",
)


@dataclass(frozen=True)
class Service:
    base_url: str
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"voke-esm serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"voke-esm serve did not answer /healthz within 60 s:\n{log.read_text()}")


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"data", "blob", "about"} or parts.hostname in {
        "127.0.0.1",
        "localhost",
        "::1",
    }


def sign_in(page: Page, *, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


_STICKY_BARS = "document.querySelectorAll('.topbar, .section-tabs').forEach((bar) => {{ {} }})"


def screenshot(
    page: Page, name: str, *, full_page: bool = False, element: str | None = None
) -> None:
    """For the README: without the passing toasts of the steps before. A whole page, or one
    element (a CSS selector) however tall, is taken without the sticky bars crossing it."""
    page.evaluate("document.querySelectorAll('.toast').forEach((toast) => toast.remove())")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if not (full_page or element):
        page.screenshot(path=SCREENSHOTS / name, animations="disabled")
        return
    page.evaluate(_STICKY_BARS.format("bar.style.position = 'static';"))
    clip = None
    if element:
        clip = page.evaluate(
            "(selector) => { const r = document.querySelector(selector).getBoundingClientRect();"
            " return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}; }",
            element,
        )
    page.screenshot(path=SCREENSHOTS / name, full_page=True, clip=clip, animations="disabled")
    page.evaluate(_STICKY_BARS.format("bar.style.position = '';"))


def enabled_org(service: Service, name: str) -> tuple[httpx.Client, dict[str, str], str]:
    """A SuperAdmin client, the credentials of a newly enabled org, and the org's id."""
    http = httpx.Client(base_url=service.base_url)
    login = http.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    http.headers["Authorization"] = f"Bearer {login.json()['accessToken']}"
    org = http.post("/api/v1/orgs", json={"name": name}).json()
    credentials = http.post("/api/v1/voke-esm/admin/enable", params={"orgId": org["id"]}).json()
    return http, credentials, org["id"]


THREE_BLOCKS = [
    {"from": "00:00", "to": "06:00", "pBatMax": 5, "pBatMin": -5, "socMax": 80, "socMin": 20},
    {"from": "06:00", "to": "18:00", "pBatMax": 15, "pBatMin": -15, "socMax": 90, "socMin": 25},
    {"from": "18:00", "to": "23:59", "pBatMax": 25, "pBatMin": -25, "socMax": 95, "socMin": 30},
]


class Voke:
    """Voke's side of one enabled org: pushes schedules as its trading sync would."""

    def __init__(self, service: Service, credentials: dict[str, str]) -> None:
        self.trading = f"{service.base_url}/api/v1/voke-esm/trading"
        exchange = {
            "clientId": credentials["clientId"],
            "clientSecret": credentials["clientSecret"],
        }
        token = httpx.post(f"{self.trading}/token", json=exchange).json()["accessToken"]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.pushed = 0

    def push(self, plant_id: str, time_configs: list[dict[str, object]]) -> int:
        """Apply a schedule; its config version."""
        self.pushed += 1
        body = {
            "plantId": plant_id,
            "configUpdateReqCode": f"ui-push-{self.pushed}",
            "validateOnly": False,
            "timeConfigs": time_configs,
        }
        answer = httpx.post(f"{self.trading}/plant/config/update", json=body, headers=self.headers)
        assert answer.json()["resultCode"] == "applied_ok", answer.text
        return int(answer.json()["version"])


ADMIN = "/api/v1/voke-esm/admin"


WHOLE_DAY = [
    {"from": "00:00", "to": "23:59", "pBatMax": 50, "pBatMin": -50, "socMax": 90, "socMin": 20}
]


def new_org(http: httpx.Client, name: str, *, enable: bool = True) -> dict[str, Any]:
    """An org (with its credentials under "credentials" when enabled)."""
    org: dict[str, Any] = http.post("/api/v1/orgs", json={"name": name}).json()
    if enable:
        answer = http.post(f"{ADMIN}/enable", params={"orgId": org["id"]})
        assert answer.is_success, answer.text
        org["credentials"] = answer.json()
    return org


def trading_token(service: Service, org: dict[str, Any]) -> dict[str, str]:
    credentials = org["credentials"]
    exchange = {"clientId": credentials["clientId"], "clientSecret": credentials["clientSecret"]}
    answer = httpx.post(f"{service.base_url}/api/v1/voke-esm/trading/token", json=exchange)
    return {"Authorization": f"Bearer {answer.json()['accessToken']}"}


def open_org(page: Page, name: str) -> None:
    page.goto("/platform/voke-esm")
    sign_in(page)
    page.get_by_label("Organization", exact=True).select_option(label=name)
    expect(page.locator("#status-card")).not_to_have_class("card loading")
