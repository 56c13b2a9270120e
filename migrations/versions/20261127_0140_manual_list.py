"""lead_lists: the campaign's list of numbers dialled by hand (at most one per campaign)

Revision ID: 20261127_0140_manual_list
Revises: 20261127_0030_call_cost
"""

import sqlalchemy as sa
from alembic import op

revision = "20261127_0140_manual_list"
down_revision = "20261127_0030_call_cost"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("lead_lists", sa.Column("manual", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index("uq_lead_lists_manual", "lead_lists", ["campaign_id"], unique=True,
                    postgresql_where=sa.text("manual"))


def downgrade() -> None:
    op.drop_index("uq_lead_lists_manual", table_name="lead_lists")
    op.drop_column("lead_lists", "manual")
