"""The sun (CONTRACT §12) against pvlib, a test oracle only (never a runtime dependency).

Tolerances: the zenith within 0.05° of NREL's SPA (NOAA's equations are good to about 0.01° for
these years), the Haurwitz irradiance within 1 W/m² or 0.5 %, whichever is larger.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pvlib
import pytest

from voke_esm.sandbox.model.solar import clear_sky_ghi, day_cos_zenith, solar_position

ZENITH_TOLERANCE_DEG = 0.05

PLACES = {
    "Prague": (50.08, 14.42),
    "Sydney": (-33.87, 151.21),
    "Quito, on the equator": (-0.18, -78.47),
    "Tromsø, midnight sun and polar night": (69.65, 18.96),
    "Ushuaia": (-54.80, -68.30),
    "Longyearbyen": (78.22, 15.65),
    "McMurdo": (-77.85, 166.67),
    "Honolulu": (21.31, -157.86),
    "Anchorage, far west": (61.22, -149.90),
    "Auckland, far east": (-36.85, 174.76),
}


def _instants(year: int) -> pd.DatetimeIndex:
    # Every 97 minutes through the year: every hour of the day, every season, both sides of 00:00.
    return pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq="97min", tz="UTC")


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("year", [2024, 2026, 2031])
class TestAgainstPvlib:
    def test_zenith_within_tolerance(self, place: str, year: int) -> None:
        latitude, longitude = PLACES[place]
        times = _instants(year)
        oracle = pvlib.solarposition.get_solarposition(
            times, latitude, longitude, method="nrel_numpy"
        )["zenith"]
        worst = max(
            abs(solar_position(latitude, longitude, t.to_pydatetime()).zenith - z)
            for t, z in zip(times, oracle, strict=True)
        )
        assert worst < ZENITH_TOLERANCE_DEG

    def test_clear_sky_ghi_within_tolerance(self, place: str, year: int) -> None:
        latitude, longitude = PLACES[place]
        times = _instants(year)
        zenith = pvlib.solarposition.get_solarposition(
            times, latitude, longitude, method="nrel_numpy"
        )["zenith"]
        oracle = pvlib.clearsky.haurwitz(zenith)["ghi"]
        for t, expected in zip(times, oracle, strict=True):
            got = clear_sky_ghi(solar_position(latitude, longitude, t.to_pydatetime()).cos_zenith)
            assert abs(got - expected) <= max(1.0, 0.005 * expected), t


class TestClearSky:
    def test_haurwitz_formula(self) -> None:
        assert clear_sky_ghi(1.0) == pytest.approx(1098 * math.exp(-0.059))
        assert clear_sky_ghi(0.5) == pytest.approx(1098 * 0.5 * math.exp(-0.118))

    @pytest.mark.parametrize("cos_zenith", [0.0, -0.0, -0.3, -1.0])
    def test_zero_while_the_sun_is_down(self, cos_zenith: float) -> None:
        assert clear_sky_ghi(cos_zenith) == 0.0

    def test_polar_night_and_midnight_sun(self) -> None:
        longyearbyen = PLACES["Longyearbyen"]
        night = day_cos_zenith(*longyearbyen, date(2026, 12, 21))
        day = day_cos_zenith(*longyearbyen, date(2026, 6, 21))
        assert max(night) < 0
        assert min(day) > 0


class TestDayFastPath:
    """The model's per-minute path (hourly nodes, interpolated) agrees with the full equations."""

    @pytest.mark.parametrize("place", ["Prague", "Sydney", "Longyearbyen", "Auckland, far east"])
    @pytest.mark.parametrize("day", [date(2026, 3, 20), date(2026, 6, 21), date(2028, 12, 31)])
    def test_every_minute_matches_solar_position(self, place: str, day: date) -> None:
        latitude, longitude = PLACES[place]
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        fast = day_cos_zenith(latitude, longitude, day)
        assert len(fast) == 1440
        for minute, value in enumerate(fast):
            exact = solar_position(latitude, longitude, midnight + timedelta(minutes=minute))
            assert value == pytest.approx(exact.cos_zenith, abs=1e-7)
