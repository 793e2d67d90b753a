"""The sandbox tools of an org (CONTRACT §11): journal, faults and token lifetime, snapshot, reset.

None of them touches credentials: enabling, disabling and rotating stay with `sandbox/admin`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.contract.time_configs import check_time_configs
from voke_esm.core.db import conflicts_retried
from voke_esm.core.errors import Conflict, ValidationFailed
from voke_esm.core.schemas import FieldError, utc_now
from voke_esm.sandbox import locks
from voke_esm.sandbox.admin import service as admin_service
from voke_esm.sandbox.models import JournalEntry, SandboxPlant
from voke_esm.sandbox.repositories import clients as clients_repository
from voke_esm.sandbox.repositories import config_updates as config_updates_repository
from voke_esm.sandbox.repositories import org_states as org_states_repository
from voke_esm.sandbox.repositories import plants as plants_repository
from voke_esm.sandbox.telemetry import service as telemetry_service
from voke_esm.sandbox.telemetry import site
from voke_esm.sandbox.tools import faults
from voke_esm.sandbox.tools import repository as journal_repository
from voke_esm.sandbox.tools.schemas import FaultRule, SnapshotPlant
from voke_esm.voke.orgs import service as orgs_service
from voke_esm.voke.orgs.models import Org


class NeverEnabled(Conflict):
    """The org has no sandbox yet: no clientId for plants, no state for faults (enabling makes
    both)."""

    default_message = "Voke ESM has never been enabled for this organization: enable it first"


# Journal ------------------------------------------------------------------------------------------


async def journal(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    since: datetime | None,
    limit: int | None,
    journal_max: int,
) -> Sequence[JournalEntry]:
    """Newest first. Never more than the journal keeps, even while concurrent calls of the org
    are between their insert and their trim."""
    await orgs_service.get_org(session, org_id)
    capped = min(limit or journal_max, journal_max)
    return await journal_repository.list_journal(session, org_id, since=since, limit=capped)


async def clear_journal(session: AsyncSession, org_id: uuid.UUID) -> tuple[Org, int]:
    org = await orgs_service.get_org(session, org_id)
    return org, await journal_repository.clear_journal(session, org.id)


# Faults and token lifetime ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FaultSetup:
    rules: list[FaultRule]
    token_ttl_seconds: int | None


async def get_faults(session: AsyncSession, org_id: uuid.UUID) -> FaultSetup:
    org = await orgs_service.get_org(session, org_id)
    state = await org_states_repository.get_org_state(session, org.id)
    if state is None:
        return FaultSetup([], None)
    rules = [FaultRule.model_validate(rule) for rule in state.fault_rules]
    return FaultSetup(rules, state.token_ttl_seconds)


async def set_faults(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    rules: list[FaultRule],
    token_ttl_seconds: int | None,
) -> FaultSetup:
    stored = [rule.as_json() for rule in rules]
    if errors := faults.check_rules(stored):
        raise ValidationFailed(errors)
    org = await orgs_service.get_org(session, org_id)
    state = await org_states_repository.get_org_state(session, org.id, for_update=True)
    if state is None:
        raise NeverEnabled()
    await org_states_repository.set_fault_setup(
        session, state, rules=stored, token_ttl_seconds=token_ttl_seconds
    )
    return FaultSetup(list(rules), token_ttl_seconds)


async def clear_faults(session: AsyncSession, org_id: uuid.UUID) -> Org:
    org = await orgs_service.get_org(session, org_id)
    state = await org_states_repository.get_org_state(session, org.id, for_update=True)
    if state is not None:
        await org_states_repository.set_fault_setup(
            session, state, rules=[], token_ttl_seconds=None
        )
    return org


# Snapshot, restore, reset -------------------------------------------------------------------------


async def snapshot(session: AsyncSession, org_id: uuid.UUID) -> list[SandboxPlant]:
    """The org's plants in a fixed order (by externalPlantId, compared as Python compares text,
    whatever the database's collation), so that one state always gives one document."""
    org = await orgs_service.get_org(session, org_id)
    plants = await plants_repository.plants_of_org(session, org.id)
    return sorted(plants, key=lambda plant: plant.external_plant_id)


@conflicts_retried
async def restore(
    session: AsyncSession, org_id: uuid.UUID, plants: list[SnapshotPlant]
) -> list[SandboxPlant]:
    """Make the org's plants exactly those of a snapshot.

    A plant whose externalPlantId the org already has is updated in place (its id, and so the
    admin links to it, stay); the others are created, and the org's plants missing from the
    snapshot are deleted. The remembered `configUpdateReqCode` answers go too: they belong to a
    history the restored state does not have.
    """
    errors = _snapshot_errors(plants)
    if errors:
        raise ValidationFailed(errors)
    await locks.lock_org(session, org_id)  # the lock order: sandbox/locks.py
    org = await orgs_service.get_org(session, org_id)
    existing = {
        plant.external_plant_id: plant
        for plant in await plants_repository.plants_of_org(session, org.id, for_update=True)
    }
    await config_updates_repository.forget_config_updates(
        session, [plant.id for plant in existing.values()]
    )
    wanted = {fields.external_plant_id for fields in plants}
    await plants_repository.delete_plants(
        session, *(plant for key, plant in existing.items() if key not in wanted)
    )
    client_id = ""
    if wanted - existing.keys():
        client_id = await _client_id_for_new_plants(session, org, existing.values())
    now = utc_now()
    new: list[SandboxPlant] = []
    for fields in plants:
        columns = _plant_columns(fields)
        kept = existing.get(fields.external_plant_id)
        if kept is None:
            new.append(SandboxPlant(org_id=org.id, client_id=client_id, **columns))
        else:
            plants_repository.write_plant(kept, columns, at=now)
    await plants_repository.add_plants(session, *new)  # one flush writes the kept ones too
    await telemetry_service.note_comms_losses(session, org.id)
    return await snapshot(session, org.id)


@conflicts_retried
async def reset(session: AsyncSession, org_id: uuid.UUID) -> tuple[Org, SandboxPlant]:
    """Delete the org's plants and create the default one, as enabling does for a new org."""
    await locks.lock_org(session, org_id)  # the lock order: sandbox/locks.py
    org = await orgs_service.get_org(session, org_id)
    plants = await plants_repository.plants_of_org(session, org.id, for_update=True)
    client_id = await _client_id_for_new_plants(session, org, plants)
    await plants_repository.delete_plants(session, *plants)
    default = admin_service.default_plant(org, client_id)
    await plants_repository.add_plants(session, default)
    await telemetry_service.note_comms_losses(session, org.id)
    return org, default


async def _client_id_for_new_plants(
    session: AsyncSession, org: Org, plants: Iterable[SandboxPlant]
) -> str:
    """The org's current clientId; while it is disabled, the one its kept plants carry (enabling
    rebinds every plant of the org anyway)."""
    client = await clients_repository.get_client_for_org(session, org.id)
    if client is not None:
        return client.client_id
    for plant in plants:
        return plant.client_id
    raise NeverEnabled()


def _snapshot_errors(plants: list[SnapshotPlant]) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, fields in enumerate(plants):
        at = f"plants[{index}]"
        if fields.external_plant_id in seen:
            errors.append(
                {"field": f"{at}.externalPlantId", "message": "appears twice in the snapshot"}
            )
        seen.add(fields.external_plant_id)
        errors.extend(
            {"field": f"{at}.{error['field']}", "message": error["message"]}
            for error in [
                *check_time_configs([block.as_json() for block in fields.time_configs]),
                *site.check_conditions(fields.conditions),
            ]
        )
    return errors


def _plant_columns(plant: SnapshotPlant) -> plants_repository.PlantChanges:
    return {
        "external_plant_id": plant.external_plant_id,
        "name": plant.name,
        "description": plant.description,
        "fve_peak_power_kwp": plant.fve_peak_power_kwp,
        "capacity_kwh": plant.capacity_kwh,
        "config_enabled": plant.config_enabled,
        "plant_with_load": plant.plant_with_load,
        "esi_state": plant.esi_state,
        "config_version": plant.version,
        "time_configs": [block.as_json() for block in plant.time_configs],
        "latitude": plant.latitude,
        "longitude": plant.longitude,
        "annual_load_kwh": plant.annual_load_kwh,
        "round_trip_efficiency": plant.round_trip_efficiency,
        "initial_soc": plant.initial_soc,
        "simulation": plant.simulation,
        "conditions": site.stored_conditions(plant.conditions),
    }
