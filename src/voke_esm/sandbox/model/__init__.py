"""The simulated site of CONTRACT §12: sun, household load, battery and grid. Pure, no I/O."""

from voke_esm.sandbox.model.plant import CONVENTIONS, Block, Condition, Plant
from voke_esm.sandbox.model.site import Energy, SiteState, clear_caches, state_at, timeseries

__all__ = [
    "CONVENTIONS",
    "Block",
    "Condition",
    "Energy",
    "Plant",
    "SiteState",
    "clear_caches",
    "state_at",
    "timeseries",
]
