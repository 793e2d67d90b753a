from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from voke_esm.core.db import Base, BigInt, Timestamps, UuidPrimaryKey


class Plant(UuidPrimaryKey, Timestamps, Base):
    """A Voke plant; `external_plant_id` is the wire to a partner (or sandbox) ESM plant."""

    __tablename__ = "plants"
    __table_args__ = (UniqueConstraint("org_id", "external_plant_id"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    external_plant_id: Mapped[str | None] = mapped_column(String(120))
    time_configs: Mapped[list[Any]] = mapped_column(default=list)
    config_version: Mapped[int | None] = mapped_column(BigInt)  # the ESM's, up to 2^63 - 1
    synced_at: Mapped[datetime | None]
