"""Wire shapes both sides of the partner contract use alike.

The sandbox's trading answers (sandbox/trading/schemas.py) and what Voke's ESM client reads of
an ESM's answers (voke/client/schemas.py) differ on purpose: the sandbox writes every field the
contract names, with OpenAPI examples, while the client reads any partner's answer leniently
(optional fields, unknown ones ignored, versions bounded by Voke's column). What is the same on
both sides lives here and in time_configs.py (`TimeConfigBlock`).
"""

from __future__ import annotations

from typing import Literal

# config/update's outcome (CONTRACT §6).
ResultCode = Literal["applied_ok", "cfg_accepted", "cfg_rejected"]
