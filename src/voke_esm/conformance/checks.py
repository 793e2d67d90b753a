"""The checks of CONTRACT §14, each judging the ESM's answers to the calls it sends.

A check raises `CheckFailed` (the ESM broke the contract), `CheckSkipped` (it cannot apply here,
e.g. the ESM lists no plant) or `CheckError` (its answer could not be judged); it returns the
message of a pass. The negative cases of §5 are built from the contract's own rules
(`voke_esm.contract.time_configs`): each breaks exactly one, and the field an ESM must name is
the one those rules name.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import quote_plus

from pydantic import TypeAdapter, ValidationError

from voke_esm.conformance.probe import Exchange, Probe
from voke_esm.contract.time_configs import (
    MAX_BLOCKS,
    TimeConfigBlock,
    TimeConfigJson,
    check_time_configs,
)
from voke_esm.voke.client.http import EsmAuthFailed

TOKEN_PATH: Final = "/trading/token"
LIST_PATH: Final = "/trading/plant/list"
CONFIG_PATH: Final = "/trading/plant/config"
UPDATE_PATH: Final = "/trading/plant/config/update"


class CheckFailed(Exception):
    """The ESM broke the contract; the message says how."""


class CheckSkipped(Exception):
    """The check does not apply to this run; the message says why."""


class CheckError(Exception):
    """The check could not be judged; the message says why."""


class CredentialsRefused(Exception):
    """The ESM refused the client credentials: nothing beyond the token exchange can run."""


def _block(start: str, end: str, power: float, soc_max: float, soc_min: float) -> TimeConfigJson:
    return {
        "from": start,
        "to": end,
        "pBatMax": power,
        "pBatMin": -power,
        "socMax": soc_max,
        "socMin": soc_min,
    }


# A valid schedule of three blocks that share their boundary minutes (§5 allows it).
PROBE_SCHEDULE: Final[tuple[TimeConfigJson, ...]] = (
    _block("00:00", "06:00", 5, 90, 20),
    _block("06:00", "18:00", 20, 95, 10),
    _block("18:00", "23:59", 10, 80, 30),
)
# The same blocks out of time order: an ESM must keep the order given (§5).
WRITE_SCHEDULE: Final = (PROBE_SCHEDULE[2], PROBE_SCHEDULE[0], PROBE_SCHEDULE[1])


def _with(index: int, **changes: Any) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [dict(block) for block in PROBE_SCHEDULE]
    blocks[index].update(changes)
    return blocks


def _too_many() -> list[dict[str, Any]]:
    """MAX_BLOCKS + 1 valid blocks of 14 minutes each, one after another."""
    return [
        dict(
            _block(
                f"{start // 60:02d}:{start % 60:02d}", f"{end // 60:02d}:{end % 60:02d}", 5, 90, 20
            )
        )
        for start, end in ((n * 14, n * 14 + 14) for n in range(MAX_BLOCKS + 1))
    ]


# One schedule per rule of §5, each breaking that rule and no other (tests/conformance checks).
NEGATIVE_CASES: Final[dict[str, list[dict[str, Any]]]] = {
    "time": _with(0, **{"from": "24:00"}),
    "order": _with(1, **{"from": "12:00", "to": "08:00"}),
    "sign": _with(1, pBatMin=5),
    "soc": _with(1, socMin=96),
    "overlap": _with(1, **{"from": "05:00"}),
    "count": _too_many(),
}
_ENVELOPE_FIELDS: Final = (
    ("code", str),
    ("details", dict),
    ("error", str),
    ("message", str),
    ("statusCode", int),
)
_LIST_FIELDS: Final = {
    "plantId": (str,),
    "name": (str,),
    "descr": (str, type(None)),
    "fvePeakPowerKwp": (int, float),
    "capacityKwh": (int, float),
    "esiState": (str,),
    "configEnabled": (bool,),
    "plantWithLoad": (bool,),
    "meters": (list,),
}
_CONFIG_FIELDS: Final = {
    "plantId": (str,),
    "version": (int,),
    "configEnabled": (bool,),
    "esiState": (str,),
    "timeConfigs": (list,),
}
_BLOCKS = TypeAdapter(list[TimeConfigBlock])


def envelope_problems(exchange: Exchange, status: int, code: str) -> list[str]:
    """What keeps an answer from being §2's error envelope with `status` and `code`."""
    problems = []
    if exchange.status != status:
        problems.append(f"answered {exchange.status}, not {status}")
    body = exchange.body
    if not isinstance(body, dict):
        return [*problems, "the body is not the §2 error envelope (not a JSON object)"]
    for key, kind in _ENVELOPE_FIELDS:
        if not isinstance(body.get(key), kind) or isinstance(body.get(key), bool):
            problems.append(f"the envelope's {key} is missing or not a {kind.__name__}")
    if body.get("code") != code:
        problems.append(f"code {body.get('code')!r}, not {code!r}")
    if body.get("statusCode") != exchange.status:
        problems.append(f"statusCode {body.get('statusCode')!r} is not the status")
    try:
        phrase = HTTPStatus(exchange.status).phrase
    except ValueError:
        phrase = None
    if phrase is not None and isinstance(body.get("error"), str) and body["error"] != phrase:
        problems.append(f"error {body['error']!r}, not the reason phrase {phrase!r}")
    return problems


def shape_problems(value: Any, fields: Mapping[str, tuple[type, ...]], what: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{what} is not a JSON object"]
    problems = []
    for name, kinds in fields.items():
        if name not in value:
            problems.append(f"{what} has no {name}")
        elif not isinstance(value[name], kinds) or (
            isinstance(value[name], bool) and bool not in kinds
        ):
            problems.append(f"{what}'s {name} is {type(value[name]).__name__}")
    return problems


def same_blocks(sent: Sequence[Mapping[str, Any]], read: Any) -> bool:
    """The same blocks in the same order, numbers compared by value (10 equals 10.0)."""
    if not isinstance(read, list) or len(read) != len(sent):
        return False
    return all(
        isinstance(got, dict) and set(got) == set(block) and all(got[k] == block[k] for k in block)
        for block, got in zip(sent, read, strict=True)
    )


def answer_problems(exchange: Exchange, plant_id: str, result_code: str) -> list[str]:
    """What keeps a config update's answer from being §6's, with `result_code`."""
    if exchange.status != 200 or not isinstance(exchange.body, dict):
        return [f"answered {exchange.status}, not 200 with a JSON object"]
    body = exchange.body
    problems = []
    if body.get("resultCode") != result_code:
        problems.append(f"resultCode {body.get('resultCode')!r}, not {result_code!r}")
    if body.get("plantId") != plant_id:
        problems.append(f"plantId {body.get('plantId')!r}, not {plant_id!r}")
    if not isinstance(body.get("version"), int):
        problems.append("no integer version")
    if not isinstance(body.get("errors"), list):
        problems.append("no errors list")
    return problems


def _fail_if(problems: list[str]) -> None:
    if problems:
        raise CheckFailed("; ".join(problems))


@dataclass
class Restored:
    plant_id: str
    version: int | None
    result_code: str | None


class ConformanceRun:
    """The state the checks share (the plant list, the plant the updates use) and the checks."""

    def __init__(
        self,
        probe: Probe,
        *,
        client_id: str,
        client_secret: str,
        plant_id: str | None,
        allow_writes: bool,
    ) -> None:
        self.probe = probe
        self.client_id = client_id
        self._client_secret = client_secret
        self.plant_id = plant_id
        self.allow_writes = allow_writes
        self._list: Exchange | None = None
        self._original: list[Any] | None = None  # the plant's blocks before any write
        self._versions: dict[str, int] = {}
        self.wrote = False
        self.checks: dict[str, Callable[[], Awaitable[str]]] = {
            "TOKEN-JSON": self.token_json,
            "TOKEN-FORM": self.token_form,
            "TOKEN-BAD-SECRET": self.token_bad_secret,
            "AUTH-MISSING": self.auth_missing,
            "AUTH-GARBAGE": self.auth_garbage,
            "LIST-SHAPE": self.list_shape,
            "LIST-UNIQUE": self.list_unique,
            "CONFIG-SHAPE": self.config_shape,
            "CONFIG-UNKNOWN": self.config_unknown,
            "DRY-ACCEPTED": self.dry_accepted,
            **{f"DRY-REJECT-{rule.upper()}": self._rejects(rule) for rule in NEGATIVE_CASES},
            "SHAPE-400": self.shape_400,
            "IDEMPOTENT-REPLAY": self.idempotent_replay,
            "WRITE-APPLIED": self.write_applied,
            "WRITE-CONCURRENT": self.write_concurrent,
        }

    # What the checks share -------------------------------------------------------------------

    async def bearer(self) -> str:
        try:
            return await self.probe.bearer()
        except EsmAuthFailed as exc:
            raise CredentialsRefused(str(exc)) from None

    async def plant_list(self) -> Exchange:
        if self._list is None:
            self._list = await self.probe.send("GET", LIST_PATH, token=await self.bearer())
        self.probe.last = self._list
        return self._list

    async def listed_ids(self) -> list[str]:
        body = (await self.plant_list()).body
        if not isinstance(body, list):
            return []
        return [
            p["plantId"] for p in body if isinstance(p, dict) and isinstance(p.get("plantId"), str)
        ]

    async def target(self) -> str:
        """The plant the updates use: --plant-id, else the first listed."""
        if self.plant_id is not None:
            return self.plant_id
        listed = await self.listed_ids()
        if not listed:
            raise CheckSkipped("the ESM lists no plant to send updates for (give --plant-id)")
        return listed[0]

    async def read_config(self, plant_id: str) -> dict[str, Any]:
        """The plant's config, which must at least carry a version and a list of blocks."""
        exchange = await self.probe.send(
            "GET", CONFIG_PATH, token=await self.bearer(), params={"plantId": plant_id}
        )
        body = exchange.body
        if exchange.status != 200 or not isinstance(body, dict):
            raise CheckError(f"plant/config of {plant_id} answered {exchange.status}")
        if not isinstance(body.get("version"), int) or not isinstance(
            body.get("timeConfigs"), list
        ):
            raise CheckError(f"plant/config of {plant_id} has no version or no timeConfigs")
        if self._original is None and plant_id == self.plant_id:
            self._original = body["timeConfigs"]
        self._versions[plant_id] = body["version"]
        return body

    async def known_version(self, plant_id: str) -> int:
        """The plant's version as last read (the rejections compare with it, saving a read each)."""
        if plant_id not in self._versions:
            await self.read_config(plant_id)
        return self._versions[plant_id]

    async def update(
        self,
        plant_id: str,
        blocks: Sequence[Mapping[str, Any]],
        *,
        validate_only: bool,
        code: str | None = None,
    ) -> Exchange:
        body = {
            "plantId": plant_id,
            "configUpdateReqCode": code or f"conformance-{uuid.uuid4()}",
            "validateOnly": validate_only,
            "timeConfigs": list(blocks),
        }
        if not validate_only:
            self.wrote = True
        return await self.probe.send("POST", UPDATE_PATH, token=await self.bearer(), json=body)

    # Token -------------------------------------------------------------------------------------

    async def token_json(self) -> str:
        credentials = {"clientId": self.client_id, "clientSecret": self._client_secret}
        exchange = await self.probe.send("POST", TOKEN_PATH, json=credentials)
        if exchange.status in (400, 401, 403):
            raise CredentialsRefused(f"the token exchange answered {exchange.status}")
        if exchange.status != 200:
            raise CheckFailed(f"answered {exchange.status}, not 200")
        body = exchange.body
        problems = shape_problems(
            body, {"accessToken": (str,), "tokenType": (str,), "expiresIn": (int,)}, "the answer"
        )
        if isinstance(body, dict):
            if isinstance(body.get("tokenType"), str) and body["tokenType"].lower() != "bearer":
                problems.append(f"tokenType {body['tokenType']!r}, not 'Bearer'")
            if isinstance(body.get("expiresIn"), int) and body["expiresIn"] <= 0:
                problems.append("expiresIn is not positive")
        _fail_if(problems)
        return f"a Bearer token for {body['expiresIn']} s"

    async def token_form(self) -> str:
        # RFC 6749 §2.3.1: Basic credentials are form-urlencoded first.
        pair = f"{quote_plus(self.client_id)}:{quote_plus(self._client_secret)}"
        basic = base64.b64encode(pair.encode())
        exchange = await self.probe.send(
            "POST",
            TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic.decode()}"},
        )
        if exchange.status != 200:
            raise CheckFailed(f"answered {exchange.status}, not 200")
        body = exchange.body
        problems = shape_problems(
            body,
            {"access_token": (str,), "token_type": (str,), "expires_in": (int,)},
            "the answer",
        )
        if not problems and body["token_type"].lower() != "bearer":
            problems.append(f"token_type {body['token_type']!r}, not 'Bearer'")
        _fail_if(problems)
        return "the OAuth2 form gets a Bearer token"

    async def token_bad_secret(self) -> str:
        exchange = await self.probe.send(
            "POST",
            TOKEN_PATH,
            json={"clientId": self.client_id, "clientSecret": f"wrong-{uuid.uuid4().hex}"},
        )
        _fail_if(envelope_problems(exchange, 401, "INVALID_CLIENT"))
        return "401 INVALID_CLIENT in the envelope"

    # Authentication ----------------------------------------------------------------------------

    async def _unauthenticated(self, token: str | None) -> Exchange:
        listed = await self.listed_ids()
        plant_id = self.plant_id or (listed[0] if listed else "conformance-probe")
        return await self.probe.send("GET", CONFIG_PATH, token=token, params={"plantId": plant_id})

    async def auth_missing(self) -> str:
        _fail_if(envelope_problems(await self._unauthenticated(None), 401, "UNAUTHORIZED"))
        return "401 UNAUTHORIZED without a token"

    async def auth_garbage(self) -> str:
        token = await self.bearer()
        head, _, signature = token.rpartition(".")
        flipped = ("B" if signature[:1] == "A" else "A") + signature[1:]
        for garbage, what in (("not-a-token", "a malformed"), (f"{head}.{flipped}", "a re-signed")):
            self.probe.masker.add(garbage)
            problems = envelope_problems(await self._unauthenticated(garbage), 401, "UNAUTHORIZED")
            _fail_if([f"with {what} token: {problem}" for problem in problems])
        return "401 UNAUTHORIZED for a malformed and a wrongly signed token"

    # Reads -------------------------------------------------------------------------------------

    async def list_shape(self) -> str:
        exchange = await self.plant_list()
        if exchange.status != 200:
            raise CheckFailed(f"answered {exchange.status}, not 200")
        if not isinstance(exchange.body, list):
            raise CheckFailed("the answer is not a JSON array")
        problems = []
        for index, plant in enumerate(exchange.body):
            problems.extend(shape_problems(plant, _LIST_FIELDS, f"plant [{index}]"))
        _fail_if(problems)
        return f"{_plants(len(exchange.body))} of the contract's shape"

    async def list_unique(self) -> str:
        exchange = await self.plant_list()
        if not isinstance(exchange.body, list):
            raise CheckError("the plant list is not a JSON array")
        listed = await self.listed_ids()
        twice = sorted({plant_id for plant_id in listed if listed.count(plant_id) > 1})
        if twice:
            raise CheckFailed(f"listed more than once: {', '.join(twice)}")
        return f"each plantId once ({_plants(len(listed))})"

    async def config_shape(self) -> str:
        listed = list(dict.fromkeys(await self.listed_ids()))
        if not listed:
            raise CheckSkipped("the ESM lists no plant")
        token = await self.bearer()
        for plant_id in listed:
            exchange = await self.probe.send(
                "GET", CONFIG_PATH, token=token, params={"plantId": plant_id}
            )
            if exchange.status != 200:
                raise CheckFailed(f"plant/config of {plant_id} answered {exchange.status}")
            body = exchange.body
            problems = shape_problems(body, _CONFIG_FIELDS, f"the config of {plant_id}")
            if not problems:
                if body["plantId"] != plant_id:
                    problems.append(f"plantId {body['plantId']!r} answers for {plant_id!r}")
                if body["version"] < 1:
                    problems.append(f"version {body['version']} is below 1")
                try:
                    _BLOCKS.validate_python(body["timeConfigs"])
                except ValidationError as exc:
                    problems.append(f"timeConfigs of the wrong shape ({exc.error_count()} errors)")
            _fail_if(problems)
        return f"every listed plant's config has the contract's shape ({_plants(len(listed))})"

    async def config_unknown(self) -> str:
        exchange = await self.probe.send(
            "GET",
            CONFIG_PATH,
            token=await self.bearer(),
            params={"plantId": f"conformance-unknown-{uuid.uuid4().hex[:12]}"},
        )
        _fail_if(envelope_problems(exchange, 404, "NOT_FOUND"))
        return "404 NOT_FOUND in the envelope"

    # Dry runs ----------------------------------------------------------------------------------

    async def dry_accepted(self) -> str:
        plant_id = await self.target()
        before = await self.read_config(plant_id)
        exchange = await self.update(plant_id, PROBE_SCHEDULE, validate_only=True)
        problems = answer_problems(exchange, plant_id, "cfg_accepted")
        if not problems and exchange.body["errors"]:
            problems.append(f"errors {exchange.body['errors']} beside cfg_accepted")
        after = await self.read_config(plant_id)  # read even so: later checks compare with it
        if problems:
            self.probe.last = exchange  # the answer decided it
            _fail_if(problems)
        if after["version"] != before["version"]:
            problems.append(f"the version went from {before['version']} to {after['version']}")
        if after["timeConfigs"] != before["timeConfigs"]:
            problems.append("the blocks read back changed")
        _fail_if(problems)
        return f"cfg_accepted, version {after['version']} unchanged on a re-read"

    def _rejects(self, rule: str) -> Callable[[], Awaitable[str]]:
        blocks = NEGATIVE_CASES[rule]
        expected = sorted({error["field"] for error in check_time_configs(blocks)})

        async def check() -> str:
            plant_id = await self.target()
            version = await self.known_version(plant_id)
            exchange = await self.update(plant_id, blocks, validate_only=True)
            _fail_if(answer_problems(exchange, plant_id, "cfg_rejected"))
            named = {e.get("field") for e in exchange.body["errors"] if isinstance(e, dict)}
            problems = [f"no error at {field}" for field in expected if field not in named]
            # §6: `version` is the plant's version after the call.
            if exchange.body["version"] != version:
                problems.append(f"version {exchange.body['version']}, was {version}")
            _fail_if(problems)
            return f"cfg_rejected at {', '.join(expected)}"

        return check

    async def shape_400(self) -> str:
        body = {"configUpdateReqCode": f"conformance-{uuid.uuid4()}", "validateOnly": True}
        exchange = await self.probe.send(
            "POST",
            UPDATE_PATH,
            token=await self.bearer(),
            json={**body, "timeConfigs": "not a list"},
        )
        _fail_if(envelope_problems(exchange, 400, "VALIDATION_ERROR"))
        return "400 VALIDATION_ERROR for a body without plantId and with a string for timeConfigs"

    async def idempotent_replay(self) -> str:
        plant_id = await self.target()
        code = f"conformance-{uuid.uuid4()}"
        first = await self.update(plant_id, PROBE_SCHEDULE, validate_only=True, code=code)
        if first.status != 200:
            raise CheckError(f"the first update answered {first.status}")
        again = await self.update(plant_id, NEGATIVE_CASES["order"], validate_only=True, code=code)
        if again.status != 200 or again.body != first.body:
            raise CheckFailed(
                f"the second answer ({again.status}) differs from the first: {again.body}"
            )
        return "the first answer again"

    # Writes ------------------------------------------------------------------------------------

    def _writes_allowed(self) -> str:
        if not self.allow_writes or self.plant_id is None:
            raise CheckSkipped("applies updates: run with --allow-writes --plant-id P")
        return self.plant_id

    async def write_applied(self) -> str:
        plant_id = self._writes_allowed()
        before = await self.read_config(plant_id)
        exchange = await self.update(plant_id, WRITE_SCHEDULE, validate_only=False)
        _fail_if(answer_problems(exchange, plant_id, "applied_ok"))
        expected = before["version"] + 1
        problems = []
        if exchange.body["version"] != expected:
            problems.append(f"version {exchange.body['version']}, not {expected}")
        after = await self.read_config(plant_id)
        if after["version"] != expected:
            problems.append(f"read back at version {after['version']}, not {expected}")
        if not same_blocks(WRITE_SCHEDULE, after["timeConfigs"]):
            problems.append("the blocks read back are not those sent, in the order sent")
        _fail_if(problems)
        return f"applied_ok as version {expected}, read back equal and in order"

    async def write_concurrent(self) -> str:
        plant_id = self._writes_allowed()
        before = await self.read_config(plant_id)
        answers = await asyncio.gather(
            self.update(plant_id, PROBE_SCHEDULE, validate_only=False),
            self.update(plant_id, WRITE_SCHEDULE, validate_only=False),
        )
        for exchange in answers:
            _fail_if(answer_problems(exchange, plant_id, "applied_ok"))
        versions = sorted(exchange.body["version"] for exchange in answers)
        expected = [before["version"] + 1, before["version"] + 2]
        after = await self.read_config(plant_id)
        problems = []
        if versions != expected:
            problems.append(f"versions {versions}, not {expected}")
        if after["version"] != expected[-1]:
            problems.append(f"read back at version {after['version']}, not {expected[-1]}")
        _fail_if(problems)
        return f"two concurrent updates got versions {versions[0]} and {versions[1]}"

    async def restore(self) -> Restored | None:
        """Put the plant's original blocks back after the writes: a further version."""
        if not self.wrote or self.plant_id is None or self._original is None:
            return None
        exchange = await self.update(self.plant_id, self._original, validate_only=False)
        body = exchange.body if isinstance(exchange.body, dict) else {}
        version = body.get("version")
        return Restored(
            self.plant_id,
            version if isinstance(version, int) else None,
            body.get("resultCode") if isinstance(body.get("resultCode"), str) else None,
        )


def _plants(count: int) -> str:
    return "1 plant" if count == 1 else f"{count} plants"
