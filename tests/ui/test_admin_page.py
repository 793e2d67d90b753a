"""The admin page (CONTRACT §10) in a real Chromium against the real service on a loopback port."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import (
    ConsoleMessage,
    Page,
    Route,
    expect,
)

from tests.ui.support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    PHONE,
    REPO,
    THREE_BLOCKS,
    Service,
    Voke,
    enabled_org,
    is_local,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.browser

LOCKED_EMAIL = "locked-out@example.com"


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


def test_journal_faults_and_reset(page: Page, service: Service) -> None:
    http, credentials, org_id = enabled_org(service, "Tools Org")
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
    http, _credentials, _org_id = enabled_org(service, "Clock Org")
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
    http, credentials, org_id = enabled_org(service, "Push Org")
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
    http, credentials, org_id = enabled_org(service, "Unchanged Org")
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
    http, _, org_id = enabled_org(service, "Modules Org")
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
    assert [url for url in requested_urls if not is_local(url)] == []
    http.close()
