"""agent workspace: internal messages and their read receipts

Revision ID: 20261126_1700_agent
Revises: 20261126_1600_calls
"""

import sqlalchemy as sa
from alembic import op

from tenants.scoping import rls_statements

revision = "20261126_1700_agent"
down_revision = "20261126_1600_calls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=True),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_messages_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sender_id"], ["users.id"], name=op.f("fk_messages_sender_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["recipient_id"], ["users.id"], name=op.f("fk_messages_recipient_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index(op.f("ix_messages_tenant_id"), "messages", ["tenant_id"])
    op.create_index("ix_messages_recipient_sent", "messages", ["tenant_id", "recipient_id", "sent_at"])
    op.create_table(
        "message_reads",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_message_reads_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_message_reads_message_id_messages"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_message_reads_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id", "user_id", name=op.f("pk_message_reads")),
    )
    op.create_index(op.f("ix_message_reads_tenant_id"), "message_reads", ["tenant_id"])
    for table in ("messages", "message_reads"):
        for statement in rls_statements(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("message_reads")
    op.drop_table("messages")
