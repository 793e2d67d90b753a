"""simulated site: the plant's site parameters and conditions, the clock's anchor and freeze

CONTRACT §12: `voke_esm_plants` gains the simulated site's parameters (position, yearly load,
battery efficiency and initial charge, which model runs it) and its conditions; §11:
`voke_esm_org_states` gains the real time the clock's start is paired with (so that `PUT clock`
can start it at any instant), the real time it was frozen at, and the hint that some plant of
the org may be in `commsLoss` (read by the trading path). Columns are added in place (no batch
rebuild of voke_esm_plants, whose triggers the trading read cache needs); existing clocks are
anchored at their start, which is what they were.

Revision ID: b7e1c2d3f4a5
Revises: 9d4e2a7b1c63
Create Date: 2026-12-01 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import voke_esm.core.db

revision: str = "b7e1c2d3f4a5"
down_revision: str | None = "9d4e2a7b1c63"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PLANT_NUMBERS = (
    ("latitude", "50.08"),
    ("longitude", "14.42"),
    ("annual_load_kwh", "4000"),
    ("round_trip_efficiency", "0.9"),
    ("initial_soc", "50"),
)


def upgrade() -> None:
    for name, default in _PLANT_NUMBERS:
        op.add_column(
            "voke_esm_plants",
            sa.Column(name, sa.Double(), server_default=default, nullable=False),
        )
    op.add_column(
        "voke_esm_plants",
        sa.Column(
            "simulation", sa.String(length=32), server_default="selfConsumption", nullable=False
        ),
    )
    op.add_column(
        "voke_esm_plants",
        sa.Column(
            "conditions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="[]",
            nullable=False,
        ),
    )
    op.add_column(
        "voke_esm_org_states",
        sa.Column("clock_anchor_at", voke_esm.core.db.UtcDateTime(timezone=True), nullable=True),
    )
    op.execute("UPDATE voke_esm_org_states SET clock_anchor_at = clock_started_at")
    with op.batch_alter_table("voke_esm_org_states", schema=None) as batch_op:
        batch_op.alter_column(
            "clock_anchor_at",
            existing_type=voke_esm.core.db.UtcDateTime(timezone=True),
            nullable=False,
        )
        batch_op.add_column(
            sa.Column("clock_frozen_at", voke_esm.core.db.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "comms_loss_possible", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("voke_esm_org_states", schema=None) as batch_op:
        batch_op.drop_column("comms_loss_possible")
        batch_op.drop_column("clock_frozen_at")
        batch_op.drop_column("clock_anchor_at")
    for name in ("conditions", "simulation", *(name for name, _ in reversed(_PLANT_NUMBERS))):
        op.drop_column("voke_esm_plants", name)
