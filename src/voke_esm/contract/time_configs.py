"""Time-config block rules (CONTRACT §5). Pure: no database, no web framework.

Shape (every field present, of the right JSON type) is the schemas' job; these are the rules a
well-shaped schedule must also meet. Each broken rule is reported once, at one field.
Admin turns the errors into a 400, trading into `cfg_rejected`, and Voke's client checks a
schedule with them before it sends one. The one rule on config versions sits here too, so that
both paths apply it alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypedDict

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr


class FieldError(TypedDict):
    """One broken rule at one field: the contract's `{field, message}` (CONTRACT §2, §5).

    The same keys as `voke_esm.core.schemas.FieldError`; TypedDicts compare by their keys, so
    these errors go wherever that one is expected, and this package imports nothing of the app.
    """

    field: str
    message: str


MAX_BLOCKS: Final = 96
# A plant's config version is a 64-bit column (CONTRACT §6: it starts at 1 and rises by one with
# each applied update). A snapshot may restore a plant at any version up to this (§11).
CONFIG_VERSION_MAX: Final = 2**63 - 1
CONFIG_VERSION_SPENT: Final = (
    "the plant's config version is at its largest value: restore the plant at a lower version"
)
# ASCII digits only: `\d` would also take other scripts' digits such as "٠".
_HH_MM = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")

Number = StrictInt | StrictFloat

# A block as it is stored (the `time_configs` JSON columns) and sent: the wire's own keys, in the
# wire's order. A TypedDict, as `from` is a Python keyword; `TimeConfigBlock` below is its
# validating model, and `TimeConfigBlock.as_json()` makes one.
TimeConfigJson = TypedDict(
    "TimeConfigJson",
    {"from": str, "to": str, "pBatMax": float, "pBatMin": float, "socMax": float, "socMin": float},
)

# The seed's example schedule: the default plant's, and the examples in the API docs.
SEED_BLOCKS: Final[tuple[TimeConfigJson, ...]] = (
    {"from": "00:00", "to": "07:00", "pBatMax": 10, "pBatMin": -10, "socMax": 95, "socMin": 20},
    {"from": "07:00", "to": "23:59", "pBatMax": 50, "pBatMin": -50, "socMax": 90, "socMin": 30},
)
# One block over the whole day: the API docs' example of a schedule change.
WHOLE_DAY_BLOCK: Final[TimeConfigJson] = {
    "from": "00:00",
    "to": "23:59",
    "pBatMax": 50,
    "pBatMin": -50,
    "socMax": 90,
    "socMin": 20,
}


class TimeConfigBlock(BaseModel):
    """`{from, to, pBatMax, pBatMin, socMax, socMin}`: all required, JSON types strict."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: StrictStr = Field(
        alias="from", examples=["00:00"], description='"HH:MM", start (inclusive)'
    )
    to: StrictStr = Field(examples=["07:00"], description='"HH:MM", end (inclusive)')
    pBatMax: Number = Field(examples=[10], description="maximum battery charge power, kW, >= 0")
    pBatMin: Number = Field(
        examples=[-10], description="minimum battery (dis)charge power, kW, <= 0"
    )
    socMax: Number = Field(examples=[95], description="maximum state of charge, %")
    socMin: Number = Field(examples=[20], description="minimum state of charge, %")

    def as_json(self) -> TimeConfigJson:
        return {
            "from": self.from_,
            "to": self.to,
            "pBatMax": self.pBatMax,
            "pBatMin": self.pBatMin,
            "socMax": self.socMax,
            "socMin": self.socMin,
        }


def minutes_of_day(hh_mm: str) -> int | None:
    """`"07:30"` -> 450; None for anything that is not a valid HH:MM."""
    if not _HH_MM.fullmatch(hh_mm):
        return None
    return int(hh_mm[:2]) * 60 + int(hh_mm[3:])


def check_time_configs(
    blocks: Sequence[Mapping[str, Any]], *, field: str = "timeConfigs"
) -> list[FieldError]:
    """Every rule of §5 that `blocks` break; `[]` for a valid schedule (an empty one included)."""
    errors: list[FieldError] = []
    if len(blocks) > MAX_BLOCKS:
        errors.append({"field": field, "message": f"must hold at most {MAX_BLOCKS} blocks"})

    windows: list[tuple[int, int, int]] = []  # (from, to, index) of blocks with a usable window
    for index, block in enumerate(blocks):
        at = f"{field}[{index}]"
        window = _check_window(block, at, errors)
        if window is not None:
            windows.append((*window, index))
        _check_power(block, at, errors)
        _check_soc(block, at, errors)

    errors.extend(_overlaps(windows, field))
    return errors


def check_next_version(version: int, *, field: str = "version") -> list[FieldError]:
    """`[]` when a plant at config `version` can take a new one; one error at `field` when
    its version is the column's largest (only a restore can put it there)."""
    if version < CONFIG_VERSION_MAX:
        return []
    return [{"field": field, "message": CONFIG_VERSION_SPENT}]


def _finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer too large for a float
        return False


def _check_window(
    block: Mapping[str, Any], at: str, errors: list[FieldError]
) -> tuple[int, int] | None:
    start = minutes_of_day(block["from"])
    end = minutes_of_day(block["to"])
    for name, minutes in (("from", start), ("to", end)):
        if minutes is None:
            errors.append(
                {"field": f"{at}.{name}", "message": "must be HH:MM between 00:00 and 23:59"}
            )
    if start is None or end is None:
        return None
    if start >= end:
        errors.append({"field": f"{at}.to", "message": "must be later than from"})
        return None
    return start, end


def _check_power(block: Mapping[str, Any], at: str, errors: list[FieldError]) -> None:
    p_max, p_min = block["pBatMax"], block["pBatMin"]
    if not _finite(p_max):
        errors.append({"field": f"{at}.pBatMax", "message": "must be a finite number"})
    elif p_max < 0:
        errors.append(
            {"field": f"{at}.pBatMax", "message": "must be >= 0 (charge power is positive)"}
        )
    if not _finite(p_min):
        errors.append({"field": f"{at}.pBatMin", "message": "must be a finite number"})
    elif p_min > 0:
        errors.append(
            {"field": f"{at}.pBatMin", "message": "must be <= 0 (discharge power is negative)"}
        )


def _check_soc(block: Mapping[str, Any], at: str, errors: list[FieldError]) -> None:
    in_bounds = True
    for name in ("socMin", "socMax"):
        value = block[name]
        if not _finite(value):
            errors.append({"field": f"{at}.{name}", "message": "must be a finite number"})
            in_bounds = False
        elif not 0 <= value <= 100:
            errors.append({"field": f"{at}.{name}", "message": "must be between 0 and 100"})
            in_bounds = False
    if in_bounds and block["socMin"] > block["socMax"]:
        errors.append({"field": f"{at}.socMin", "message": "must not exceed socMax"})


def _overlaps(windows: list[tuple[int, int, int]], field: str) -> list[FieldError]:
    """Blocks may share a boundary minute but not overlap beyond it; gaps are fine.

    The later block (by start, then by position) is the one reported.
    """
    errors: list[tuple[int, FieldError]] = []
    latest_end, latest_end_index = -1, -1
    for start, end, index in sorted(windows, key=lambda window: (window[0], window[2])):
        if start < latest_end:
            errors.append(
                (
                    index,
                    {
                        "field": f"{field}[{index}].from",
                        "message": f"overlaps block {latest_end_index}",
                    },
                )
            )
        if end > latest_end:
            latest_end, latest_end_index = end, index
    return [error for _, error in sorted(errors, key=lambda pair: pair[0])]


# The rules of §5 by name: what `rule_of` says an error of `check_time_configs` broke. Voke's
# conformance check builds one negative case per rule, and the sandbox's quirks (§14) can let
# one rule pass.
RULES: Final = ("time", "order", "sign", "soc", "overlap", "count")


def rule_of(error: FieldError, *, field: str = "timeConfigs") -> str:
    """Which rule of `RULES` (or "finite", for a number that is not) an error broke."""
    at, message = error["field"], error["message"]
    if at == field:
        return "count"
    if message.startswith("overlaps block"):
        return "overlap"
    if message == "must be a finite number":
        return "finite"
    if at.endswith(".to") and message == "must be later than from":
        return "order"
    if at.endswith((".from", ".to")):
        return "time"
    if at.endswith((".pBatMax", ".pBatMin")):
        return "sign"
    return "soc"
