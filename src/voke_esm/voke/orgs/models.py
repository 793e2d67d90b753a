from __future__ import annotations

import hashlib
import unicodedata
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from voke_esm.core.db import Base, UuidPrimaryKey
from voke_esm.core.schemas import utc_now


def name_key(name: str) -> str:
    """What makes two org names the same name (CONTRACT §3: compared without regard to case).

    Computed here rather than with the database's lower(): SQLite's folds ASCII letters only,
    so "É" and "é" would be two names there and one on PostgreSQL. Folding can make a name
    many times longer ("ﷺ" is 18 letters in NFKC), so the key is a digest of fixed length.
    """
    folded = unicodedata.normalize("NFKC", name.strip()).casefold()
    return hashlib.sha256(folded.encode()).hexdigest()


class Org(UuidPrimaryKey, Base):
    __tablename__ = "orgs"

    name: Mapped[str] = mapped_column(String(255))
    # name_key(name): unique, so that of parallel creates of one name exactly one succeeds.
    name_key: Mapped[str] = mapped_column(String(64), index=True, unique=True)
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
