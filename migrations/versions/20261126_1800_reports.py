"""report summary tables (hourly, daily), saved custom reports, report exports, agent
state history

Revision ID: 20261126_1800_reports
Revises: 20261126_1600_calls
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.scoping import rls_statements

revision = "20261126_1800_reports"
down_revision = "20261126_1600_calls"
branch_labels = None
depends_on = None

TABLES = ("report_hourly", "report_daily", "saved_reports", "report_exports", "agent_state_spans")


def _summary_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("disposition", sa.String(length=3), nullable=True),
        sa.Column("area", sa.String(length=3), nullable=True),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in
          ("calls", "answered", "connected", "abandoned", "machines", "sales", "callbacks")],
        *[sa.Column(name, sa.Float(), nullable=False) for name in ("talk_s", "wrapup_s", "ring_s", "wait_s")],
    ]


def upgrade() -> None:
    for table, period in (("report_hourly", sa.Column("hour", sa.DateTime(timezone=True), nullable=False)),
                          ("report_daily", sa.Column("day", sa.Date(), nullable=False))):
        op.create_table(
            table, *_summary_columns(), period,
            sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"),
                                    ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        )
        op.create_index(op.f(f"ix_{table}_tenant_id"), table, ["tenant_id"])
        op.create_index(f"ix_{table}_tenant_{period.name}", table, ["tenant_id", period.name])
    op.create_table(
        "saved_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("dimensions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("measures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("chart", sa.String(length=8), nullable=False),
        sa.Column("on_dashboard", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_saved_reports_owner_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_saved_reports_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_reports")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_saved_reports_tenant_id_name")),
    )
    op.create_index(op.f("ix_saved_reports_tenant_id"), "saved_reports", ["tenant_id"])
    op.create_table(
        "report_exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("report", sa.String(length=32), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("file_format", sa.String(length=4), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_report_exports_user_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_report_exports_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_exports")),
    )
    op.create_index(op.f("ix_report_exports_tenant_id"), "report_exports", ["tenant_id"])
    op.create_table(
        "agent_state_spans",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pause_code", sa.String(length=12), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_agent_state_spans_agent_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                name=op.f("fk_agent_state_spans_campaign_id_campaigns"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_agent_state_spans_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_state_spans")),
    )
    op.create_index(op.f("ix_agent_state_spans_tenant_id"), "agent_state_spans", ["tenant_id"])
    op.create_index("ix_agent_state_spans_tenant_started", "agent_state_spans", ["tenant_id", "started_at"])
    op.create_index("ix_agent_state_spans_open", "agent_state_spans", ["tenant_id", "agent_id"],
                    postgresql_where=sa.text("ended_at IS NULL"))
    for table in TABLES:
        for statement in rls_statements(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
