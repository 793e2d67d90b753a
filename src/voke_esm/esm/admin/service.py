"""Enable, disable and status of the sandbox per org, and fake-plant CRUD (CONTRACT §4)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.errors import Conflict, NotFound, ValidationFailed
from voke_esm.esm import repository
from voke_esm.esm.models import SandboxClient, SandboxPlant
from voke_esm.esm.time_configs import SEED_BLOCKS, check_time_configs
from voke_esm.orgs import service as orgs_service
from voke_esm.orgs.models import Org
from voke_esm.schemas import FieldError, utc_now
from voke_esm.security import Keyring, new_client_id, new_client_secret


class SandboxPlantNotFound(NotFound):
    default_message = "Voke ESM plant not found"


class ExternalPlantIdTaken(Conflict):
    field = "externalPlantId"
    default_message = "externalPlantId is already used by another plant of this clientId"


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    client_id: str
    client_secret: str
    esm_api_url: str


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    org: Org
    client: SandboxClient | None
    esm_api_url: str
    plant_count: int


async def enable(
    session: AsyncSession, keyring: Keyring, org_id: uuid.UUID, *, esm_api_url: str
) -> IssuedCredentials:
    """Fresh credentials on every call; the old ones and their tokens die in the same commit."""
    # The org row lock serializes enable and disable of one org.
    org = await orgs_service.get_org(session, org_id, for_update=True)
    client_id, client_secret = new_client_id(), new_client_secret()
    now = utc_now()
    await repository.delete_clients_for_org(session, org.id)
    await repository.add_client(
        session,
        SandboxClient(
            client_id=client_id,
            org_id=org.id,
            secret_digest=keyring.digest_client_secret(client_secret),
            enabled_at=now,
        ),
    )
    await repository.rebind_plants(session, org.id, client_id)
    await repository.start_clock_once(session, org.id, now)  # at the first enable (§11)
    if await repository.count_plants_for_org(session, org.id) == 0:
        await repository.add_plant(session, default_plant(org, client_id))
    await orgs_service.set_partner_credentials(
        session,
        keyring,
        org.id,
        client_id=client_id,
        client_secret=client_secret,
        esm_api_url=esm_api_url,
        at=now,
    )
    return IssuedCredentials(client_id, client_secret, esm_api_url)


async def disable(session: AsyncSession, org_id: uuid.UUID) -> Org:
    """Revoke the credentials; the org's plants stay and move to the next clientId on re-enable."""
    org = await orgs_service.get_org(session, org_id, for_update=True)
    await repository.delete_clients_for_org(session, org.id)
    await orgs_service.clear_partner_credentials(session, org.id)
    return org


async def status(session: AsyncSession, org_id: uuid.UUID, *, esm_api_url: str) -> SandboxStatus:
    org = await orgs_service.get_org(session, org_id)
    client = await repository.get_client_for_org(session, org.id)
    return SandboxStatus(
        org, client, esm_api_url, await repository.count_plants_for_org(session, org.id)
    )


def default_plant(org: Org, client_id: str) -> SandboxPlant:
    """The plant an org gets when it is first enabled, and again when its sandbox is reset."""
    return SandboxPlant(
        org_id=org.id,
        client_id=client_id,
        external_plant_id=f"PLANT-{secrets.token_hex(4).upper()}",
        name=f"{org.name} default plant"[:255],
        description="Battery storage + PV (created when Voke ESM was enabled)",
        fve_peak_power_kwp=120.0,
        capacity_kwh=200.0,
        time_configs=[dict(block) for block in SEED_BLOCKS],
    )


# Plants -------------------------------------------------------------------------------------------


async def plant_list_json(
    session: AsyncSession,
    *,
    client_id: str | None,
    org_id: uuid.UUID | None,
    limit: int | None,
    offset: int,
) -> str:
    return await repository.plant_list_json(
        session, client_id=client_id, org_id=org_id, limit=limit, offset=offset
    )


async def get_plant(
    session: AsyncSession, plant_id: uuid.UUID, *, for_update: bool = False
) -> SandboxPlant:
    plant = await repository.get_plant(session, plant_id, for_update=for_update)
    if plant is None:
        raise SandboxPlantNotFound()
    return plant


async def create_plant(session: AsyncSession, fields: dict[str, Any]) -> SandboxPlant:
    errors: list[FieldError] = check_time_configs(fields["time_configs"])
    client = await repository.get_client(session, fields["client_id"])
    if client is None:
        errors.insert(
            0, {"field": "clientId", "message": "is not bound to an enabled organization"}
        )
    if errors:
        raise ValidationFailed(errors, "Validation error or unbound clientId")
    assert client is not None
    plant = SandboxPlant(org_id=client.org_id, config_version=1, **fields)
    try:
        async with session.begin_nested():
            return await repository.add_plant(session, plant)
    except IntegrityError:
        raise ExternalPlantIdTaken() from None


async def update_plant(
    session: AsyncSession, plant_id: uuid.UUID, changes: dict[str, Any]
) -> SandboxPlant:
    new_blocks = changes.get("time_configs")
    if new_blocks is not None and (errors := check_time_configs(new_blocks)):
        raise ValidationFailed(errors)
    # A schedule change is a new config version (CONTRACT §4): lock the row as trading updates do.
    plant = await get_plant(session, plant_id, for_update=new_blocks is not None)
    for field, value in changes.items():
        setattr(plant, field, value)
    if new_blocks is not None:
        plant.config_version += 1
    plant.updated_at = utc_now()
    await repository.flush(session)
    return plant


async def delete_plant(session: AsyncSession, plant_id: uuid.UUID) -> None:
    await repository.delete_plant(session, await get_plant(session, plant_id))
