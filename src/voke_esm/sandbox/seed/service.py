"""Apply a seed (CONTRACT §13): create and enable what is missing, leave what exists alone.

Orgs are matched by name (as names are compared for uniqueness, §3), plants by externalPlantId
within their org. Each part goes through the service the admin API uses for it, so a seed obeys
the same rules: `orgs_service.create_org`, `admin_service.enable` and `create_plant`,
`telemetry_service.set_conditions` and `set_clock`, `tools_service.set_faults`. What already
exists is never changed, so a second start with the same seed changes nothing:

- an org that is not enabled is enabled (fresh credentials, reported once to be printed); when
  the seed lists plants for an org that had none, they take the place of the default plant that
  enabling creates (its externalPlantId is random: a seeded org is the same on every machine);
- a plant the org lacks is created, with its conditions; one it has (by externalPlantId) is left
  as it is, conditions included;
- the clock is set only when this seed enables the org for the first time (its clock starts
  then, §11): a clock that has been running is not restarted;
- the fault setup is applied only to an org that has none (no rules, no token lifetime): rules
  used up or changed since are not put back.

The whole seed is one unit of work (the caller's transaction): a seed refused part-way changes
nothing, and no credentials are issued for it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.core.errors import ValidationFailed
from voke_esm.core.schemas import FieldError
from voke_esm.core.security import Keyring
from voke_esm.sandbox.admin import service as admin_service
from voke_esm.sandbox.repositories import clients as clients_repository
from voke_esm.sandbox.repositories import org_states as org_states_repository
from voke_esm.sandbox.repositories import plants as plants_repository
from voke_esm.sandbox.seed.schemas import SeedDocument, SeedOrg
from voke_esm.sandbox.telemetry import service as telemetry_service
from voke_esm.sandbox.tools import service as tools_service
from voke_esm.voke.orgs import service as orgs_service
from voke_esm.voke.orgs.models import name_key


@dataclass(slots=True)
class SeededOrg:
    """What seeding did to one org of the document."""

    name: str
    org_id: uuid.UUID
    created: bool = False
    credentials: admin_service.IssuedCredentials | None = None  # when the seed enabled it
    plants_created: list[str] = field(default_factory=list)  # their externalPlantIds
    faults_set: bool = False
    clock_set: bool = False

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.credentials
            or self.plants_created
            or self.faults_set
            or self.clock_set
        )


async def apply_seed(
    session: AsyncSession, keyring: Keyring, seed: SeedDocument, *, esm_api_url: str
) -> list[SeededOrg]:
    """Make the database hold at least what the seed says; each org's outcome, in order.

    Refused (nothing changed, `ValidationFailed` with each error at its path in the document)
    when a part breaks the API's rules for it.
    """
    if errors := _seed_errors(seed):
        raise ValidationFailed(errors)
    return [
        await _seed_org(session, keyring, wanted, f"orgs[{index}]", esm_api_url=esm_api_url)
        for index, wanted in enumerate(seed.orgs)
    ]


async def _seed_org(
    session: AsyncSession, keyring: Keyring, wanted: SeedOrg, at: str, *, esm_api_url: str
) -> SeededOrg:
    org = await orgs_service.find_org_by_name(session, wanted.name)
    created = org is None
    if org is None:
        with _located(at):
            org = await orgs_service.create_org(session, name=wanted.name)
    outcome = SeededOrg(name=org.name, org_id=org.id, created=created)

    client = await clients_repository.get_client_for_org(session, org.id)
    first_enable = await org_states_repository.get_org_state(session, org.id) is None
    if client is None:
        had_plants = await plants_repository.count_plants_for_org(session, org.id) > 0
        outcome.credentials = await admin_service.enable(
            session, keyring, org.id, esm_api_url=esm_api_url
        )
        client_id = outcome.credentials.client_id
        if wanted.plants and not had_plants:  # the default plant that enabling just made
            await plants_repository.delete_plants(
                session, *await plants_repository.plants_of_org(session, org.id)
            )
    else:
        client_id = client.client_id

    plants = await plants_repository.plants_of_org(session, org.id)
    existing = {plant.external_plant_id for plant in plants}
    for index, plant in enumerate(wanted.plants):
        if plant.external_plant_id in existing:
            continue
        with _located(f"{at}.plants[{index}]"):
            new_plant = await admin_service.create_plant(
                session, plant.model_copy(update={"client_id": client_id})
            )
            if plant.conditions:
                await telemetry_service.set_conditions(session, new_plant.id, plant.conditions)
        outcome.plants_created.append(plant.external_plant_id)

    if wanted.clock is not None and first_enable:
        await telemetry_service.set_clock(
            session, org.id, at=wanted.clock.at, frozen=wanted.clock.frozen
        )
        outcome.clock_set = True

    faults = wanted.faults
    if faults is not None and (faults.rules or faults.token_ttl_seconds or faults.rate_limit):
        setup = await tools_service.get_faults(session, org.id)
        if not setup.rules and setup.token_ttl_seconds is None and setup.rate_limit is None:
            with _located(f"{at}.faults"):
                await tools_service.set_faults(
                    session,
                    org.id,
                    rules=faults.rules,
                    token_ttl_seconds=faults.token_ttl_seconds,
                    rate_limit=faults.rate_limit,
                )
            outcome.faults_set = True
    return outcome


@contextlib.contextmanager
def _located(at: str) -> Iterator[None]:
    """A service's refusal, its fields located in the seed document."""
    try:
        yield
    except ValidationFailed as exc:
        errors: list[FieldError] = [
            {"field": f"{at}.{error['field']}", "message": error["message"]}
            for error in exc.details.get("errors", [])
        ]
        raise ValidationFailed(errors or [{"field": at, "message": exc.message}]) from None


def _seed_errors(seed: SeedDocument) -> list[FieldError]:
    """What the services cannot see one part at a time: a name or a plant given twice."""
    errors: list[FieldError] = []
    names: set[str] = set()
    for index, org in enumerate(seed.orgs):
        key = name_key(org.name)
        if key in names:
            errors.append({"field": f"orgs[{index}].name", "message": "appears twice in the seed"})
        names.add(key)
        plant_ids: set[str] = set()
        for plant_index, plant in enumerate(org.plants):
            if plant.external_plant_id in plant_ids:
                errors.append(
                    {
                        "field": f"orgs[{index}].plants[{plant_index}].externalPlantId",
                        "message": "appears twice in the seed",
                    }
                )
            plant_ids.add(plant.external_plant_id)
    return errors
