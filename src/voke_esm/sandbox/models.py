"""The sandbox's own tables: what a partner ESM would hold on its side."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from voke_esm.contract.time_configs import TimeConfigJson
from voke_esm.core.db import Base, BigInt, JsonDocument, Timestamps, UuidPrimaryKey
from voke_esm.core.schemas import utc_now

DEFAULT_ESI_STATE = "PLC_READY"
# The simulated site's defaults (CONTRACT §12): Prague, a household's year, a lithium battery.
DEFAULT_LATITUDE = 50.08
DEFAULT_LONGITUDE = 14.42
DEFAULT_ANNUAL_LOAD_KWH = 4000.0
DEFAULT_ROUND_TRIP_EFFICIENCY = 0.9
DEFAULT_INITIAL_SOC = 50.0
DEFAULT_SIMULATION = "selfConsumption"


class FaultRuleJson(TypedDict):
    """A fault rule as the org's state stores it (CONTRACT §11); `FaultRule.as_json` makes one."""

    endpoint: str
    kind: str
    status: int | None
    latencyMs: float | None
    jitterMs: float | None
    probability: float
    count: int | None


# A condition on a plant's simulated timeline as stored (CONTRACT §12): the wire's names (`from`
# is a Python keyword, hence the functional form), instants as ISO 8601 UTC text, `factor` for
# `cloud` only (null otherwise).
ConditionJson = TypedDict(
    "ConditionJson", {"kind": str, "from": str, "to": str, "factor": float | None}
)


class SandboxClient(Base):
    """The OAuth2 client of an enabled org. Only a keyed digest of the secret is kept."""

    __tablename__ = "voke_esm_clients"

    client_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orgs.id", ondelete="CASCADE"), unique=True
    )
    secret_digest: Mapped[str] = mapped_column(String(64))
    enabled_at: Mapped[datetime] = mapped_column(default=utc_now)
    # Bumped by a database trigger whenever anything plant/list shows of the client's plants
    # changes, on any instance: the trading read cache checks it on every call.
    plants_version: Mapped[int] = mapped_column(BigInteger(), default=1, server_default="1")


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
    time_configs: Mapped[list[TimeConfigJson]] = mapped_column(JsonDocument, default=list)
    config_version: Mapped[int] = mapped_column(BigInt, default=1)
    # The simulated site (CONTRACT §12); never shown by the trading API.
    latitude: Mapped[float] = mapped_column(default=DEFAULT_LATITUDE)
    longitude: Mapped[float] = mapped_column(default=DEFAULT_LONGITUDE)
    annual_load_kwh: Mapped[float] = mapped_column(default=DEFAULT_ANNUAL_LOAD_KWH)
    round_trip_efficiency: Mapped[float] = mapped_column(default=DEFAULT_ROUND_TRIP_EFFICIENCY)
    initial_soc: Mapped[float] = mapped_column(default=DEFAULT_INITIAL_SOC)
    simulation: Mapped[str] = mapped_column(String(32), default=DEFAULT_SIMULATION)
    conditions: Mapped[list[ConditionJson]] = mapped_column(JsonDocument, default=list)
    # Bumped by a database trigger on every update of the row (see plants_version above).
    revision: Mapped[int] = mapped_column(BigInteger(), default=1, server_default="1")


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


class SandboxOrgState(Base):
    """What testers set per org (CONTRACT §11): the simulated clock, fault rules, token lifetime.

    The clock starts at real time when the org is first enabled, or at the instant a `PUT clock`
    gives. Simulated time is `clock_started_at + (real time − clock_anchor_at) +
    clock_offset_minutes`, where `clock_anchor_at` is the real time paired with the start and
    `clock_offset_minutes` what `clock/advance` added since; while frozen, real time stands still
    at `clock_frozen_at` (the real time it was frozen).
    """

    __tablename__ = "voke_esm_org_states"

    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True
    )
    clock_started_at: Mapped[datetime] = mapped_column(default=utc_now)
    clock_offset_minutes: Mapped[float] = mapped_column(default=0.0)
    clock_anchor_at: Mapped[datetime] = mapped_column(default=utc_now)
    clock_frozen_at: Mapped[datetime | None]
    # True while some plant of the org may have a commsLoss condition (set whenever one is
    # stored, recomputed when conditions are replaced): the trading read path, which reads this
    # row on every call anyway, looks at conditions only when it is set (CONTRACT §12).
    comms_loss_possible: Mapped[bool] = mapped_column(Boolean, default=False)
    fault_rules: Mapped[list[FaultRuleJson]] = mapped_column(JsonDocument, default=list)
    token_ttl_seconds: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
    # When a periodic telemetry round (TELEMETRY_INTERVAL_S) last took the org, on any instance:
    # the lease that keeps several instances from publishing the same snapshots.
    telemetry_round_at: Mapped[datetime | None]


class JournalEntry(Base):
    """One trading call, as §11's journal shows it; never a secret, a token or a header."""

    __tablename__ = "voke_esm_journal"
    __table_args__ = (Index("ix_voke_esm_journal_org_id_id", "org_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utc_now)
    client_id: Mapped[str | None] = mapped_column(String(120))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(255))
    status: Mapped[int]
    plant_id: Mapped[str | None] = mapped_column(String(120))
    config_update_req_code: Mapped[str | None] = mapped_column(String(255))
    result_code: Mapped[str | None] = mapped_column(String(32))
    duration_ms: Mapped[float]
