"""campaigns: settings (C1), statuses, pause codes, scripts and their versions and
answers, callbacks, agent/group assignment, dial attempts and compliance blocks

Revision ID: 20261126_1400_campaigns
Revises: 20261126_1300_contacts, 20261126_1200_routing
Create Date: 2026-11-26 18:20:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.scoping import rls_statements

revision = "20261126_1400_campaigns"
# both branches: the campaign's trunk column points at the routing branch's trunks table
down_revision = ("20261126_1300_contacts", "20261126_1200_routing")
branch_labels = None
# campaigns.trunk_id references the routing branch's trunks table.
depends_on = None

TENANT_TABLES = ["scripts", "script_versions", "campaign_agents", "campaign_groups", "campaign_statuses",
                 "pause_codes", "script_answers", "callbacks", "compliance_blocks", "dial_attempts"]


FROZEN_VERSION_FUNCTION = """
CREATE OR REPLACE FUNCTION script_versions_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.published_at IS NOT NULL AND (NEW.content IS DISTINCT FROM OLD.content
            OR NEW.published_at IS DISTINCT FROM OLD.published_at OR NEW.number <> OLD.number
            OR NEW.script_id <> OLD.script_id) THEN
        RAISE EXCEPTION 'script version % is published and cannot change', OLD.id;
    END IF;
    RETURN NEW;
END $$
"""


def upgrade() -> None:
    op.create_table('scripts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_scripts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scripts')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_scripts_tenant_id_name'))
    )
    op.create_index(op.f('ix_scripts_tenant_id'), 'scripts', ['tenant_id'], unique=False)
    op.create_table('script_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('script_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('content', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['script_id'], ['scripts.id'], name=op.f('fk_script_versions_script_id_scripts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_script_versions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_script_versions')),
    sa.UniqueConstraint('script_id', 'number', name=op.f('uq_script_versions_script_id_number'))
    )
    op.create_index(op.f('ix_script_versions_script_id'), 'script_versions', ['script_id'], unique=False)
    op.create_index(op.f('ix_script_versions_tenant_id'), 'script_versions', ['tenant_id'], unique=False)
    op.create_table('campaign_agents',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_agents_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_campaign_agents_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_campaign_agents_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'user_id', name=op.f('pk_campaign_agents'))
    )
    op.create_index(op.f('ix_campaign_agents_tenant_id'), 'campaign_agents', ['tenant_id'], unique=False)
    op.create_table('campaign_groups',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_groups_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['user_groups.id'], name=op.f('fk_campaign_groups_group_id_user_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_campaign_groups_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'group_id', name=op.f('pk_campaign_groups'))
    )
    op.create_index(op.f('ix_campaign_groups_tenant_id'), 'campaign_groups', ['tenant_id'], unique=False)
    op.create_table('campaign_statuses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=3), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('sale', sa.Boolean(), nullable=False),
    sa.Column('answering_machine', sa.Boolean(), nullable=False),
    sa.Column('callback', sa.Boolean(), nullable=False),
    sa.Column('not_interested', sa.Boolean(), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.Column('not_treatable', sa.Boolean(), nullable=False),
    sa.Column('system', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_statuses_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_campaign_statuses_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_statuses')),
    sa.UniqueConstraint('campaign_id', 'code', name=op.f('uq_campaign_statuses_campaign_id_code'))
    )
    op.create_index(op.f('ix_campaign_statuses_campaign_id'), 'campaign_statuses', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_campaign_statuses_tenant_id'), 'campaign_statuses', ['tenant_id'], unique=False)
    op.create_table('pause_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_pause_codes_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_pause_codes_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pause_codes')),
    sa.UniqueConstraint('campaign_id', 'code', name=op.f('uq_pause_codes_campaign_id_code'))
    )
    op.create_index(op.f('ix_pause_codes_campaign_id'), 'pause_codes', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_pause_codes_tenant_id'), 'pause_codes', ['tenant_id'], unique=False)
    op.create_table('script_answers',
    sa.Column('call_id', sa.Uuid(), nullable=False),
    sa.Column('script_version_id', sa.Integer(), nullable=False),
    sa.Column('answers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['script_version_id'], ['script_versions.id'], name=op.f('fk_script_answers_script_version_id_script_versions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_script_answers_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('call_id', name=op.f('pk_script_answers'))
    )
    op.create_index(op.f('ix_script_answers_script_version_id'), 'script_answers', ['script_version_id'], unique=False)
    op.create_index(op.f('ix_script_answers_tenant_id'), 'script_answers', ['tenant_id'], unique=False)
    op.create_table('callbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('origin_campaign_id', sa.Integer(), nullable=True),
    sa.Column('lead_id', sa.BigInteger(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('priority', sa.SmallInteger(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('status_code', sa.String(length=3), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_callbacks_agent_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_callbacks_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_callbacks_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_callbacks_lead_id_leads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['origin_campaign_id'], ['campaigns.id'], name=op.f('fk_callbacks_origin_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_callbacks_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callbacks'))
    )
    op.create_index('ix_callbacks_agent_due', 'callbacks', ['agent_id', 'state', 'due_at'], unique=False)
    op.create_index('ix_callbacks_due', 'callbacks', ['campaign_id', 'state', 'due_at'], unique=False)
    op.create_index(op.f('ix_callbacks_lead_id'), 'callbacks', ['lead_id'], unique=False)
    op.create_index(op.f('ix_callbacks_tenant_id'), 'callbacks', ['tenant_id'], unique=False)
    op.create_table('compliance_blocks',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.BigInteger(), nullable=True),
    sa.Column('phone_number', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('blocked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_allowed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_compliance_blocks_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_compliance_blocks_lead_id_leads'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_compliance_blocks_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compliance_blocks'))
    )
    op.create_index('ix_compliance_blocks_campaign_at', 'compliance_blocks', ['campaign_id', 'blocked_at'], unique=False)
    op.create_table('dial_attempts',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('lead_id', sa.BigInteger(), nullable=True),
    sa.Column('phone_number', sa.String(length=20), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.String(length=3), nullable=True),
    sa.Column('refusal', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_dial_attempts_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_dial_attempts_lead_id_leads'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_dial_attempts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dial_attempts'))
    )
    op.create_index('ix_dial_attempts_phone', 'dial_attempts', ['tenant_id', 'phone_number', 'attempted_at'], unique=False)
    op.add_column('campaigns', sa.Column('existing_contract', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('campaigns', sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('campaigns', sa.Column('dial_mode', sa.String(length=16), server_default='PROGRESSIF', nullable=False))
    op.add_column('campaigns', sa.Column('trunk_id', sa.Integer(), nullable=True))
    op.add_column('campaigns', sa.Column('caller_id', sa.String(length=20), nullable=True))
    op.add_column('campaigns', sa.Column('local_presence', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('campaigns', sa.Column('dids', postgresql.ARRAY(sa.String(length=20)), server_default='{}', nullable=False))
    op.add_column('campaigns', sa.Column('recording', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('campaigns', sa.Column('dial_order', sa.String(length=16), server_default='list_order', nullable=False))
    op.add_column('campaigns', sa.Column('attempt_limit', sa.SmallInteger(), server_default='4', nullable=True))
    op.add_column('campaigns', sa.Column('min_attempt_spacing', sa.Interval(), nullable=True))
    op.add_column('campaigns', sa.Column('refusal_delay', sa.Interval(), nullable=True))
    op.add_column('campaigns', sa.Column('calling_hours', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('campaigns', sa.Column('amd', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('campaigns', sa.Column('voicemail_audio', sa.String(length=255), nullable=True))
    op.add_column('campaigns', sa.Column('dial_speed', sa.SmallInteger(), server_default='3', nullable=False))
    op.add_column('campaigns', sa.Column('abandon_target', sa.Float(), server_default='0.03', nullable=False))
    op.add_column('campaigns', sa.Column('script_id', sa.Integer(), nullable=True))
    op.add_column('campaigns', sa.Column('pause_mode', sa.String(length=10), server_default='optional', nullable=False))
    op.create_foreign_key(op.f('fk_campaigns_script_id_scripts'), 'campaigns', 'scripts', ['script_id'], ['id'], ondelete='SET NULL')
    op.create_foreign_key(op.f('fk_campaigns_trunk_id_trunks'), 'campaigns', 'trunks', ['trunk_id'], ['id'], ondelete='SET NULL')

    op.create_check_constraint(op.f("ck_campaigns_dial_speed"), "campaigns", "dial_speed BETWEEN 0 AND 10")
    op.create_check_constraint(op.f("ck_campaigns_abandon_target"), "campaigns",
                               "abandon_target > 0 AND abandon_target <= 0.03")
    op.create_check_constraint(op.f("ck_campaigns_attempt_limit"), "campaigns",
                               "attempt_limit IS NULL OR attempt_limit >= 0")
    for table in TENANT_TABLES:
        for statement in rls_statements(table):
            op.execute(statement)
    # Calls point at the version they used: a published one must never change, even
    # through SQL that skips the services.
    op.execute(FROZEN_VERSION_FUNCTION)
    op.execute("CREATE TRIGGER script_versions_frozen BEFORE UPDATE ON script_versions "
               "FOR EACH ROW EXECUTE FUNCTION script_versions_frozen()")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS script_versions_frozen ON script_versions")
    op.execute("DROP FUNCTION IF EXISTS script_versions_frozen()")
    for name in ("dial_speed", "abandon_target", "attempt_limit"):
        op.drop_constraint(op.f(f"ck_campaigns_{name}"), "campaigns", type_="check")
    op.drop_constraint(op.f('fk_campaigns_trunk_id_trunks'), 'campaigns', type_='foreignkey')
    op.drop_constraint(op.f('fk_campaigns_script_id_scripts'), 'campaigns', type_='foreignkey')
    op.drop_column('campaigns', 'pause_mode')
    op.drop_column('campaigns', 'script_id')
    op.drop_column('campaigns', 'abandon_target')
    op.drop_column('campaigns', 'dial_speed')
    op.drop_column('campaigns', 'voicemail_audio')
    op.drop_column('campaigns', 'amd')
    op.drop_column('campaigns', 'calling_hours')
    op.drop_column('campaigns', 'refusal_delay')
    op.drop_column('campaigns', 'min_attempt_spacing')
    op.drop_column('campaigns', 'attempt_limit')
    op.drop_column('campaigns', 'dial_order')
    op.drop_column('campaigns', 'recording')
    op.drop_column('campaigns', 'dids')
    op.drop_column('campaigns', 'local_presence')
    op.drop_column('campaigns', 'caller_id')
    op.drop_column('campaigns', 'trunk_id')
    op.drop_column('campaigns', 'dial_mode')
    op.drop_column('campaigns', 'archived_at')
    op.drop_column('campaigns', 'existing_contract')
    op.drop_index('ix_dial_attempts_phone', table_name='dial_attempts')
    op.drop_table('dial_attempts')
    op.drop_index('ix_compliance_blocks_campaign_at', table_name='compliance_blocks')
    op.drop_table('compliance_blocks')
    op.drop_index(op.f('ix_callbacks_tenant_id'), table_name='callbacks')
    op.drop_index(op.f('ix_callbacks_lead_id'), table_name='callbacks')
    op.drop_index('ix_callbacks_due', table_name='callbacks')
    op.drop_index('ix_callbacks_agent_due', table_name='callbacks')
    op.drop_table('callbacks')
    op.drop_index(op.f('ix_script_answers_tenant_id'), table_name='script_answers')
    op.drop_index(op.f('ix_script_answers_script_version_id'), table_name='script_answers')
    op.drop_table('script_answers')
    op.drop_index(op.f('ix_pause_codes_tenant_id'), table_name='pause_codes')
    op.drop_index(op.f('ix_pause_codes_campaign_id'), table_name='pause_codes')
    op.drop_table('pause_codes')
    op.drop_index(op.f('ix_campaign_statuses_tenant_id'), table_name='campaign_statuses')
    op.drop_index(op.f('ix_campaign_statuses_campaign_id'), table_name='campaign_statuses')
    op.drop_table('campaign_statuses')
    op.drop_index(op.f('ix_campaign_groups_tenant_id'), table_name='campaign_groups')
    op.drop_table('campaign_groups')
    op.drop_index(op.f('ix_campaign_agents_tenant_id'), table_name='campaign_agents')
    op.drop_table('campaign_agents')
    op.drop_index(op.f('ix_script_versions_tenant_id'), table_name='script_versions')
    op.drop_index(op.f('ix_script_versions_script_id'), table_name='script_versions')
    op.drop_table('script_versions')
    op.drop_index(op.f('ix_scripts_tenant_id'), table_name='scripts')
    op.drop_table('scripts')
