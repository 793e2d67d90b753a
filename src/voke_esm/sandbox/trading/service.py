"""The partner ESM HTTP contract as the sandbox answers it (CONTRACT §6)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voke_esm.contract.time_configs import (
    TimeConfigBlock,
    TimeConfigJson,
    check_next_version,
    check_time_configs,
)
from voke_esm.core.db import session_scope
from voke_esm.core.errors import InvalidClient, NotFound
from voke_esm.core.schemas import FieldError
from voke_esm.core.security import TRADING_ISSUER, Keyring
from voke_esm.sandbox.models import SandboxPlant
from voke_esm.sandbox.repositories import clients as clients_repository
from voke_esm.sandbox.repositories import config_updates as config_updates_repository
from voke_esm.sandbox.repositories import plants as plants_repository
from voke_esm.sandbox.telemetry import service as telemetry_service
from voke_esm.sandbox.trading import repository as trading_repository
from voke_esm.sandbox.trading.callers import TradingCaller
from voke_esm.sandbox.trading.read_cache import TradingReadCache
from voke_esm.sandbox.trading.schemas import PlantConfigRead, TradingPlantRead

logger = logging.getLogger("voke_esm")


class TradingPlantNotFound(NotFound):
    default_message = "Voke ESM plant not found"


# CONTRACT §12: what the trading API says of a plant a commsLoss cuts off.
COMMS_LOST = "COMMS_LOST"
COMMS_LOST_ERROR: FieldError = {
    "field": "plantId",
    "message": "the plant cannot be reached (commsLoss): nothing was sent to it",
}


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int


def exchange_token(
    keyring: Keyring, caller: TradingCaller | None, *, client_secret: str, ttl_seconds: int
) -> IssuedToken:
    """A token for `caller` if the secret is its own; `caller` None is an unknown clientId."""
    # One answer for an unknown client and a wrong secret, and the same work for both.
    digest = caller.secret_digest if caller else None
    if not keyring.client_secret_matches(client_secret, digest) or caller is None:
        raise InvalidClient()
    token = keyring.issue_token(
        issuer=TRADING_ISSUER, subject=caller.client_id, ttl_seconds=ttl_seconds
    )
    return IssuedToken(token, ttl_seconds)


_PLANT_LIST = TypeAdapter(list[TradingPlantRead])


class PlantReads:
    """plant/list and plant/config answers as encoded bytes: from the read cache while the
    versions the caller query read say it holds, else from the database, then kept."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], cache: TradingReadCache) -> None:
        self.sessions = sessions
        self.cache = cache

    async def plant_list(self, caller: TradingCaller) -> bytes:
        if caller.comms_loss_possible:  # the answer depends on the clock: never cached
            async with session_scope(self.sessions) as session:
                plants = await plants_repository.list_plants(session, client_id=caller.client_id)
                lost = await telemetry_service.comms_lost(session, caller.org_id, plants)
            return _PLANT_LIST.dump_json(
                [_listed(plant, plant.id in lost) for plant in plants], by_alias=True
            )
        body = self.cache.plant_list(caller.client_id, caller.plants_version)
        if body is None:
            async with session_scope(self.sessions) as session:
                # The version is read before the plants, so an entry is never older than the
                # version it is kept under (at worst newer, which the next version replaces).
                version = await clients_repository.plants_version(session, caller.client_id)
                plants = await plants_repository.list_plants(session, client_id=caller.client_id)
            body = _PLANT_LIST.dump_json(
                [TradingPlantRead.from_plant(plant) for plant in plants], by_alias=True
            )
            if version is not None:
                self.cache.put_plant_list(caller.client_id, version, body)
        return body

    async def plant_config(self, caller: TradingCaller, plant_id: str) -> bytes:
        """Cached by the plant's (row id, revision): a plant deleted and created again under
        the same plantId is a new row, whatever its revision."""
        if caller.plant_key is None:  # another client's plant is as absent as a missing one
            raise TradingPlantNotFound()
        body = (
            None
            if caller.comms_loss_possible
            else self.cache.plant_config(caller.client_id, caller.plant_key)
        )
        if body is None:
            async with session_scope(self.sessions) as session:
                plant = await plants_repository.get_plant_of_client(
                    session, caller.client_id, plant_id
                )
                lost = plant is not None and bool(
                    caller.comms_loss_possible
                    and await telemetry_service.comms_lost(session, caller.org_id, [plant])
                )
            if plant is None:  # deleted since the caller query
                raise TradingPlantNotFound()
            answer = PlantConfigRead(
                plant_id=plant.external_plant_id,
                version=plant.config_version,
                config_enabled=plant.config_enabled,
                esi_state=COMMS_LOST if lost else plant.esi_state,
                time_configs=[
                    TimeConfigBlock.model_validate(block) for block in plant.time_configs
                ],
            )
            body = answer.model_dump_json(by_alias=True).encode()
            if not caller.comms_loss_possible:
                self.cache.put_plant_config(caller.client_id, (str(plant.id), plant.revision), body)
        return body


def _listed(plant: SandboxPlant, comms_lost: bool) -> TradingPlantRead:
    listed = TradingPlantRead.from_plant(plant)
    return listed.model_copy(update={"esi_state": COMMS_LOST}) if comms_lost else listed


async def update_config(
    session: AsyncSession,
    client_id: str,
    *,
    plant_id: str,
    config_update_req_code: str,
    validate_only: bool,
    time_configs: list[TimeConfigJson],
    comms_loss_possible: bool = False,
) -> dict[str, Any]:
    """Validate, and unless asked only to validate, apply a schedule as a new config version.

    The plant row is locked for the whole transaction, so concurrent updates of one plant take
    versions one after another. The answer is remembered by `configUpdateReqCode` in the same
    statement that finds whether the code was seen before: a repeat gets the first answer.
    """
    plant = await trading_repository.lock_plant_config(session, client_id, plant_id)
    if plant is None:
        raise TradingPlantNotFound()

    errors: list[FieldError] = []
    if comms_loss_possible and await _comms_lost(session, plant.id):
        errors.append(COMMS_LOST_ERROR)  # §12: nothing reaches the plant, nothing is stored
    if not plant.config_enabled:
        errors.append(
            {"field": "configEnabled", "message": "config updates are disabled for this plant"}
        )
    errors.extend(check_next_version(plant.config_version))
    errors.extend(check_time_configs(time_configs))
    if errors:
        result_code = "cfg_rejected"
    elif validate_only:
        result_code = "cfg_accepted"
    else:
        result_code = "applied_ok"

    version = plant.config_version + (1 if result_code == "applied_ok" else 0)
    answer = {
        "plantId": plant.external_plant_id,
        "configUpdateReqCode": config_update_req_code,
        "resultCode": result_code,
        "version": version,
        "errors": [dict(error) for error in errors],
    }
    if not await trading_repository.remember_config_update(
        session, plant.id, config_update_req_code, answer
    ):
        earlier = await config_updates_repository.get_config_update(
            session, plant.id, config_update_req_code
        )
        if earlier is None:  # the code's plant row is locked: its record cannot go meanwhile
            raise RuntimeError("config update record vanished under a row lock")
        return earlier.response

    if result_code == "applied_ok":
        await trading_repository.apply_config(session, plant, time_configs, version)
        logger.info("Voke ESM: applied config for %s", plant.external_plant_id)
    return answer


async def _comms_lost(session: AsyncSession, plant_row_id: uuid.UUID) -> bool:
    plant = await plants_repository.get_plant(session, plant_row_id)
    if plant is None:  # its row is locked by this transaction: it cannot be gone
        return False
    return bool(await telemetry_service.comms_lost(session, plant.org_id, [plant]))
