from __future__ import annotations

import uuid

from pydantic import Field

from voke_esm.core.schemas import CamelModel, StrictBody, UtcDateTime


class OrgCreate(StrictBody):
    name: str = Field(min_length=1, max_length=255, examples=["Acme Energy"])


class OrgRead(CamelModel):
    id: uuid.UUID
    name: str
    slug: str
    created_at: UtcDateTime


class ConnectionsRead(CamelModel):
    """The org's TradingPartnerConfig as Voke shows it: never the secret."""

    org_id: uuid.UUID
    esm_credentials_set: bool
    client_id: str | None
    esm_api_url: str | None
    credentials_set_at: UtcDateTime | None
