"""The simulated site over HTTP (CONTRACT §12, §11's clock): the plant's site fields, the
timeseries, the conditions, and `PUT clock`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import SITE_DEFAULTS, WHOLE_DAY, Api, EnabledOrg, validation_error
from voke_esm.core.schemas import format_utc
from voke_esm.sandbox import model

ADMIN = "/api/v1/voke-esm/admin"
TRADING = "/api/v1/voke-esm/trading"
# Midsummer at the default position (Prague): the sun is up from about 02:50 to 19:15 UTC.
MIDSUMMER = datetime(2026, 6, 21, tzinfo=UTC)
SITE = {
    "fvePeakPowerKwp": 10.0,
    "capacityKwh": 10.0,
    "annualLoadKwh": 4000.0,
    "timeConfigs": WHOLE_DAY,
}
POINT_KEYS = {
    "at",
    "soc",
    "pBat",
    "pPv",
    "pLoad",
    "pGrid",
    "pLoadShed",
    "pPvCurtailed",
    "batteryState",
    "gridStatus",
    "activeBlock",
}


def iso(at: datetime) -> str:
    """As the service writes instants (CONTRACT: UTC with a `Z`)."""
    return format_utc(at)


async def set_clock(api: Api, org_id: str, body: dict[str, Any]) -> httpx.Response:
    return await api.http.put(
        f"{ADMIN}/clock", params={"orgId": org_id}, json=body, headers=api.headers
    )


async def frozen_at(api: Api, org: EnabledOrg, at: datetime) -> None:
    response = await set_clock(api, org.id, {"at": iso(at), "frozen": True})
    assert response.status_code == 200, response.text


async def timeseries(api: Api, plant_id: str, **params: Any) -> httpx.Response:
    return await api.http.get(
        f"{ADMIN}/plants/{plant_id}/timeseries", params=params, headers=api.headers
    )


async def points(api: Api, plant_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await timeseries(api, plant_id, **params)
    assert response.status_code == 200, response.text
    return list(response.json()["points"])


async def telemetry(api: Api, plant_id: str) -> dict[str, Any]:
    response = await api.http.post(f"{ADMIN}/plants/{plant_id}/telemetry", headers=api.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def put_conditions(api: Api, plant_id: str, *conditions: dict[str, Any]) -> httpx.Response:
    return await api.http.put(
        f"{ADMIN}/plants/{plant_id}/conditions",
        json={"conditions": list(conditions)},
        headers=api.headers,
    )


def condition(kind: str, start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "from": iso(start), "to": iso(end), **extra}


def model_point(
    plant: dict[str, Any],
    at: datetime,
    *,
    clock_start: datetime = MIDSUMMER,
    conditions: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    """What the pure model says the point at `at` is."""
    state = model.state_at(
        model.Plant.from_dict(plant), plant["timeConfigs"], conditions, clock_start, at
    )
    point = {key: value for key, value in state.to_dict().items() if key in POINT_KEYS}
    return {**point, "at": iso(at)}


class TestSiteFields:
    async def test_create_get_list_and_patch_carry_them(
        self, api: Api, enabled: EnabledOrg
    ) -> None:
        site = {
            "latitude": -33.87,
            "longitude": 151.21,
            "annualLoadKwh": 9000.5,
            "roundTripEfficiency": 1,
            "initialSoc": 0,
            "simulation": "sawtooth",
        }
        created = await api.create_sandbox_plant(enabled.client_id, **site)
        path = f"{ADMIN}/plants/{created['id']}"

        fetched = (await api.http.get(path, headers=api.headers)).json()
        (listed,) = [
            plant
            for plant in await api.sandbox_plants(clientId=enabled.client_id)
            if plant["id"] == created["id"]
        ]
        patched = await api.http.patch(
            path, json={"latitude": 0, "simulation": "selfConsumption"}, headers=api.headers
        )

        assert {key: created[key] for key in site} == site
        assert fetched == created
        assert listed == created
        assert patched.status_code == 200, patched.text
        assert {key: patched.json()[key] for key in site} == {
            **site,
            "latitude": 0,
            "simulation": "selfConsumption",
        }

    async def test_a_plant_created_without_them_takes_the_defaults(
        self, api: Api, enabled: EnabledOrg
    ) -> None:
        created = await api.create_sandbox_plant(enabled.client_id)
        (default,) = [
            plant
            for plant in await api.sandbox_plants(clientId=enabled.client_id)
            if plant["externalPlantId"] == enabled.default_plant_id
        ]

        assert {key: created[key] for key in SITE_DEFAULTS} == SITE_DEFAULTS
        assert {key: default[key] for key in SITE_DEFAULTS} == SITE_DEFAULTS

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("latitude", 90.5, "Input should be less than or equal to 90"),
            ("latitude", -91, "Input should be greater than or equal to -90"),
            ("latitude", "50", "Input should be a valid number"),
            ("longitude", 180.01, "Input should be less than or equal to 180"),
            ("longitude", -181, "Input should be greater than or equal to -180"),
            ("annualLoadKwh", -1, "Input should be greater than or equal to 0"),
            ("roundTripEfficiency", 0, "Input should be greater than 0"),
            ("roundTripEfficiency", 1.01, "Input should be less than or equal to 1"),
            ("initialSoc", 100.5, "Input should be less than or equal to 100"),
            ("initialSoc", -0.5, "Input should be greater than or equal to 0"),
            ("simulation", "linear", "Input should be 'selfConsumption' or 'sawtooth'"),
            ("simulation", None, "Input should be 'selfConsumption' or 'sawtooth'"),
        ],
    )
    async def test_each_field_is_validated_on_create_and_patch(
        self, api: Api, enabled: EnabledOrg, field: str, value: Any, message: str
    ) -> None:
        created = await api.post_sandbox_plant(
            {"clientId": enabled.client_id, "externalPlantId": "P-X", "name": "X", field: value}
        )
        (plant,) = await api.sandbox_plants(clientId=enabled.client_id)
        patched = await api.http.patch(
            f"{ADMIN}/plants/{plant['id']}", json={field: value}, headers=api.headers
        )

        assert (created.status_code, created.json()) == (400, validation_error((field, message)))
        assert (patched.status_code, patched.json()) == (400, validation_error((field, message)))
        assert await api.sandbox_plants(clientId=enabled.client_id) == [plant]

    async def test_the_trading_api_never_shows_them(
        self, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        bearer = {"Authorization": f"Bearer {trading_token}"}

        listed = (await api.http.get(f"{TRADING}/plant/list", headers=bearer)).json()
        config = (await api.plant_config(trading_token, enabled.default_plant_id)).json()

        for body in (*listed, config):
            assert not set(body) & {*SITE_DEFAULTS, "conditions"}, body


class TestTimeseries:
    async def test_defaults_to_the_simulated_utc_day_in_quarter_hours(
        self, api: Api, enabled: EnabledOrg
    ) -> None:
        plant = await api.create_sandbox_plant(enabled.client_id, **SITE)
        await frozen_at(api, enabled, MIDSUMMER + timedelta(hours=13, minutes=7))

        response = await timeseries(api, plant["id"])

        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"plantId", "from", "to", "stepMinutes", "points"}
        assert (body["plantId"], body["stepMinutes"]) == (plant["id"], 15)
        assert (body["from"], body["to"]) == (
            "2026-06-21T00:00:00.000000Z",
            "2026-06-22T00:00:00.000000Z",
        )
        assert len(body["points"]) == 96
        assert all(set(point) == POINT_KEYS for point in body["points"])
        assert [point["at"] for point in body["points"][:2]] == [
            "2026-06-21T00:00:00.000000Z",
            "2026-06-21T00:15:00.000000Z",
        ]

    async def test_points_are_the_models_values(self, api: Api, enabled: EnabledOrg) -> None:
        plant = await api.create_sandbox_plant(enabled.client_id, **SITE)
        await frozen_at(api, enabled, MIDSUMMER)
        start = MIDSUMMER + timedelta(hours=6)

        got = await points(
            api, plant["id"], **{"from": iso(start), "to": iso(start + timedelta(hours=8))}
        )

        expected = [model_point(plant, start + timedelta(minutes=15 * k)) for k in range(32)]
        assert got == expected
        assert any(point["pPv"] > 0 for point in got)
        assert any(point["pBat"] != 0 for point in got)

    async def test_from_alone_gives_a_day_and_to_alone_the_day_before_it(
        self, api: Api, enabled: EnabledOrg
    ) -> None:
        plant = await api.create_sandbox_plant(enabled.client_id, **SITE)
        await frozen_at(api, enabled, MIDSUMMER)
        start = MIDSUMMER + timedelta(hours=5)

        after = (
            await timeseries(api, plant["id"], **{"from": iso(start), "stepMinutes": 60})
        ).json()
        before = (await timeseries(api, plant["id"], to=iso(start), stepMinutes=60)).json()

        assert (after["from"], after["to"]) == (
            "2026-06-21T05:00:00.000000Z",
            "2026-06-22T05:00:00.000000Z",
        )
        assert (before["from"], before["to"]) == (
            "2026-06-20T05:00:00.000000Z",
            "2026-06-21T05:00:00.000000Z",
        )
        assert len(after["points"]) == len(before["points"]) == 24

    async def test_31_days_and_2000_points_are_the_bounds(
        self, api: Api, enabled: EnabledOrg
    ) -> None:
        plant = await api.create_sandbox_plant(enabled.client_id, **SITE)
        await frozen_at(api, enabled, MIDSUMMER)
        start = MIDSUMMER
        month = {"from": iso(start), "to": iso(start + timedelta(days=31))}

        widest = await timeseries(api, plant["id"], **month, stepMinutes=23)
        cases: list[tuple[dict[str, Any], tuple[str, str]]] = [
            (
                {**month, "to": iso(start + timedelta(days=31, minutes=1)), "stepMinutes": 60},
                ("to", "at most 31 days after from"),
            ),
            (
                {**month, "stepMinutes": 22},
                ("stepMinutes", "gives 2030 points from from to to; at most 2000"),
            ),
            ({"from": iso(start), "to": iso(start)}, ("to", "must be after from")),
            ({"stepMinutes": 0}, ("stepMinutes", "Input should be greater than or equal to 1")),
            (
                {"stepMinutes": "x"},
                (
                    "stepMinutes",
                    "Input should be a valid integer, unable to parse string as an integer",
                ),
            ),
            (
                {"from": "yesterday"},
                ("from", "Input should be a valid datetime or date, input is too short"),
            ),
        ]

        assert widest.status_code == 200, widest.text
        assert len(widest.json()["points"]) == 1941
        for params, error in cases:
            response = await timeseries(api, plant["id"], **params)
            assert (response.status_code, response.json()) == (400, validation_error(error)), params

    async def test_a_sawtooth_plant_has_no_pv_or_load_and_its_grid_carries_the_battery(
        self, api: Api, enabled: EnabledOrg
    ) -> None:
        plant = await api.create_sandbox_plant(enabled.client_id, **SITE, simulation="sawtooth")
        await frozen_at(api, enabled, MIDSUMMER)

        got = await points(api, plant["id"], **{"from": iso(MIDSUMMER), "stepMinutes": 60})

        # WHOLE_DAY at 50 kW on 10 kWh: a sawtooth of 500 % an hour between 20 and 90 %.
        assert {(p["pPv"], p["pLoad"], p["pLoadShed"], p["pPvCurtailed"]) for p in got} == {
            (0, 0, 0, 0)
        }
        assert all(point["pGrid"] == point["pBat"] for point in got)
        assert {point["pBat"] for point in got} <= {50, -50}
        assert all(20 <= point["soc"] <= 90 for point in got)

    async def test_an_unknown_plant_is_404(self, api: Api, enabled: EnabledOrg) -> None:
        missing = await timeseries(api, "497f6eca-6276-4993-bfeb-53cbbbba6f08")
        malformed = await timeseries(api, "acme")

        assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")
        assert (malformed.status_code, malformed.json()["code"]) == (400, "INVALID_UUID")


class TestConditions:
    async def test_put_get_and_delete(self, api: Api, enabled: EnabledOrg) -> None:
        plant = await api.create_sandbox_plant(enabled.client_id, **SITE)
        path = f"{ADMIN}/plants/{plant['id']}/conditions"
        outage = condition(
            "gridOutage", MIDSUMMER + timedelta(hours=18), MIDSUMMER + timedelta(hours=20)
        )
        cloud = condition(
            "cloud", MIDSUMMER + timedelta(hours=10), MIDSUMMER + timedelta(hours=14), factor=0.25
        )

        put = await put_conditions(api, plant["id"], outage, cloud)
        got = await api.http.get(path, headers=api.headers)
        deleted = await api.http.delete(path, headers=api.headers)
        after = await api.http.get(path, headers=api.headers)

        expected = {"plantId": plant["id"], "conditions": [cloud, {**outage, "factor": None}]}
        assert (put.status_code, put.json()) == (200, expected)
        assert (got.status_code, got.json()) == (200, expected)
        assert (deleted.status_code, deleted.json()) == (
            200,
            {"message": "Conditions of the plant removed"},
        )
        assert after.json() == {"plantId": plant["id"], "conditions": []}

    async def test_a_time_without_a_zone_is_utc_and_any_zone_is_written_in_utc(
        self, api: Api, enabled: EnabledOrg
    ) -> None:
        plant = await api.create_sandbox_plant(enabled.client_id, **SITE)

        put = await put_conditions(
            api,
            plant["id"],
            {"kind": "commsLoss", "from": "2026-06-21T10:00:00", "to": "2026-06-21T14:00:00+02:00"},
        )

        assert put.json()["conditions"] == [
            {
                "kind": "commsLoss",
                "from": "2026-06-21T10:00:00.000000Z",
                "to": "2026-06-21T12:00:00.000000Z",
                "factor": None,
            }
        ]

    @pytest.mark.parametrize(
        ("item", "error"),
        [
            (
                {"kind": "fog", "from": "2026-06-21T10:00:00Z", "to": "2026-06-21T11:00:00Z"},
                (
                    "conditions[0].kind",
                    "Input should be 'cloud', 'gridOutage', 'commsLoss' or 'batteryFault'",
                ),
            ),
            (
                {"kind": "commsLoss", "from": "2026-06-21T10:00:00Z", "to": "2026-06-21T10:00:00Z"},
                ("conditions[0].to", "must be after from"),
            ),
            (
                {"kind": "cloud", "from": "2026-06-21T10:00:00Z", "to": "2026-06-21T11:00:00Z"},
                ("conditions[0].factor", "a cloud needs a factor (0..1)"),
            ),
            (
                {
                    "kind": "cloud",
                    "from": "2026-06-21T10:00:00Z",
                    "to": "2026-06-21T11:00:00Z",
                    "factor": 1.5,
                },
                ("conditions[0].factor", "Input should be less than or equal to 1"),
            ),
            (
                {
                    "kind": "batteryFault",
                    "from": "2026-06-21T10:00:00Z",
                    "to": "2026-06-21T11:00:00Z",
                    "factor": 0.5,
                },
                ("conditions[0].factor", "only a cloud has a factor"),
            ),
            (
                {"kind": "gridOutage", "from": "2026-06-21T10:00:00Z"},
                ("conditions[0].to", "Field required"),
            ),
            (
                {
                    "kind": "gridOutage",
                    "from": "1899-12-31T00:00:00Z",
                    "to": "1900-01-02T00:00:00Z",
                },
                ("conditions[0].from", "Value error, must be from 1900 up to before 3000"),
            ),
        ],
    )
    async def test_a_bad_condition_is_400_and_changes_nothing(
        self, api: Api, enabled: EnabledOrg, item: dict[str, Any], error: tuple[str, str]
    ) -> None:
        plant = await api.create_sandbox_plant(enabled.client_id, **SITE)
        kept = condition("commsLoss", MIDSUMMER, MIDSUMMER + timedelta(hours=1))
        assert (await put_conditions(api, plant["id"], kept)).status_code == 200

        response = await put_conditions(api, plant["id"], item)

        assert (response.status_code, response.json()) == (400, validation_error(error))
        got = await api.http.get(f"{ADMIN}/plants/{plant['id']}/conditions", headers=api.headers)
        assert got.json()["conditions"] == [{**kept, "factor": None}]

    async def test_at_most_100(self, api: Api, enabled: EnabledOrg) -> None:
        plant = await api.create_sandbox_plant(enabled.client_id, **SITE)
        item = condition("commsLoss", MIDSUMMER, MIDSUMMER + timedelta(hours=1))

        response = await put_conditions(api, plant["id"], *[item] * 101)

        assert response.status_code == 400
        assert response.json()["details"]["errors"][0]["field"] == "conditions"
        assert (await put_conditions(api, plant["id"], *[item] * 100)).status_code == 200

    async def test_a_cloud_scales_the_pv(self, api: Api, enabled: EnabledOrg) -> None:
        plant = await api.create_sandbox_plant(enabled.client_id, **SITE)
        await frozen_at(api, enabled, MIDSUMMER)
        noon = MIDSUMMER + timedelta(hours=12)
        clear = await points(
            api, plant["id"], **{"from": iso(noon), "to": iso(noon + timedelta(minutes=1))}
        )
        cloud = condition("cloud", noon - timedelta(hours=1), noon + timedelta(hours=1), factor=0.5)

        await put_conditions(api, plant["id"], cloud)
        clouded = await points(
            api, plant["id"], **{"from": iso(noon), "to": iso(noon + timedelta(minutes=1))}
        )

        assert clouded[0]["pPv"] == clear[0]["pPv"] / 2 > 0
        assert clouded == [model_point(plant, noon, conditions=(cloud,))]

    async def test_a_grid_outage_takes_the_grid_away(self, api: Api, enabled: EnabledOrg) -> None:
        # A big load: the battery's 7 kWh of band are gone within the outage.
        plant = await api.create_sandbox_plant(
            enabled.client_id, **{**SITE, "annualLoadKwh": 20_000.0}
        )
        evening = MIDSUMMER + timedelta(hours=18)
        outage = condition("gridOutage", evening, evening + timedelta(hours=6))
        await put_conditions(api, plant["id"], outage)
        await frozen_at(api, enabled, MIDSUMMER)

        got = await points(
            api, plant["id"], **{"from": iso(evening), "to": iso(evening + timedelta(hours=6))}
        )
        await advance_to(api, enabled, evening + timedelta(hours=1))
        snapshot = await telemetry(api, plant["id"])

        assert {(p["gridStatus"], p["pGrid"]) for p in got} == {("OFF_GRID", 0)}
        assert any(point["pLoadShed"] > 0 for point in got)
        assert (snapshot["gridStatus"], snapshot["pGrid"], snapshot["alarms"]) == (
            "OFF_GRID",
            0,
            ["gridOutage"],
        )
        start = evening - timedelta(hours=18)
        assert got == [
            model_point(
                plant, evening + timedelta(minutes=15 * k), clock_start=start, conditions=(outage,)
            )
            for k in range(24)
        ]

    async def test_a_battery_fault_stops_the_battery(self, api: Api, enabled: EnabledOrg) -> None:
        # 100 kWh: still charging from the PV at noon.
        plant = await api.create_sandbox_plant(enabled.client_id, **{**SITE, "capacityKwh": 100.0})
        noon = MIDSUMMER + timedelta(hours=12)
        fault = condition("batteryFault", noon, noon + timedelta(hours=2))
        await put_conditions(api, plant["id"], fault)
        await frozen_at(api, enabled, noon - timedelta(hours=6))

        before = await points(
            api, plant["id"], **{"from": iso(noon - timedelta(hours=1)), "to": iso(noon)}
        )
        during = await points(
            api, plant["id"], **{"from": iso(noon), "to": iso(noon + timedelta(hours=2))}
        )
        await advance_to(api, enabled, noon + timedelta(minutes=30))
        snapshot = await telemetry(api, plant["id"])

        assert any(point["pBat"] != 0 for point in before)
        assert {(p["pBat"], p["batteryState"]) for p in during} == {(0, "FAULT")}
        assert (snapshot["pBat"], snapshot["batteryState"], snapshot["alarms"]) == (
            0,
            "FAULT",
            ["batteryFault"],
        )

    async def test_comms_loss_makes_telemetry_stale_with_the_last_values_seen(
        self, api: Api, enabled: EnabledOrg
    ) -> None:
        plant = await api.create_sandbox_plant(enabled.client_id, **SITE)
        lost = MIDSUMMER + timedelta(hours=9)
        await put_conditions(
            api, plant["id"], condition("commsLoss", lost, lost + timedelta(hours=3))
        )
        await frozen_at(api, enabled, MIDSUMMER)

        await advance_to(api, enabled, lost - timedelta(minutes=1))
        fresh = await telemetry(api, plant["id"])
        await advance_to(api, enabled, lost + timedelta(hours=2))
        stale = await telemetry(api, plant["id"])
        (at_loss,) = await points(
            api, plant["id"], **{"from": iso(lost), "to": iso(lost + timedelta(minutes=1))}
        )
        await advance_to(api, enabled, lost + timedelta(hours=3))
        back = await telemetry(api, plant["id"])

        assert (fresh["stale"], fresh["staleSince"]) == (False, None)
        assert (stale["stale"], stale["staleSince"]) == (True, iso(lost))
        assert stale["timestamp"] == iso(lost)
        assert (stale["soc"], stale["pBat"], stale["pPv"]) == (
            round(at_loss["soc"], 3),
            at_loss["pBat"],
            at_loss["pPv"],
        )
        assert (back["stale"], back["timestamp"]) == (False, iso(lost + timedelta(hours=3)))

    async def test_they_travel_in_snapshots(self, api: Api, enabled: EnabledOrg) -> None:
        plant = await api.create_sandbox_plant(enabled.client_id, **SITE)
        first = condition("commsLoss", MIDSUMMER, MIDSUMMER + timedelta(hours=1))
        second = condition("cloud", MIDSUMMER, MIDSUMMER + timedelta(hours=2), factor=0)
        await put_conditions(api, plant["id"], first)
        params = {"orgId": enabled.id}

        taken = (await api.http.get(f"{ADMIN}/snapshot", params=params, headers=api.headers)).json()
        (entry,) = [p for p in taken["plants"] if p["externalPlantId"] == plant["externalPlantId"]]
        entry["conditions"] = [second]
        restored = await api.http.put(
            f"{ADMIN}/snapshot", params=params, json=taken, headers=api.headers
        )
        got = await api.http.get(f"{ADMIN}/plants/{plant['id']}/conditions", headers=api.headers)

        assert restored.status_code == 200, restored.text
        assert got.json()["conditions"] == [second]
        assert {key: entry[key] for key in SITE_DEFAULTS} == {
            **SITE_DEFAULTS,
            "annualLoadKwh": SITE["annualLoadKwh"],
        }

    async def test_a_bad_condition_in_a_snapshot_is_400(
        self, api: Api, enabled: EnabledOrg
    ) -> None:
        params = {"orgId": enabled.id}
        taken = (await api.http.get(f"{ADMIN}/snapshot", params=params, headers=api.headers)).json()
        taken["plants"][0]["conditions"] = [
            condition("cloud", MIDSUMMER, MIDSUMMER - timedelta(hours=1))
        ]

        response = await api.http.put(
            f"{ADMIN}/snapshot", params=params, json=taken, headers=api.headers
        )

        assert (response.status_code, response.json()) == (
            400,
            validation_error(
                ("plants[0].conditions[0].to", "must be after from"),
                ("plants[0].conditions[0].factor", "a cloud needs a factor (0..1)"),
            ),
        )


async def advance_to(api: Api, org: EnabledOrg, at: datetime) -> None:
    """Move a frozen clock forward to simulated instant `at`."""
    clock = (
        await api.http.get(f"{ADMIN}/clock", params={"orgId": org.id}, headers=api.headers)
    ).json()
    minutes = (at - datetime.fromisoformat(clock["now"])) / timedelta(minutes=1)
    response = await api.http.post(
        f"{ADMIN}/clock/advance",
        params={"orgId": org.id},
        json={"minutes": minutes},
        headers=api.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["now"] == iso(at)


class TestSetClock:
    async def test_restarts_the_simulation_at_the_instant_frozen(
        self, api: Api, enabled: EnabledOrg
    ) -> None:
        plant = await api.create_sandbox_plant(enabled.client_id, **SITE, initialSoc=37.5)
        at = MIDSUMMER + timedelta(hours=11)
        await advance_to_later(api, enabled)

        response = await set_clock(api, enabled.id, {"at": iso(at), "frozen": True})
        snapshot = await telemetry(api, plant["id"])
        again = await api.http.get(
            f"{ADMIN}/clock", params={"orgId": enabled.id}, headers=api.headers
        )

        expected = {
            "orgId": enabled.id,
            "startedAt": iso(at),
            "offsetMinutes": 0,
            "now": iso(at),
            "frozen": True,
        }
        assert (response.status_code, response.json()) == (200, expected)
        assert again.json() == expected
        assert (snapshot["timestamp"], snapshot["soc"]) == (iso(at), 37.5)
        assert snapshot["energy"] == dict.fromkeys(
            (
                "batChargedKwh",
                "batDischargedKwh",
                "pvKwh",
                "loadKwh",
                "gridImportKwh",
                "gridExportKwh",
            ),
            0,
        )

    async def test_a_frozen_clock_still_advances_and_thaws_where_it_stood(
        self, api: Api, enabled: EnabledOrg
    ) -> None:
        at = MIDSUMMER + timedelta(hours=11)
        await frozen_at(api, enabled, at)

        advanced = await api.http.post(
            f"{ADMIN}/clock/advance",
            params={"orgId": enabled.id},
            json={"minutes": 90},
            headers=api.headers,
        )
        thawed = await set_clock(api, enabled.id, {"frozen": False})

        assert (advanced.json()["now"], advanced.json()["frozen"]) == (
            iso(at + timedelta(minutes=90)),
            True,
        )
        body = thawed.json()
        assert (body["startedAt"], body["offsetMinutes"], body["frozen"]) == (iso(at), 90, False)
        ran = datetime.fromisoformat(body["now"]) - (at + timedelta(minutes=90))
        assert timedelta(0) <= ran < timedelta(seconds=30)

    async def test_not_frozen_it_follows_real_time_from_the_instant(
        self, api: Api, enabled: EnabledOrg
    ) -> None:
        at = datetime(2031, 1, 1, tzinfo=UTC)

        body = (await set_clock(api, enabled.id, {"at": iso(at)})).json()

        assert (body["startedAt"], body["frozen"]) == (iso(at), False)
        assert timedelta(0) <= datetime.fromisoformat(body["now"]) - at < timedelta(seconds=30)

    async def test_a_rotation_keeps_it(self, api: Api, enabled: EnabledOrg) -> None:
        await frozen_at(api, enabled, MIDSUMMER)
        await advance_to(api, enabled, MIDSUMMER + timedelta(hours=2))
        before = (
            await api.http.get(f"{ADMIN}/clock", params={"orgId": enabled.id}, headers=api.headers)
        ).json()

        await api.enable(enabled.id)  # fresh credentials
        assert (await api.disable(enabled.id)).status_code == 200
        await api.enable(enabled.id)

        after = (
            await api.http.get(f"{ADMIN}/clock", params={"orgId": enabled.id}, headers=api.headers)
        ).json()
        assert after == before
        assert (after["startedAt"], after["now"]) == (
            iso(MIDSUMMER),
            iso(MIDSUMMER + timedelta(hours=2)),
        )

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            (
                {"at": "soon"},
                ("at", "Input should be a valid datetime or date, input is too short"),
            ),
            (
                {"at": "3000-01-01T00:00:00Z"},
                ("at", "Value error, must be from 1900 up to before 3000"),
            ),
            ({"frozen": "yes"}, ("frozen", "Input should be a valid boolean")),
            (
                {"frozen": True, "offsetMinutes": 5},
                ("offsetMinutes", "Extra inputs are not permitted"),
            ),
        ],
    )
    async def test_a_bad_body_is_400_and_changes_nothing(
        self, api: Api, enabled: EnabledOrg, body: dict[str, Any], error: tuple[str, str]
    ) -> None:
        await frozen_at(api, enabled, MIDSUMMER)

        response = await set_clock(api, enabled.id, body)

        assert (response.status_code, response.json()) == (400, validation_error(error))
        clock = (
            await api.http.get(f"{ADMIN}/clock", params={"orgId": enabled.id}, headers=api.headers)
        ).json()
        assert (clock["now"], clock["frozen"]) == (iso(MIDSUMMER), True)

    async def test_an_org_never_enabled_has_no_clock_to_set(self, api: Api) -> None:
        org = await api.create_org()

        response = await set_clock(api, org["id"], {"at": iso(MIDSUMMER)})

        assert (response.status_code, response.json()["code"]) == (409, "CONFLICT")


async def advance_to_later(api: Api, org: EnabledOrg) -> None:
    response = await api.http.post(
        f"{ADMIN}/clock/advance",
        params={"orgId": org.id},
        json={"minutes": 600},
        headers=api.headers,
    )
    assert response.status_code == 200, response.text


class TestCommsLossInTrading:
    """§12: while a commsLoss covers the simulated now, the trading API reports the plant as
    COMMS_LOST and refuses its config updates, storing nothing; afterwards all is as before."""

    async def test_list_config_and_update_while_lost_and_after(
        self, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        lost = await api.create_sandbox_plant(enabled.client_id, **SITE)
        start = MIDSUMMER + timedelta(hours=8)
        loss = condition("commsLoss", start, start + timedelta(hours=2))
        assert (await put_conditions(api, lost["id"], loss)).status_code == 200
        await frozen_at(api, enabled, start - timedelta(minutes=1))
        bearer = {"Authorization": f"Bearer {trading_token}"}

        async def states() -> dict[str, str]:
            listed = await api.http.get(f"{TRADING}/plant/list", headers=bearer)
            return {plant["plantId"]: plant["esiState"] for plant in listed.json()}

        before = await states()
        await advance_to(api, enabled, start)
        during = await states()
        config = (await api.plant_config(trading_token, lost["externalPlantId"])).json()
        refused = await api.update_config(trading_token, lost["externalPlantId"], [])
        dry = await api.update_config(
            trading_token, lost["externalPlantId"], [], validate_only=True
        )
        unread = (await api.plant_config(trading_token, lost["externalPlantId"])).json()
        await advance_to(api, enabled, start + timedelta(hours=2))
        after = await states()
        back = (await api.plant_config(trading_token, lost["externalPlantId"])).json()
        applied = await api.update_config(trading_token, lost["externalPlantId"], [])

        name, other = lost["externalPlantId"], enabled.default_plant_id
        assert before == {name: "PLC_READY", other: "PLC_READY"}
        assert during == {name: "COMMS_LOST", other: "PLC_READY"}
        assert after == before
        assert (config["esiState"], config["version"], config["timeConfigs"]) == (
            "COMMS_LOST",
            1,
            WHOLE_DAY,
        )
        error = {
            "field": "plantId",
            "message": "the plant cannot be reached (commsLoss): nothing was sent to it",
        }
        for answer in (refused, dry):
            assert answer.status_code == 200, answer.text
            assert (answer.json()["resultCode"], answer.json()["version"]) == ("cfg_rejected", 1)
            assert answer.json()["errors"] == [error]
        assert (unread["version"], unread["timeConfigs"]) == (1, WHOLE_DAY)
        assert (back["esiState"], back["version"]) == ("PLC_READY", 1)
        assert (applied.json()["resultCode"], applied.json()["version"]) == ("applied_ok", 2)

    async def test_a_loss_on_another_plant_leaves_this_one_alone(
        self, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        lost = await api.create_sandbox_plant(enabled.client_id, **SITE)
        loss = condition("commsLoss", MIDSUMMER, MIDSUMMER + timedelta(days=1))
        await put_conditions(api, lost["id"], loss)
        await frozen_at(api, enabled, MIDSUMMER + timedelta(hours=1))

        config = (await api.plant_config(trading_token, enabled.default_plant_id)).json()
        applied = await api.update_config(trading_token, enabled.default_plant_id, WHOLE_DAY)

        assert config["esiState"] == "PLC_READY"
        assert (applied.json()["resultCode"], applied.json()["errors"]) == ("applied_ok", [])
