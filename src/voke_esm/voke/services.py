"""What Voke's routes reach of what `create_app` builds once (see voke_esm.core.services)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from voke_esm.core.services import CoreServices, services_of
from voke_esm.voke.client.service import EsmClientService
from voke_esm.voke.orgs.service import OrgLock


@dataclass(frozen=True, kw_only=True)
class VokeServices(CoreServices):
    esm_clients: EsmClientService
    # What is locked before an org's row goes (orgs_service.delete_org): create_app wires the
    # sandbox's plants here, since Voke's side never imports the sandbox.
    org_deletion_locks: Sequence[OrgLock]


async def voke_services(request: Request) -> VokeServices:
    return services_of(request.app, VokeServices)


VokeServicesDep = Annotated[VokeServices, Depends(voke_services)]
