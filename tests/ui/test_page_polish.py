"""Issue 12's admin page items, in a real Chromium against the real service (as test_admin_page).

Each test pins one behaviour a newcomer tripped over: tools that need an enabled org say so, an
error goes with the state it was about, one failure is one message, the journal says what its
rows are, the fault editor keeps and shows unsaved work, the session follows the tabs, the phone
width is navigable, the page explains its names, and every time says it is UTC.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, FilePayload, Page, Route, expect

from tests.ui.support import (
    ADMIN,
    ADMIN_EMAIL,
    LAPTOP,
    PHONE,
    WHOLE_DAY,
    Service,
    new_org,
    open_org,
    screenshot,
    sign_in,
    trading_token,
)

pytestmark = pytest.mark.browser


# The empty state comes first: the module's service has no org yet. ---------------------------


def test_first_run_checklist_links_to_the_docs(page: Page) -> None:
    page.goto("/platform/voke-esm")
    sign_in(page)
    empty = page.locator("#no-orgs")
    expect(empty).to_be_visible()
    steps = empty.locator("ol li")
    expect(steps).to_have_count(4)
    for step, words in zip(
        range(4), ["Create an organization", "Enable", "Sync from Voke", "Push"], strict=True
    ):
        expect(steps.nth(step)).to_contain_text(words)
    expect(empty.get_by_role("link", name="/docs")).to_have_attribute("href", "/docs")
    screenshot(page, "polish-first-run.png")


# Signing in -----------------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280", "390"])
def test_sign_in_focuses_the_org_picker_and_the_header_keeps_its_height(
    page: Page, http: httpx.Client, viewport: Any
) -> None:
    new_org(http, f"Focus Org {viewport['width']}", enable=False)
    page.set_viewport_size(viewport)
    page.goto("/platform/voke-esm")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    before = page.locator(".topbar").bounding_box()
    sign_in(page)
    expect(page.locator("#status-badge")).to_have_text("Disabled")
    after = page.locator(".topbar").bounding_box()
    assert before is not None
    assert after is not None
    assert after["height"] == before["height"]
    expect(page.locator("#org-select")).to_be_focused()
    expect(page.locator("#session-email")).to_be_visible()  # the user, at either width
    expect(page.locator("#session-email")).to_have_text(ADMIN_EMAIL)


def test_the_session_is_shared_by_the_tabs_and_signing_out_signs_out_all(
    context: BrowserContext,
) -> None:
    first, second = context.new_page(), context.new_page()
    first.goto("/platform/voke-esm")
    second.goto("/platform/voke-esm")
    expect(second.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(first)
    expect(first.locator("#session-email")).to_have_text(ADMIN_EMAIL)
    # The tab already open follows the sign-in; a tab opened now starts signed in.
    expect(second.locator("#session-email")).to_have_text(ADMIN_EMAIL)
    third = context.new_page()
    third.goto("/platform/voke-esm")
    expect(third.locator("#session-email")).to_have_text(ADMIN_EMAIL)

    second.get_by_role("button", name="Sign out").click()
    for tab in (first, third):
        expect(tab.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(first.locator("#signin-error")).to_have_text("You signed out in another tab.")
    third.reload()
    expect(third.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_shared_token_past_its_lifetime_is_not_used(page: Page) -> None:
    """The token keeps its own lifetime: one whose `exp` has passed is dropped unsent."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    expired = f"{part({'alg': 'HS256'})}.{part({'exp': int(time.time()) - 60})}.signature"
    sent: list[str] = []
    page.on(
        "request",
        lambda request: sent.append(request.url) if "/api/v1/auth/me" in request.url else None,
    )
    page.goto("/platform/voke-esm")
    page.evaluate(f"localStorage.setItem('voke-esm.token', {json.dumps(expired)})")
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert sent == []
    assert page.evaluate("localStorage.getItem('voke-esm.token')") is None


# Status and tools -----------------------------------------------------------------------------


def test_tools_that_need_an_enabled_org_say_so_until_it_is(page: Page, http: httpx.Client) -> None:
    new_org(http, "Gate Org", enable=False)
    open_org(page, "Gate Org")
    expect(page.locator("#status-badge")).to_have_text("Disabled")
    gated = ["Save faults", "Add rule", "Clear faults", "Restore snapshot…", "Reset plants"]
    for name in gated:
        expect(page.get_by_role("button", name=name, exact=True)).to_be_disabled()
    # The quirks card (issue 15) needs an enabled org too: its switches wait with the others.
    expect(page.locator("#quirk-list input[type=checkbox]").first).to_be_disabled()
    notes = page.locator("[data-needs-enabled-note]")
    expect(notes).to_have_count(3)
    for index in range(3):
        expect(notes.nth(index)).to_contain_text("enable it under Status")
    screenshot(page, "polish-disabled-org.png", full_page=True)

    page.get_by_role("button", name="Enable", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Enable").click()
    page.get_by_role("button", name="I have stored them").click()
    expect(page.locator("#status-badge")).to_have_text("Enabled")
    for name in gated:
        expect(page.get_by_role("button", name=name, exact=True)).to_be_enabled()
    for index in range(2):
        expect(notes.nth(index)).to_be_hidden()


def test_an_error_goes_when_another_org_is_picked(page: Page, http: httpx.Client) -> None:
    broken = new_org(http, "Broken Status Org")
    new_org(http, "Fine Status Org")

    def fail(route: Route) -> None:
        if broken["id"] in route.request.url:
            route.fulfill(status=500, json={"code": "INTERNAL_SERVER_ERROR", "message": "boom"})
        else:
            route.continue_()

    page.route("**/admin/status?*", fail)
    open_org(page, "Broken Status Org")
    errors = page.locator(".toast.error")
    expect(errors).to_have_count(1)
    expect(errors).to_contain_text("unexpected error")
    page.get_by_label("Organization", exact=True).select_option(label="Fine Status Org")
    expect(page.locator("#status-badge")).to_have_text("Enabled")
    expect(errors).to_have_count(0)


def test_an_error_goes_when_its_action_works_the_next_time(page: Page, http: httpx.Client) -> None:
    new_org(http, "Retry Org")
    failing = [True]

    def reading(route: Route) -> None:
        if failing[0]:
            route.fulfill(status=500, json={"code": "INTERNAL_SERVER_ERROR", "message": "boom"})
        else:
            route.fulfill(json={"soc": 40, "pBat": 0, "published": True, "reason": None})

    page.route("**/telemetry", reading)
    open_org(page, "Retry Org")
    button = page.get_by_role("button", name="Telemetry reading of Retry Org default plant")
    button.click()
    errors = page.locator(".toast.error")
    expect(errors).to_have_count(1)
    failing[0] = False
    button.click()
    expect(page.locator(".toast.ok", has_text="Telemetry reading")).to_contain_text("Published")
    expect(errors).to_have_count(0)


def test_one_failure_is_one_message(page: Page, http: httpx.Client) -> None:
    new_org(http, "Down Org A")
    new_org(http, "Down Org B")
    open_org(page, "Down Org A")
    expect(page.locator("#faults-badge")).to_have_text("None")
    # The service goes away: every card of the next org fails for that one reason.
    page.route("**/api/v1/voke-esm/admin/**", lambda route: route.abort())
    page.get_by_label("Organization", exact=True).select_option(label="Down Org B")
    expect(page.locator("#plants-body .table-message.error")).to_be_visible()
    expect(page.locator("#journal-body .table-message.error")).to_be_visible()
    page.wait_for_timeout(500)  # every card has had its answer
    reason = page.get_by_text("Cannot reach the Voke ESM service")
    expect(reason).to_have_count(1)
    # The cards say what is missing; the reason is said once, in the toast.
    expect(page.locator("#plants-body")).to_contain_text("The plants could not be loaded.")
    expect(page.locator("#journal-body")).to_contain_text("The journal could not be loaded.")


def test_the_telemetry_reading_says_whether_it_was_published_and_where(
    page: Page, http: httpx.Client
) -> None:
    org = new_org(http, "Reading Org")
    routing_key = f"vcp.{org['slug']}.event.telemetry"
    open_org(page, "Reading Org")
    binding = page.locator("#telemetry-binding")
    expect(binding).to_be_visible()
    expect(page.locator("#telemetry-slug")).to_have_text(org["slug"])
    expect(page.locator("#telemetry-exchange")).to_have_text("vcp")
    expect(page.locator("#telemetry-routing-key")).to_have_text(routing_key)
    # "Snapshot" is the sandbox state's only: the telemetry button says what it takes.
    expect(page.get_by_role("button", name="Snapshot", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("snapshot", re.I))).to_have_count(2)

    # This service runs without a broker (no AMQP_URL): the answer says so, and why.
    page.get_by_role("button", name="Telemetry reading of Reading Org default plant").click()
    toast = page.locator(".toast", has_text="Telemetry reading of Reading Org default plant")
    expect(toast).to_contain_text(f"Not published to vcp / {routing_key}: ")

    def published(route: Route) -> None:
        reading = {"soc": 50, "pBat": 1.5, "exchange": "vcp", "routingKey": routing_key}
        route.fulfill(json={**reading, "published": True, "reason": None})

    page.route("**/telemetry", published)
    page.get_by_role("button", name="Telemetry reading of Reading Org default plant").click()
    expect(page.locator(".toast.ok", has_text="Telemetry reading")).to_contain_text(
        f"SoC 50 %, power 1.5 kW. Published to vcp / {routing_key}."
    )


# Faults ---------------------------------------------------------------------------------------


def test_clearing_faults_asks_first(page: Page, http: httpx.Client) -> None:
    org = new_org(http, "Clear Org")
    rules = {"rules": [{"endpoint": "token", "kind": "error", "status": 503}]}
    assert http.put(f"{ADMIN}/faults", params={"orgId": org["id"]}, json=rules).is_success
    open_org(page, "Clear Org")
    expect(page.locator("#faults-badge")).to_have_text("1 rule")
    page.locator("#faults-card").get_by_role("button", name="Clear faults").click()
    confirm = page.get_by_role("dialog", name="Clear the faults of Clear Org?")
    expect(confirm).to_contain_text("Every fault rule is deleted")
    confirm.get_by_role("button", name="Cancel").click()
    expect(page.locator("#faults-badge")).to_have_text("1 rule")
    assert len(http.get(f"{ADMIN}/faults", params={"orgId": org["id"]}).json()["rules"]) == 1

    page.locator("#faults-card").get_by_role("button", name="Clear faults").click()
    confirm.get_by_role("button", name="Clear faults").click()
    expect(page.locator("#faults-badge")).to_have_text("None")
    assert http.get(f"{ADMIN}/faults", params={"orgId": org["id"]}).json()["rules"] == []


def test_fault_rules_move_show_unsaved_work_and_follow_their_counts(
    page: Page, http: httpx.Client, service: Service
) -> None:
    org = new_org(http, "Rules Org")
    new_org(http, "Other Rules Org")
    rules = [
        {"endpoint": "plant/list", "kind": "error", "status": 503, "count": 3},
        {"endpoint": "token", "kind": "latency", "latencyMs": 1},
    ]
    assert http.put(f"{ADMIN}/faults", params={"orgId": org["id"]}, json={"rules": rules})
    open_org(page, "Rules Org")
    faults = page.locator("#faults-card")
    unsaved = page.locator("#faults-unsaved")
    expect(page.locator("#rule-0-count")).to_have_value("3")
    expect(unsaved).to_be_hidden()

    # An edit is marked as unsaved; the counts still follow the calls that fire the rule.
    page.get_by_label("Token lifetime").fill("45")
    expect(unsaved).to_have_text("Unsaved changes")
    listing = f"{service.base_url}/api/v1/voke-esm/trading/plant/list"
    assert httpx.get(listing, headers=trading_token(service, org)).status_code == 503
    expect(page.locator("#rule-0-count")).to_have_value("2", timeout=15_000)
    expect(page.get_by_label("Token lifetime")).to_have_value("45")

    # Rules move like time blocks: order matters, they apply top down.
    expect(faults.get_by_role("button", name="Move rule 1 up")).to_be_disabled()
    faults.get_by_role("button", name="Move rule 2 up").click()
    expect(page.locator("#rule-0-endpoint")).to_have_value("token")
    expect(page.locator("#rule-1-endpoint")).to_have_value("plant/list")
    expect(faults.get_by_role("button", name="Move rule 1 down")).to_be_focused()

    # Another org, with this edit unsaved: asked first, and Cancel keeps the edit.
    page.get_by_label("Organization", exact=True).select_option(label="Other Rules Org")
    confirm = page.get_by_role("dialog", name="Discard the unsaved fault rules?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(page.locator("#org-select option:checked")).to_have_text("Rules Org")
    expect(page.locator("#rule-0-endpoint")).to_have_value("token")
    screenshot(page, "polish-fault-rules.png", full_page=True)

    faults.get_by_role("button", name="Save faults").click()
    expect(unsaved).to_be_hidden()
    stored = http.get(f"{ADMIN}/faults", params={"orgId": org["id"]}).json()
    assert [rule["endpoint"] for rule in stored["rules"]] == ["token", "plant/list"]
    assert (stored["rules"][1]["count"], stored["tokenTtlSeconds"]) == (2, 45)

    # Saved: another org is picked without a question.
    page.get_by_label("Organization", exact=True).select_option(label="Other Rules Org")
    expect(page.locator("#faults-badge")).to_have_text("None")
    expect(confirm).to_be_hidden()


# Journal --------------------------------------------------------------------------------------


def _journal_with_every_kind_of_row(service: Service, http: httpx.Client, name: str) -> str:
    """An org whose journal has a token call, a cfg_rejected update, a dropped call and 12
    plant/list calls (answered 200 or 429); its id."""
    org = new_org(http, name)
    trading = f"{service.base_url}/api/v1/voke-esm/trading"
    headers = trading_token(service, org)
    (plant,) = http.get(f"{ADMIN}/plants", params={"orgId": org["id"]}).json()
    bad = [{**WHOLE_DAY[0], "socMin": 95}]
    update = {
        "plantId": plant["externalPlantId"],
        "configUpdateReqCode": "rejected-1",
        "validateOnly": False,
        "timeConfigs": bad,
    }
    answer = httpx.post(f"{trading}/plant/config/update", json=update, headers=headers)
    assert answer.json()["resultCode"] == "cfg_rejected", answer.text
    drop = {"rules": [{"endpoint": "plant/config", "kind": "drop"}]}
    assert http.put(f"{ADMIN}/faults", params={"orgId": org["id"]}, json=drop).is_success
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{trading}/plant/config", params={"plantId": "x"}, headers=headers)
    assert http.delete(f"{ADMIN}/faults", params={"orgId": org["id"]}).is_success
    # The trading limit (10 a minute) answers some of these 429: recorded all the same.
    statuses = {httpx.get(f"{trading}/plant/list", headers=headers).status_code for _ in range(12)}
    assert statuses <= {200, 429}
    deadline = time.monotonic() + 10
    while len(http.get(f"{ADMIN}/journal", params={"orgId": org["id"]}).json()) < 15:
        assert time.monotonic() < deadline, "the journal did not record the calls"
        time.sleep(0.2)
    return str(org["id"])


def test_the_journal_marks_filters_and_downloads_its_rows(
    page: Page, http: httpx.Client, service: Service
) -> None:
    org_id = _journal_with_every_kind_of_row(service, http, "Journal Org")
    open_org(page, "Journal Org")
    journal = page.locator("#journal-card")
    rows = page.locator("#journal-body tr")
    expect(rows).to_have_count(15)
    rejected = page.locator("#journal-body tr.rejected")
    expect(rejected).to_have_count(1)
    expect(rejected).to_contain_text("rejected")
    expect(rejected).to_contain_text("cfg_rejected")
    expect(rejected).to_contain_text("Voke pushes a schedule")
    dropped = page.locator("#journal-body tr.dropped")
    expect(dropped).to_have_count(1)
    expect(dropped.locator(".pill")).to_have_text("dropped")
    expect(dropped.locator(".pill")).to_have_attribute("title", re.compile("drop fault"))

    # Filters work on the loaded rows.
    journal.get_by_label("Status", exact=True).select_option("dropped")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("plant/config")
    journal.get_by_label("Status", exact=True).select_option("")
    journal.get_by_label("Config update", exact=True).select_option("cfg_rejected")
    expect(rows).to_have_count(1)
    journal.get_by_label("Config update", exact=True).select_option("")
    journal.get_by_label("Call", exact=True).select_option("plant/list")
    expect(rows).to_have_count(12)
    expect(page.locator("#journal-shown")).to_have_text("12 of 12 matching calls shown (15 loaded)")
    journal.get_by_label("Call", exact=True).select_option("")

    # The download is what GET journal gives.
    with page.expect_download() as download:
        page.locator("#journal-card").get_by_role("button", name="Download", exact=True).click()
    downloaded = json.loads(download.value.path().read_text())
    stored = http.get(f"{ADMIN}/journal", params={"orgId": org_id, "limit": 100}).json()
    assert downloaded == stored
    assert download.value.suggested_filename.endswith("-journal.json")


def test_at_phone_width_the_journal_shows_a_page_of_rows(
    page: Page, http: httpx.Client, service: Service
) -> None:
    _journal_with_every_kind_of_row(service, http, "Phone Journal Org")
    page.set_viewport_size(PHONE)
    open_org(page, "Phone Journal Org")
    page.get_by_role("button", name="Journal", exact=True).click()
    rows = page.locator("#journal-body tr")
    expect(rows).to_have_count(10)
    page.get_by_role("button", name="Show more").click()
    expect(rows).to_have_count(15)
    expect(page.get_by_role("button", name="Show more")).to_be_hidden()
    screenshot(page, "polish-journal-phone.png", full_page=True)


# Phone width ----------------------------------------------------------------------------------


def test_at_phone_width_sections_are_tabs_and_selects_fit(page: Page, http: httpx.Client) -> None:
    new_org(http, "Northwind Solar and Storage")
    page.set_viewport_size(PHONE)
    open_org(page, "Northwind Solar and Storage")
    tabs = page.get_by_role("navigation", name="Sections")
    expect(tabs).to_be_visible()
    expect(page.locator("#status-card")).to_be_visible()
    expect(page.locator("#plants-card")).to_be_hidden()
    for name, card in [("Plants", "#plants-card"), ("Faults", "#faults-card")]:
        tabs.get_by_role("button", name=name).click()
        expect(tabs.get_by_role("button", name=name)).to_have_attribute("aria-pressed", "true")
        expect(page.locator(card)).to_be_visible()
        expect(page.locator("#status-card")).to_be_hidden()
    expect(page.locator("#session-email")).to_be_visible()
    expect(page.locator("#session-email")).to_be_in_viewport()

    # Selects are as wide as what they show: the org's name, a rule's endpoint, the filters.
    page.locator("#faults-card").get_by_role("button", name="Add rule").click()
    page.locator("#rule-0-endpoint").select_option("plant/config/update")
    for select in ["#org-select", "#rule-0-endpoint", "#rule-0-kind"]:
        assert _room_beside_the_text(page, select) >= 0, select
    screenshot(page, "polish-phone-faults.png", full_page=True)
    tabs.get_by_role("button", name="Journal").click()
    page.locator("#journal-filter-endpoint").select_option("plant/config/update")
    for select in ["#journal-filter-endpoint", "#journal-filter-status", "#journal-filter-result"]:
        assert _room_beside_the_text(page, select) >= 0, select


def _room_beside_the_text(page: Page, selector: str) -> float:
    """How much wider a select is than the text of its chosen option (negative: cut off)."""
    room: float = page.evaluate(
        """(selector) => {
            const select = document.querySelector(selector);
            const style = getComputedStyle(select);
            const canvas = document.createElement("canvas").getContext("2d");
            canvas.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
            const text = select.options[select.selectedIndex].text;
            const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
            const arrow = 1.5 * parseFloat(style.fontSize);  // the drop-down arrow
            return select.clientWidth - padding - arrow - canvas.measureText(text).width;
        }""",
        selector,
    )
    return room


# Plain words ----------------------------------------------------------------------------------


def test_names_and_states_have_plain_words_beside_them(page: Page, http: httpx.Client) -> None:
    new_org(http, "Words Org", enable=False)
    open_org(page, "Words Org")
    expect(page.locator("#plants-card")).to_contain_text("PLC_READY means")
    expect(page.locator("#plants-card")).to_contain_text(
        "while Voke ESM is disabled for the organization no call reaches it"
    )
    expect(page.locator("#credentials-where")).to_contain_text(
        "nothing needs to be pasted anywhere"
    )
    expect(page.locator("#status-card")).to_contain_text("Who Voke signs in as")

    page.get_by_role("button", name="Enable", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Enable").click()
    credentials = page.get_by_role("dialog", name="Credentials for Words Org")
    expect(credentials).to_contain_text("nothing needs to be pasted")
    expect(credentials).to_contain_text("trading partner settings")
    credentials.get_by_role("button", name="I have stored them").click()
    page.get_by_role("button", name="New plant").click()
    editor = page.get_by_role("dialog", name="New plant")
    expect(editor.get_by_label("ESI state")).to_have_accessible_description(
        re.compile("PLC_READY: its PLC is online and ready to run a schedule")
    )


# Plant editor and restore ---------------------------------------------------------------------


def test_escape_with_unsaved_input_asks_before_discarding(page: Page, http: httpx.Client) -> None:
    new_org(http, "Escape Org")
    open_org(page, "Escape Org")
    page.get_by_role("button", name="New plant").click()
    editor = page.get_by_role("dialog", name="New plant")
    expect(editor).to_be_visible()  # the key goes to the open dialog, not to the page before it
    # Nothing typed: Escape closes at once.
    page.keyboard.press("Escape")
    expect(editor).to_be_hidden()

    page.get_by_role("button", name="New plant").click()
    editor.get_by_label("Name", exact=True).fill("Half typed")
    page.keyboard.press("Escape")
    confirm = page.get_by_role("dialog", name="Discard your changes?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(editor).to_be_visible()
    expect(editor.get_by_label("Name", exact=True)).to_have_value("Half typed")

    page.keyboard.press("Escape")
    confirm.get_by_role("button", name="Discard changes").click()
    expect(editor).to_be_hidden()


def test_a_late_close_event_of_an_earlier_question_does_not_end_the_open_one(
    page: Page, http: httpx.Client
) -> None:
    # Chromium fires a dialog's `close` event at the next animation frame: on a busy machine the
    # one of the question answered before arrives after the next question opened.
    new_org(http, "Late Close Org")
    open_org(page, "Late Close Org")
    page.get_by_role("button", name="New plant").click()
    editor = page.get_by_role("dialog", name="New plant")
    editor.get_by_label("Name", exact=True).fill("Half typed")
    page.keyboard.press("Escape")
    confirm = page.get_by_role("dialog", name="Discard your changes?")
    expect(confirm).to_be_visible()
    page.locator("#confirm-dialog").dispatch_event("close")  # the earlier question's, arriving late
    confirm.get_by_role("button", name="Discard changes").click()
    expect(editor).to_be_hidden()


def json_file(name: str, content: bytes) -> FilePayload:
    return {"name": name, "mimeType": "application/json", "buffer": content}


def test_restore_checks_the_file_before_asking(page: Page, http: httpx.Client) -> None:
    org = new_org(http, "Restore Org")
    open_org(page, "Restore Org")
    restores: list[str] = []
    page.on(
        "request",
        lambda request: restores.append(request.url) if request.method == "PUT" else None,
    )
    files = page.locator("#snapshot-file")
    not_a_snapshot = json.dumps({"rules": []}).encode()
    files.set_input_files(files=[json_file("faults.json", not_a_snapshot)])
    expect(page.locator(".toast.error")).to_have_text(
        re.compile(r"faults\.json is not a snapshot: it has no list of plants\. Nothing was")
    )
    expect(page.get_by_role("dialog")).to_have_count(0)
    broken_plant = json.dumps({"plants": [{"name": "No id"}]}).encode()
    files.set_input_files(files=[json_file("broken.json", broken_plant)])
    expect(page.locator(".toast.error", has_text="broken.json")).to_contain_text(
        "plant 1 has no externalPlantId"
    )
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert restores == []

    # A real snapshot gets the question.
    snapshot = http.get(f"{ADMIN}/snapshot", params={"orgId": org["id"]}).content
    files.set_input_files(files=[json_file("good.json", snapshot)])
    expect(page.get_by_role("dialog", name="Restore good.json into Restore Org?")).to_be_visible()


# Times ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280", "390"])
def test_every_time_on_the_page_says_utc(
    page: Page, http: httpx.Client, service: Service, viewport: Any
) -> None:
    name = f"Time Org {viewport['width']}"
    org = new_org(http, name)
    trading_token(service, org)  # a journal row
    page.set_viewport_size(viewport)
    open_org(page, name)
    expect(page.locator("#journal-body tr")).to_have_count(1)
    expect(page.locator("#journal-updated")).to_contain_text("Updated")
    expect(page.locator("#clock-now")).to_contain_text("Simulated time")
    times = page.locator("main time")
    assert times.count() >= 4  # enabled since, the plant's update, the journal row, the clock
    texts = [*times.all_text_contents(), page.locator("#journal-updated").text_content() or ""]
    assert all(text.rstrip().endswith("UTC") for text in texts), texts
    for header in ["Updated (UTC)", "Time (UTC)"]:
        expect(page.locator("th", has_text=header)).to_have_count(1)


def test_older_calls_come_by_asking_for_more_of_the_newest(page: Page, http: httpx.Client) -> None:
    """GET journal has `limit` and `since` (newer than) only: older calls come with a larger
    `limit`. The journal is stood in for here: the trading limit keeps real calls few."""
    new_org(http, "Older Org")
    held = [
        {
            "at": f"2026-12-01T10:{59 - n // 60:02d}:{59 - n % 60:02d}.000000Z",
            "clientId": "vesm-older",
            "method": "GET",
            "path": "/api/v1/voke-esm/trading/plant/list",
            "status": 200,
            "plantId": None,
            "configUpdateReqCode": None,
            "resultCode": None,
            "durationMs": 1.0,
        }
        for n in range(150)
    ]
    limits: list[str] = []

    def answer(route: Route) -> None:
        if route.request.method != "GET":
            route.continue_()
            return
        limit = route.request.url.split("limit=")[1].split("&")[0]
        limits.append(limit)
        route.fulfill(json=held[: int(limit)])

    page.route("**/admin/journal?*", answer)
    open_org(page, "Older Org")
    rows = page.locator("#journal-body tr")
    expect(rows).to_have_count(50)
    more = page.locator("#journal-more")
    expect(more).to_have_text("Show more")
    more.click()
    expect(rows).to_have_count(100)
    expect(more).to_have_text("Show older calls")
    more.click()
    expect(rows).to_have_count(150)
    expect(more).to_be_hidden()
    assert "200" in limits
    expect(page.locator("#journal-shown")).to_have_text("150 of 150 loaded calls shown")


def test_leaving_the_page_with_unsaved_fault_rules_asks_first(
    page: Page, http: httpx.Client
) -> None:
    new_org(http, "Leave Org")
    open_org(page, "Leave Org")
    asked: list[str] = []

    def on_dialog(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", on_dialog)
    page.locator("#faults-card").get_by_role("button", name="Add rule").click()
    expect(page.locator("#faults-unsaved")).to_be_visible()
    page.close(run_before_unload=True)
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
