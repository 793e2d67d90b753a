"""What a fault rule must meet beyond its type to be stored (CONTRACT §11). Firing rules is the
trading path's: `voke_esm.sandbox.trading.faults`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from voke_esm.core.schemas import FieldError

ERROR_STATUSES = range(400, 600)


def check_rules(rules: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    """What a well-typed rule must also meet; each error at its field (`rules[0].status`)."""
    errors: list[FieldError] = []
    for index, rule in enumerate(rules):
        at = f"rules[{index}]"
        if rule["kind"] == "error":
            if rule["status"] is None:
                errors.append({"field": f"{at}.status", "message": "is required for kind error"})
            elif rule["status"] not in ERROR_STATUSES:
                errors.append(
                    {"field": f"{at}.status", "message": "must be an HTTP status 400..599"}
                )
        if rule["kind"] == "latency" and rule["latencyMs"] is None:
            errors.append({"field": f"{at}.latencyMs", "message": "is required for kind latency"})
    return errors
