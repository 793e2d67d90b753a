"""The simulated battery (CONTRACT §8), pure: exact states at chosen simulated times.

Most plants here hold 100 kWh, so 60 kW moves the state of charge by exactly 1 % a minute.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from voke_esm.sandbox.telemetry.simulator import BatteryState, simulate

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a midnight, UTC


def block(
    start: str, end: str, p_max: float, p_min: float, low: float, high: float
) -> dict[str, Any]:
    return {
        "from": start,
        "to": end,
        "pBatMax": p_max,
        "pBatMin": p_min,
        "socMax": high,
        "socMin": low,
    }


WHOLE_DAY = block("00:00", "23:59", 60, -60, 20, 80)


def battery(
    blocks: list[dict[str, Any]],
    minutes: float,
    *,
    capacity_kwh: float = 100,
    started_at: datetime = START,
) -> tuple[float, float, Any]:
    """(soc, pBat, active block) `minutes` after the clock start."""
    state: BatteryState = simulate(
        blocks, capacity_kwh, started_at=started_at, at=started_at + timedelta(minutes=minutes)
    )
    return state.soc, state.p_bat, state.active_block


def expect(soc: float, p_bat: float, active: dict[str, Any] | None) -> tuple[Any, float, Any]:
    # Exact but for the last bits of float arithmetic.
    return pytest.approx(soc, abs=1e-9), p_bat, active


class TestSawtooth:
    @pytest.mark.parametrize(
        ("minutes", "soc", "p_bat"),
        [
            (0, 50, 60),  # starts at 50 %, about to charge
            (10, 60, 60),
            (30, 80, -60),  # reached socMax: turning to discharge
            (40, 70, -60),
            (90, 20, 60),  # reached socMin: turning to charge
            (100, 30, 60),
            (30 + 120 * 1000, 80, -60),  # a period is 120 minutes, however many have passed
        ],
    )
    def test_charges_at_p_bat_max_and_discharges_at_p_bat_min_within_the_band(
        self, minutes: float, soc: float, p_bat: float
    ) -> None:
        assert battery([WHOLE_DAY], minutes) == expect(soc, p_bat, WHOLE_DAY)

    @pytest.mark.parametrize(
        ("minutes", "soc", "p_bat"),
        [(60, 80, -60), (70, 70, -60), (120, 20, 30), (140, 30, 30)],
    )
    def test_each_direction_moves_at_its_own_power(
        self, minutes: float, soc: float, p_bat: float
    ) -> None:
        slow_charge = block("00:00", "23:59", 30, -60, 20, 80)

        assert battery([slow_charge], minutes) == expect(soc, p_bat, slow_charge)

    def test_the_rate_follows_the_capacity(self) -> None:
        # 60 kW on 200 kWh is half a percent a minute.
        assert battery([WHOLE_DAY], 20, capacity_kwh=200) == expect(60, 60, WHOLE_DAY)


class TestHolding:
    def test_without_discharge_power_it_holds_at_soc_max(self) -> None:
        charge_only = block("00:00", "23:59", 60, 0, 20, 80)

        assert battery([charge_only], 30) == expect(80, 0, charge_only)
        assert battery([charge_only], 500) == expect(80, 0, charge_only)

    def test_without_charge_power_it_discharges_to_soc_min_and_holds(self) -> None:
        discharge_only = block("00:00", "23:59", 0, -60, 20, 80)

        assert battery([discharge_only], 10) == expect(40, -60, discharge_only)
        assert battery([discharge_only], 30) == expect(20, 0, discharge_only)
        assert battery([discharge_only], 500) == expect(20, 0, discharge_only)

    def test_a_zero_width_band_pins_the_soc(self) -> None:
        pinned = block("00:00", "23:59", 60, -60, 70, 70)

        assert battery([pinned], 0) == expect(70, 0, pinned)
        assert battery([pinned], 300) == expect(70, 0, pinned)

    def test_a_plant_without_capacity_holds_its_soc(self) -> None:
        assert battery([WHOLE_DAY], 300, capacity_kwh=0) == expect(50, 0, WHOLE_DAY)

    def test_an_empty_schedule_idles_at_the_initial_soc(self) -> None:
        assert battery([], 300) == expect(50, 0, None)


class TestBlocks:
    def test_outside_every_block_it_idles_and_keeps_its_soc_and_direction(self) -> None:
        morning = block("06:00", "07:59", 60, -60, 0, 100)

        assert battery([morning], 3 * 60) == expect(50, 0, None)
        assert battery([morning], 6 * 60 + 30) == expect(80, 60, morning)
        # 50 minutes up to 100 %, then 70 down: the block ends (08:00) at 30 %, discharging.
        assert battery([morning], 8 * 60 + 30) == expect(30, 0, None)
        assert battery([morning], 24 * 60 + 6 * 60 + 10) == expect(20, -60, morning)

    def test_to_is_inclusive_of_its_whole_minute(self) -> None:
        late_morning = block("10:00", "12:00", 60, -60, 0, 100)

        # Idle until 10:00, up to 100 % at 10:50, then down 1 % a minute until 12:01.
        assert battery([late_morning], 12 * 60 + 0.5) == expect(29.5, -60, late_morning)
        assert battery([late_morning], 12 * 60 + 1) == expect(29, 0, None)

    def test_on_a_shared_boundary_minute_the_block_starting_there_is_active(self) -> None:
        # The seed's default plant: 200 kWh, 10 kW (5 %/h) until 07:00, then 50 kW (25 %/h).
        night = block("00:00", "07:00", 10, -10, 20, 95)
        day = block("07:00", "23:59", 50, -50, 30, 90)

        assert battery([night, day], 6 * 60, capacity_kwh=200) == expect(80, 10, night)
        assert battery([night, day], 7 * 60, capacity_kwh=200) == expect(85, 50, day)
        assert battery([night, day], 7 * 60 + 12, capacity_kwh=200) == expect(90, -50, day)
        # Past midnight the night block is back, in the order given or not.
        assert battery([day, night], 24 * 60 + 60, capacity_kwh=200)[2] == night

    def test_entering_a_block_sets_an_soc_outside_its_band_to_the_nearer_bound(self) -> None:
        night = block("00:00", "06:59", 60, -60, 0, 100)
        day = block("07:00", "23:59", 60, -60, 30, 60)

        # Up to 100 % at 00:50, then a 200-minute sawtooth: at 05:50 it leaves 0 % charging.
        assert battery([night, day], 7 * 60 - 0.5) == expect(69.5, 60, night)
        assert battery([night, day], 7 * 60) == expect(60, -60, day)
        assert battery([night, day], 7 * 60 + 10) == expect(50, -60, day)

    def test_blocks_are_read_in_utc(self) -> None:
        started_in_prague = START.astimezone(timezone(timedelta(hours=1)))

        assert battery([WHOLE_DAY], 40, started_at=started_in_prague) == battery([WHOLE_DAY], 40)


class TestLongRuns:
    def test_every_365_days_the_battery_starts_over(self) -> None:
        band_of_70 = block("00:00", "23:59", 60, -60, 20, 90)  # a 140-minute period
        year = 365 * 24 * 60

        # 40 min up to 90, then (year - 10 - 40) mod 140 = 130: 70 down, 60 up.
        assert battery([band_of_70], year - 10) == expect(80, 60, band_of_70)
        assert battery([band_of_70], year) == expect(50, 60, band_of_70)
        assert battery([band_of_70], year + 25) == battery([band_of_70], 25)

    def test_a_full_schedule_over_most_of_a_year_is_quick(self) -> None:
        quarters = [
            block(f"{hour:02d}:{start:02d}", f"{hour:02d}:{start + 14:02d}", 10, -10, 20, 95)
            for hour in range(24)
            for start in (0, 15, 30, 45)
        ]
        began = time.perf_counter()

        battery(quarters, 364.9 * 24 * 60, capacity_kwh=1)

        assert time.perf_counter() - began < 2.0  # ~0.1 s: a snapshot never stalls the API


class TestExtremeNumbers:
    """§5 bounds no power and §4 no capacity from below: any finite numbers give a state."""

    @pytest.mark.parametrize(
        ("p_max", "p_min"),
        [(10**300, -(10**300)), (2**64, -(2**63) - 1), (1.7976931348623157e308, -1e308)],
    )
    @pytest.mark.parametrize("capacity_kwh", [100, 1e-300, 5e-324])
    @pytest.mark.parametrize(("low", "high"), [(20, 80), (0, 1e-300)])
    def test_the_battery_stays_within_its_band(
        self, p_max: float, p_min: float, capacity_kwh: float, low: float, high: float
    ) -> None:
        extreme = block("00:00", "23:59", p_max, p_min, low, high)

        for minutes in (0, 0.5, 10, 1000.25, 364.9 * 24 * 60):
            soc, p_bat, active = battery([extreme], minutes, capacity_kwh=capacity_kwh)
            assert low <= soc <= high, minutes
            assert p_bat in (float(p_max), float(p_min))
            assert active == extreme
