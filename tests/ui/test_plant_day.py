"""The plant's day on the admin page (CONTRACT §12, its last bullet, and §10) in a real Chromium.

The service is the real one on a loopback port. The chart's plotted series are read back from the
uPlot instance the page keeps on the chart's element, and compared with what the timeseries
endpoint answers; the bar, the marker, the version and the last update with what the service
holds; conditions, the new plant fields and the clock as the API stores them after the page saved
them. Both widths; nothing the page loads leaves the machine.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.ui.support import (
    LAPTOP,
    PHONE,
    THREE_BLOCKS,
    Service,
    Voke,
    enabled_org,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.browser

expect.set_options(timeout=10_000)

ADMIN = "/api/v1/voke-esm/admin"
# A frozen simulated clock: the page and the test read the same day, however long either takes.
DAY_START = "2026-06-21T00:00:00Z"
NOON_ISH = "2026-06-21T13:30:00Z"
SERIES_KEYS = ["soc", "pBat", "pPv", "pLoad", "pGrid"]

# What the page drew: uPlot's series labels and data (seconds, then one array per series).
READ_PLOT = """() => {
  const plot = document.querySelector('#day-chart').plot;
  return {
    labels: plot.series.map((series) => series.label),
    data: plot.data.map((values) => Array.from(values)),
    width: plot.width,
  };
}"""


def _timeseries(http: httpx.Client, plant_id: str) -> dict[str, Any]:
    answer = http.get(f"{ADMIN}/plants/{plant_id}/timeseries", params={"stepMinutes": 15})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _epoch_seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def assert_chart_shows(page: Page, timeseries: dict[str, Any]) -> None:
    """The chart plots exactly the endpoint's points: every instant and every value."""
    points = timeseries["points"]
    expect(page.locator("#day-chart canvas").first).to_be_visible()
    page.wait_for_function(
        "(n) => document.querySelector('#day-chart').plot?.data[0].length === n", arg=len(points)
    )
    drawn = page.evaluate(READ_PLOT)
    assert drawn["labels"] == [
        "Time",
        "SoC (%)",
        "Battery pBat (kW)",
        "PV pPv (kW)",
        "Load pLoad (kW)",
        "Grid pGrid (kW)",
    ]
    assert drawn["data"][0] == [_epoch_seconds(point["at"]) for point in points]
    for index, key in enumerate(SERIES_KEYS, start=1):
        assert drawn["data"][index] == [point[key] for point in points], key


def save_conditions(page: Page) -> None:
    """Save, and wait until the page has the answer and has drawn the day afresh."""
    page.get_by_role("button", name="Save conditions").click()
    expect(page.locator("#save-conditions")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#conditions-form .form-error")).to_be_hidden()
    expect(page.locator(".toast", has_text="Conditions of")).to_contain_text("saved")


def _stored_conditions(http: httpx.Client, plant_id: str) -> list[dict[str, Any]]:
    answer = http.get(f"{ADMIN}/plants/{plant_id}/conditions")
    assert answer.status_code == 200, answer.text
    conditions: list[dict[str, Any]] = answer.json()["conditions"]
    return conditions


def _same_instant(a: str, b: str) -> bool:
    return _epoch_seconds(a) == _epoch_seconds(b)


def _open_day(page: Page, org_name: str, plant: dict[str, Any]) -> None:
    page.goto("/platform/voke-esm")
    sign_in(page)
    page.get_by_label("Organization", exact=True).select_option(label=org_name)
    page.get_by_role("button", name=f"Day of {plant['name']}").click()
    expect(page.locator("#day-title")).to_be_focused()
    # The day read for the click is drawn (a load the table started before it is dropped).
    expect(page.locator("#day-card")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#day-plant option:checked")).to_contain_text(plant["externalPlantId"])


def test_the_day_shows_the_blocks_the_marker_the_chart_and_the_last_push(
    page: Page, service: Service
) -> None:
    http, credentials, org_id = enabled_org(service, "Day Org")
    (plant,) = http.get(f"{ADMIN}/plants", params={"orgId": org_id}).json()
    # The simulation starts at midnight and runs to 13:30: the whole day is simulated, the
    # marker in the afternoon.
    frozen_clock = {"at": DAY_START, "frozen": True}
    assert http.put(f"{ADMIN}/clock", params={"orgId": org_id}, json=frozen_clock).is_success
    clock = http.post(f"{ADMIN}/clock/advance", params={"orgId": org_id}, json={"minutes": 810})
    assert clock.status_code == 200, clock.text
    assert _same_instant(clock.json()["now"], NOON_ISH)
    voke = Voke(service, credentials)
    assert voke.push(plant["externalPlantId"], THREE_BLOCKS) == 2
    timeseries = _timeseries(http, plant["id"])
    assert len(timeseries["points"]) == 96

    _open_day(page, "Day Org", plant)

    # The bar: one segment per block, in order, placed by its minutes; the marker at 13:30 UTC.
    segments = page.locator("#day-bar li")
    expect(segments).to_have_count(3)
    for index, block in enumerate(THREE_BLOCKS):
        expect(segments.nth(index)).to_have_attribute("data-from", str(block["from"]))
        expect(segments.nth(index)).to_have_attribute("data-to", str(block["to"]))
    expect(segments.nth(1)).to_contain_text("06:00–18:00 UTC: -15 to 15 kW, SoC 25–90 %")
    bar = page.locator("#day-bar").bounding_box()
    middle = segments.nth(1).bounding_box()
    assert bar is not None
    assert middle is not None
    assert math.isclose(middle["x"] - bar["x"], bar["width"] * 6 / 24, abs_tol=2)
    assert math.isclose(middle["width"], bar["width"] * 12 / 24, abs_tol=2)
    marker = page.locator("#day-marker")
    expect(marker).to_be_visible()
    expect(marker).to_have_attribute("data-at", clock.json()["now"])
    expect(page.locator("#day-marker-label")).to_have_text("13:30 UTC")
    box = marker.bounding_box()
    assert box is not None
    assert math.isclose(box["x"] - bar["x"], bar["width"] * 13.5 / 24, abs_tol=2)
    expect(page.locator("#day-date")).to_have_text("Sunday, 21 June 2026 (UTC)")
    expect(page.locator("#day-now")).to_contain_text("13:30:00 UTC (frozen)")

    # The chart: the endpoint's points, all of them, drawn across the card; the page as wide
    # as the window.
    assert_chart_shows(page, timeseries)
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    # The plants table too, with its Day buttons: no scrolling sideways.
    assert page.evaluate(
        "(() => { const wrap = document.querySelector('#plants-card .table-wrap');"
        " return wrap.scrollWidth <= wrap.clientWidth; })()"
    )
    screenshot(page, "admin-page-day.png", element="#day-card")
    # The config version and the last update Voke pushed, from the journal.
    expect(page.locator("#day-version")).to_have_text("2")
    last = page.locator("#day-last-update")
    expect(last).to_contain_text("ui-push-1")
    expect(last).to_contain_text("applied_ok")
    expect(last).to_contain_text("UTC")

    # A second push shows up on Refresh: its blocks, its version, its code.
    assert voke.push(plant["externalPlantId"], THREE_BLOCKS[:1]) == 3
    page.locator("#day-refresh").click()
    expect(segments).to_have_count(1)
    expect(page.locator("#day-version")).to_have_text("3")
    expect(last).to_contain_text("ui-push-2")
    assert_chart_shows(page, _timeseries(http, plant["id"]))

    # At phone width the card is in the Plants section, the chart as wide as the card.
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="Plants", exact=True).click()
    expect(page.locator("#day-card")).to_be_visible()
    page.wait_for_function("() => document.querySelector('#day-chart').plot.width <= 390")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_chart_shows(page, _timeseries(http, plant["id"]))
    screenshot(page, "admin-page-day-phone.png", element="#day-card")
    http.close()


def test_conditions_saved_in_the_page_are_the_plants_and_redraw_the_day(
    page: Page, service: Service
) -> None:
    http, _credentials, org_id = enabled_org(service, "Conditions Org")
    (plant,) = http.get(f"{ADMIN}/plants", params={"orgId": org_id}).json()
    http.put(f"{ADMIN}/clock", params={"orgId": org_id}, json={"at": NOON_ISH, "frozen": True})
    _open_day(page, "Conditions Org", plant)
    expect(page.locator("#no-conditions")).to_be_visible()
    before = _timeseries(http, plant["id"])
    assert_chart_shows(page, before)

    # A new condition starts at the simulated hour; one that ends before it starts is refused
    # with the error beside its field.
    page.get_by_role("button", name="Add condition").click()
    expect(page.locator("#condition-0-kind")).to_be_focused()
    expect(page.locator("#condition-0-from")).to_have_value("2026-06-21T13:00")
    expect(page.locator("#condition-0-factor")).to_have_value("0.3")
    page.locator("#condition-0-to").fill("2026-06-21T12:00")
    page.get_by_role("button", name="Save conditions").click()
    expect(page.locator("#conditions-form .field-error:visible").first).to_be_visible()
    expect(page.locator("#conditions-form [aria-invalid=true]").first).to_be_visible()
    assert _stored_conditions(http, plant["id"]) == []

    # A cloud all afternoon and a grid outage in the evening: saved, and stored as typed (UTC).
    page.locator("#condition-0-to").fill("2026-06-21T18:00")
    page.locator("#condition-0-factor").fill("0.2")
    page.get_by_role("button", name="Add condition").click()
    page.locator("#condition-1-kind").select_option("gridOutage")
    expect(page.locator("#condition-1-factor")).to_be_hidden()  # a factor is the cloud's only
    page.locator("#condition-1-from").fill("2026-06-21T19:00")
    page.locator("#condition-1-to").fill("2026-06-21T21:30")
    save_conditions(page)
    stored = _stored_conditions(http, plant["id"])
    assert [(c["kind"], c.get("factor")) for c in stored] == [("cloud", 0.2), ("gridOutage", None)]
    assert _same_instant(stored[0]["from"], "2026-06-21T13:00:00Z")
    assert _same_instant(stored[0]["to"], "2026-06-21T18:00:00Z")
    assert _same_instant(stored[1]["from"], "2026-06-21T19:00:00Z")
    assert _same_instant(stored[1]["to"], "2026-06-21T21:30:00Z")

    # The day is drawn afresh: the conditions under the bar, the chart with their effect.
    lane = page.locator("#day-conditions li")
    expect(lane).to_have_count(2)
    expect(lane.nth(0)).to_have_attribute("data-kind", "cloud")
    expect(lane.nth(1)).to_contain_text("gridOutage: 19:00–21:30 UTC")
    after = _timeseries(http, plant["id"])
    assert after != before
    assert_chart_shows(page, after)

    # A reload lists them; removing one and saving stores the other; Clear removes all.
    page.reload()
    page.get_by_role("button", name=f"Day of {plant['name']}").click()
    expect(page.locator("#condition-list > li")).to_have_count(2)
    expect(page.locator("#condition-1-kind")).to_have_value("gridOutage")
    page.get_by_role("button", name="Remove condition 1").click()
    save_conditions(page)
    assert [c["kind"] for c in _stored_conditions(http, plant["id"])] == ["gridOutage"]
    page.get_by_role("button", name="Clear conditions").click()
    page.get_by_role("dialog", name=f"Clear the conditions of {plant['name']}?").get_by_role(
        "button", name="Clear conditions"
    ).click()
    expect(page.locator("#no-conditions")).to_be_visible()
    assert _stored_conditions(http, plant["id"]) == []
    http.close()


def test_the_editor_saves_the_simulated_sites_fields(page: Page, service: Service) -> None:
    http, _credentials, org_id = enabled_org(service, "Site Org")
    (plant,) = http.get(f"{ADMIN}/plants", params={"orgId": org_id}).json()
    page.goto("/platform/voke-esm")
    sign_in(page)
    page.get_by_label("Organization", exact=True).select_option(label="Site Org")
    page.get_by_role("button", name=f"Edit {plant['name']}").click()
    editor = page.get_by_role("dialog", name=f"Edit {plant['name']}")
    # The stored values (§12's defaults for the default plant).
    expect(editor.get_by_label("Latitude")).to_have_value(str(plant["latitude"]))
    expect(editor.get_by_label("Simulation")).to_have_value(plant["simulation"])

    # Out of range: the API's error beside the field, nothing saved.
    editor.get_by_label("Latitude").fill("95")
    editor.get_by_role("button", name="Save changes").click()
    expect(page.locator("#plant-latitude-error")).to_be_visible()
    expect(editor.get_by_label("Latitude")).to_have_attribute("aria-invalid", "true")
    assert http.get(f"{ADMIN}/plants/{plant['id']}").json()["latitude"] == plant["latitude"]

    editor.get_by_label("Latitude").fill("-33.92")
    editor.get_by_label("Longitude").fill("18.42")
    editor.get_by_label("Annual load").fill("5200")
    editor.get_by_label("Round-trip efficiency").fill("0.85")
    editor.get_by_label("Initial state of charge").fill("60")
    editor.get_by_label("Simulation").select_option("sawtooth")
    editor.get_by_role("button", name="Save changes").click()
    expect(editor).to_be_hidden()
    stored = http.get(f"{ADMIN}/plants/{plant['id']}").json()
    assert {
        key: stored[key]
        for key in (
            "latitude",
            "longitude",
            "annualLoadKwh",
            "roundTripEfficiency",
            "initialSoc",
            "simulation",
        )
    } == {
        "latitude": -33.92,
        "longitude": 18.42,
        "annualLoadKwh": 5200,
        "roundTripEfficiency": 0.85,
        "initialSoc": 60,
        "simulation": "sawtooth",
    }

    # A new plant starts from §12's defaults and saves them (once the org's cards are read
    # afresh after the save: until then the page has no status to create a plant with).
    expect(page.locator("#status-card")).not_to_have_class(re.compile(r"\bloading\b"))
    page.get_by_role("button", name="New plant").click()
    creator = page.get_by_role("dialog", name="New plant")
    expect(creator.get_by_label("Latitude")).to_have_value("50.08")
    expect(creator.get_by_label("Round-trip efficiency")).to_have_value("0.9")
    creator.get_by_label("Name", exact=True).fill("Site South")
    creator.get_by_label("Initial state of charge").fill("75")
    creator.get_by_role("button", name="Create plant").click()
    expect(creator).to_be_hidden()
    created = next(
        p
        for p in http.get(f"{ADMIN}/plants", params={"orgId": org_id}).json()
        if p["name"] == "Site South"
    )
    assert (created["latitude"], created["initialSoc"], created["simulation"]) == (
        50.08,
        75,
        "selfConsumption",
    )
    http.close()


def test_the_clock_restarts_at_an_instant_frozen_and_the_day_follows(
    page: Page, service: Service
) -> None:
    http, _credentials, org_id = enabled_org(service, "Set Clock Org")
    (plant,) = http.get(f"{ADMIN}/plants", params={"orgId": org_id}).json()
    _open_day(page, "Set Clock Org", plant)
    page.get_by_label("Restart the simulation at (UTC)").fill("2030-01-02T03:04")
    page.get_by_label("Frozen").check()
    page.get_by_role("button", name="Set clock", exact=True).click()
    expect(page.locator("#clock-now")).to_contain_text("03:04:00 UTC (frozen)")
    clock = http.get(f"{ADMIN}/clock", params={"orgId": org_id}).json()
    assert _same_instant(clock["now"], "2030-01-02T03:04:00Z")
    assert clock["frozen"] is True
    assert _same_instant(clock["startedAt"], "2030-01-02T03:04:00Z")
    # The day card shows the new simulated day, with the marker at 03:04 UTC.
    expect(page.locator("#day-date")).to_have_text("Wednesday, 2 January 2030 (UTC)")
    expect(page.locator("#day-marker-label")).to_have_text("03:04 UTC")
    assert_chart_shows(page, _timeseries(http, plant["id"]))

    # A comms loss from the simulated hour on: the telemetry reading (schemaVersion 2) says
    # the plant's states and that its values are stale.
    page.get_by_role("button", name="Add condition").click()
    expect(page.locator("#condition-0-from")).to_have_value("2030-01-02T03:00")
    page.locator("#condition-0-kind").select_option("commsLoss")
    save_conditions(page)
    expect(page.locator("#day-conditions li")).to_have_attribute("data-kind", "commsLoss")
    page.get_by_role("button", name=f"Telemetry reading of {plant['name']}").click()
    reading = page.locator(".toast", has_text="Telemetry reading")
    expect(reading).to_contain_text("PV 0 kW")  # 03:04 UTC in Prague in January: night
    expect(reading).to_contain_text("ON_GRID")
    expect(reading).to_contain_text("stale (comms lost)")

    # A time the API refuses: its error beside the field.
    page.get_by_label("Restart the simulation at (UTC)").fill("")
    page.get_by_role("button", name="Set clock", exact=True).click()
    expect(page.locator("#clock-at-error")).to_be_visible()
    http.close()


def test_the_marker_follows_a_running_clock(page: Page, service: Service) -> None:
    """Not frozen, simulated time follows real time: the marker moves with it, without a reload.
    The page's timers run on Playwright's clock, so an hour passes at once."""
    http, _credentials, org_id = enabled_org(service, "Running Clock Org")
    (plant,) = http.get(f"{ADMIN}/plants", params={"orgId": org_id}).json()
    running = {"at": "2026-06-21T10:00:00Z", "frozen": False}
    assert http.put(f"{ADMIN}/clock", params={"orgId": org_id}, json=running).is_success
    page.clock.install()
    _open_day(page, "Running Clock Org", plant)
    expect(page.locator("#day-marker-label")).to_have_text("10:00 UTC")
    expect(page.locator("#day-now")).not_to_contain_text("frozen")
    left = page.locator("#day-marker").bounding_box()

    # In steps: the fake timers fire at most 1,000 callbacks a run (the journal's every 5 s).
    for _ in range(6):
        page.clock.run_for("10:00")
    expect(page.locator("#day-marker-label")).to_have_text("11:00 UTC")
    moved = page.locator("#day-marker").bounding_box()
    bar = page.locator("#day-bar").bounding_box()
    assert left is not None
    assert moved is not None
    assert bar is not None
    assert math.isclose(moved["x"] - left["x"], bar["width"] / 24, abs_tol=2)
    expect(page.locator("#day-now")).to_contain_text("11:00:")
    http.close()
