"""The household load: the BDEW H0 standard load profile, dynamised and scaled to a year (§12).

`h0.csv` beside this module holds BDEW's H0 table as demandlib ships it (see NOTICE): for each
season (winter, summer, transition) and day type (workday, Saturday, Sunday) 96 quarter-hour mean
powers in W for a household using 1,000 kWh a year, each labelled by the start of its quarter hour.

- Seasons are BDEW's: winter 1 Nov–20 Mar, summer 15 May–14 Sep, transition otherwise.
- Day types: Monday to Friday are workdays, then Saturday and Sunday. There is no holiday calendar:
  only Sundays take the Sunday profile (a public holiday loads like any other day of its weekday).
- The dynamisation factor `F(t) = −3.92e−10·t⁴ + 3.2e−7·t³ − 7.02e−5·t² + 2.1e−3·t + 1.24`,
  `t` the day of the year (1 = 1 January), multiplies the whole day.
- Scaling: the dynamised profile of a calendar year is divided by its own sum over that year, so
  that every calendar year, leap or not and whichever weekday it starts on, sums to exactly
  `annualLoadKwh` (the table's nominal 1,000 kWh/a is off by a few per cent once dynamised).
- Everything is read in UTC: the quarter hours, the date, the weekday.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from functools import cache, lru_cache
from importlib import resources
from typing import Final

QUARTERS_PER_DAY: Final = 96
SEASONS: Final = ("winter", "summer", "transition")
DAY_TYPES: Final = ("workday", "saturday", "sunday")


@cache
def h0_table() -> dict[tuple[str, str], tuple[float, ...]]:
    """(season, day type) → the 96 quarter-hour powers in W at 1,000 kWh/a, from h0.csv."""
    text = resources.files(__package__).joinpath("h0.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    if len(body) != QUARTERS_PER_DAY:
        raise ValueError(f"h0.csv: expected {QUARTERS_PER_DAY} rows, found {len(body)}")
    table: dict[tuple[str, str], tuple[float, ...]] = {}
    for column, name in enumerate(header[1:], start=1):
        season, day_type = name.split("_")
        table[season, day_type] = tuple(float(row[column]) for row in body)
    return table


def season(day: date) -> str:
    md = (day.month, day.day)
    if md >= (11, 1) or md <= (3, 20):
        return "winter"
    if (5, 15) <= md <= (9, 14):
        return "summer"
    return "transition"


def day_type(day: date) -> str:
    weekday = day.weekday()
    return "workday" if weekday < 5 else "saturday" if weekday == 5 else "sunday"


def dynamisation(day: date) -> float:
    t = day.timetuple().tm_yday
    return -3.92e-10 * t**4 + 3.2e-7 * t**3 - 7.02e-5 * t**2 + 2.1e-3 * t + 1.24


@cache
def _daily_sums() -> dict[tuple[str, str], float]:
    return {key: sum(values) for key, values in h0_table().items()}


@lru_cache(maxsize=64)
def year_sum(year: int) -> float:
    """The dynamised profile summed over the calendar year, in W·quarter-hours (∝ energy)."""
    sums = _daily_sums()
    day, end, total = date(year, 1, 1), date(year + 1, 1, 1), 0.0
    while day < end:
        total += sums[season(day), day_type(day)] * dynamisation(day)
        day += timedelta(days=1)
    return total


def load_shape(day: date) -> list[float]:
    """The 96 quarter-hour powers of `day` in kW per kWh/a: times `annualLoadKwh`, it is pLoad.

    A quarter hour lasts 1/4 h, so a calendar year of these values, each times 1/4, sums to 1.
    """
    factor = dynamisation(day) * 4.0 / year_sum(day.year)
    return [w * factor for w in h0_table()[season(day), day_type(day)]]
