"""The sandbox's own tables: what a partner ESM would hold on its side."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from voke_esm.db import Base, Timestamps, UuidPrimaryKey
from voke_esm.schemas import utc_now

DEFAULT_ESI_STATE = "PLC_READY"


class SandboxClient(Base):
    """The OAuth2 client of an enabled org. Only a keyed digest of the secret is kept."""

    __tablename__ = "voke_esm_clients"

    client_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orgs.id", ondelete="CASCADE"), unique=True
    )
    secret_digest: Mapped[str] = mapped_column(String(64))
    enabled_at: Mapped[datetime] = mapped_column(default=utc_now)


class SandboxPlant(UuidPrimaryKey, Timestamps, Base):
    """The seed's fake plant (`voke_esm_plants`). `org_id` keeps it across disable and rotation."""

    __tablename__ = "voke_esm_plants"
    __table_args__ = (
        UniqueConstraint("org_id", "external_plant_id"),
        # plant/config and config/update look plants up by (token's client, plantId).
        Index("ix_voke_esm_plants_client_id_external_plant_id", "client_id", "external_plant_id"),
        Index("ix_voke_esm_plants_created_at_id", "created_at", "id"),  # the admin list's order
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(120))
    external_plant_id: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    fve_peak_power_kwp: Mapped[float] = mapped_column(default=0.0)
    capacity_kwh: Mapped[float] = mapped_column(default=0.0)
    config_enabled: Mapped[bool] = mapped_column(default=True)
    plant_with_load: Mapped[bool] = mapped_column(default=True)
    esi_state: Mapped[str] = mapped_column(String(64), default=DEFAULT_ESI_STATE)
    time_configs: Mapped[list[Any]] = mapped_column(default=list)
    config_version: Mapped[int] = mapped_column(default=1)


class ConfigUpdateRecord(Base):
    """The first answer to each `configUpdateReqCode` of a plant, replayed on a repeat."""

    __tablename__ = "voke_esm_config_updates"
    __table_args__ = (UniqueConstraint("plant_id", "config_update_req_code"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    plant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("voke_esm_plants.id", ondelete="CASCADE")
    )
    config_update_req_code: Mapped[str] = mapped_column(String(255))
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
