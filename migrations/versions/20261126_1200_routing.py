"""routing: carriers, trunks, rate decks, media nodes, and Kamailio's own tables

Revision ID: 20261126_1200_routing
Revises: 20261126_0900_foundation
Create Date: 2026-11-26 18:00:00

Kamailio's tables (schema ``kamailio``) come from ``kamailio.tables``, the one DDL
source that the integration tests also run, so that they are exactly what Kamailio
5.6 expects.
"""

import os

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from kamailio import tables as kamailio_tables

revision = "20261126_1200_routing"
down_revision = "20261126_0900_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carriers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("rates_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carriers")),
        sa.UniqueConstraint("name", name=op.f("uq_carriers_name")),
    )
    op.create_table(
        "trunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("carrier_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("host", sa.String(length=64), nullable=False),
        sa.Column("port", sa.Integer(), server_default="5060", nullable=False),
        sa.Column("transport", sa.String(length=8), server_default="udp", nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("password", sa.String(length=128), nullable=True),
        sa.Column(
            "codecs", postgresql.ARRAY(sa.String(length=8)), server_default="{PCMA,PCMU}", nullable=False
        ),
        sa.Column("channel_limit", sa.Integer(), nullable=True),
        sa.Column("full_cli", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("weight", sa.Integer(), server_default="1", nullable=False),
        sa.Column("strip_digits", sa.Integer(), server_default="0", nullable=False),
        sa.Column("tech_prefix", sa.String(length=16), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("transport IN ('udp', 'tcp', 'tls')", name=op.f("ck_trunks_transport")),
        sa.CheckConstraint("port BETWEEN 1 AND 32767", name=op.f("ck_trunks_port")),
        sa.CheckConstraint(
            "channel_limit IS NULL OR channel_limit > 0", name=op.f("ck_trunks_channel_limit")
        ),
        sa.CheckConstraint("weight BETWEEN 1 AND 254", name=op.f("ck_trunks_weight")),
        sa.CheckConstraint("strip_digits BETWEEN 0 AND 15", name=op.f("ck_trunks_strip_digits")),
        sa.ForeignKeyConstraint(
            ["carrier_id"], ["carriers.id"], name=op.f("fk_trunks_carrier_id_carriers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trunks")),
        sa.UniqueConstraint("carrier_id", "name", name=op.f("uq_trunks_carrier_id_name")),
    )
    op.create_index(op.f("ix_trunks_carrier_id"), "trunks", ["carrier_id"], unique=False)
    op.create_table(
        "carrier_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("carrier_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("rate_per_minute", sa.Numeric(precision=12, scale=6), nullable=False),
        sa.Column("connection_fee", sa.Numeric(precision=12, scale=6), server_default="0", nullable=False),
        sa.Column("initial_increment", sa.Integer(), server_default="60", nullable=False),
        sa.Column("billing_increment", sa.Integer(), server_default="60", nullable=False),
        sa.CheckConstraint("prefix ~ '^[0-9]{1,16}$'", name=op.f("ck_carrier_rates_prefix")),
        sa.CheckConstraint(
            "initial_increment > 0 AND billing_increment > 0", name=op.f("ck_carrier_rates_increments")
        ),
        sa.ForeignKeyConstraint(
            ["carrier_id"],
            ["carriers.id"],
            name=op.f("fk_carrier_rates_carrier_id_carriers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_rates")),
        sa.UniqueConstraint("carrier_id", "prefix", name=op.f("uq_carrier_rates_carrier_id_prefix")),
    )
    op.create_table(
        "media_nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=64), nullable=False),
        sa.Column("sip_port", sa.Integer(), server_default="5080", nullable=False),
        sa.Column("transport", sa.String(length=8), server_default="udp", nullable=False),
        sa.Column("weight", sa.Integer(), server_default="1", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("transport IN ('udp', 'tcp', 'tls')", name=op.f("ck_media_nodes_transport")),
        sa.CheckConstraint("sip_port BETWEEN 1 AND 65535", name=op.f("ck_media_nodes_sip_port")),
        sa.CheckConstraint("weight BETWEEN 1 AND 100", name=op.f("ck_media_nodes_weight")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_nodes")),
        sa.UniqueConstraint("name", name=op.f("uq_media_nodes_name")),
    )
    for statement in kamailio_tables.create_statements():
        op.execute(statement)
    for statement in kamailio_tables.access_statements(
        app_role=os.environ.get("APP_DB_ROLE", "carillon_app"),
        kamailio_role=os.environ.get("KAMAILIO_DB_ROLE", "kamailio"),
        kamailio_password=os.environ.get("KAMAILIO_DB_PASSWORD", ""),
    ):
        op.execute(statement)


def downgrade() -> None:
    for statement in kamailio_tables.drop_statements():
        op.execute(statement)
    op.drop_table("media_nodes")
    op.drop_table("carrier_rates")
    op.drop_index(op.f("ix_trunks_carrier_id"), table_name="trunks")
    op.drop_table("trunks")
    op.drop_table("carriers")
