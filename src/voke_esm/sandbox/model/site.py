"""The simulated site of CONTRACT §12: PV, household load, a battery run by the site's own
controller inside the trader's time-config block, and the grid as the balance. Pure, deterministic.

How time is handled (the contract leaves the numerics to us):

- Inputs are piecewise constant. PV is evaluated at the start of each UTC minute (clear-sky
  irradiance from `solar.day_cos_zenith`, scaled by `fvePeakPowerKwp`, the 0.85 derate and any
  `cloud` factor) and held for that minute; the load changes at each quarter hour (the H0 profile is
  quarter-hourly); blocks change at their minutes; conditions at their exact instants. A day is so
  cut into segments (one per minute while the sun is up, one per quarter hour at night) in which
  every input is constant. One minute is the finest resolution any input has (blocks are `HH:MM`),
  and the sun moves by a quarter of a degree in it, so finer steps would change no decision.
- Inside a segment the battery's power is constant until its state of charge reaches the bound it
  moves toward; the model finds that instant exactly (a linear equation), sets the SoC to the
  bound and lets the controller decide again. So the SoC never leaves the band once inside it, and
  no step size shows in the results.
- The state at any instant is computed from the state at the start of its UTC day (or the clock
  start, on that day) by walking that day's segments. The states at day starts are cached (a
  bounded LRU keyed by plant, blocks, clock start, the conditions that can have acted before that
  day, and the day), and computed from the nearest earlier cached day otherwise: the result is the
  same sequence of floating-point operations however the clock got there, so it is bit-for-bit the
  same, and a state a year after the clock start costs one day's walk once the year has been
  walked once.

Controller (§12): inside a block, `pBat = clamp(pPv − pLoad, pBatMin, pBatMax)`, 0 when that would
charge at or above `socMax` or discharge at or below `socMin`. With the charge below `socMin` the
battery charges at `pBatMax` until it reaches it, above `socMax` it discharges at `pBatMin` until it
reaches it (§8: "toward the band"). Outside every block, with no capacity, during a batteryFault
and before the clock start the battery is at 0 kW. The SoC moves by
`(η·pBat⁺ − pBat⁻/η)·dt / capacityKwh`, `η = √roundTripEfficiency`.

During a gridOutage there is no grid to take or give energy: the battery follows the same rule
without the move toward the band (it charges only from PV surplus, discharges only for the load,
within the band); load not served is `pLoadShed`, PV not used `pPvCurtailed`, and `pLoad`, `pPv`
are what was served and used. Outside every block the battery idles in an outage too (the trader
set no envelope), so the load beyond the PV is shed.

`batteryState` at 0 kW is `FULL` at or above the active block's `socMax`, `EMPTY` at or below its
`socMin` (`FULL` first where the two are equal), else `IDLE`. Alarms name the active
`batteryFault` and `gridOutage` conditions. `stale` is true during a `commsLoss`, and `staleSince`
is the start of that loss: the caller answers with the state there (§12, "the last values seen").
The energy counters integrate the reported powers (the battery's at its AC terminals).
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Final, Generic, Literal, TypeVar

from voke_esm.sandbox.model.load import load_shape
from voke_esm.sandbox.model.plant import (
    CONVENTIONS,
    MINUTES_PER_DAY,
    Block,
    Condition,
    Plant,
    as_blocks,
    as_conditions,
    block_timeline,
)
from voke_esm.sandbox.model.solar import day_cos_zenith

PV_DERATE: Final = 0.85  # §12: pPv = fvePeakPowerKwp · G / 1000 · 0.85
DAY_START_CACHE_SIZE: Final = 20_000  # states at day starts, a few hundred bytes each
_PHYSICAL: Final = frozenset({"cloud", "gridOutage", "batteryFault"})  # commsLoss moves no energy
_MINUTE: Final = timedelta(minutes=1)

BatteryState = Literal["CHARGING", "DISCHARGING", "IDLE", "FULL", "EMPTY", "FAULT"]
GridStatus = Literal["ON_GRID", "OFF_GRID"]

__all__ = [
    "CONVENTIONS",
    "BatteryState",
    "Energy",
    "SiteState",
    "clear_caches",
    "comms_loss_start",
    "state_at",
    "timeseries",
]


@dataclass(frozen=True, slots=True)
class Energy:
    """Counters since the clock's start, kWh, never decreasing (§12)."""

    bat_charged_kwh: float = 0.0
    bat_discharged_kwh: float = 0.0
    pv_kwh: float = 0.0
    load_kwh: float = 0.0
    grid_import_kwh: float = 0.0
    grid_export_kwh: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {
            "batChargedKwh": self.bat_charged_kwh,
            "batDischargedKwh": self.bat_discharged_kwh,
            "pvKwh": self.pv_kwh,
            "loadKwh": self.load_kwh,
            "gridImportKwh": self.grid_import_kwh,
            "gridExportKwh": self.grid_export_kwh,
        }


@dataclass(frozen=True, slots=True)
class SiteState:
    """The site at one instant; its powers are those from that instant on (signs: CONVENTIONS)."""

    at: datetime
    soc: float
    p_bat: float
    p_pv: float
    p_load: float
    p_grid: float
    p_load_shed: float
    p_pv_curtailed: float
    battery_state: BatteryState
    grid_status: GridStatus
    active_block: Block | None
    energy: Energy
    alarms: tuple[str, ...]
    stale: bool
    stale_since: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """The contract's names (§12); instants as ISO 8601 UTC strings, numbers unrounded."""
        return {
            "at": _iso(self.at),
            "soc": self.soc,
            "pBat": self.p_bat,
            "pPv": self.p_pv,
            "pLoad": self.p_load,
            "pGrid": self.p_grid,
            "pLoadShed": self.p_load_shed,
            "pPvCurtailed": self.p_pv_curtailed,
            "batteryState": self.battery_state,
            "gridStatus": self.grid_status,
            "activeBlock": self.active_block.to_dict() if self.active_block else None,
            "energy": self.energy.to_dict(),
            "alarms": list(self.alarms),
            "stale": self.stale,
            "staleSince": _iso(self.stale_since) if self.stale_since else None,
            "conventions": dict(CONVENTIONS),
        }


def state_at(
    plant: Plant,
    blocks: Sequence[Block | Mapping[str, Any]],
    conditions: Sequence[Condition | Mapping[str, Any]],
    clock_start: datetime,
    at: datetime,
) -> SiteState:
    """The site at simulated instant `at` of a clock started at `clock_start` (aware instants)."""
    scenario = _Scenario.of(plant, blocks, conditions, clock_start)
    return _Cursor(scenario).state(_utc(at))


def timeseries(
    plant: Plant,
    blocks: Sequence[Block | Mapping[str, Any]],
    conditions: Sequence[Condition | Mapping[str, Any]],
    clock_start: datetime,
    start: datetime,
    end: datetime,
    step_minutes: int,
) -> list[SiteState]:
    """The states at `start + k·step_minutes` before `end`, each bit for bit `state_at` there.

    The caller bounds the range (§12: at most 2,000 points and 31 days); one walk serves them all.
    """
    if step_minutes <= 0:
        raise ValueError("step_minutes must be positive")
    scenario = _Scenario.of(plant, blocks, conditions, clock_start)
    start, end = _utc(start), _utc(end)
    cursor, step, points = _Cursor(scenario), timedelta(minutes=step_minutes), []
    at = start
    while at < end:
        points.append(cursor.state(at))
        at += step
    return points


def clear_caches() -> None:
    """Forget every cached day (tests and benchmarks use it to measure a cold start)."""
    _DAY_STARTS.clear()
    _day_inputs.cache_clear()
    _block_minutes.cache_clear()
    _day_segments.cache_clear()


# --- what a run is given ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Scenario:
    plant: Plant
    blocks: tuple[Block, ...]
    physical: tuple[Condition, ...]  # cloud, gridOutage, batteryFault, in a canonical order
    comms: tuple[Condition, ...]
    clock_start: datetime  # UTC

    @classmethod
    def of(
        cls,
        plant: Plant,
        blocks: Sequence[Block | Mapping[str, Any]],
        conditions: Sequence[Condition | Mapping[str, Any]],
        clock_start: datetime,
    ) -> _Scenario:
        # Canonical order, so that the same set of conditions gives the same cache keys.
        ordered = sorted(
            (_utc_condition(c) for c in as_conditions(conditions)),
            key=lambda c: (c.start, c.end, c.kind, c.factor),
        )
        return cls(
            plant,
            as_blocks(blocks),
            tuple(c for c in ordered if c.kind in _PHYSICAL),
            tuple(c for c in ordered if c.kind == "commsLoss"),
            _utc(clock_start),
        )

    def acting_before(self, instant: datetime) -> tuple[Condition, ...]:
        """The conditions that can have moved energy between the clock start and `instant`."""
        return tuple(c for c in self.physical if c.start < instant and c.end > self.clock_start)


# --- the inputs of a day, cut into segments of constant input ---------------------------------


@dataclass(frozen=True, slots=True)
class _DayInputs:
    pv: list[float]  # kW per kWp at each minute, clear sky, derated
    load: list[float]  # kW per kWh/a at each quarter hour
    cuts: list[int]  # minutes where PV or load changes (every daylight minute, every quarter)


@lru_cache(maxsize=64)
def _day_inputs(latitude: float, longitude: float, ordinal: int) -> _DayInputs:
    day = date.fromordinal(ordinal)
    # clear_sky_ghi(c) / 1000 · PV_DERATE, written out: this runs for every minute of every day.
    scale, exp = 1.098 * PV_DERATE, math.exp
    cos_zenith = day_cos_zenith(latitude, longitude, day)
    pv = [scale * c * exp(-0.059 / c) if c > 0 else 0.0 for c in cos_zenith]
    cuts = [m for m in range(MINUTES_PER_DAY) if m % 15 == 0 or pv[m] != pv[m - 1]]
    return _DayInputs(pv, load_shape(day), cuts)


@lru_cache(maxsize=256)
def _block_minutes(blocks: tuple[Block, ...]) -> tuple[list[Block | None], list[int]]:
    """The active block at each minute of the day, and the minutes where it changes."""
    by_minute: list[Block | None] = []
    for start, end, block in block_timeline(blocks):
        by_minute.extend([block] * (end - start))
    return by_minute, [start for start, _, _ in block_timeline(blocks)]


@dataclass(frozen=True, slots=True)
class _Segments:
    """A day cut where any input changes; index i covers [starts[i], starts[i + 1]) minutes."""

    starts: list[float]  # ends with MINUTES_PER_DAY as a sentinel
    pv: list[float]  # kW available, cloud included
    load: list[float]  # kW demanded
    block: list[Block | None]
    outage: list[bool]
    fault: list[bool]


@lru_cache(maxsize=64)
def _day_segments(
    plant: Plant,
    blocks: tuple[Block, ...],
    day_conditions: tuple[tuple[float, float, str, float], ...],
    ordinal: int,
) -> _Segments:
    inputs = _day_inputs(plant.latitude, plant.longitude, ordinal)
    block_by_minute, block_cuts = _block_minutes(blocks)
    cuts: set[float] = {float(m) for m in inputs.cuts}
    cuts.update(float(m) for m in block_cuts)
    for first, last, _, _ in day_conditions:
        cuts.update(x for x in (first, last) if 0.0 < x < MINUTES_PER_DAY)
    starts = sorted(cuts)
    minutes = [int(a) for a in starts]
    kwp = plant.fve_peak_power_kwp
    pv = [kwp * inputs.pv[m] for m in minutes]
    annual = plant.annual_load_kwh if plant.plant_with_load else 0.0
    load = [annual * inputs.load[m // 15] for m in minutes]
    block = [block_by_minute[m] for m in minutes]
    outage, fault = [False] * len(starts), [False] * len(starts)
    for first, last, kind, factor in day_conditions:
        lo, hi = bisect.bisect_left(starts, first), bisect.bisect_left(starts, last)
        for i in range(lo, hi):
            if kind == "cloud":
                pv[i] *= factor
            elif kind == "gridOutage":
                outage[i] = True
            else:
                fault[i] = True
    starts.append(float(MINUTES_PER_DAY))
    return _Segments(starts, pv, load, block, outage, fault)


# --- the physics of one stretch of constant input ------------------------------------------------

# The running state: [soc, batCharged, batDischarged, pv, load, gridImport, gridExport].
_State = list[float]


_REST: Final = (0.0, math.nan)


def _battery_power(
    soc: float, surplus: float, block: Block | None, capacity: float, outage: bool, held: bool
) -> tuple[float, float]:
    """The controller: (pBat, the SoC it moves toward), or (0, nan) when it rests."""
    if held or block is None or capacity <= 0:
        return _REST
    low, high = block.soc_min, block.soc_max
    if not outage:  # toward the band first (§8); off grid there is nothing to move it with
        if soc < low:
            return (block.p_bat_max, low) if block.p_bat_max > 0 else _REST
        if soc > high:
            return (block.p_bat_min, high) if block.p_bat_min < 0 else _REST
    if surplus > 0:
        p = surplus if surplus < block.p_bat_max else block.p_bat_max
        return (p, high) if p > 0 and soc < high else _REST
    if surplus < 0:
        p = surplus if surplus > block.p_bat_min else block.p_bat_min
        return (p, low) if p < 0 and soc > low else _REST
    return _REST


def _flows(
    pv: float, load: float, p_bat: float, outage: bool
) -> tuple[float, float, float, float, float]:
    """(pPv used, pLoad served, pGrid, pLoadShed, pPvCurtailed) for a battery power."""
    if not outage:
        return pv, load, load - pv + p_bat, 0.0, 0.0
    if p_bat == pv - load:  # the battery takes or gives the whole difference (as the controller)
        return pv, load, 0.0, 0.0, 0.0
    if pv >= load:  # 0 <= p_bat < pv - load: the load is served, the rest of the PV curtailed
        return load + p_bat, load, 0.0, 0.0, max(pv - load - p_bat, 0.0)
    # pv - load < p_bat <= 0: the PV and the battery serve what they can
    served = pv - p_bat
    return pv, served, 0.0, max(load - served, 0.0), 0.0


def _run(s: _Segments, state: _State, plant: Plant, a: float, b: float) -> None:
    """Advance `state` from minute `a` to minute `b` of the day (a <= b), in place."""
    capacity = plant.capacity_kwh
    eta = math.sqrt(plant.round_trip_efficiency)
    per_minute = 100.0 / capacity / 60.0 if capacity > 0 else 0.0  # % per minute per kW
    starts = s.starts
    i = bisect.bisect_right(starts, a) - 1
    soc, charged, discharged, pv_kwh, load_kwh, imported, exported = state
    while a < b:
        end = min(starts[i + 1], b)
        pv, load, block, outage = s.pv[i], s.load[i], s.block[i], s.outage[i]
        held = s.fault[i]
        surplus = pv - load
        left = end - a
        while left > 0:
            p_bat, target = _battery_power(soc, surplus, block, capacity, outage, held)
            rate = (eta * p_bat if p_bat > 0 else p_bat / eta) * per_minute
            step, reached = left, False
            if rate != 0:
                to_bound = (target - soc) / rate
                if to_bound <= left:
                    step, reached = max(to_bound, 0.0), True
            if outage:
                used, served, grid, _, _ = _flows(pv, load, p_bat, outage)
            else:  # _flows on grid, written out: this runs for every segment of every day
                used, served, grid = pv, load, load - pv + p_bat
            hours = step / 60.0
            if p_bat > 0:
                charged += p_bat * hours
            else:
                discharged -= p_bat * hours
            pv_kwh += used * hours
            load_kwh += served * hours
            if grid > 0:
                imported += grid * hours
            else:
                exported -= grid * hours
            soc += rate * step
            # Landing on the bound exactly (also where rounding would step 1 ulp past it), so that
            # the SoC never leaves the band and the next decision sees the bound.
            if reached or (rate > 0 and soc > target) or (rate < 0 and soc < target):
                soc = target
            # At the bound the controller never heads for the SoC it is at, so this loop ends.
            left -= step
        a = end
        i += 1
    state[:] = [soc, charged, discharged, pv_kwh, load_kwh, imported, exported]


# --- walking days, with the day-start cache ------------------------------------------------------

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _LRU(Generic[K, V]):
    """A bounded, thread-safe least-recently-used map."""

    def __init__(self, maxsize: int) -> None:
        self._data: OrderedDict[K, V] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


_DAY_STARTS: _LRU[Hashable, tuple[float, ...]] = _LRU(DAY_START_CACHE_SIZE)


class _Cursor:
    """Answers states of one scenario, remembering the last day it walked (for timeseries)."""

    def __init__(self, scenario: _Scenario) -> None:
        self.scenario = scenario
        start = scenario.clock_start
        self.first_ordinal = start.date().toordinal()
        self.start_minute = (start - _midnight(self.first_ordinal)) / _MINUTE
        initial = scenario.plant.initial_soc
        self.initial: tuple[float, ...] = (initial, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        # The walk of the current day: its segments, and the state at `minute`, a segment start.
        self._ordinal = -1
        self._segments: _Segments | None = None
        self._minute = 0.0
        self._state: _State = []

    def state(self, at: datetime) -> SiteState:
        ordinal = at.date().toordinal()
        minute = (at - _midnight(ordinal)) / _MINUTE
        segments = self._segments_of(ordinal)
        plant = self.scenario.plant
        if at < self.scenario.clock_start:
            return self._describe(at, segments, minute, list(self.initial), held=True)
        if ordinal != self._ordinal:
            self._ordinal, self._segments = ordinal, segments
            if ordinal == self.first_ordinal:
                self._minute, self._state = self.start_minute, list(self.initial)
            else:
                self._minute, self._state = 0.0, list(self._day_start(ordinal))
        # Walk to the last segment start before `at` (the walk state_at would make), then the rest
        # on a copy: so every point of a timeseries equals state_at at its instant, bit for bit.
        i = bisect.bisect_right(segments.starts, minute) - 1
        cut = max(segments.starts[i], self._minute)
        if cut > self._minute:
            _run(segments, self._state, plant, self._minute, cut)
            self._minute = cut
        state = list(self._state)
        _run(segments, state, plant, cut, minute)
        return self._describe(at, segments, minute, state, held=False)

    def _segments_of(self, ordinal: int) -> _Segments:
        if ordinal == self._ordinal and self._segments is not None:
            return self._segments
        midnight = _midnight(ordinal)
        day_end = midnight + timedelta(days=1)
        conditions = tuple(
            ((c.start - midnight) / _MINUTE, (c.end - midnight) / _MINUTE, c.kind, c.factor)
            for c in self.scenario.physical
            if c.start < day_end and c.end > midnight
        )
        return _day_segments(self.scenario.plant, self.scenario.blocks, conditions, ordinal)

    def _day_start(self, ordinal: int) -> tuple[float, ...]:
        """The state at 00:00 UTC of day `ordinal` (after the clock start's day)."""
        scenario = self.scenario

        def key(day: int) -> Hashable:
            acting = scenario.acting_before(_midnight(day))
            return (scenario.plant, scenario.blocks, scenario.clock_start, acting, day)

        day, found = ordinal, None
        while day > self.first_ordinal and (found := _DAY_STARTS.get(key(day))) is None:
            day -= 1
        if found is None:
            state = list(self.initial)
            _run(self._segments_of(day), state, scenario.plant, self.start_minute, MINUTES_PER_DAY)
            day += 1
            _DAY_STARTS.put(key(day), tuple(state))
        else:
            state = list(found)
        while day < ordinal:
            _run(self._segments_of(day), state, scenario.plant, 0.0, MINUTES_PER_DAY)
            day += 1
            _DAY_STARTS.put(key(day), tuple(state))
        return tuple(state)

    def _describe(
        self, at: datetime, s: _Segments, minute: float, state: _State, *, held: bool
    ) -> SiteState:
        plant = self.scenario.plant
        i = bisect.bisect_right(s.starts, minute) - 1
        pv, load, block, outage, fault = s.pv[i], s.load[i], s.block[i], s.outage[i], s.fault[i]
        soc = state[0]
        p_bat, _ = _battery_power(soc, pv - load, block, plant.capacity_kwh, outage, held or fault)
        used, served, grid, shed, curtailed = _flows(pv, load, p_bat, outage)
        battery: BatteryState
        if fault:
            battery = "FAULT"
        elif p_bat > 0:
            battery = "CHARGING"
        elif p_bat < 0:
            battery = "DISCHARGING"
        elif block is not None and soc >= block.soc_max:
            battery = "FULL"
        elif block is not None and soc <= block.soc_min:
            battery = "EMPTY"
        else:
            battery = "IDLE"
        alarms = tuple(kind for kind, on in (("batteryFault", fault), ("gridOutage", outage)) if on)
        stale_since = self._stale_since(at)
        return SiteState(
            at=at,
            soc=soc,
            p_bat=p_bat,
            p_pv=used,
            p_load=served,
            p_grid=grid,
            p_load_shed=shed,
            p_pv_curtailed=curtailed,
            battery_state=battery,
            grid_status="OFF_GRID" if outage else "ON_GRID",
            active_block=block,
            energy=Energy(*state[1:]),
            alarms=alarms,
            stale=stale_since is not None,
            stale_since=stale_since,
        )

    def _stale_since(self, at: datetime) -> datetime | None:
        return comms_loss_start(self.scenario.comms, at)


def comms_loss_start(conditions: Sequence[Condition], at: datetime) -> datetime | None:
    """The start of the commsLoss (overlapping ones joined) that `at` is in, if any."""
    since: datetime | None = None
    reach: datetime | None = None
    for c in sorted((c for c in conditions if c.kind == "commsLoss"), key=lambda c: c.start):
        if c.start > at:
            break
        if reach is None or c.start > reach:
            since, reach = c.start, c.end
        else:
            reach = max(reach, c.end)
    return since if reach is not None and at < reach else None


def _midnight(ordinal: int) -> datetime:
    day = date.fromordinal(ordinal)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return at.astimezone(UTC)


def _utc_condition(c: Condition) -> Condition:
    return Condition(c.kind, _utc(c.start), _utc(c.end), c.factor)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
