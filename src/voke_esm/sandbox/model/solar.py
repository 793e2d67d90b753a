"""The sun at a place and a UTC instant: NOAA solar position, Haurwitz clear-sky irradiance (§12).

The position follows the equations of NOAA's Solar Calculator spreadsheet (after Meeus,
"Astronomical Algorithms"): Julian century, the sun's geometric mean longitude and anomaly, the
equation of center, apparent longitude, corrected obliquity, declination, the equation of time and
the hour angle, giving the geometric zenith angle (no atmospheric refraction). Against NREL's SPA it
agrees to about 0.01° for dates between 1800 and 2200.

`day_cos_zenith` is the fast path the plant model uses: cos Z at the start of each minute of a UTC
day, with the slow terms (declination, equation of time) computed by the same equations at each
whole hour and interpolated linearly between (the error this adds is below 1e-5°), and the hour
angle exact for each minute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

MINUTES_PER_DAY: Final = 1440
_UNIX_EPOCH_JD: Final = 2440587.5  # the Julian day of 1970-01-01T00:00Z
_J2000_JD: Final = 2451545.0
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SolarPosition:
    declination: float  # degrees
    equation_of_time: float  # minutes
    hour_angle: float  # degrees, negative in the morning
    zenith: float  # degrees, geometric (no refraction)
    cos_zenith: float


def julian_day(at: datetime) -> float:
    """The Julian day of an aware instant."""
    return (at - _EPOCH) / timedelta(days=1) + _UNIX_EPOCH_JD


def declination_and_equation_of_time(jd: float) -> tuple[float, float]:
    """The sun's declination (degrees) and the equation of time (minutes) at Julian day `jd`."""
    t = (jd - _J2000_JD) / 36525.0  # Julian century
    mean_long = math.fmod(280.46646 + t * (36000.76983 + t * 0.0003032), 360.0)
    mean_anom = 357.52911 + t * (35999.05029 - 0.0001537 * t)
    ecc = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    m = math.radians(mean_anom)
    center = (
        math.sin(m) * (1.914602 - t * (0.004817 + 0.000014 * t))
        + math.sin(2 * m) * (0.019993 - 0.000101 * t)
        + math.sin(3 * m) * 0.000289
    )
    omega = math.radians(125.04 - 1934.136 * t)
    apparent_long = mean_long + center - 0.00569 - 0.00478 * math.sin(omega)
    mean_obliq = (
        23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60.0) / 60.0
    )
    obliq = math.radians(mean_obliq + 0.00256 * math.cos(omega))
    declination = math.degrees(math.asin(math.sin(obliq) * math.sin(math.radians(apparent_long))))
    y = math.tan(obliq / 2) ** 2
    l0 = math.radians(mean_long)
    eot = 4.0 * math.degrees(
        y * math.sin(2 * l0)
        - 2 * ecc * math.sin(m)
        + 4 * ecc * y * math.sin(m) * math.cos(2 * l0)
        - 0.5 * y * y * math.sin(4 * l0)
        - 1.25 * ecc * ecc * math.sin(2 * m)
    )
    return declination, eot


def hour_angle(minutes_utc: float, longitude: float, equation_of_time: float) -> float:
    """The hour angle (degrees) at `minutes_utc` after UTC midnight, as the spreadsheet has it."""
    true_solar_time = math.fmod(minutes_utc + equation_of_time + 4.0 * longitude, 1440.0)
    if true_solar_time < 0:
        true_solar_time += 1440.0
    quarter = true_solar_time / 4.0
    return quarter + 180.0 if quarter < 0 else quarter - 180.0


def _cos_zenith(latitude: float, declination: float, hour_angle_deg: float) -> float:
    phi, delta = math.radians(latitude), math.radians(declination)
    cos_z = math.sin(phi) * math.sin(delta) + math.cos(phi) * math.cos(delta) * math.cos(
        math.radians(hour_angle_deg)
    )
    return min(1.0, max(-1.0, cos_z))


def solar_position(latitude: float, longitude: float, at: datetime) -> SolarPosition:
    """Where the sun stands at an aware instant, seen from `latitude`, `longitude` (°, east +)."""
    at = at.astimezone(UTC)
    declination, eot = declination_and_equation_of_time(julian_day(at))
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    ha = hour_angle((at - midnight) / timedelta(minutes=1), longitude, eot)
    cos_z = _cos_zenith(latitude, declination, ha)
    return SolarPosition(declination, eot, ha, math.degrees(math.acos(cos_z)), cos_z)


def clear_sky_ghi(cos_zenith: float) -> float:
    """Haurwitz clear-sky global horizontal irradiance, W/m²: 1098·cos Z·exp(−0.059/cos Z) or 0."""
    if cos_zenith <= 0:
        return 0.0
    return 1098.0 * cos_zenith * math.exp(-0.059 / cos_zenith)


def day_cos_zenith(latitude: float, longitude: float, day: date) -> list[float]:
    """cos Z at the start of each of the 1,440 minutes of the UTC day `day` (see the module doc)."""
    jd0 = julian_day(datetime(day.year, day.month, day.day, tzinfo=UTC))
    nodes = [declination_and_equation_of_time(jd0 + hour / 24.0) for hour in range(25)]
    sin_phi, cos_phi = math.sin(math.radians(latitude)), math.cos(math.radians(latitude))
    # sin δ, cos δ and the equation of time move slowly: linear between the hourly nodes.
    sin_d = [math.sin(math.radians(dec)) for dec, _ in nodes]
    cos_d = [math.cos(math.radians(dec)) for dec, _ in nodes]
    out: list[float] = []
    cos, to_rad = math.cos, math.pi / 180.0 * 0.25  # H = tst / 4 − 180°
    for hour in range(24):
        s0, c0, eot0 = sin_d[hour], cos_d[hour], nodes[hour][1]
        ds, dc, de = sin_d[hour + 1] - s0, cos_d[hour + 1] - c0, nodes[hour + 1][1] - eot0
        shift = hour * 60.0 + 4.0 * longitude + eot0
        # cos H = −cos(tst / 4), so the true solar time needs no wrapping into one day.
        out.extend(
            sin_phi * (s0 + ds * w) - cos_phi * (c0 + dc * w) * cos((shift + m + de * w) * to_rad)
            for m, w in _MINUTE_WEIGHTS
        )
    return out


_MINUTE_WEIGHTS: Final = tuple((float(m), m / 60.0) for m in range(60))
