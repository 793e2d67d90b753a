"""Enable, disable and status of the sandbox per org, and fake-plant CRUD (CONTRACT §4)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any, cast

from pydantic import MISSING
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.contract.time_configs import (
    SEED_BLOCKS,
    TimeConfigJson,
    check_next_version,
    check_time_configs,
)
from voke_esm.core.db import conflicts_retried
from voke_esm.core.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from voke_esm.core.schemas import FieldError, utc_now
from voke_esm.core.security import Keyring, new_client_id, new_client_secret
from voke_esm.sandbox import locks
from voke_esm.sandbox.admin.schemas import SandboxPlantCreate, SandboxPlantUpdate
from voke_esm.sandbox.models import SandboxClient, SandboxPlant
from voke_esm.sandbox.repositories import clients as clients_repository
from voke_esm.sandbox.repositories import org_states as org_states_repository
from voke_esm.sandbox.repositories import plants as plants_repository
from voke_esm.voke.orgs import service as orgs_service
from voke_esm.voke.orgs.models import Org


class SandboxPlantNotFound(NotFound):
    default_message = "Voke ESM plant not found"


class ExternalPlantIdTaken(Conflict):
    field = "externalPlantId"
    default_message = "externalPlantId is already used by another plant of this clientId"


class PlantChanged(PreconditionFailed):
    default_message = "The plant changed since you read it"

    def __init__(self, current_etag: str | None = None) -> None:
        # The current tag, so that a caller can tell what it would overwrite and read it afresh.
        details = {"etag": current_etag} if current_etag else None
        headers = {"ETag": current_etag} if current_etag else None
        super().__init__(details=details, headers=headers)


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


@conflicts_retried
async def enable(
    session: AsyncSession, keyring: Keyring, org_id: uuid.UUID, *, esm_api_url: str
) -> IssuedCredentials:
    """Fresh credentials on every call; the old ones and their tokens die in the same commit."""
    # The org row lock serializes enable and disable of one org (the lock order:
    # sandbox/locks.py).
    await locks.lock_org(session, org_id)
    org = await orgs_service.get_org(session, org_id)
    await locks.lock_plants_of_org(session, org.id)  # step 2, before the client row
    client_id, client_secret = new_client_id(), new_client_secret()
    now = utc_now()
    await clients_repository.delete_clients_for_org(session, org.id)
    await clients_repository.add_client(
        session,
        SandboxClient(
            client_id=client_id,
            org_id=org.id,
            secret_digest=keyring.digest_client_secret(client_secret),
            enabled_at=now,
        ),
    )
    await plants_repository.rebind_plants(session, org.id, client_id)
    await org_states_repository.start_clock_once(session, org.id, now)  # at the first enable (§11)
    if await plants_repository.count_plants_for_org(session, org.id) == 0:
        await plants_repository.add_plants(session, default_plant(org, client_id))
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


@conflicts_retried
async def disable(session: AsyncSession, org_id: uuid.UUID) -> Org:
    """Revoke the credentials; the org's plants stay and move to the next clientId on re-enable."""
    await locks.lock_org(session, org_id)  # the lock order: sandbox/locks.py
    org = await orgs_service.get_org(session, org_id)
    await clients_repository.delete_clients_for_org(session, org.id)
    await orgs_service.clear_partner_credentials(session, org.id)
    return org


async def status(session: AsyncSession, org_id: uuid.UUID, *, esm_api_url: str) -> SandboxStatus:
    org = await orgs_service.get_org(session, org_id)
    client = await clients_repository.get_client_for_org(session, org.id)
    return SandboxStatus(
        org, client, esm_api_url, await plants_repository.count_plants_for_org(session, org.id)
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
        time_configs=[block.copy() for block in SEED_BLOCKS],
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
    return await plants_repository.plant_list_json(
        session, client_id=client_id, org_id=org_id, limit=limit, offset=offset
    )


async def get_plant(
    session: AsyncSession, plant_id: uuid.UUID, *, for_update: bool = False
) -> SandboxPlant:
    plant = await plants_repository.get_plant(session, plant_id, for_update=for_update)
    if plant is None:
        raise SandboxPlantNotFound()
    return plant


@conflicts_retried
async def create_plant(session: AsyncSession, new: SandboxPlantCreate) -> SandboxPlant:
    time_configs = [block.as_json() for block in new.time_configs]
    errors: list[FieldError] = check_time_configs(time_configs)
    await locks.lock_org_of_client(session, new.client_id)  # the lock order
    client = await clients_repository.get_client(session, new.client_id)
    if client is None:
        errors.insert(
            0, {"field": "clientId", "message": "is not bound to an enabled organization"}
        )
    if errors:
        raise ValidationFailed(errors, "Validation error or unbound clientId")
    assert client is not None
    plant = SandboxPlant(
        org_id=client.org_id,
        client_id=new.client_id,
        external_plant_id=new.external_plant_id,
        name=new.name,
        description=new.description,
        fve_peak_power_kwp=new.fve_peak_power_kwp,
        capacity_kwh=new.capacity_kwh,
        config_enabled=new.config_enabled,
        plant_with_load=new.plant_with_load,
        esi_state=new.esi_state,
        time_configs=time_configs,
        config_version=1,
        conditions=[],
        **{name: getattr(new, name) for name in plants_repository.SITE_COLUMNS},
    )
    try:
        async with session.begin_nested():
            await plants_repository.add_plants(session, plant)
        return plant
    except IntegrityError:
        raise ExternalPlantIdTaken() from None


@conflicts_retried
async def update_plant(
    session: AsyncSession,
    plant_id: uuid.UUID,
    patch: SandboxPlantUpdate,
    *,
    if_match: str | None = None,
) -> SandboxPlant:
    """Apply the fields `patch` carries; only those that differ from what is stored count
    (CONTRACT §4).

    New `timeConfigs` are a new config version; the same blocks again are not, and a PATCH
    that changes nothing leaves `updatedAt`, and so the ETag, alone.
    """
    new_blocks = None
    if patch.time_configs is not MISSING:
        new_blocks = [block.as_json() for block in patch.time_configs]
        if errors := check_time_configs(new_blocks):
            raise ValidationFailed(errors)
    await locks.lock_org_of_plant(session, plant_id)  # the lock order: sandbox/locks.py
    # The row lock (SQLite: the write lock BEGIN IMMEDIATE took) makes the If-Match check, the
    # comparison with the stored blocks and the version bump one step: no other write of the
    # plant, a trading update included, can come between them.
    plant = await get_plant(session, plant_id, for_update=True)
    require_if_match(plant, if_match)
    changed = _changes(plant, patch, new_blocks)
    if not changed:
        return plant
    if "time_configs" in changed:
        if errors := check_next_version(plant.config_version, field="timeConfigs"):
            raise ValidationFailed(errors)
        changed["config_version"] = plant.config_version + 1
    plants_repository.write_plant(plant, changed, at=utc_now())
    await plants_repository.flush(session)
    await plants_repository.refresh_revision(session, plant)
    return plant


def _changes(
    plant: SandboxPlant, patch: SandboxPlantUpdate, new_blocks: list[TimeConfigJson] | None
) -> plants_repository.PlantChanges:
    """What `patch` sends that differs from the stored plant. Python compares as §4 asks:
    blocks in order, each field equal, numbers by value (10 == 10.0), keys in any order."""
    changed: plants_repository.PlantChanges = {}
    if patch.name is not MISSING and patch.name != plant.name:
        changed["name"] = patch.name
    if patch.description is not MISSING and patch.description != plant.description:
        changed["description"] = patch.description
    if patch.fve_peak_power_kwp is not MISSING and (
        patch.fve_peak_power_kwp != plant.fve_peak_power_kwp
    ):
        changed["fve_peak_power_kwp"] = patch.fve_peak_power_kwp
    if patch.capacity_kwh is not MISSING and patch.capacity_kwh != plant.capacity_kwh:
        changed["capacity_kwh"] = patch.capacity_kwh
    if patch.config_enabled is not MISSING and patch.config_enabled != plant.config_enabled:
        changed["config_enabled"] = patch.config_enabled
    if patch.plant_with_load is not MISSING and patch.plant_with_load != plant.plant_with_load:
        changed["plant_with_load"] = patch.plant_with_load
    if patch.esi_state is not MISSING and patch.esi_state != plant.esi_state:
        changed["esi_state"] = patch.esi_state
    if new_blocks is not None and new_blocks != plant.time_configs:
        changed["time_configs"] = new_blocks
    # The site's fields (CONTRACT §12) by name: PlantChanges has a key of each name.
    site_changes = cast(dict[str, Any], changed)
    for name in plants_repository.SITE_COLUMNS:
        value = getattr(patch, name)
        if value is not MISSING and value != getattr(plant, name):
            site_changes[name] = value
    return changed


@conflicts_retried
async def delete_plant(
    session: AsyncSession, plant_id: uuid.UUID, *, if_match: str | None = None
) -> None:
    await locks.lock_org_of_plant(session, plant_id)  # the lock order: sandbox/locks.py
    plant = await get_plant(session, plant_id, for_update=if_match is not None)
    require_if_match(plant, if_match)
    await plants_repository.delete_plants(session, plant)


# Lost updates (CONTRACT §4) ---------------------------------------------------------------------


def plant_etag(plant: SandboxPlant) -> str:
    """A strong ETag that changes whenever the plant does, by any route.

    `revision` is bumped by a database trigger on every update of the row (admin, trading
    update, restore, any instance); the row id makes a plant deleted and created again a new
    series, never a tag the old one had.
    """
    return f'"{plant.id.hex}-{plant.revision}"'


def require_if_match(plant: SandboxPlant, if_match: str | None) -> None:
    """Raise PlantChanged unless `if_match` (absent, `*`, or a list of tags) matches the plant.

    Strong comparison (RFC 9110 §13.1.1): a weak tag (`W/"…"`) or an unquoted value never
    matches. Call it with the row locked, so that the plant cannot change after the check.
    """
    if if_match is None:
        return
    current = plant_etag(plant)
    if not any(tag.strip() in ("*", current) for tag in if_match.split(",")):
        raise PlantChanged(current)
