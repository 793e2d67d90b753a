"""The quirks card beside the fault rules (CONTRACT §14): a checkbox per quirk, stored as soon as
it is toggled, and what is stored shows again on the next visit."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.ui.support import Service, enabled_org, sign_in

pytestmark = pytest.mark.browser


def stored_quirks(http: httpx.Client, org_id: str) -> list[str]:
    response = http.get("/api/v1/voke-esm/admin/quirks", params={"orgId": org_id})
    assert response.status_code == 200, response.text
    quirks: list[str] = response.json()["quirks"]
    return quirks


def test_toggling_a_quirk_stores_it(page: Page, service: Service) -> None:
    http, _, org_id = enabled_org(service, "Quirky Org")
    page.goto("/platform/voke-esm")
    sign_in(page)
    page.get_by_label("Organization", exact=True).select_option(label="Quirky Org")
    card = page.locator("#quirks-card")
    overlaps = card.get_by_label("Overlapping blocks are accepted.")
    no_token = card.get_by_label("A call without a token is answered 403 instead of 401.")

    expect(overlaps).to_be_enabled()
    overlaps.check()
    expect(card.locator("#quirks-badge")).to_have_text("1 on")
    assert stored_quirks(http, org_id) == ["acceptOverlaps"]
    no_token.check()
    expect(card.locator("#quirks-badge")).to_have_text("2 on")
    assert stored_quirks(http, org_id) == ["forbiddenForUnauthorized", "acceptOverlaps"]

    page.reload()
    page.get_by_label("Organization", exact=True).select_option(label="Quirky Org")
    expect(overlaps).to_be_checked()
    overlaps.uncheck()
    expect(card.locator("#quirks-badge")).to_have_text("1 on")
    assert stored_quirks(http, org_id) == ["forbiddenForUnauthorized"]
    http.close()
