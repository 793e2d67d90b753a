from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from voke_esm.db import Base, UuidPrimaryKey
from voke_esm.schemas import utc_now


class Org(UuidPrimaryKey, Base):
    __tablename__ = "orgs"

    name: Mapped[str] = mapped_column(String(255))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class TradingPartnerConfig(Base):
    """The seed's TradingPartnerConfig: how Voke reaches the org's partner ESM.

    The client secret is stored only encrypted (AES-GCM, bound to the org id).
    """

    __tablename__ = "trading_partner_configs"

    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True
    )
    esm_client_id: Mapped[str | None] = mapped_column(String(120))
    esm_client_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    esm_api_url: Mapped[str | None] = mapped_column(String(2048))
    credentials_set_at: Mapped[datetime | None]
    # While a trading sync of the org runs, on any instance; expires by itself if that one dies.
    sync_lease_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
