"""calls (CDR) and the hopper's index on leads

Revision ID: 20261126_1600_calls
Revises: 20261126_1400_campaigns
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.scoping import rls_statements

revision = "20261126_1600_calls"
down_revision = "20261126_1400_campaigns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.BigInteger(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("phone_number", sa.String(length=20), nullable=False),
        sa.Column("caller_id", sa.String(length=20), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=40), nullable=True),
        sa.Column("disposition", sa.String(length=3), nullable=True),
        sa.Column("is_machine", sa.Boolean(), nullable=True),
        sa.Column("abandoned", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bridged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wrapup_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ring_s", sa.Float(), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("wrapup_s", sa.Float(), nullable=True),
        sa.Column("times", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("backend", sa.String(length=16), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_calls_agent_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name=op.f("fk_calls_campaign_id_campaigns"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_calls_lead_id_leads"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_calls_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    op.create_index(op.f("ix_calls_tenant_id"), "calls", ["tenant_id"])
    op.create_index(op.f("ix_calls_agent_id"), "calls", ["agent_id"])
    op.create_index("ix_calls_tenant_started", "calls", ["tenant_id", "started_at"])
    op.create_index("ix_calls_campaign_started", "calls", ["campaign_id", "started_at"])
    op.create_index("ix_calls_lead", "calls", ["lead_id"])
    op.create_index("ix_calls_open", "calls", ["tenant_id", "campaign_id"], postgresql_where=sa.text("ended_at IS NULL"))
    for statement in rls_statements("calls"):
        op.execute(statement)
    # The hopper walks each list in "ready" order: never-dialled leads (NULL) first in
    # list order, then by the time they become dialable again; a range scan yields exactly
    # the leads due now. Plain columns on purpose: under row-level security PostgreSQL
    # only uses index conditions made of leakproof operators, which COALESCE is not.
    op.execute("CREATE INDEX ix_leads_hopper ON leads (list_id, next_attempt_at NULLS FIRST, id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_leads_hopper")
    op.drop_table("calls")
