"""contacts: the number of leads of each list, kept by PostgreSQL

The lists screen showed ``count(*) GROUP BY list_id`` over all the tenant's leads on
every load: seconds beyond ~10 M leads. Statement-level triggers on ``leads`` now
append one signed delta per list touched by each INSERT, DELETE or move (an UPDATE
that changes ``list_id``), computed from the statement's transition tables; the
screen sums the deltas, and a periodic job folds them into one row per list.
Appending (rather than updating a counter row) keeps two writers to the same list
— an import and an API call — from waiting for each other.

Revision ID: 20261126_2200_lead_counts
Revises: 20261126_2100_inbound
"""

import sqlalchemy as sa
from alembic import op

from tenants.scoping import rls_statements

revision = "20261126_2200_lead_counts"
down_revision = "20261126_2100_inbound"
branch_labels = None
depends_on = None

# The deltas of one statement, grouped by tenant and list. A list deleted by the
# same command (its leads go by cascade) is no longer visible here and is skipped.
_APPEND = """
    INSERT INTO lead_list_counts (tenant_id, list_id, delta)
    SELECT d.tenant_id, d.list_id, sum(d.delta) FROM ({rows}) d
    WHERE EXISTS (SELECT 1 FROM lead_lists l WHERE l.id = d.list_id)
    GROUP BY d.tenant_id, d.list_id HAVING sum(d.delta) <> 0;
"""
_FUNCTIONS = {
    "insert": "SELECT tenant_id, list_id, 1 AS delta FROM new_leads",
    "delete": "SELECT tenant_id, list_id, -1 AS delta FROM old_leads",
    "update": ("SELECT n.tenant_id, n.list_id, 1 AS delta FROM old_leads o JOIN new_leads n USING (id) "
               "WHERE o.list_id <> n.list_id "
               "UNION ALL SELECT o.tenant_id, o.list_id, -1 FROM old_leads o JOIN new_leads n USING (id) "
               "WHERE o.list_id <> n.list_id"),
}
_REFERENCING = {
    "insert": "NEW TABLE AS new_leads",
    "delete": "OLD TABLE AS old_leads",
    "update": "OLD TABLE AS old_leads NEW TABLE AS new_leads",
}


def upgrade() -> None:
    op.create_table(
        "lead_list_counts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_lead_list_counts_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["list_id"], ["lead_lists.id"], name=op.f("fk_lead_list_counts_list_id_lead_lists"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_list_counts")),
    )
    op.create_index(op.f("ix_lead_list_counts_tenant_id"), "lead_list_counts", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_lead_list_counts_list_id"), "lead_list_counts", ["list_id"], unique=False)
    for statement in rls_statements("lead_list_counts"):
        op.execute(statement)
    for event, rows in _FUNCTIONS.items():
        op.execute(f"""
            CREATE FUNCTION lead_list_counts_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {_APPEND.format(rows=rows)}
                RETURN NULL;
            END $$""")
        op.execute(f"CREATE TRIGGER lead_list_counts_{event} AFTER {event.upper()} ON leads "
                   f"REFERENCING {_REFERENCING[event]} FOR EACH STATEMENT "
                   f"EXECUTE FUNCTION lead_list_counts_{event}()")
    # the leads already there, one row per list (as the owner: every tenant's rows)
    op.execute("SELECT set_config('app.bypass_rls', 'on', true)")
    op.execute("INSERT INTO lead_list_counts (tenant_id, list_id, delta) "
               "SELECT tenant_id, list_id, count(*) FROM leads GROUP BY tenant_id, list_id")
    op.execute("SELECT set_config('app.bypass_rls', '', true)")


def downgrade() -> None:
    for event in _FUNCTIONS:
        op.execute(f"DROP TRIGGER IF EXISTS lead_list_counts_{event} ON leads")
        op.execute(f"DROP FUNCTION IF EXISTS lead_list_counts_{event}()")
    op.drop_index(op.f("ix_lead_list_counts_list_id"), table_name="lead_list_counts")
    op.drop_index(op.f("ix_lead_list_counts_tenant_id"), table_name="lead_list_counts")
    op.drop_table("lead_list_counts")
