"""campaigns: the wrap-up timer and the status set when it runs out

Revision ID: 20261126_2230_campaign_wrapup
Revises: 20261126_2200_lead_counts
"""

import sqlalchemy as sa
from alembic import op

revision = "20261126_2230_campaign_wrapup"
down_revision = "20261126_2200_lead_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("wrapup_s", sa.SmallInteger(), server_default="30", nullable=False))
    op.add_column("campaigns", sa.Column("wrapup_status", sa.String(3), nullable=True))
    op.create_check_constraint(op.f("ck_campaigns_wrapup_s"), "campaigns", "wrapup_s BETWEEN 5 AND 900")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_campaigns_wrapup_s"), "campaigns", type_="check")
    op.drop_column("campaigns", "wrapup_status")
    op.drop_column("campaigns", "wrapup_s")
