"""calls: what a call cost (billed seconds, carrier, rate, cost in EUR); the summary
tables' billed time, cost and priced calls; rate lookups by prefix

Revision ID: 20261127_0030_call_cost
Revises: 20261126_2300_gdpr_register
"""

import sqlalchemy as sa
from alembic import op

revision = "20261127_0030_call_cost"
down_revision = "20261126_2300_gdpr_register"
branch_labels = None
depends_on = None

SUMMARIES = ("report_hourly", "report_daily")


def upgrade() -> None:
    op.add_column("calls", sa.Column("billsec", sa.Integer(), nullable=True))
    op.add_column("calls", sa.Column("carrier_id", sa.Integer(), nullable=True))
    op.add_column("calls", sa.Column("rate_prefix", sa.String(length=16), nullable=True))
    op.add_column("calls", sa.Column("rate_per_minute", sa.Numeric(precision=12, scale=6), nullable=True))
    op.add_column("calls", sa.Column("cost", sa.Numeric(precision=12, scale=6), nullable=True))
    op.create_foreign_key(op.f("fk_calls_carrier_id_carriers"), "calls", "carriers", ["carrier_id"], ["id"],
                          ondelete="SET NULL")
    for table in SUMMARIES:
        op.add_column(table, sa.Column("billed_s", sa.Float(), server_default="0", nullable=False))
        op.add_column(table, sa.Column("cost", sa.Numeric(precision=16, scale=6), server_default="0",
                                       nullable=False))
        op.add_column(table, sa.Column("priced", sa.Integer(), server_default="0", nullable=False))
    # a call's rate is looked up by the prefixes of its number, across carriers
    op.create_index("ix_carrier_rates_prefix", "carrier_rates", ["prefix"])


def downgrade() -> None:
    op.drop_index("ix_carrier_rates_prefix", table_name="carrier_rates")
    for table in SUMMARIES:
        for column in ("priced", "cost", "billed_s"):
            op.drop_column(table, column)
    op.drop_constraint(op.f("fk_calls_carrier_id_carriers"), "calls", type_="foreignkey")
    for column in ("cost", "rate_per_minute", "rate_prefix", "carrier_id", "billsec"):
        op.drop_column("calls", column)
