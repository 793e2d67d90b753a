"""The journal card (CONTRACT §11, issue 12) in a real Chromium against the real service: a row
opens to show a config update's blocks and errors, injected faults are marked, and older calls
are paged with `before`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from tests.ui.support import (
    LAPTOP,
    PHONE,
    WHOLE_DAY,
    Service,
    new_org,
    open_org,
    screenshot,
    trading_token,
)

pytestmark = pytest.mark.browser

ADMIN = "/api/v1/voke-esm/admin"
TRADING = "/api/v1/voke-esm/trading"
BAD_BLOCKS = [{**WHOLE_DAY[0], "socMin": 95}]


def put_faults(http: httpx.Client, org_id: str, *rules: dict[str, Any]) -> None:
    answer = http.put(f"{ADMIN}/faults", params={"orgId": org_id}, json={"rules": list(rules)})
    assert answer.is_success, answer.text


def push(service: Service, headers: dict[str, str], plant: str, blocks: list[Any]) -> str:
    body = {
        "plantId": plant,
        "configUpdateReqCode": f"req-{len(blocks)}-{blocks[0]['socMin']}",
        "validateOnly": False,
        "timeConfigs": blocks,
    }
    answer = httpx.post(
        f"{service.base_url}{TRADING}/plant/config/update", json=body, headers=headers
    )
    return str(answer.json()["resultCode"])


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280", "390"])
def test_a_row_opens_to_show_blocks_and_errors_and_faults_are_marked(
    page: Page, http: httpx.Client, service: Service, viewport: Any
) -> None:
    name = f"Detail Org {viewport['width']}"
    org = new_org(http, name)
    headers = trading_token(service, org)
    (plant,) = http.get(f"{ADMIN}/plants", params={"orgId": org["id"]}).json()
    assert push(service, headers, plant["externalPlantId"], BAD_BLOCKS) == "cfg_rejected"
    put_faults(
        http,
        org["id"],
        {"endpoint": "plant/list", "kind": "error", "status": 503, "count": 1},
        {"endpoint": "plant/config", "kind": "latency", "latencyMs": 1, "count": 1},
    )
    assert httpx.get(f"{service.base_url}{TRADING}/plant/list", headers=headers).status_code == 503
    config = httpx.get(
        f"{service.base_url}{TRADING}/plant/config",
        params={"plantId": plant["externalPlantId"]},
        headers=headers,
    )
    assert config.status_code == 200

    page.set_viewport_size(viewport)
    open_org(page, name)
    if viewport is PHONE:
        page.get_by_role("button", name="Journal", exact=True).click()
    rows = page.locator("#journal-body > tr:not(.journal-detail)")
    expect(rows).to_have_count(4)  # config, list, update, token

    # Injected faults are marked as what they are.
    injected = page.locator("#journal-body tr.injected")
    expect(injected).to_have_count(1)
    expect(injected).to_contain_text("plant/list")
    expect(injected.locator(".pill.fault")).to_have_text("injected")
    expect(injected.locator(".pill.fault")).to_have_attribute(
        "title", "An error fault rule answered this call: the ESM itself did not."
    )
    delayed = rows.filter(has_text="plant/config").filter(has_not_text="update")
    expect(delayed.locator(".pill.fault")).to_have_text("delayed")

    # The rejected update opens (by its button) to its errors and the blocks it sent.
    rejected = page.locator("#journal-body tr.rejected")
    toggle = rejected.get_by_role(
        "button", name="Show the details of this plant/config/update call"
    )
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    details = page.locator("#journal-body tr.journal-detail")
    expect(details).to_have_count(1)
    expect(details).to_contain_text("Errors answered (1)")
    expect(details.locator(".journal-errors li")).to_have_text(
        "timeConfigs[0].socMin must not exceed socMax"
    )
    expect(details).to_contain_text("Blocks sent (1)")
    cells = details.locator(".journal-blocks tbody td")
    expect(cells).to_have_text(["00:00", "23:59", "-50", "50", "95", "90"])
    expect(page.locator("#journal-body button[aria-expanded=true]")).to_be_focused()
    # It stays open through the journal's own refreshes, and closes again by a click on the row.
    page.locator("#journal-refresh").click()
    expect(details).to_have_count(1)
    screenshot(page, f"journal-details-{viewport['width']}.png", full_page=True)
    rejected.locator("td").nth(3).click()
    expect(details).to_have_count(0)

    # The injected error opens to say what made its answer.
    injected.locator(".row-toggle").click()
    expect(details).to_contain_text("An error fault rule answered this call")
    expect(details).not_to_contain_text("Blocks sent")


def test_older_calls_are_paged_with_before(
    page: Page, http: httpx.Client, service: Service
) -> None:
    org = new_org(http, "Paging Org")
    headers = trading_token(service, org)
    with httpx.Client(base_url=service.base_url, headers=headers) as trading:
        # The trading limit answers most of these 429: each is recorded all the same.
        for _ in range(119):
            trading.get(f"{TRADING}/plant/list")
    stored = http.get(f"{ADMIN}/journal", params={"orgId": org["id"], "limit": 1000}).json()
    assert len(stored) == 120

    page.set_viewport_size(LAPTOP)
    open_org(page, "Paging Org")
    rows = page.locator("#journal-body > tr")
    expect(rows).to_have_count(50)
    more = page.locator("#journal-more")
    more.click()
    expect(rows).to_have_count(100)
    expect(more).to_have_text("Show older calls")
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    more.click()
    expect(rows).to_have_count(120)
    expect(more).to_be_hidden()
    (older,) = [request for request in requests if "/admin/journal" in request.url]
    assert f"before={stored[99]['at'].replace(':', '%3A')}" in older.url
    times = page.locator("#journal-body time").evaluate_all(
        "nodes => nodes.map(node => node.getAttribute('datetime'))"
    )
    assert times == [entry["at"] for entry in stored]  # every call once, newest first
