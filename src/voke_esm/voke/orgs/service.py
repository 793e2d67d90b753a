"""Organizations and their TradingPartnerConfig (CONTRACT §3)."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.core.errors import Conflict, NotFound
from voke_esm.core.schemas import utc_now
from voke_esm.core.security import Keyring
from voke_esm.voke.auth import repository as users_repository
from voke_esm.voke.orgs import repository
from voke_esm.voke.orgs.models import Org, TradingPartnerConfig, name_key

_SLUG_MAX = 60
# Slugs tried for one create: the first free ones by number, then random ones (see create_org).
_SLUG_ATTEMPTS = 8
_NUMBERED_SLUG_ATTEMPTS = 2


# A step of an org's deletion that locks rows of the org before its own row goes (delete_org).
# The sandbox's plants are one; create_app passes them in, since Voke's side never imports the
# sandbox (the boundary in pyproject.toml's import-linter contracts).
OrgLock = Callable[[AsyncSession, uuid.UUID], Awaitable[None]]


class OrgNotFound(NotFound):
    default_message = "Organization not found"


class OrgNameTaken(Conflict):
    field = "name"
    default_message = "An organization with this name already exists"


@dataclass(frozen=True, slots=True)
class PartnerCredentials:
    """Decrypted ESM credentials, for Voke's ESM client only; never logged or returned."""

    client_id: str
    client_secret: str
    esm_api_url: str


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:_SLUG_MAX].strip("-")
    return slug or "org"


async def get_org(session: AsyncSession, org_id: uuid.UUID, *, for_update: bool = False) -> Org:
    org = await repository.get(session, org_id, for_update=for_update)
    if org is None:
        raise OrgNotFound()
    return org


async def find_org_by_name(session: AsyncSession, name: str) -> Org | None:
    """The org of that name, compared as names are for uniqueness (CONTRACT §3)."""
    return await repository.get_by_name_key(session, name_key(name))


async def list_orgs(session: AsyncSession) -> Sequence[Org]:
    return await repository.list_all(session)


async def create_org(session: AsyncSession, *, name: str) -> Org:
    """A new org; its name must be free without regard to case (CONTRACT §3), else 409.

    The unique indexes on the name key and the slug settle races: of parallel creates of one
    name exactly one inserts, and the others' inserts wait for it and then fail. Which index
    failed is read afresh after the failure (the winner has committed by then): a taken name
    is a 409, a taken slug a retry with another one, so a crowd on one slug never ends in a 500.
    """
    name = name.strip() or name
    key = name_key(name)
    if await repository.name_key_taken(session, key):
        raise OrgNameTaken()
    base = slugify(name)
    for attempt in range(_SLUG_ATTEMPTS):
        if attempt < _NUMBERED_SLUG_ATTEMPTS:
            slug = await _first_free_slug(session, base)
        else:  # the numbered ones are being taken concurrently: one nobody else will pick
            slug = f"{base}-{secrets.token_hex(3)}"
        try:
            async with session.begin_nested():
                return await repository.add(session, Org(name=name, name_key=key, slug=slug))
        except IntegrityError:
            if await repository.name_key_taken(session, key):
                raise OrgNameTaken() from None
    raise RuntimeError("could not find a free organization slug")


async def _first_free_slug(session: AsyncSession, base: str) -> str:
    taken = await repository.slugs_like(session, base)
    slug, suffix = base, 2
    while slug in taken:
        slug, suffix = f"{base}-{suffix}", suffix + 1
    return slug


async def delete_org(
    session: AsyncSession, org_id: uuid.UUID, *, lock_first: Sequence[OrgLock]
) -> Org:
    """Delete the org and everything of it (CONTRACT §3), in the request's one transaction.

    Its sandbox client (so its credentials and every trading token die at once: the trading
    caller is read from that row on every call), TradingPartnerConfig, Voke plants, sandbox
    plants with their remembered config updates, journal, fault rules and clock all go by the
    foreign keys' ON DELETE CASCADE. Its ORG_ADMIN users are deleted here; a SuperAdmin that
    names the org is not the org's and stays, with no org (the key's ON DELETE SET NULL).
    """
    # The org row lock first, as enable, disable, reset and restore take it: whichever of them
    # comes second waits, and one that comes after the deletion finds no org (404).
    org = await get_org(session, org_id, for_update=True)
    # Then the rows that a change elsewhere locks before the org's, in that order: the sandbox's
    # plants (a plant change locks its row, then its client's, which the cascade deletes), so
    # that the deletion waits for such a change instead of deadlocking with it on PostgreSQL.
    for lock in lock_first:
        await lock(session, org.id)
    await users_repository.delete_org_admins(session, org.id)
    await repository.delete(session, org)
    return org


async def get_connections(session: AsyncSession, org_id: uuid.UUID) -> TradingPartnerConfig | None:
    await get_org(session, org_id)
    return await repository.get_partner_config(session, org_id)


async def set_partner_credentials(
    session: AsyncSession,
    keyring: Keyring,
    org_id: uuid.UUID,
    *,
    client_id: str,
    client_secret: str,
    esm_api_url: str,
    at: datetime | None = None,
) -> None:
    config = await repository.get_partner_config(session, org_id) or TradingPartnerConfig(
        org_id=org_id
    )
    config.esm_client_id = client_id
    config.esm_client_secret_encrypted = keyring.encrypt(client_secret, context=_context(org_id))
    config.esm_api_url = esm_api_url
    config.credentials_set_at = at or utc_now()
    await repository.save_partner_config(session, config)


async def clear_partner_credentials(session: AsyncSession, org_id: uuid.UUID) -> None:
    config = await repository.get_partner_config(session, org_id)
    if config is None:
        return
    config.esm_client_id = None
    config.esm_client_secret_encrypted = None
    config.esm_api_url = None
    config.credentials_set_at = None
    await repository.save_partner_config(session, config)


async def partner_credentials(
    session: AsyncSession, keyring: Keyring, org_id: uuid.UUID
) -> PartnerCredentials | None:
    config = await repository.get_partner_config(session, org_id)
    if config is None or not (
        config.esm_client_id and config.esm_client_secret_encrypted and config.esm_api_url
    ):
        return None
    secret = keyring.decrypt(config.esm_client_secret_encrypted, context=_context(org_id))
    return PartnerCredentials(config.esm_client_id, secret, config.esm_api_url)


def _context(org_id: uuid.UUID) -> str:
    # Binding the ciphertext to its org means a secret copied to another row fails to decrypt.
    return f"trading_partner_configs:{org_id}"


async def orgs_with_credentials(session: AsyncSession) -> list[uuid.UUID]:
    return [
        config.org_id for config in await repository.list_partner_configs_with_credentials(session)
    ]


async def acquire_sync_lease(
    session: AsyncSession, org_id: uuid.UUID, *, seconds: float
) -> datetime | None:
    """Claim the org's trading sync for `seconds`; None while another sync of it holds the claim
    (on any instance). The lease's end, returned, is what renews and releases it."""
    now = utc_now()
    until = now + timedelta(seconds=seconds)
    if await repository.acquire_sync_lease(session, org_id, now=now, until=until):
        return until
    return None


async def renew_sync_lease(
    session: AsyncSession, org_id: uuid.UUID, *, held: datetime, seconds: float
) -> datetime | None:
    """Extend the lease ending at `held` to `seconds` from now; None if it is no longer ours
    (it ran out and another sync took the org)."""
    until = utc_now() + timedelta(seconds=seconds)
    if await repository.renew_sync_lease(session, org_id, held=held, until=until):
        return until
    return None


async def release_sync_lease(session: AsyncSession, org_id: uuid.UUID, *, held: datetime) -> None:
    """Give the lease ending at `held` back; a lease another sync holds by now stays."""
    await repository.release_sync_lease(session, org_id, held=held)
