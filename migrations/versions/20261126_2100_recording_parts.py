"""recordings split into parts (transfers, maximum length); per-tenant maximum part length

Revision ID: 20261126_2100_recording_parts
Revises: 20261126_2000_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "20261126_2100_recording_parts"
down_revision = "20261126_2000_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("recordings", sa.Column("part", sa.Integer(), server_default="1", nullable=False))
    op.add_column("recordings", sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_constraint("uq_recordings_call_id", "recordings", type_="unique")
    op.create_unique_constraint(op.f("uq_recordings_call_id_part"), "recordings", ["call_id", "part"])
    op.add_column("recording_settings",
                  sa.Column("max_part_minutes", sa.Integer(), server_default="60", nullable=False))


def downgrade() -> None:
    op.drop_column("recording_settings", "max_part_minutes")
    op.execute("DELETE FROM recordings WHERE part > 1")
    op.drop_constraint("uq_recordings_call_id_part", "recordings", type_="unique")
    op.create_unique_constraint("uq_recordings_call_id", "recordings", ["call_id"])
    op.drop_column("recordings", "started_at")
    op.drop_column("recordings", "part")
