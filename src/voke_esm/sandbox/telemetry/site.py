"""A sandbox plant as the simulated site of CONTRACT §12: its parameters and conditions given to
the pure model (`voke_esm.sandbox.model`), or to the sawtooth of the earlier demonstration.

`sawtooth` plants keep the battery they had (`telemetry/simulator.py`): a site with no PV and no
load, whose grid carries the battery's power (`pGrid = pBat`, so the balance holds), whose
energy counters stay 0 (it models no energy flow), and on which only `commsLoss` acts (its
battery is a demonstration of the envelope, not a physical model).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from voke_esm.core.schemas import FieldError, format_utc
from voke_esm.sandbox import model
from voke_esm.sandbox.model.plant import as_conditions
from voke_esm.sandbox.models import ConditionJson, SandboxPlant
from voke_esm.sandbox.telemetry.schemas import ConditionItem
from voke_esm.sandbox.telemetry.simulator import simulate

SAWTOOTH: Final = "sawtooth"


def model_plant(plant: SandboxPlant) -> model.Plant:
    return model.Plant(
        fve_peak_power_kwp=plant.fve_peak_power_kwp,
        capacity_kwh=plant.capacity_kwh,
        plant_with_load=plant.plant_with_load,
        annual_load_kwh=plant.annual_load_kwh,
        round_trip_efficiency=plant.round_trip_efficiency,
        initial_soc=plant.initial_soc,
        latitude=plant.latitude,
        longitude=plant.longitude,
    )


def state_at(plant: SandboxPlant, clock_start: datetime, at: datetime) -> model.SiteState:
    """The plant's site at simulated instant `at`, as it really is (stale or not)."""
    if plant.simulation == SAWTOOTH:
        return _sawtooth_state(plant, clock_start, at)
    return model.state_at(model_plant(plant), plant.time_configs, plant.conditions, clock_start, at)


def reported_state(plant: SandboxPlant, clock_start: datetime, at: datetime) -> model.SiteState:
    """What the plant reports at `at`: during a commsLoss, the last values seen before it began
    (still marked stale), else the state at `at` (CONTRACT §12)."""
    state = state_at(plant, clock_start, at)
    if state.stale and state.stale_since is not None and state.stale_since < at:
        return state_at(plant, clock_start, state.stale_since)
    return state


def timeseries(
    plant: SandboxPlant, clock_start: datetime, start: datetime, end: datetime, step_minutes: int
) -> list[model.SiteState]:
    if plant.simulation == SAWTOOTH:
        step, count = (
            timedelta(minutes=step_minutes),
            -(-(end - start) // timedelta(minutes=step_minutes)),
        )
        return [_sawtooth_state(plant, clock_start, start + k * step) for k in range(count)]
    return model.timeseries(
        model_plant(plant),
        plant.time_configs,
        plant.conditions,
        clock_start,
        start,
        end,
        step_minutes,
    )


def comms_lost(plant: SandboxPlant, at: datetime) -> bool:
    """Whether a commsLoss condition of the plant covers simulated instant `at`."""
    return any(
        c.kind == "commsLoss" and c.start <= at < c.end for c in as_conditions(plant.conditions)
    )


def has_comms_loss(conditions: Sequence[ConditionJson]) -> bool:
    return any(condition["kind"] == "commsLoss" for condition in conditions)


# Conditions -------------------------------------------------------------------------------------


def check_conditions(items: Sequence[ConditionItem]) -> list[FieldError]:
    """The rules a condition's shape does not carry: `from` < `to`, a factor for a cloud only."""
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        at = f"conditions[{index}]"
        if not item.start < item.end:
            errors.append({"field": f"{at}.to", "message": "must be after from"})
        if item.kind == "cloud" and item.factor is None:
            errors.append({"field": f"{at}.factor", "message": "a cloud needs a factor (0..1)"})
        if item.kind != "cloud" and item.factor is not None:
            errors.append({"field": f"{at}.factor", "message": "only a cloud has a factor"})
    return errors


def stored_conditions(items: Sequence[ConditionItem]) -> list[ConditionJson]:
    """As stored: ordered by `from` (stably), instants as ISO 8601 UTC text."""
    ordered = sorted(items, key=lambda item: item.start)
    return [
        {
            "kind": item.kind,
            "from": format_utc(item.start),
            "to": format_utc(item.end),
            "factor": item.factor,
        }
        for item in ordered
    ]


# The sawtooth of the earlier demonstration -------------------------------------------------------


def _sawtooth_state(plant: SandboxPlant, clock_start: datetime, at: datetime) -> model.SiteState:
    battery = simulate(plant.time_configs, plant.capacity_kwh, started_at=clock_start, at=at)
    block = model.Block.from_dict(battery.active_block) if battery.active_block else None
    state: model.BatteryState
    if battery.p_bat > 0:
        state = "CHARGING"
    elif battery.p_bat < 0:
        state = "DISCHARGING"
    elif block is not None and battery.soc >= block.soc_max:
        state = "FULL"
    elif block is not None and battery.soc <= block.soc_min:
        state = "EMPTY"
    else:
        state = "IDLE"
    since = model.comms_loss_start(as_conditions(plant.conditions), at)
    return model.SiteState(
        at=at,
        soc=battery.soc,
        p_bat=battery.p_bat,
        p_pv=0.0,
        p_load=0.0,
        p_grid=battery.p_bat,
        p_load_shed=0.0,
        p_pv_curtailed=0.0,
        battery_state=state,
        grid_status="ON_GRID",
        active_block=block,
        energy=model.Energy(),
        alarms=(),
        stale=since is not None,
        stale_since=since,
    )
