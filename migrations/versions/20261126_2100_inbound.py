"""inbound calling: DIDs, IVR menus, queues (in-groups); inbound columns on calls

Revision ID: 20261126_2100_inbound
Revises: 20261126_2100_recording_parts
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.scoping import rls_statements

revision = "20261126_2100_inbound"
down_revision = "20261126_2100_recording_parts"
branch_labels = None
depends_on = None

TABLES = ("inbound_queues", "inbound_queue_campaigns", "inbound_queue_groups", "ivr_menus", "ivr_options", "dids")


def _tenant(table: str) -> list:
    return [
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"),
    ]


def _destination(prefix: str, nullable: bool) -> list:
    return [
        sa.Column(f"{prefix}_kind", sa.String(12), nullable=nullable),
        sa.Column(f"{prefix}_target", sa.Integer(), nullable=True),
        sa.Column(f"{prefix}_number", sa.String(255), nullable=True),
    ]


def _created() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "inbound_queues",
        sa.Column("id", sa.Integer(), primary_key=True),
        *_tenant("inbound_queues"),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), server_default="5", nullable=False),
        sa.Column("strategy", sa.String(16), server_default="longest_idle", nullable=False),
        sa.Column("max_wait_s", sa.Integer(), server_default="120", nullable=False),
        *_destination("overflow", True),
        sa.Column("hold_music", sa.String(255), server_default="local_stream://moh", nullable=False),
        sa.Column("announce_position", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("service_level_s", sa.SmallInteger(), server_default="20", nullable=False),
        sa.Column("recording", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("wrapup_s", sa.SmallInteger(), server_default="30", nullable=False),
        sa.Column("simulated_per_hour", sa.SmallInteger(), server_default="0", nullable=False),
        _created(),
        sa.UniqueConstraint("tenant_id", "name", name="uq_inbound_queues_tenant_id_name"),
        sa.CheckConstraint("priority BETWEEN 0 AND 9", name="ck_inbound_queues_priority"),
        sa.CheckConstraint("max_wait_s BETWEEN 10 AND 3600", name="ck_inbound_queues_max_wait"),
        sa.CheckConstraint("service_level_s BETWEEN 1 AND 600", name="ck_inbound_queues_service_level"),
        sa.CheckConstraint("wrapup_s BETWEEN 0 AND 600", name="ck_inbound_queues_wrapup"),
        sa.CheckConstraint("simulated_per_hour BETWEEN 0 AND 3600", name="ck_inbound_queues_simulated_rate"),
    )
    op.create_index("ix_inbound_queues_tenant_id", "inbound_queues", ["tenant_id"])
    op.create_table(
        "inbound_queue_campaigns",
        *_tenant("inbound_queue_campaigns"),
        sa.Column("queue_id", sa.Integer(), sa.ForeignKey("inbound_queues.id", ondelete="CASCADE",
                                                          name="fk_inbound_queue_campaigns_queue_id_inbound_queues"),
                  primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id", ondelete="CASCADE",
                                                             name="fk_inbound_queue_campaigns_campaign_id_campaigns"),
                  primary_key=True),
    )
    op.create_index("ix_inbound_queue_campaigns_tenant_id", "inbound_queue_campaigns", ["tenant_id"])
    op.create_index("ix_inbound_queue_campaigns_campaign_id", "inbound_queue_campaigns", ["campaign_id"])
    op.create_table(
        "inbound_queue_groups",
        *_tenant("inbound_queue_groups"),
        sa.Column("queue_id", sa.Integer(), sa.ForeignKey("inbound_queues.id", ondelete="CASCADE",
                                                          name="fk_inbound_queue_groups_queue_id_inbound_queues"),
                  primary_key=True),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("user_groups.id", ondelete="CASCADE",
                                                          name="fk_inbound_queue_groups_group_id_user_groups"),
                  primary_key=True),
    )
    op.create_index("ix_inbound_queue_groups_tenant_id", "inbound_queue_groups", ["tenant_id"])
    op.create_table(
        "ivr_menus",
        sa.Column("id", sa.Integer(), primary_key=True),
        *_tenant("ivr_menus"),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("greeting_audio", sa.String(255), nullable=False),
        sa.Column("invalid_audio", sa.String(255), nullable=True),
        sa.Column("timeout_s", sa.SmallInteger(), server_default="5", nullable=False),
        sa.Column("max_retries", sa.SmallInteger(), server_default="3", nullable=False),
        *_destination("timeout", True),
        _created(),
        sa.UniqueConstraint("tenant_id", "name", name="uq_ivr_menus_tenant_id_name"),
        sa.CheckConstraint("timeout_s BETWEEN 1 AND 60", name="ck_ivr_menus_timeout"),
        sa.CheckConstraint("max_retries BETWEEN 1 AND 9", name="ck_ivr_menus_retries"),
    )
    op.create_index("ix_ivr_menus_tenant_id", "ivr_menus", ["tenant_id"])
    op.create_table(
        "ivr_options",
        sa.Column("id", sa.Integer(), primary_key=True),
        *_tenant("ivr_options"),
        sa.Column("menu_id", sa.Integer(), sa.ForeignKey("ivr_menus.id", ondelete="CASCADE",
                                                         name="fk_ivr_options_menu_id_ivr_menus"), nullable=False),
        sa.Column("digit", sa.String(1), nullable=False),
        sa.Column("label", sa.String(120), server_default="", nullable=False),
        *_destination("dest", False),
        sa.UniqueConstraint("menu_id", "digit", name="uq_ivr_options_menu_id_digit"),
        sa.CheckConstraint("digit ~ '^[0-9*#]$'", name="ck_ivr_options_digit"),
    )
    op.create_index("ix_ivr_options_tenant_id", "ivr_options", ["tenant_id"])
    op.create_index("ix_ivr_options_menu_id", "ivr_options", ["menu_id"])
    op.create_table(
        "dids",
        sa.Column("id", sa.Integer(), primary_key=True),
        *_tenant("dids"),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("label", sa.String(120), server_default="", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        *_destination("dest", False),
        sa.Column("time_zone", sa.String(64), server_default="Europe/Paris", nullable=False),
        sa.Column("hours", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("holiday_country", sa.String(8), nullable=True),
        sa.Column("closed_dates", postgresql.ARRAY(sa.Date()), server_default="{}", nullable=False),
        *_destination("closed", True),
        _created(),
        # One tenant per number, whatever tenant asks: checked by the database,
        # across tenants (row-level security hides the other tenant's row, not the index).
        sa.UniqueConstraint("number", name="uq_dids_number"),
    )
    op.create_index("ix_dids_tenant_id", "dids", ["tenant_id"])
    for table in TABLES:
        for statement in rls_statements(table):
            op.execute(statement)
    op.add_column("calls", sa.Column("queue_id", sa.Integer(), nullable=True))
    op.create_foreign_key("fk_calls_queue_id_inbound_queues", "calls", "inbound_queues", ["queue_id"], ["id"],
                          ondelete="SET NULL")
    op.add_column("calls", sa.Column("did", sa.String(20), nullable=True))
    op.add_column("calls", sa.Column("wait_s", sa.Float(), nullable=True))
    op.create_index("ix_calls_queue_started", "calls", ["queue_id", "started_at"],
                    postgresql_where=sa.text("queue_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_calls_queue_started", table_name="calls")
    op.drop_column("calls", "wait_s")
    op.drop_column("calls", "did")
    op.drop_constraint("fk_calls_queue_id_inbound_queues", "calls", type_="foreignkey")
    op.drop_column("calls", "queue_id")
    for table in reversed(TABLES):
        op.drop_table(table)
