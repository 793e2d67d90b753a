"""Quirks: named misbehaviours of the trading API that an org can switch on (CONTRACT §14).

People who test their own ESM clients, and `voke-esm conformance` itself, need an ESM that gets
the contract wrong in known ways. Each quirk breaks one promise of §2, §5 or §6, narrowly enough
that exactly one conformance check (`check`) sees it. Everything a quirk does is here; the
trading code calls these functions at one point each (the router's token exchange, the
pipeline's authentication and reads, the service's config update, the gate's answer).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final

from starlette.responses import JSONResponse

from voke_esm.contract.time_configs import TimeConfigJson, rule_of
from voke_esm.core.schemas import FieldError


@dataclass(frozen=True, slots=True)
class Quirk:
    name: str
    check: str  # the conformance check it turns red
    description: str  # plain words, for the admin page


QUIRKS: Final = {
    quirk.name: quirk
    for quirk in (
        Quirk("tokenShape", "TOKEN-JSON", "The JSON token answer leaves out tokenType."),
        Quirk(
            "formTokenUnsupported",
            "TOKEN-FORM",
            "The OAuth2 form token request is refused (400), as if only JSON were spoken.",
        ),
        Quirk(
            "noErrorEnvelope",
            "TOKEN-BAD-SECRET",
            "A refused token exchange answers a bare {error} body, without the error envelope.",
        ),
        Quirk(
            "forbiddenForUnauthorized",
            "AUTH-MISSING",
            "A call without a token is answered 403 instead of 401.",
        ),
        Quirk(
            "forbiddenForBadToken",
            "AUTH-GARBAGE",
            "A call with a malformed or wrongly signed token is answered 403 instead of 401.",
        ),
        Quirk("listShape", "LIST-SHAPE", "plant/list leaves meters out of each plant."),
        Quirk("duplicatePlantIds", "LIST-UNIQUE", "plant/list shows the first plant twice."),
        Quirk("configShape", "CONFIG-SHAPE", "plant/config leaves esiState out."),
        Quirk(
            "unknownPlantNot404",
            "CONFIG-UNKNOWN",
            "plant/config of an unknown plant answers 400 instead of 404.",
        ),
        Quirk(
            "ignoreValidateOnly",
            "DRY-ACCEPTED",
            "validateOnly is ignored: a dry run of a valid schedule applies it.",
        ),
        Quirk(
            "acceptBadTimes",
            "DRY-REJECT-TIME",
            "Times that are not HH:MM between 00:00 and 23:59 are accepted.",
        ),
        Quirk(
            "acceptReversedBlocks",
            "DRY-REJECT-ORDER",
            "A block whose from is not before its to is accepted.",
        ),
        Quirk(
            "acceptWrongSigns",
            "DRY-REJECT-SIGN",
            "A negative pBatMax or a positive pBatMin is accepted.",
        ),
        Quirk(
            "acceptBadSoc",
            "DRY-REJECT-SOC",
            "socMin above socMax, or a state of charge outside 0..100, is accepted.",
        ),
        Quirk("acceptOverlaps", "DRY-REJECT-OVERLAP", "Overlapping blocks are accepted."),
        Quirk("acceptTooManyBlocks", "DRY-REJECT-COUNT", "More than 96 blocks are accepted."),
        Quirk(
            "shape400As422",
            "SHAPE-400",
            "A config update of the wrong shape is answered 422 instead of 400.",
        ),
        Quirk(
            "replayAppliesAgain",
            "IDEMPOTENT-REPLAY",
            "A configUpdateReqCode sent again is handled anew instead of getting its first answer.",
        ),
        Quirk(
            "reordersBlocks",
            "WRITE-APPLIED",
            "An applied schedule is stored sorted by from, not in the order given.",
        ),
        Quirk(
            "concurrentLosesVersion",
            "WRITE-CONCURRENT",
            "Two updates of one plant applied within a second of each other get the same version.",
        ),
    )
}

# The §5 rule each accept… quirk lets pass (`voke_esm.contract.time_configs.RULES`).
_ACCEPTED_RULES: Final = {
    "acceptBadTimes": "time",
    "acceptReversedBlocks": "order",
    "acceptWrongSigns": "sign",
    "acceptBadSoc": "soc",
    "acceptOverlaps": "overlap",
    "acceptTooManyBlocks": "count",
}
# How close two applied updates must be for `concurrentLosesVersion` to give both one version.
_LOST_UPDATE_WINDOW_S: Final = 1.0
# The last applied update of each plant (row id → monotonic time, version), for
# `concurrentLosesVersion`: this process's only, which is enough to misbehave on purpose.
_last_applied: dict[uuid.UUID, tuple[float, int]] = {}


def unknown(names: Sequence[str]) -> list[FieldError]:
    return [
        {"field": f"quirks[{index}]", "message": f"no quirk is called {name!r}"}
        for index, name in enumerate(names)
        if name not in QUIRKS
    ]


# Token exchange (router) -------------------------------------------------------------------------


def token_answer(answer: dict[str, Any], quirks: Collection[str]) -> dict[str, Any]:
    if "tokenShape" in quirks:
        return {key: value for key, value in answer.items() if key != "tokenType"}
    return answer


def refuses_form(quirks: Collection[str]) -> bool:
    return "formTokenUnsupported" in quirks


def bad_secret_answer(quirks: Collection[str]) -> JSONResponse | None:
    if "noErrorEnvelope" in quirks:
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    return None


# Authentication (pipeline) -----------------------------------------------------------------------


FORBIDDEN_MESSAGE: Final = "Forbidden (a quirk of this organization answers 403 for 401)"


def unauthenticated_status(quirks: Collection[str], *, token_sent: bool) -> int:
    """401, or 403 where the org's quirks say so. An unauthenticated call is the org's whose
    plant it names (`plantId`), the only way to tell whose it is."""
    quirk = "forbiddenForBadToken" if token_sent else "forbiddenForUnauthorized"
    return 403 if quirk in quirks else 401


# Reads (pipeline) --------------------------------------------------------------------------------


def plant_list_body(body: bytes, quirks: Collection[str]) -> bytes:
    if "listShape" not in quirks and "duplicatePlantIds" not in quirks:
        return body
    plants: list[dict[str, Any]] = json.loads(body)
    if "listShape" in quirks:
        plants = [{k: v for k, v in plant.items() if k != "meters"} for plant in plants]
    if "duplicatePlantIds" in quirks and plants:
        plants.append(plants[0])
    return json.dumps(plants).encode()


def plant_config_body(body: bytes, quirks: Collection[str]) -> bytes:
    if "configShape" not in quirks:
        return body
    config: dict[str, Any] = json.loads(body)
    config.pop("esiState", None)
    return json.dumps(config).encode()


def unknown_plant_is_400(quirks: Collection[str]) -> bool:
    return "unknownPlantNot404" in quirks


# Config update (service) -------------------------------------------------------------------------


def enforced(errors: list[FieldError], quirks: Collection[str]) -> list[FieldError]:
    """The §5 errors the org's quirks do not let pass."""
    accepted = {rule for name, rule in _ACCEPTED_RULES.items() if name in quirks}
    if not accepted:
        return errors
    return [error for error in errors if rule_of(error) not in accepted]


def validate_only(requested: bool, quirks: Collection[str]) -> bool:
    return requested and "ignoreValidateOnly" not in quirks


def replays(quirks: Collection[str]) -> bool:
    return "replayAppliesAgain" not in quirks


def stored_blocks(blocks: list[TimeConfigJson], quirks: Collection[str]) -> list[TimeConfigJson]:
    if "reordersBlocks" in quirks:
        return sorted(blocks, key=lambda block: block["from"])
    return blocks


def applied_version(plant_row_id: uuid.UUID, version: int, quirks: Collection[str]) -> int:
    """The version an applied update gets: `version`, or under `concurrentLosesVersion` that of
    an update of the plant applied less than a second ago."""
    if "concurrentLosesVersion" not in quirks:
        return version
    now = time.monotonic()
    earlier = _last_applied.get(plant_row_id)
    if earlier is not None and now - earlier[0] < _LOST_UPDATE_WINDOW_S:
        version = earlier[1]
    _last_applied[plant_row_id] = (now, version)
    return version


# The answer (gate) -------------------------------------------------------------------------------


def answer_status(status: int, path_is_update: bool, quirks: Collection[str]) -> int:
    if path_is_update and status == 400 and "shape400As422" in quirks:
        return 422
    return status
