"""The partner ESM HTTP contract as the sandbox answers it (CONTRACT §6)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.errors import InvalidClient, NotFound
from voke_esm.esm import repository
from voke_esm.esm.models import ConfigUpdateRecord, SandboxClient, SandboxPlant
from voke_esm.esm.time_configs import check_time_configs
from voke_esm.schemas import FieldError, utc_now
from voke_esm.security import TRADING_ISSUER, Keyring

logger = logging.getLogger("voke_esm")


class TradingPlantNotFound(NotFound):
    default_message = "Voke ESM plant not found"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int


async def find_client(session: AsyncSession, client_id: str) -> SandboxClient | None:
    return await repository.get_client(session, client_id)


def exchange_token(
    keyring: Keyring, client: SandboxClient | None, *, client_secret: str, ttl_seconds: int
) -> IssuedToken:
    """A token for `client` if the secret is its own; `client` None is an unknown clientId."""
    # One answer for an unknown client and a wrong secret, and the same work for both.
    if (
        not keyring.client_secret_matches(client_secret, client.secret_digest if client else None)
        or client is None
    ):
        raise InvalidClient()
    token = keyring.issue_token(
        issuer=TRADING_ISSUER, subject=client.client_id, ttl_seconds=ttl_seconds
    )
    return IssuedToken(token, ttl_seconds)


async def list_plants(session: AsyncSession, client: SandboxClient) -> Sequence[SandboxPlant]:
    return await repository.list_plants(session, client_id=client.client_id)


async def get_plant(session: AsyncSession, client: SandboxClient, plant_id: str) -> SandboxPlant:
    plant = await repository.get_plant_of_client(session, client.client_id, plant_id)
    if plant is None:  # another client's plant is as absent as a missing one
        raise TradingPlantNotFound()
    return plant


async def update_config(
    session: AsyncSession,
    client: SandboxClient,
    *,
    plant_id: str,
    config_update_req_code: str,
    validate_only: bool,
    time_configs: list[dict[str, Any]],
) -> dict[str, Any]:
    """Validate, and unless asked only to validate, apply a schedule as a new config version.

    The plant row is locked for the whole transaction, so concurrent updates of one plant take
    versions one after another and a repeated `configUpdateReqCode` finds the first answer.
    """
    plant = await repository.get_plant_of_client(
        session, client.client_id, plant_id, for_update=True
    )
    if plant is None:
        raise TradingPlantNotFound()
    earlier = await repository.get_config_update(session, plant.id, config_update_req_code)
    if earlier is not None:
        return earlier.response

    errors: list[FieldError] = []
    if not plant.config_enabled:
        errors.append(
            {"field": "configEnabled", "message": "config updates are disabled for this plant"}
        )
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
    try:
        async with session.begin_nested():
            await repository.add_config_update(
                session,
                ConfigUpdateRecord(
                    plant_id=plant.id,
                    config_update_req_code=config_update_req_code,
                    response=answer,
                ),
            )
    except IntegrityError:  # the same code raced in (only possible without row locks): replay it
        earlier = await repository.get_config_update(session, plant.id, config_update_req_code)
        if earlier is None:
            raise
        return earlier.response

    if result_code == "applied_ok":
        plant.time_configs = time_configs
        plant.config_version = version
        plant.updated_at = utc_now()
        await repository.flush(session)
        logger.info("Voke ESM: applied config for %s", plant.external_plant_id)
    return answer
