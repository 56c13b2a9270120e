"""contacts: the GDPR register of processing (art. 30): tenant-level controller and
DPO fields, and the processing activities

Revision ID: 20261126_2300_gdpr_register
Revises: 20261126_2230_campaign_wrapup
"""

import sqlalchemy as sa
from alembic import op

from tenants.scoping import rls_statements

revision = "20261126_2300_gdpr_register"
down_revision = "20261126_2230_campaign_wrapup"
branch_labels = None
depends_on = None

TABLES = ("processing_registers", "processing_activities")


def _tenant(table: str) -> list:
    return [
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"),
    ]


def _text(name: str, *, required: bool = False) -> sa.Column:
    if required:
        return sa.Column(name, sa.Text(), nullable=False)
    return sa.Column(name, sa.Text(), server_default="", nullable=False)


def _updated() -> sa.Column:
    return sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "processing_registers",
        sa.Column("id", sa.Integer(), primary_key=True),
        *_tenant("processing_registers"),
        sa.Column("controller_name", sa.String(200), server_default="", nullable=False),
        _text("controller_address"),
        sa.Column("controller_contact", sa.String(200), server_default="", nullable=False),
        sa.Column("dpo_name", sa.String(200), server_default="", nullable=False),
        sa.Column("dpo_contact", sa.String(200), server_default="", nullable=False),
        sa.Column("prefilled_at", sa.DateTime(timezone=True), nullable=True),
        _updated(),
        sa.UniqueConstraint("tenant_id", name="uq_processing_registers_tenant_id"),
    )
    op.create_index("ix_processing_registers_tenant_id", "processing_registers", ["tenant_id"])
    op.create_table(
        "processing_activities",
        sa.Column("id", sa.Integer(), primary_key=True),
        *_tenant("processing_activities"),
        sa.Column("name", sa.String(200), nullable=False),
        _text("purpose", required=True),
        sa.Column("legal_basis", sa.String(24), nullable=False),
        _text("data_categories", required=True),
        _text("data_subjects", required=True),
        _text("recipients"),
        _text("transfers"),
        _text("transfer_safeguards"),
        _text("retention", required=True),
        _text("security_measures"),
        sa.Column("system_key", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        _updated(),
        sa.UniqueConstraint("tenant_id", "name", name="uq_processing_activities_tenant_id_name"),
        sa.CheckConstraint("legal_basis IN ('consent', 'contract', 'legal_obligation', 'vital_interests', "
                           "'public_task', 'legitimate_interest')", name="ck_processing_activities_legal_basis"),
    )
    op.create_index("ix_processing_activities_tenant_id", "processing_activities", ["tenant_id"])
    for table in TABLES:
        for statement in rls_statements(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("processing_activities")
    op.drop_table("processing_registers")
