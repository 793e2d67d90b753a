"""The simulated battery of a sandbox plant (CONTRACT §8). Pure: no database, no web framework.

The model, simple enough to check by hand:

- The battery starts at the org's clock start with a state of charge (SoC) of 50 % of
  `capacityKwh`, about to charge. Its state at a later simulated time is computed from there, by
  walking the plant's *current* time-config blocks over every simulated day in between, so the
  same blocks, capacity, clock start and time always give the same state.
- Blocks are read in UTC. A block covers its `from` minute through its `to` minute inclusive
  (the seed's "00:00"–"23:59" is the whole day); where two blocks share a boundary minute, the one
  starting there is active.
- Inside a block the battery runs a sawtooth within the block's SoC band: it charges at `pBatMax`
  up to `socMax`, then discharges at `pBatMin` down to `socMin`, and so on. A direction whose
  power is 0 is skipped; when neither direction can move (a zero-width band, or a bound reached
  with no power to leave it), the battery holds its SoC at 0 kW.
- A block's limits apply at once: entering a block, an SoC outside its band is set to the nearer
  bound. Outside every block (a gap in the schedule) the battery idles at 0 kW and keeps its SoC.
- A plant with no capacity (`capacityKwh` 0) holds its SoC at 0 kW.
- Every 365 simulated days after the clock start the battery starts over at 50 %, so that a
  snapshot never walks more than a year of days, however far the clock has been advanced.

Power is in kW, positive while charging and negative while discharging; SoC moves by
`pBat / capacityKwh * 100` percent per hour. `pBat` is the power from the given instant on: at the
very moment the battery reaches a bound it is already turning around.
"""

from __future__ import annotations

import bisect
import itertools
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from voke_esm.contract.time_configs import minutes_of_day

INITIAL_SOC: Final = 50.0
MINUTES_PER_DAY: Final = 24 * 60
RESTART_EVERY: Final = timedelta(days=365)

Block = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class BatteryState:
    soc: float  # % of capacityKwh
    p_bat: float  # kW: + charging, - discharging, 0 idle
    active_block: Block | None
    charging: bool  # the direction it moves, or would move, next


@dataclass(frozen=True, slots=True)
class _Piece:
    """A stretch of the day, in minutes since midnight UTC, with one active block (or none)."""

    start: float
    end: float
    block: Block | None


@dataclass(frozen=True, slots=True)
class _Limits:
    low: float  # socMin, %
    high: float  # socMax, %
    up: float  # %/minute while charging (>= 0)
    down: float  # %/minute while discharging (>= 0)
    p_max: float
    p_min: float


def simulate(
    time_configs: Sequence[Block],
    capacity_kwh: float,
    *,
    started_at: datetime,
    at: datetime,
) -> BatteryState:
    """The battery at simulated time `at` of a clock started at `started_at` (both aware)."""
    timeline = day_timeline(time_configs)
    starts = [piece.start for piece in timeline]
    limits = [_limits(piece.block, capacity_kwh) if piece.block else None for piece in timeline]

    started_at, at = started_at.astimezone(UTC), max(at, started_at).astimezone(UTC)
    epoch = started_at + (at - started_at) // RESTART_EVERY * RESTART_EVERY
    midnight = epoch.replace(hour=0, minute=0, second=0, microsecond=0)
    now, end = _minutes(epoch - midnight), _minutes(at - midnight)

    soc, charging = INITIAL_SOC, True
    while now < end:
        day_start = math.floor(now / MINUTES_PER_DAY) * MINUTES_PER_DAY
        index = bisect.bisect_right(starts, now - day_start) - 1
        until = min(day_start + timeline[index].end, end)
        if (block_limits := limits[index]) is not None:
            soc, charging = _run(soc, charging, block_limits, until - now)
        now = until

    index = bisect.bisect_right(starts, end % MINUTES_PER_DAY) - 1
    block, block_limits = timeline[index].block, limits[index]
    if block is None or block_limits is None:
        return BatteryState(soc, 0.0, None, charging)
    soc = _clamp(soc, block_limits)
    moving = _direction(soc, charging, block_limits)
    if moving is None:
        return BatteryState(soc, 0.0, block, charging)
    return BatteryState(soc, block_limits.p_max if moving else block_limits.p_min, block, moving)


def day_timeline(time_configs: Sequence[Block]) -> list[_Piece]:
    """The day cut into pieces [start, end) with the block active in each; gaps carry None."""
    windows: list[tuple[int, int, int]] = []  # (from, to + 1, position)
    for position, entry in enumerate(time_configs):
        first, last = _minute_or_none(entry.get("from")), _minute_or_none(entry.get("to"))
        if first is not None and last is not None and first < last:
            windows.append((first, last + 1, position))  # `to` is inclusive: its whole minute
    cuts = sorted({0, MINUTES_PER_DAY, *(w[0] for w in windows), *(w[1] for w in windows)})
    pieces: list[_Piece] = []
    for start, end in itertools.pairwise(cuts):
        covering = [w for w in windows if w[0] <= start < w[1]]
        # On a shared boundary minute the block starting there wins; then the first listed.
        active = max(covering, key=lambda w: (w[0], -w[2]), default=None)
        block = time_configs[active[2]] if active else None
        if pieces and pieces[-1].block is block:
            pieces[-1] = _Piece(pieces[-1].start, float(end), block)
        else:
            pieces.append(_Piece(float(start), float(end), block))
    return pieces


def _run(soc: float, charging: bool, limits: _Limits, minutes: float) -> tuple[float, bool]:
    """Advance the sawtooth by `minutes` inside one block; closed form, whatever the length."""
    soc = _clamp(soc, limits)
    turns = 0
    while minutes > 0:
        moving = _direction(soc, charging, limits)
        if moving is None:
            return soc, charging  # held: no direction can move
        charging = moving
        if charging:
            leg = (limits.high - soc) / limits.up
            if minutes < leg:
                return soc + limits.up * minutes, charging
            soc = limits.high
        else:
            leg = (soc - limits.low) / limits.down
            if minutes < leg:
                return soc - limits.down * minutes, charging
            soc = limits.low
        minutes -= leg
        charging = not charging
        turns += 1
        if turns == 1 and limits.up > 0 and limits.down > 0:
            # At a bound with both directions open: skip the whole periods in one step.
            band = limits.high - limits.low
            period = band / limits.up + band / limits.down
            if period <= 0:  # rates so high (§5 bounds no power) that a period rounds to 0
                return soc, charging
            minutes = math.fmod(minutes, period)
    return soc, charging


def _direction(soc: float, charging: bool, limits: _Limits) -> bool | None:
    """The direction the battery moves in: its own if it can, else the other, else None."""
    for candidate in (charging, not charging):
        if candidate and limits.up > 0 and soc < limits.high:
            return True
        if not candidate and limits.down > 0 and soc > limits.low:
            return False
    return None


def _limits(block: Block, capacity_kwh: float) -> _Limits:
    p_max, p_min = float(block["pBatMax"]), float(block["pBatMin"])
    low, high = float(block["socMin"]), float(block["socMax"])
    if capacity_kwh > 0:
        # % per minute for each kW; finite for the tiniest capacity, so that 0 kW stays 0 (an
        # infinite rate is fine: that direction's leg takes no time).
        per_kw = min(100 / capacity_kwh / 60, sys.float_info.max)
        up, down = max(p_max, 0.0) * per_kw, max(-p_min, 0.0) * per_kw
    else:
        up = down = 0.0  # nothing to charge: the battery holds
    return _Limits(low, high, up, down, p_max, p_min)


def _clamp(soc: float, limits: _Limits) -> float:
    return min(max(soc, limits.low), limits.high)


def _minute_or_none(value: Any) -> int | None:
    return minutes_of_day(value) if isinstance(value, str) else None


def _minutes(delta: timedelta) -> float:
    return delta / timedelta(minutes=1)
