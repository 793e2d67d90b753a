"""What the model is given: the plant, its time-config blocks, its conditions (CONTRACT §5, §12)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

MINUTES_PER_DAY: Final = 1440

ConditionKind = Literal["cloud", "gridOutage", "commsLoss", "batteryFault"]
CONDITION_KINDS: Final[tuple[str, ...]] = get_args(ConditionKind)

# Signs and units of every state (§12: "Every snapshot says so in `conventions`").
CONVENTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "pBat": "kW at the battery's AC terminals; + while charging, - while discharging",
        "pGrid": "kW at the grid connection; positive while importing, negative while exporting",
        "pPv": "kW of PV generation used (during a gridOutage: what could be used)",
        "pLoad": "kW of load served (during a gridOutage: what could be served)",
        "pLoadShed": "kW of load that could not be served (gridOutage only), >= 0",
        "pPvCurtailed": "kW of PV generation that could not be used (gridOutage only), >= 0",
        "balance": "pGrid = pLoad - pPv + pBat at every instant",
        "soc": "% of capacityKwh",
        "energy": "kWh since the clock's start, never decreasing",
        "time": "UTC",
    }
)


@dataclass(frozen=True, slots=True)
class Plant:
    """The plant parameters the model reads (defaults: §12's)."""

    fve_peak_power_kwp: float = 0.0
    capacity_kwh: float = 0.0
    plant_with_load: bool = True
    annual_load_kwh: float = 4000.0
    round_trip_efficiency: float = 0.9
    initial_soc: float = 50.0
    latitude: float = 50.08
    longitude: float = 14.42

    def __post_init__(self) -> None:
        numbers = (
            self.fve_peak_power_kwp,
            self.capacity_kwh,
            self.annual_load_kwh,
            self.round_trip_efficiency,
            self.initial_soc,
            self.latitude,
            self.longitude,
        )
        if not all(math.isfinite(x) for x in numbers):
            raise ValueError("plant parameters must be finite")
        if self.fve_peak_power_kwp < 0 or self.capacity_kwh < 0 or self.annual_load_kwh < 0:
            raise ValueError("fvePeakPowerKwp, capacityKwh and annualLoadKwh must be >= 0")
        if not 0 < self.round_trip_efficiency <= 1:
            raise ValueError("roundTripEfficiency must be in (0, 1]")
        if not 0 <= self.initial_soc <= 100:
            raise ValueError("initialSoc must be in 0..100")
        if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
            raise ValueError("latitude must be in -90..90 and longitude in -180..180")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plant:
        """From the contract's camelCase names; a missing or null field takes its default."""
        names = {
            "fvePeakPowerKwp": "fve_peak_power_kwp",
            "capacityKwh": "capacity_kwh",
            "plantWithLoad": "plant_with_load",
            "annualLoadKwh": "annual_load_kwh",
            "roundTripEfficiency": "round_trip_efficiency",
            "initialSoc": "initial_soc",
            "latitude": "latitude",
            "longitude": "longitude",
        }
        values: dict[str, Any] = {}
        for key, name in names.items():
            if data.get(key) is not None:
                values[name] = bool(data[key]) if name == "plant_with_load" else float(data[key])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Block:
    """A time-config block (§5). `start`, `end` are "HH:MM" in UTC; §5's validation comes first."""

    start: str
    end: str
    p_bat_max: float
    p_bat_min: float
    soc_max: float
    soc_min: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Block:
        return cls(
            str(data["from"]),
            str(data["to"]),
            float(data["pBatMax"]),
            float(data["pBatMin"]),
            float(data["socMax"]),
            float(data["socMin"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.start,
            "to": self.end,
            "pBatMax": self.p_bat_max,
            "pBatMin": self.p_bat_min,
            "socMax": self.soc_max,
            "socMin": self.soc_min,
        }


@dataclass(frozen=True, slots=True)
class Condition:
    """A condition on the simulated timeline, active on [start, end) (aware instants)."""

    kind: ConditionKind
    start: datetime
    end: datetime
    factor: float = 1.0  # cloud only: the share of clear-sky irradiance that gets through

    def __post_init__(self) -> None:
        if self.kind not in CONDITION_KINDS:
            raise ValueError(f"unknown condition kind {self.kind!r}")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("condition instants must be timezone-aware")
        if not self.start < self.end:
            raise ValueError("a condition's from must be before its to")
        if not 0 <= self.factor <= 1:
            raise ValueError("a cloud factor must be in 0..1")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Condition:
        """From `{kind, from, to, factor?}`, instants as aware datetimes or ISO 8601 strings."""

        def instant(value: Any) -> datetime:
            return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))

        factor = data.get("factor")
        return cls(
            data["kind"],
            instant(data["from"]),
            instant(data["to"]),
            1.0 if factor is None else float(factor),
        )


def _minute_of_day(text: str) -> int | None:
    hours, sep, minutes = text.partition(":")
    if not (sep and len(hours) == 2 and len(minutes) == 2 and (hours + minutes).isdigit()):
        return None
    h, m = int(hours), int(minutes)
    return h * 60 + m if h <= 23 and m <= 59 else None


@lru_cache(maxsize=256)
def block_timeline(blocks: tuple[Block, ...]) -> tuple[tuple[int, int, Block | None], ...]:
    """The UTC day cut into pieces `(start, end, block)` in minutes, gaps carrying None.

    A block covers its `from` minute through its `to` minute inclusive, so the seed's
    "00:00"–"23:59" is the whole day; where two blocks share a boundary minute, the one starting
    there is active (as the sawtooth model reads them). Blocks that §5 would reject are skipped.
    """
    windows: list[tuple[int, int, int]] = []  # (from, to + 1, position)
    for position, given in enumerate(blocks):
        first, last = _minute_of_day(given.start), _minute_of_day(given.end)
        if first is not None and last is not None and first < last:
            windows.append((first, last + 1, position))
    cuts = sorted({0, MINUTES_PER_DAY, *(w[0] for w in windows), *(w[1] for w in windows)})
    pieces: list[tuple[int, int, Block | None]] = []
    for start, end in itertools.pairwise(cuts):
        covering = [w for w in windows if w[0] <= start < w[1]]
        active = max(covering, key=lambda w: (w[0], -w[2]), default=None)
        block: Block | None = blocks[active[2]] if active else None
        if pieces and pieces[-1][2] is block:
            pieces[-1] = (pieces[-1][0], end, block)
        else:
            pieces.append((start, end, block))
    return tuple(pieces)


def as_blocks(blocks: Sequence[Block | Mapping[str, Any]]) -> tuple[Block, ...]:
    return tuple(b if isinstance(b, Block) else Block.from_dict(b) for b in blocks)


def as_conditions(conditions: Sequence[Condition | Mapping[str, Any]]) -> tuple[Condition, ...]:
    return tuple(c if isinstance(c, Condition) else Condition.from_dict(c) for c in conditions)
