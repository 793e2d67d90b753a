"""The household load (CONTRACT §12): the BDEW H0 table against demandlib, seasons, day types,
the dynamisation, and a year summing to annualLoadKwh. demandlib is a test oracle only."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta
from functools import cache
from unittest import mock

import pandas as pd
import pytest
from demandlib import bdew

from voke_esm.sandbox.model import Plant, state_at, timeseries
from voke_esm.sandbox.model.load import (
    day_type,
    dynamisation,
    h0_table,
    load_shape,
    season,
    year_sum,
)

# One day of each season and day type in 2026 (1 Jan 2026 is a Thursday).
DAYS = [
    date(2026, 1, 14),  # winter workday
    date(2026, 2, 7),  # winter Saturday
    date(2026, 12, 27),  # winter Sunday
    date(2026, 7, 1),  # summer workday
    date(2026, 6, 13),  # summer Saturday
    date(2026, 8, 16),  # summer Sunday
    date(2026, 4, 22),  # transition workday
    date(2026, 10, 3),  # transition Saturday
    date(2026, 9, 20),  # transition Sunday
]


@cache
def _demandlib(year: int) -> pd.DataFrame:
    # demandlib 0.2.2 calls warnings.simplefilter("error") inside, which would turn pandas'
    # deprecation warnings into errors there and leak into the rest of the session: keep it local.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mock.patch.object(warnings, "simplefilter"):
            profiles = bdew.ElecSlp(year=year).get_profiles("h0", "h0_dyn")
    return profiles


def _static_year_sum(year: int) -> float:
    table, total, day = h0_table(), 0.0, date(year, 1, 1)
    while day.year == year:
        total += sum(table[season(day), day_type(day)])
        day += timedelta(days=1)
    return total


def _quarters(day: date) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(day), periods=96, freq="15min")


class TestTable:
    def test_nine_profiles_of_96_quarter_hours(self) -> None:
        table = h0_table()
        assert sorted(table) == sorted(
            (s, d)
            for s in ("winter", "summer", "transition")
            for d in ("workday", "saturday", "sunday")
        )
        assert all(len(values) == 96 and min(values) > 0 for values in table.values())

    @pytest.mark.parametrize("day", DAYS, ids=str)
    def test_static_profile_is_demandlibs(self, day: date) -> None:
        """The table, the seasons and the day types, as demandlib (no holidays) reads them."""
        ours = h0_table()[season(day), day_type(day)]
        total = _static_year_sum(day.year)
        theirs = _demandlib(day.year)["h0"][_quarters(day)]
        assert [w / total for w in ours] == pytest.approx(list(theirs), rel=1e-9)

    @pytest.mark.parametrize("day", DAYS, ids=str)
    def test_dynamised_profile_follows_demandlib(self, day: date) -> None:
        """demandlib evaluates F at fractional days with an adjusted first coefficient and does not
        renormalise; we use BDEW's F at whole days and scale the year to its sum: within 1 %."""
        theirs = _demandlib(day.year)["h0_dyn"][_quarters(day)]
        ours = [kw / 4 for kw in load_shape(day)]  # per-quarter share of the year
        assert ours == pytest.approx(list(theirs), rel=0.01)


class TestCalendar:
    @pytest.mark.parametrize(
        ("day", "expected"),
        [
            (date(2026, 3, 20), "winter"),
            (date(2026, 3, 21), "transition"),
            (date(2026, 5, 14), "transition"),
            (date(2026, 5, 15), "summer"),
            (date(2026, 9, 14), "summer"),
            (date(2026, 9, 15), "transition"),
            (date(2026, 10, 31), "transition"),
            (date(2026, 11, 1), "winter"),
            (date(2026, 1, 1), "winter"),
            (date(2026, 12, 31), "winter"),
        ],
    )
    def test_bdew_seasons(self, day: date, expected: str) -> None:
        assert season(day) == expected

    def test_only_sundays_are_sunday_type(self) -> None:
        assert day_type(date(2026, 12, 25)) == "workday"  # Christmas, a Friday: no holidays
        assert day_type(date(2026, 12, 26)) == "saturday"
        assert day_type(date(2026, 12, 27)) == "sunday"

    def test_dynamisation_factor(self) -> None:
        assert dynamisation(date(2026, 1, 1)) == pytest.approx(
            -3.92e-10 + 3.2e-7 - 7.02e-5 + 2.1e-3 + 1.24
        )
        t = 182
        assert dynamisation(date(2026, 7, 1)) == pytest.approx(
            -3.92e-10 * t**4 + 3.2e-7 * t**3 - 7.02e-5 * t**2 + 2.1e-3 * t + 1.24
        )


class TestYearSum:
    @pytest.mark.parametrize("year", [2025, 2026, 2027, 2028])
    def test_shape_sums_to_one_over_each_calendar_year(self, year: int) -> None:
        total, day = 0.0, date(year, 1, 1)
        while day.year == year:
            total += sum(load_shape(day)) / 4
            day += timedelta(days=1)
        assert total == pytest.approx(1.0, rel=1e-12)
        assert year_sum(year) > 0

    def test_a_year_of_the_model_sums_to_annual_load(self) -> None:
        plant = Plant(annual_load_kwh=4321.0)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        year = state_at(plant, [], [], start, datetime(2027, 1, 1, tzinfo=UTC))
        assert year.energy.load_kwh == pytest.approx(4321.0, rel=0.001)
        assert year.energy.grid_import_kwh == pytest.approx(4321.0, rel=0.001)

    def test_no_load_without_plant_with_load(self) -> None:
        plant = Plant(annual_load_kwh=4000.0, plant_with_load=False, fve_peak_power_kwp=5)
        start = datetime(2026, 6, 1, tzinfo=UTC)
        points = timeseries(plant, [], [], start, start, start + timedelta(days=2), 15)
        assert all(p.p_load == 0.0 for p in points)
        assert max(p.p_pv for p in points) > 0
        assert points[-1].energy.load_kwh == 0.0

    def test_load_follows_the_profile_in_utc(self) -> None:
        plant = Plant(annual_load_kwh=1000.0)
        day = date(2026, 7, 1)
        midnight = datetime(2026, 7, 1, tzinfo=UTC)
        points = timeseries(plant, [], [], midnight, midnight, midnight + timedelta(days=1), 15)
        assert [p.p_load for p in points] == pytest.approx([1000.0 * x for x in load_shape(day)])
