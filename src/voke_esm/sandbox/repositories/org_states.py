"""Every query on voke_esm_org_states: what testers set per org (CONTRACT §11), the simulated
clock, and the telemetry rounds' lease."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.core.schemas import utc_now
from voke_esm.sandbox.models import FaultRuleJson, SandboxClient, SandboxOrgState


async def get_org_state(
    session: AsyncSession, org_id: uuid.UUID, *, for_update: bool = False
) -> SandboxOrgState | None:
    """The org's state; `for_update` locks its row until the transaction ends and reads it
    afresh (a change made meanwhile by another transaction is not hidden by the session)."""
    query = select(SandboxOrgState).where(SandboxOrgState.org_id == org_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def start_clock_once(
    session: AsyncSession, org_id: uuid.UUID, at: datetime
) -> SandboxOrgState:
    """Start the org's simulated clock at real time `at`, unless it has one already.

    §11: the clock starts when the org is first enabled; a rotation, or a re-enable after a
    disable, keeps it where the tester left it (and their faults and token lifetime too).
    """
    state = await session.get(SandboxOrgState, org_id)
    if state is None:
        state = SandboxOrgState(
            org_id=org_id, clock_started_at=at, clock_anchor_at=at, clock_offset_minutes=0.0
        )
        session.add(state)
        await session.flush()
    return state


async def set_fault_setup(
    session: AsyncSession,
    state: SandboxOrgState,
    *,
    rules: list[FaultRuleJson],
    token_ttl_seconds: int | None,
) -> None:
    state.fault_rules = rules
    state.token_ttl_seconds = token_ttl_seconds
    state.updated_at = utc_now()
    await session.flush()


async def set_fault_rules(
    session: AsyncSession, state: SandboxOrgState, rules: list[FaultRuleJson]
) -> None:
    state.fault_rules = rules
    await session.flush()


async def advance_clock(session: AsyncSession, state: SandboxOrgState, minutes: float) -> None:
    state.clock_offset_minutes += minutes
    state.updated_at = utc_now()
    await session.flush()


async def set_clock(
    session: AsyncSession,
    state: SandboxOrgState,
    *,
    at: datetime | None,
    frozen: bool,
    real_now: datetime,
) -> None:
    """Restart the clock at simulated instant `at` (when given), and freeze or thaw it; the
    simulated time formula is SandboxOrgState's."""
    if at is not None:
        state.clock_started_at, state.clock_anchor_at = at, real_now
        state.clock_offset_minutes = 0.0
        state.clock_frozen_at = real_now if frozen else None
    elif frozen and state.clock_frozen_at is None:
        state.clock_frozen_at = real_now
    elif not frozen and state.clock_frozen_at is not None:
        # Thawed where it stood: the frozen stretch of real time is not simulated time.
        state.clock_anchor_at += real_now - state.clock_frozen_at
        state.clock_frozen_at = None
    state.updated_at = utc_now()
    await session.flush()


async def set_comms_loss_possible(
    session: AsyncSession, state: SandboxOrgState, possible: bool
) -> None:
    state.comms_loss_possible = possible
    await session.flush()


async def claim_telemetry_round(
    session: AsyncSession, now: datetime, *, unless_since: datetime
) -> list[uuid.UUID]:
    """Take for this round every enabled org no round has taken since `unless_since`, on any
    instance.

    One UPDATE: of two instances running rounds at once, each org goes to exactly one. A
    disabled org (no client) keeps its state row untouched.
    """
    statement = (
        update(SandboxOrgState)
        .where(
            SandboxOrgState.org_id.in_(select(SandboxClient.org_id)),
            or_(
                SandboxOrgState.telemetry_round_at.is_(None),
                SandboxOrgState.telemetry_round_at <= unless_since,
            ),
        )
        .values(telemetry_round_at=now, updated_at=SandboxOrgState.updated_at)
        .returning(SandboxOrgState.org_id)
        .execution_options(synchronize_session=False)
    )
    return list((await session.scalars(statement)).all())
