"""The simulated site of CONTRACT §12: sun, household load, battery and grid. Pure, no I/O."""

from voke_esm.sandbox.model.plant import CONVENTIONS, Block, Condition, Plant
from voke_esm.sandbox.model.site import (
    BatteryState,
    Energy,
    SiteState,
    clear_caches,
    comms_loss_start,
    state_at,
    timeseries,
)

__all__ = [
    "CONVENTIONS",
    "BatteryState",
    "Block",
    "Condition",
    "Energy",
    "Plant",
    "SiteState",
    "clear_caches",
    "comms_loss_start",
    "state_at",
    "timeseries",
]
