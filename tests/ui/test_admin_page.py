"""The admin page (CONTRACT §10) in a real Chromium against the real service on a loopback port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.conftest import CHROMIUM

pytestmark = pytest.mark.browser

ADMIN_EMAIL = "ui-admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
LOCKED_EMAIL = "locked-out@example.com"
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
_FOREIGN_SETTINGS = (
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

expect.set_options(timeout=10_000)


@dataclass(frozen=True)
class Service:
    base_url: str
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`voke-esm serve` as a user starts it: its own SQLite under ./var in a fresh directory."""
    workdir = tmp_path_factory.mktemp("ui-service")
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if key not in _FOREIGN_SETTINGS}
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
        _wait_until_healthy(process, base_url, log)
        yield Service(base_url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
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
    foreign = [url for url in requested_urls if not _is_local(url)]
    assert foreign == []


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"data", "blob", "about"} or parts.hostname in {
        "127.0.0.1",
        "localhost",
        "::1",
    }


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in(page: Page, *, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_page_and_its_assets_come_from_the_service(service: Service) -> None:
    with httpx.Client(base_url=service.base_url) as http:
        pages = [http.get("/platform/voke-esm"), http.get("/platform/voke-esm/")]
        for page in pages:
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            assert page.headers["content-security-policy"].startswith("default-src 'self'")
        html = pages[0].text
        assert pages[1].text == html
        assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing from elsewhere
        assets = re.findall(r"(?:src|href)=\"(/platform/voke-esm/static/[^\"]+)\"", html)
        assert len(assets) >= 3
        for asset in {*assets, "/platform/voke-esm/static/api.js"}:
            assert http.get(asset).status_code == 200, asset


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


def test_superadmin_enables_an_org_manages_its_plants_and_disables_it(
    page: Page, service: Service
) -> None:
    page.goto("/platform/voke-esm")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page)
    expect(page.get_by_text("No organizations yet.")).to_be_visible()

    # A new organization becomes the selected one.
    page.get_by_role("button", name="New organization").click()
    new_org = page.get_by_role("dialog", name="New organization")
    new_org.get_by_label("Name").fill("Acme Energy")
    new_org.get_by_role("button", name="Create organization").click()
    expect(page.locator("#org-select option:checked")).to_have_text("Acme Energy")
    expect(page.locator("#status-badge")).to_have_text("Disabled")
    expect(page.get_by_role("button", name="New plant")).to_be_disabled()

    # Enable: confirm, then the credentials are shown once, with copy buttons.
    page.get_by_role("button", name="Enable", exact=True).click()
    confirm = page.get_by_role("dialog", name="Enable Voke ESM for Acme Energy?")
    expect(confirm).to_contain_text("shown once")
    confirm.get_by_role("button", name="Enable").click()
    credentials = page.get_by_role("dialog", name="Credentials for Acme Energy")
    expect(credentials).to_contain_text("will not be shown again")
    client_id = credentials.get_by_label("Client ID").input_value()
    client_secret = credentials.get_by_label("Client secret").input_value()
    esm_api_url = credentials.get_by_label("ESM API URL").input_value()
    assert client_id
    assert client_secret
    assert esm_api_url == f"{service.base_url}/api/v1/voke-esm"
    credentials.get_by_role("button", name="Copy").nth(1).click()
    expect(credentials.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == client_secret

    # The credentials work for a real token exchange.
    token = httpx.post(
        f"{esm_api_url}/trading/token",
        json={"clientId": client_id, "clientSecret": client_secret},
    )
    assert token.status_code == 200, token.text
    credentials.get_by_role("button", name="I have stored them").click()
    expect(credentials).to_be_hidden()
    expect(page.locator("#cred-client-secret")).to_have_value("")  # not left in the page
    expect(page.locator("#status-badge")).to_have_text("Enabled")
    expect(page.locator("#status-client-id")).to_have_text(client_id)
    expect(page.locator("#status-plants")).to_have_text("1")
    expect(page.locator("#plants-body tr")).to_have_count(1)  # the default plant

    # A plant with a broken block: the API's error shows beside that field.
    page.get_by_role("button", name="New plant").click()
    editor = page.get_by_role("dialog", name="New plant")
    expect(editor.get_by_label("Client ID")).to_have_value(client_id)
    editor.get_by_label("Name", exact=True).fill("Site B")
    editor.get_by_label("External plant ID").fill("PLANT-B")
    editor.get_by_label("Battery capacity").fill("150")
    blocks = editor.locator(".block")
    expect(blocks).to_have_count(2)
    editor.get_by_role("button", name="Add block").click()
    expect(blocks).to_have_count(3)
    expect(page.locator("#block-2-from")).to_be_focused()
    editor.get_by_role("button", name="Remove block 3").click()
    expect(blocks).to_have_count(2)
    page.locator("#block-1-socMin").fill("95")  # above the block's socMax of 90
    editor.get_by_role("button", name="Create plant").click()
    so_min_error = page.locator("#block-1-socMin-error")
    expect(so_min_error).to_have_text("Must not exceed socMax.")
    expect(page.locator("#block-1-socMin")).to_have_attribute("aria-invalid", "true")
    expect(editor.locator(".form-error")).to_have_text("Fix the marked field.")

    page.locator("#block-1-socMin").fill("30")
    expect(so_min_error).to_be_hidden()
    editor.get_by_role("button", name="Create plant").click()
    expect(editor).to_be_hidden()
    row = page.locator("#plants-body tr", has_text="Site B")
    expect(row).to_contain_text("PLANT-B")
    expect(row).to_contain_text("150 kWh")
    expect(page.locator("#status-plants")).to_have_text("2")

    screenshot(page, "admin-page.png")

    # Edit: a new name, and the blocks swapped back into time order after a move.
    row.get_by_role("button", name="Edit Site B").click()
    editor = page.get_by_role("dialog", name="Edit Site B")
    expect(editor.get_by_label("External plant ID")).to_have_js_property("readOnly", True)
    editor.get_by_label("Name", exact=True).fill("Site B (north)")
    editor.get_by_role("button", name="Move block 2 up").click()
    expect(page.locator("#block-0-from")).to_have_value("07:00")
    editor.get_by_role("button", name="Move block 1 down").click()
    expect(page.locator("#block-0-from")).to_have_value("00:00")
    page.locator("#block-1-pBatMax").fill("40")
    editor.get_by_role("button", name="Save changes").click()
    expect(editor).to_be_hidden()
    row = page.locator("#plants-body tr", has_text="Site B (north)")
    expect(row).to_be_visible()

    # The session survives a reload, and so does the selected org.
    page.reload()
    expect(page.locator("#org-select option:checked")).to_have_text("Acme Energy")
    expect(row).to_be_visible()

    # Delete asks first.
    row.get_by_role("button", name="Delete Site B (north)").click()
    confirm = page.get_by_role("dialog", name="Delete plant “Site B (north)”?")
    confirm.get_by_role("button", name="Delete plant").click()
    expect(row).to_have_count(0)
    expect(page.locator("#plants-body tr")).to_have_count(1)

    # Disable says what stops working; the plants are kept.
    page.get_by_role("button", name="Disable").click()
    confirm = page.get_by_role("dialog", name="Disable Voke ESM for Acme Energy?")
    expect(confirm).to_contain_text("every trading token issued for them")
    expect(confirm).to_contain_text("plant is kept")
    confirm.get_by_role("button", name="Disable").click()
    expect(page.locator("#status-badge")).to_have_text("Disabled")
    expect(page.locator("#plants-body tr")).to_have_count(1)
    expect(page.get_by_role("button", name="New plant")).to_be_disabled()
    refused = httpx.post(
        f"{esm_api_url}/trading/token",
        json={"clientId": client_id, "clientSecret": client_secret},
    )
    assert refused.status_code == 401

    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="Enable", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Enable").click()
    page.get_by_role("button", name="I have stored them").click()
    expect(page.locator("#status-badge")).to_have_text("Enabled")
    screenshot(page, "admin-page-phone.png", full_page=True)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_errors_read_as_sentences(page: Page, service: Service) -> None:
    page.goto("/platform/voke-esm")
    sign_in(page, password="not the password")
    expect(page.locator("#signin-error")).to_have_text("Invalid email or password.")

    # An expired or forged token sends the user back to sign-in.
    page.evaluate("sessionStorage.setItem('voke-esm.token', 'not-a-jwt')")
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#signin-error")).to_contain_text("Sign in again")

    # Over the login limit (per email): the page says when to retry, from Retry-After.
    for _ in range(10):
        httpx.post(
            f"{service.base_url}/api/v1/auth/login",
            json={"email": LOCKED_EMAIL, "password": "wrong"},
        )
    sign_in(page, email=LOCKED_EMAIL)
    expect(page.locator("#signin-error")).to_have_text(
        re.compile(r"^Too many requests\. Try again in \d+ seconds?\.$")
    )


def test_telemetry_snapshot_is_offered_where_the_service_has_it(
    page: Page, service: Service
) -> None:
    """The button follows the service's OpenAPI paths; here both ends are stood in for."""
    with httpx.Client(base_url=service.base_url) as http:
        login = http.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        http.headers["Authorization"] = f"Bearer {login.json()['accessToken']}"
        org = http.post("/api/v1/orgs", json={"name": "Telemetry Org"}).json()
        assert http.post("/api/v1/voke-esm/admin/enable", params={"orgId": org["id"]}).is_success
    telemetry_path = "/api/v1/voke-esm/admin/plants/{id}/telemetry"
    page.route("**/openapi.json", lambda route: route.fulfill(json={"paths": {telemetry_path: {}}}))
    page.route("**/telemetry", lambda route: route.fulfill(json={"soc": 55.5, "pBat": -3.25}))

    page.goto("/platform/voke-esm")
    sign_in(page)
    page.get_by_label("Organization", exact=True).select_option(label="Telemetry Org")
    page.get_by_role("button", name="Telemetry reading of Telemetry Org default plant").click()
    expect(page.get_by_role("status").filter(has_text="Telemetry reading")).to_contain_text(
        "Telemetry reading of Telemetry Org default plant: SoC 55.5 %, power -3.25 kW."
    )


def _enabled_org(service: Service, name: str) -> tuple[httpx.Client, dict[str, str], str]:
    """A SuperAdmin client, the credentials of a newly enabled org, and the org's id."""
    http = httpx.Client(base_url=service.base_url)
    login = http.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    http.headers["Authorization"] = f"Bearer {login.json()['accessToken']}"
    org = http.post("/api/v1/orgs", json={"name": name}).json()
    credentials = http.post("/api/v1/voke-esm/admin/enable", params={"orgId": org["id"]}).json()
    return http, credentials, org["id"]


def test_journal_faults_and_reset(page: Page, service: Service) -> None:
    http, credentials, org_id = _enabled_org(service, "Tools Org")
    trading = f"{service.base_url}/api/v1/voke-esm/trading"
    exchange = {"clientId": credentials["clientId"], "clientSecret": credentials["clientSecret"]}
    token = httpx.post(f"{trading}/token", json=exchange).json()["accessToken"]
    assert httpx.get(
        f"{trading}/plant/list", headers={"Authorization": f"Bearer {token}"}
    ).is_success

    page.goto("/platform/voke-esm")
    sign_in(page)
    page.get_by_label("Organization", exact=True).select_option(label="Tools Org")

    # The journal lists the org's calls, newest first, and picks up new ones by itself.
    journal = page.locator("#journal-body tr")
    expect(journal).to_have_count(2)
    expect(journal.first).to_contain_text("plant/list")
    expect(journal.nth(1)).to_contain_text("token")
    httpx.post(f"{trading}/token", json={**exchange, "clientSecret": "wrong"})
    expect(journal).to_have_count(3)
    expect(journal.first).to_contain_text("401")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Resume")).to_have_attribute("aria-pressed", "true")

    # A fault rule: the API's validation error shows beside its field, then it is saved.
    faults = page.locator("#faults-card")
    faults.get_by_role("button", name="Add rule").click()
    page.locator("#rule-0-endpoint").select_option("plant/list")
    expect(page.locator("#rule-0-latencyMs")).to_be_hidden()  # kind error: no latency fields
    page.locator("#rule-0-status").fill("200")
    faults.get_by_role("button", name="Save faults").click()
    expect(page.locator("#rule-0-status-error")).to_have_text("Must be an HTTP status 400..599.")
    expect(page.locator("#rule-0-status")).to_have_attribute("aria-invalid", "true")
    page.locator("#rule-0-status").fill("503")
    page.locator("#rule-0-count").fill("1")
    page.get_by_label("Token lifetime").fill("30")
    faults.get_by_role("button", name="Save faults").click()
    expect(page.locator("#faults-badge")).to_have_text("1 rule, tokens 30 s")
    stored = http.get("/api/v1/voke-esm/admin/faults", params={"orgId": org_id}).json()
    assert stored == {
        "rules": [
            {
                "endpoint": "plant/list",
                "kind": "error",
                "status": 503,
                "latencyMs": None,
                "jitterMs": None,
                "probability": 1,
                "count": 1,
            }
        ],
        "tokenTtlSeconds": 30,
        "rateLimit": None,
    }
    faulted = httpx.get(f"{trading}/plant/list", headers={"Authorization": f"Bearer {token}"})
    assert (faulted.status_code, faulted.json()["code"]) == (503, "INJECTED_FAULT")
    assert httpx.post(f"{trading}/token", json=exchange).json()["expiresIn"] == 30

    # The journal was paused; resumed, it shows the faulted call and the short-lived token's.
    page.get_by_role("button", name="Resume").click()
    expect(journal).to_have_count(5)
    expect(journal.nth(1)).to_contain_text("503")
    expect(page.locator("#rule-0-count")).to_have_value("0")  # the editor follows the count
    screenshot(page, "admin-page-tools.png", full_page=True)

    # Reset asks first, then the org has one new default plant.
    (before,) = http.get("/api/v1/voke-esm/admin/plants", params={"orgId": org_id}).json()
    page.get_by_role("button", name="Reset plants").click()
    confirm = page.get_by_role("dialog", name="Reset the sandbox plants of Tools Org?")
    expect(confirm).to_contain_text("Credentials, faults and the journal stay")
    confirm.get_by_role("button", name="Reset plants").click()
    expect(confirm).to_be_hidden()
    (after,) = http.get("/api/v1/voke-esm/admin/plants", params={"orgId": org_id}).json()
    assert after["externalPlantId"] != before["externalPlantId"]
    expect(page.locator("#plants-body tr")).to_have_count(1)
    expect(page.locator("#plants-body")).to_contain_text(after["externalPlantId"])

    faults.get_by_role("button", name="Clear faults").click()
    page.get_by_role("dialog", name="Clear the faults of Tools Org?").get_by_role(
        "button", name="Clear faults"
    ).click()
    expect(page.locator("#faults-badge")).to_have_text("None")
    http.close()


def test_clock_control_follows_the_services_openapi(page: Page, service: Service) -> None:
    """Shown only where POST clock/advance exists; both ends stood in for, as for telemetry."""
    http, _credentials, _org_id = _enabled_org(service, "Clock Org")
    http.close()
    advance_path = "/api/v1/voke-esm/admin/clock/advance"
    advanced: list[object] = []

    def answer(route: Route) -> None:
        advanced.append(route.request.post_data_json)
        route.fulfill(json={"now": "2030-01-02T03:04:05.000000Z", "offsetMinutes": 90})

    page.route("**/openapi.json", lambda route: route.fulfill(json={"paths": {}}))
    page.goto("/platform/voke-esm")
    sign_in(page)
    page.get_by_label("Organization", exact=True).select_option(label="Clock Org")
    expect(page.locator("#sandbox-card")).to_be_visible()
    expect(page.get_by_role("button", name="Advance clock")).to_be_hidden()

    page.unroute("**/openapi.json")
    page.route("**/openapi.json", lambda route: route.fulfill(json={"paths": {advance_path: {}}}))
    page.route("**/clock/advance*", answer)
    page.reload()
    page.get_by_label("Organization", exact=True).select_option(label="Clock Org")
    page.get_by_label("Advance the simulated clock by").fill("90")
    page.get_by_role("button", name="Advance clock").click()
    expect(page.locator("#clock-now")).to_contain_text("Simulated time")
    assert advanced == [{"minutes": 90}]


# Lost updates (CONTRACT §4): the editor sends what changed, with If-Match ------------------------

WHOLE_DAY = [
    {"from": "00:00", "to": "23:59", "pBatMax": 50, "pBatMin": -50, "socMax": 90, "socMin": 20}
]
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


def _stored(http: httpx.Client, org_id: str) -> tuple[dict[str, object], int]:
    """The org's one plant as the admin API has it, and its config version."""
    (plant,) = http.get("/api/v1/voke-esm/admin/plants", params={"orgId": org_id}).json()
    (snapshot,) = http.get("/api/v1/voke-esm/admin/snapshot", params={"orgId": org_id}).json()[
        "plants"
    ]
    return plant, int(snapshot["version"])


def test_an_edit_never_overwrites_what_voke_pushed(page: Page, service: Service) -> None:
    """The issue's reproduction: the editor was opened (or the table loaded) before Voke pushed
    a schedule, and only the description is edited."""
    http, credentials, org_id = _enabled_org(service, "Push Org")
    voke = Voke(service, credentials)
    plant, version = _stored(http, org_id)
    assert version == 1
    edit = f"Edit {plant['name']}"

    page.goto("/platform/voke-esm")
    sign_in(page)
    page.get_by_label("Organization", exact=True).select_option(label="Push Org")
    row = page.locator("#plants-body tr", has_text=str(plant["externalPlantId"]))
    expect(row).to_contain_text("2 blocks")

    # The editor is open when Voke pushes: the save is refused, the page says what changed.
    row.get_by_role("button", name=edit).click()
    editor = page.get_by_role("dialog", name=edit)
    expect(editor.locator(".block")).to_have_count(2)
    assert voke.push(str(plant["externalPlantId"]), WHOLE_DAY) == 2
    editor.get_by_label("Description").fill("Edited in the page")
    editor.get_by_role("button", name="Save changes").click()
    conflict = editor.locator("#plant-conflict")
    expect(conflict).to_contain_text("This plant changed since you opened it: nothing was saved.")
    expect(conflict).to_contain_text("Time config: now 00:00–23:59 (-50 to 50 kW, SoC 20–90 %)")
    expect(conflict).to_contain_text("discards your changes (Description)")
    stored, version = _stored(http, org_id)
    assert version == 2
    assert stored == {**plant, "timeConfigs": WHOLE_DAY, "updatedAt": stored["updatedAt"]}

    # Reload puts the stored plant in the editor; the description edit is made again and saved.
    editor.get_by_role("button", name="Reload plant").click()
    expect(conflict).to_be_hidden()
    expect(editor.locator(".block")).to_have_count(1)
    expect(editor.get_by_label("Description")).to_have_value(str(plant["description"]))
    editor.get_by_label("Description").fill("Edited in the page")
    editor.get_by_role("button", name="Save changes").click()
    expect(editor).to_be_hidden()
    stored, version = _stored(http, org_id)
    assert (stored["description"], stored["timeConfigs"], version) == (
        "Edited in the page",
        WHOLE_DAY,
        2,
    )

    # The table is stale (the journal paused) when Voke pushes: Edit reads the plant afresh.
    page.get_by_role("button", name="Pause").click()
    assert voke.push(str(plant["externalPlantId"]), THREE_BLOCKS) == 3
    row.get_by_role("button", name=edit).click()
    expect(editor.locator(".block")).to_have_count(3)
    editor.get_by_label("Description").fill("Edited again")
    editor.get_by_role("button", name="Save changes").click()
    expect(editor).to_be_hidden()
    stored, version = _stored(http, org_id)
    assert (stored["description"], stored["timeConfigs"], version) == (
        "Edited again",
        THREE_BLOCKS,
        3,
    )

    # With the journal running, the table shows Voke's next push by itself.
    page.get_by_role("button", name="Resume").click()
    assert voke.push(str(plant["externalPlantId"]), WHOLE_DAY) == 4
    expect(row).to_contain_text("1 block", timeout=20_000)
    http.close()


def test_an_unchanged_save_sends_nothing_and_a_delete_checks_the_plant(
    page: Page, service: Service
) -> None:
    http, credentials, org_id = _enabled_org(service, "Unchanged Org")
    voke = Voke(service, credentials)
    plant, _ = _stored(http, org_id)
    sent: list[tuple[str, dict[str, str]]] = []
    page.on(
        "request",
        lambda request: (
            sent.append((request.method, request.headers))
            if request.method in {"PATCH", "DELETE"}
            else None
        ),
    )
    page.goto("/platform/voke-esm")
    sign_in(page)
    page.get_by_label("Organization", exact=True).select_option(label="Unchanged Org")
    row = page.locator("#plants-body tr", has_text=str(plant["externalPlantId"]))

    # Saving what was opened sends nothing and says so: no new version, no new updatedAt.
    row.get_by_role("button", name=f"Edit {plant['name']}").click()
    editor = page.get_by_role("dialog", name=f"Edit {plant['name']}")
    editor.get_by_role("button", name="Save changes").click()
    expect(editor).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="No changes to save.")).to_be_visible()
    assert sent == []
    assert _stored(http, org_id) == (plant, 1)

    # A block edited and edited back is no change either (compared as numbers).
    row.get_by_role("button", name=f"Edit {plant['name']}").click()
    page.locator("#block-0-pBatMax").fill("10.0")
    editor.get_by_role("button", name="Save changes").click()
    expect(editor).to_be_hidden()
    assert sent == []
    assert _stored(http, org_id) == (plant, 1)

    # Delete asks with the plant as it is; if it changes before the answer, nothing is deleted.
    row.get_by_role("button", name=f"Delete {plant['name']}").click()
    confirm = page.get_by_role("dialog", name=f"Delete plant “{plant['name']}”?")
    voke.push(str(plant["externalPlantId"]), WHOLE_DAY)
    confirm.get_by_role("button", name="Delete plant").click()
    expect(confirm).to_contain_text("This changed since you opened it")
    ((method, headers),) = sent
    assert method == "DELETE"
    assert headers.get("if-match"), headers
    assert _stored(http, org_id)[1] == 2  # still there
    confirm.get_by_role("button", name="Cancel").click()
    expect(row).to_contain_text("1 block")  # the table shows what changed

    row.get_by_role("button", name=f"Delete {plant['name']}").click()
    confirm.get_by_role("button", name="Delete plant").click()
    expect(row).to_have_count(0)
    assert http.get("/api/v1/voke-esm/admin/plants", params={"orgId": org_id}).json() == []
    http.close()


STATIC = REPO / "src" / "voke_esm" / "ui" / "static"


def test_every_module_loads_with_no_console_error_and_nothing_leaves_the_machine(
    page: Page, service: Service, requested_urls: list[str]
) -> None:
    """app.js and the modules it imports (one per card) load from the service, and run clean."""
    http, _, org_id = _enabled_org(service, "Modules Org")
    plant, _ = _stored(http, org_id)
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # An API answer of 4xx is logged by Chromium as a failed resource; the page handles
        # those (an org never enabled has no clock, say). Anything else is a fault of the page.
        answered = urlsplit(message.location.get("url") or "").path.startswith("/api/")
        if message.type == "error" and not (
            answered and message.text.startswith("Failed to load resource")
        ):
            problems.append(f"console: {message.text} ({message.location})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    scripts: dict[str, tuple[int, str]] = {}
    page.on(
        "response",
        lambda response: (
            scripts.__setitem__(
                urlsplit(response.url).path,
                (response.status, response.headers.get("content-type", "")),
            )
            if urlsplit(response.url).path.endswith(".js")
            else None
        ),
    )

    page.goto("/platform/voke-esm")
    sign_in(page)
    page.get_by_label("Organization", exact=True).select_option(label="Modules Org")
    # Every card has drawn what it loaded: status, plants, journal, faults, clock.
    expect(page.locator("#status-badge")).to_have_text("Enabled")
    row = page.locator("#plants-body tr", has_text=str(plant["externalPlantId"]))
    expect(row).to_be_visible()
    expect(page.locator("#journal-updated")).to_contain_text("Updated")
    expect(page.locator("#faults-badge")).to_have_text("None")
    expect(page.locator("#clock-now")).to_contain_text("Simulated time")
    # The editor and its time-config rows, and a dialog of the org picker.
    row.get_by_role("button", name=f"Edit {plant['name']}").click()
    editor = page.get_by_role("dialog", name=f"Edit {plant['name']}")
    expect(editor.locator("#block-0-from")).to_have_value("00:00")
    editor.get_by_role("button", name="Add block").click()
    editor.get_by_role("button", name="Cancel").click()
    expect(editor).to_be_hidden()
    page.get_by_role("button", name="New organization").click()
    page.get_by_role("dialog", name="New organization").get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    # The page's own modules, and the vendored libraries they import (uPlot, for the plant's day).
    modules = {
        f"/platform/voke-esm/static/{path.relative_to(STATIC).as_posix()}"
        for path in [*STATIC.glob("*.js"), *STATIC.glob("vendor/*/*.js")]
    }
    assert set(scripts) == modules
    for path, (status, content_type) in scripts.items():
        assert status == 200, path
        assert content_type.startswith("text/javascript"), (path, content_type)
    assert problems == []
    assert [url for url in requested_urls if not _is_local(url)] == []
    http.close()
