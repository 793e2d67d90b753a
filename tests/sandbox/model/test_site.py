"""The simulated site (CONTRACT §12): the controller, the conditions and the invariants, the last as
hypothesis properties over random plants, schedules, conditions and clocks."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voke_esm.sandbox.model import (
    CONVENTIONS,
    Block,
    Condition,
    Plant,
    SiteState,
    clear_caches,
    state_at,
    timeseries,
)
from voke_esm.sandbox.model.plant import ConditionKind
from voke_esm.sandbox.model.solar import solar_position

START = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)  # a midnight, UTC; Prague's sun rises ~02:50
PLANT = Plant(fve_peak_power_kwp=8.0, capacity_kwh=10.0, initial_soc=50.0)
WHOLE_DAY = {
    "from": "00:00",
    "to": "23:59",
    "pBatMax": 5,
    "pBatMin": -5,
    "socMax": 90,
    "socMin": 10,
}
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def block(start: str, end: str, p_max: float, p_min: float, low: float, high: float) -> Block:
    return Block(start, end, p_max, p_min, high, low)


def day(
    plant: Plant = PLANT,
    blocks: Any = (WHOLE_DAY,),
    conditions: Any = (),
    step: int = 1,
    days: int = 1,
    start: datetime = START,
) -> list[SiteState]:
    return timeseries(plant, blocks, conditions, start, start, start + timedelta(days=days), step)


# --- examples ------------------------------------------------------------------------------


class TestController:
    def test_charges_from_pv_surplus_and_covers_the_deficit(self) -> None:
        points = day()
        noon = points[5 * 60]  # full by about 06:00 in June
        assert noon.p_pv > noon.p_load
        assert noon.p_bat > 0
        assert noon.battery_state == "CHARGING"
        night = points[23 * 60]  # after sunset, the battery covers the load
        assert night.p_pv == 0
        assert night.p_bat == pytest.approx(-night.p_load)
        assert night.p_grid == pytest.approx(0.0, abs=1e-12)
        assert night.battery_state == "DISCHARGING"

    def test_stops_at_the_band_and_says_full(self) -> None:
        points = day()
        full = [p for p in points if p.battery_state == "FULL"]
        assert full
        assert all(p.soc == 90.0 and p.p_bat == 0 for p in full)
        assert max(p.soc for p in points) == 90.0
        assert all(p.p_grid == p.p_load - p.p_pv for p in full)  # surplus exported

    def test_pbat_clamped_to_the_envelope(self) -> None:
        narrow = {**WHOLE_DAY, "pBatMax": 0.5, "pBatMin": -0.2}
        points = day(plant=replace(PLANT, fve_peak_power_kwp=20), blocks=[narrow])
        assert max(p.p_bat for p in points) == 0.5
        assert min(p.p_bat for p in points) == -0.2

    def test_entering_a_block_below_its_band_charges_at_the_limit_power(self) -> None:
        plant = replace(PLANT, initial_soc=5.0, fve_peak_power_kwp=0.0)
        blocks = [{**WHOLE_DAY, "socMin": 20, "pBatMax": 3}]
        points = day(plant=plant, blocks=blocks)
        assert points[0].p_bat == 3
        assert points[0].battery_state == "CHARGING"
        # 15 % of 10 kWh at 3 kW through η = √0.9: 1.5 / (3 · 0.9487) h ≈ 31.6 minutes
        assert points[31].p_bat == 3
        assert points[32].p_bat <= 0
        assert all(p.soc >= 20.0 for p in points[32:])
        assert points[0].p_grid == points[0].p_load + 3  # from the grid, PV or not

    def test_entering_a_block_above_its_band_discharges_at_the_limit_power(self) -> None:
        plant = replace(PLANT, initial_soc=95.0, fve_peak_power_kwp=0.0)
        points = day(plant=plant, blocks=[{**WHOLE_DAY, "socMax": 80, "pBatMin": -2}])
        assert points[0].p_bat == -2
        assert points[0].battery_state == "DISCHARGING"
        assert min(p.soc for p in points) >= 10.0
        assert points[-1].soc < 80.0

    def test_idles_outside_every_block(self) -> None:
        blocks = [{**WHOLE_DAY, "from": "08:00", "to": "11:59"}]
        points = day(blocks=blocks)
        for p in points:
            inside = 8 * 60 <= (p.at - START) / timedelta(minutes=1) < 12 * 60
            assert (p.active_block is not None) is inside
            if not inside:
                assert p.p_bat == 0
                assert p.battery_state == "IDLE"

    def test_block_to_minute_is_inclusive_and_a_shared_minute_goes_to_the_later_block(
        self,
    ) -> None:
        first = {**WHOLE_DAY, "from": "00:00", "to": "07:00", "pBatMax": 1}
        second = {**WHOLE_DAY, "from": "07:00", "to": "23:59", "pBatMax": 2}
        points = day(blocks=[first, second])
        assert points[6 * 60 + 59].active_block == Block.from_dict(first)
        assert points[7 * 60].active_block == Block.from_dict(second)
        late = state_at(
            PLANT, [second], [], START, START + timedelta(hours=23, minutes=59, seconds=59)
        )
        assert late.active_block == Block.from_dict(second)

    def test_no_capacity_no_battery(self) -> None:
        points = day(plant=replace(PLANT, capacity_kwh=0.0))
        assert all(p.p_bat == 0 and p.soc == 50.0 for p in points)
        assert points[-1].energy.bat_charged_kwh == points[-1].energy.bat_discharged_kwh == 0

    def test_efficiency_loses_energy_both_ways(self) -> None:
        plant = replace(PLANT, round_trip_efficiency=0.81)  # η = 0.9
        end = day(plant=plant, days=2)[-1]
        stored = 0.9 * end.energy.bat_charged_kwh - end.energy.bat_discharged_kwh / 0.9
        assert end.soc == pytest.approx(50.0 + stored / 10.0 * 100.0)

    def test_before_the_clock_start_it_holds_its_initial_charge(self) -> None:
        clock = START + timedelta(days=1)
        early = state_at(PLANT, [WHOLE_DAY], [], clock, START + timedelta(hours=12))
        assert early.soc == 50.0
        assert early.p_bat == 0
        assert early.energy == early.energy.__class__()
        assert early.p_pv > 0
        assert early.p_load > 0
        assert early.p_grid == early.p_load - early.p_pv

    def test_conventions(self) -> None:
        assert "charging" in CONVENTIONS["pBat"]
        assert "importing" in CONVENTIONS["pGrid"]
        body = state_at(PLANT, [WHOLE_DAY], [], START, START).to_dict()
        assert body["conventions"] == dict(CONVENTIONS)
        assert set(body["energy"]) == {
            "batChargedKwh",
            "batDischargedKwh",
            "pvKwh",
            "loadKwh",
            "gridImportKwh",
            "gridExportKwh",
        }


def window(kind: str, start_h: float, end_h: float, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "from": (START + timedelta(hours=start_h)).isoformat(),
        "to": (START + timedelta(hours=end_h)).isoformat(),
        **extra,
    }


class TestConditions:
    def test_cloud_scales_pv(self) -> None:
        clear = day()
        cloudy = day(conditions=[window("cloud", 10, 14, factor=0.25)])
        for a, b in zip(clear, cloudy, strict=True):
            hour = (a.at - START) / timedelta(hours=1)
            assert b.p_pv == (pytest.approx(a.p_pv * 0.25) if 10 <= hour < 14 else a.p_pv)

    def test_grid_outage_islands_the_site(self) -> None:
        outage = window("gridOutage", 0, 24)
        plant = replace(PLANT, fve_peak_power_kwp=2.0, initial_soc=12.0)
        points = day(plant=plant, conditions=[outage])
        assert all(p.p_grid == 0 and p.grid_status == "OFF_GRID" for p in points)
        assert all(p.alarms == ("gridOutage",) for p in points)
        assert any(p.p_load_shed > 0 for p in points)  # the battery ran down to socMin at night
        assert all(p.soc >= 10.0 for p in points)
        shed = [p for p in points if p.p_load_shed > 0]
        assert all(p.soc == 10.0 or p.p_bat == -5 for p in shed)
        assert points[-1].energy.grid_import_kwh == points[-1].energy.grid_export_kwh == 0

    def test_grid_outage_curtails_pv_the_battery_cannot_take(self) -> None:
        points = day(
            plant=replace(PLANT, fve_peak_power_kwp=15.0), conditions=[window("gridOutage", 0, 24)]
        )
        curtailed = [p for p in points if p.p_pv_curtailed > 0]
        assert curtailed
        assert all(p.p_bat == 5 or p.battery_state == "FULL" for p in curtailed)

    def test_battery_fault(self) -> None:
        points = day(conditions=[window("batteryFault", 6, 9)])
        for p in points:
            hour = (p.at - START) / timedelta(hours=1)
            if 6 <= hour < 9:
                assert p.p_bat == 0
                assert p.battery_state == "FAULT"
                assert p.alarms == ("batteryFault",)
            else:
                assert p.battery_state != "FAULT"
                assert p.alarms == ()

    def test_comms_loss_marks_the_state_stale_from_its_start(self) -> None:
        conditions = [window("commsLoss", 5, 7), window("commsLoss", 6, 8)]
        points = day(conditions=conditions, step=30)
        for p in points:
            hour = (p.at - START) / timedelta(hours=1)
            assert p.stale is (5 <= hour < 8)
            assert p.stale_since == (START + timedelta(hours=5) if p.stale else None)
        assert [p.soc for p in points] == [p.soc for p in day(step=30)]  # no physics

    def test_condition_boundaries_are_exact_instants(self) -> None:
        cut = START + timedelta(hours=20, seconds=30)
        fault = {"kind": "batteryFault", "from": cut, "to": cut + timedelta(minutes=5)}
        before = state_at(PLANT, [WHOLE_DAY], [fault], START, cut - timedelta(seconds=1))
        after = state_at(PLANT, [WHOLE_DAY], [fault], START, cut)
        assert before.battery_state != "FAULT"
        assert after.battery_state == "FAULT"


class TestPathIndependence:
    def test_a_year_later_cold_and_warm_and_stepwise(self) -> None:
        clock = datetime(2026, 3, 1, 8, 30, 12, 345678, tzinfo=UTC)
        at = clock + timedelta(days=365, hours=5, seconds=7)
        args = (PLANT, [WHOLE_DAY], [window("cloud", 30, 40, factor=0.5)], clock)
        clear_caches()
        cold = state_at(*args, at)
        warm = state_at(*args, at)
        clear_caches()
        for days in range(0, 366, 37):  # a clock advanced in many jumps fills the cache
            state_at(*args, clock + timedelta(days=days, minutes=days))
        stepped = state_at(*args, at)
        assert cold == warm == stepped

    def test_the_cache_knows_which_conditions_acted(self) -> None:
        clock = START
        at = START + timedelta(days=20, hours=3)
        outage = [window("gridOutage", 30, 50)]
        later = [window("gridOutage", 24 * 25, 24 * 26)]  # after `at`: changes nothing before
        clear_caches()
        plain = state_at(PLANT, [WHOLE_DAY], [], clock, at)
        warm_outage = state_at(PLANT, [WHOLE_DAY], outage, clock, at)
        assert state_at(PLANT, [WHOLE_DAY], later, clock, at) == plain
        clear_caches()
        cold_outage = state_at(PLANT, [WHOLE_DAY], outage, clock, at)
        assert warm_outage == cold_outage != plain
        other_blocks = [{**WHOLE_DAY, "socMax": 80}]
        assert state_at(PLANT, other_blocks, outage, clock, at) != cold_outage

    def test_same_numbers_in_a_fresh_process(self) -> None:
        code = (
            "from datetime import datetime, timedelta, UTC\n"
            "from voke_esm.sandbox.model import Plant, state_at\n"
            "c = datetime(2026, 3, 1, 8, 30, 12, tzinfo=UTC)\n"
            "b = [{'from': '00:00', 'to': '23:59', 'pBatMax': 5, 'pBatMin': -5,"
            " 'socMax': 90, 'socMin': 10}]\n"
            "s = state_at(Plant(fve_peak_power_kwp=8, capacity_kwh=10), b, [], c,"
            " c + timedelta(days=40, seconds=1))\n"
            "print(repr(s.soc), repr(s.p_grid), repr(s.energy))\n"
        )
        runs = {
            subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                check=True,
                env={"PYTHONHASHSEED": seed},
            ).stdout
            for seed in ("1", "2")
        }
        clock = datetime(2026, 3, 1, 8, 30, 12, tzinfo=UTC)
        here = state_at(PLANT, [WHOLE_DAY], [], clock, clock + timedelta(days=40, seconds=1))
        assert runs == {f"{here.soc!r} {here.p_grid!r} {here.energy!r}\n"}


# --- properties ------------------------------------------------------------------------------

KINDS: list[ConditionKind] = ["cloud", "gridOutage", "commsLoss", "batteryFault"]


@st.composite
def plants(draw: st.DrawFn) -> Plant:
    return Plant(
        fve_peak_power_kwp=draw(st.floats(0, 20)),
        capacity_kwh=draw(st.one_of(st.just(0.0), st.floats(0.5, 30))),
        plant_with_load=draw(st.booleans()),
        annual_load_kwh=draw(st.floats(0, 10_000)),
        round_trip_efficiency=draw(st.floats(0.5, 1)),
        initial_soc=draw(st.floats(0, 100)),
        latitude=draw(st.floats(-80, 80)),
        longitude=draw(st.floats(-180, 180)),
    )


@st.composite
def schedules(draw: st.DrawFn) -> list[Block]:
    count = draw(st.integers(0, 4))
    minutes = sorted(draw(st.sets(st.integers(0, 1439), min_size=2 * count, max_size=2 * count)))
    blocks = []
    for first, last in zip(minutes[::2], minutes[1::2], strict=True):
        low, high = sorted(draw(st.tuples(st.floats(0, 100), st.floats(0, 100))))
        blocks.append(
            Block(
                f"{first // 60:02d}:{first % 60:02d}",
                f"{last // 60:02d}:{last % 60:02d}",
                draw(st.floats(0, 10)),
                draw(st.floats(-10, 0)),
                high,
                low,
            )
        )
    return draw(st.permutations(blocks))  # §5 keeps the order given


CLOCKS = st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31), timezones=st.just(UTC))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Plant, list[Block], list[Condition], datetime, datetime]:
    clock = draw(CLOCKS)
    start = clock + timedelta(minutes=draw(st.integers(-180, 3 * 1440)))
    conditions = [
        Condition(
            kind,
            begin := start + timedelta(seconds=draw(st.integers(-3600, 26 * 3600))),
            begin + timedelta(seconds=draw(st.integers(1, 12 * 3600))),
            draw(st.floats(0, 1)) if kind == "cloud" else 1.0,
        )
        for kind in draw(st.lists(st.sampled_from(KINDS), max_size=3))
    ]
    return draw(plants()), draw(schedules()), conditions, clock, start


def _minute_floor(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


@PROPERTY
@given(scenarios())
def test_invariants_hold_at_every_minute(
    scenario: tuple[Plant, list[Block], list[Condition], datetime, datetime],
) -> None:
    plant, blocks, conditions, clock, start = scenario
    points = timeseries(plant, blocks, conditions, clock, start, start + timedelta(hours=26), 1)
    assert len(points) == 26 * 60
    eta = plant.round_trip_efficiency**0.5
    previous: SiteState | None = None
    inside = False
    for p in points:
        # the balance, at every instant
        if p.grid_status == "ON_GRID":
            assert p.p_grid == p.p_load - p.p_pv + p.p_bat
            assert p.p_load_shed == 0
            assert p.p_pv_curtailed == 0
        else:
            assert p.p_grid == 0
            assert abs(p.p_load - p.p_pv + p.p_bat) <= 1e-9 * (1 + p.p_load + p.p_pv)
            assert p.p_load_shed >= 0
            assert p.p_pv_curtailed >= 0
        assert p.p_pv >= 0
        assert p.p_load >= 0
        # the envelope and the band
        block = p.active_block
        if block is None or p.battery_state == "FAULT" or plant.capacity_kwh == 0:
            assert p.p_bat == 0
        else:
            assert block.p_bat_min <= p.p_bat <= block.p_bat_max
        if block is None or previous is None or previous.active_block != block:
            inside = False
        if block is not None:
            inside = inside or block.soc_min <= p.soc <= block.soc_max
            if inside:
                assert block.soc_min <= p.soc <= block.soc_max
        if p.battery_state == "FAULT":
            assert "batteryFault" in p.alarms
        if plant.capacity_kwh == 0:
            assert p.p_bat == 0
            assert p.soc == plant.initial_soc
        # no sun, no PV
        if solar_position(plant.latitude, plant.longitude, _minute_floor(p.at)).cos_zenith < -1e-6:
            assert p.p_pv == 0
        # the counters: never falling, zero before the clock start, consistent with the SoC
        e = p.energy
        counters = (
            e.bat_charged_kwh,
            e.bat_discharged_kwh,
            e.pv_kwh,
            e.load_kwh,
            e.grid_import_kwh,
            e.grid_export_kwh,
        )
        if previous is not None:
            before = previous.energy
            assert all(
                now >= then
                for now, then in zip(
                    counters,
                    (
                        before.bat_charged_kwh,
                        before.bat_discharged_kwh,
                        before.pv_kwh,
                        before.load_kwh,
                        before.grid_import_kwh,
                        before.grid_export_kwh,
                    ),
                    strict=True,
                )
            )
        if p.at < clock:
            assert counters == (0.0,) * 6
            assert p.soc == plant.initial_soc
            assert p.p_bat == 0
        scale = 1 + sum(counters)
        assert e.grid_import_kwh - e.grid_export_kwh == pytest.approx(
            e.load_kwh - e.pv_kwh + e.bat_charged_kwh - e.bat_discharged_kwh, abs=1e-9 * scale
        )
        if plant.capacity_kwh > 0:
            stored = eta * e.bat_charged_kwh - e.bat_discharged_kwh / eta
            assert p.soc == pytest.approx(
                plant.initial_soc + stored / plant.capacity_kwh * 100, abs=1e-6
            )
        previous = p


@PROPERTY
@given(scenarios(), st.data())
def test_deterministic_and_the_same_however_the_clock_got_there(
    scenario: tuple[Plant, list[Block], list[Condition], datetime, datetime], data: st.DataObject
) -> None:
    plant, blocks, conditions, clock, start = scenario
    step = data.draw(st.integers(1, 120))
    end = start + timedelta(
        hours=data.draw(st.integers(1, 60)), seconds=data.draw(st.integers(0, 59))
    )
    offset = timedelta(seconds=data.draw(st.integers(0, 59)))
    series = timeseries(plant, blocks, conditions, clock, start + offset, end, step)
    again = timeseries(plant, blocks, conditions, clock, start + offset, end, step)
    assert series == again  # bit for bit: SiteState compares every float exactly
    for point in data.draw(st.lists(st.sampled_from(series), max_size=4)) if series else []:
        clear_caches()  # one jump from the clock start ...
        assert state_at(plant, blocks, conditions, clock, point.at) == point  # ... or many
