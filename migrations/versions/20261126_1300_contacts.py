"""contacts: campaigns (minimal), lists, leads, custom fields, red lists, Bloctel,
imports, timeline, recycling rules, privacy settings

Revision ID: 20261126_1300_contacts
Revises: 20261126_0900_foundation
Create Date: 2026-11-26 18:00:30.604947
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.scoping import rls_statements

revision = '20261126_1300_contacts'
down_revision = '20261126_0900_foundation'
branch_labels = None
depends_on = None

TENANT_TABLES = ["campaigns", "lead_lists", "leads", "custom_fields", "red_list_entries", "bloctel_files", "bloctel_numbers", "timeline_events", "lead_imports", "recycle_rules", "privacy_settings"]


def upgrade() -> None:
    op.create_table('bloctel_numbers',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'phone', name=op.f('pk_bloctel_numbers'))
    )
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('prospecting', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_campaigns_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_campaigns_tenant_id_name'))
    )
    op.create_index(op.f('ix_campaigns_tenant_id'), 'campaigns', ['tenant_id'], unique=False)
    op.create_table('custom_fields',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('choices', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('required', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_custom_fields_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custom_fields')),
    sa.UniqueConstraint('tenant_id', 'key', name=op.f('uq_custom_fields_tenant_id_key'))
    )
    op.create_index(op.f('ix_custom_fields_tenant_id'), 'custom_fields', ['tenant_id'], unique=False)
    op.create_table('privacy_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_retention_months', sa.Integer(), nullable=True),
    sa.Column('erased_people', sa.Integer(), server_default='0', nullable=False),
    sa.Column('erased_calls', sa.Integer(), server_default='0', nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_privacy_settings_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_settings')),
    sa.UniqueConstraint('tenant_id', name=op.f('uq_privacy_settings_tenant_id'))
    )
    op.create_index(op.f('ix_privacy_settings_tenant_id'), 'privacy_settings', ['tenant_id'], unique=False)
    op.create_table('lead_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('last_mapping', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_lead_lists_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_lead_lists_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_lists')),
    sa.UniqueConstraint('tenant_id', 'id', name=op.f('uq_lead_lists_tenant_id_id'))
    )
    op.create_index(op.f('ix_lead_lists_campaign_id'), 'lead_lists', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_lead_lists_tenant_id'), 'lead_lists', ['tenant_id'], unique=False)
    op.create_table('recycle_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('delay_minutes', sa.Integer(), nullable=False),
    sa.Column('max_recycles', sa.SmallInteger(), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_recycle_rules_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_recycle_rules_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recycle_rules')),
    sa.UniqueConstraint('tenant_id', 'campaign_id', 'status', name=op.f('uq_recycle_rules_tenant_id_campaign_id_status'))
    )
    op.create_index(op.f('ix_recycle_rules_campaign_id'), 'recycle_rules', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_recycle_rules_tenant_id'), 'recycle_rules', ['tenant_id'], unique=False)
    op.create_table('bloctel_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_date', sa.Date(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('numbers', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('imported_by', sa.Integer(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['imported_by'], ['users.id'], name=op.f('fk_bloctel_files_imported_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_bloctel_files_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bloctel_files'))
    )
    op.create_index(op.f('ix_bloctel_files_tenant_id'), 'bloctel_files', ['tenant_id'], unique=False)
    op.create_table('lead_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('stored_path', sa.Text(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('file_format', sa.String(length=8), nullable=False),
    sa.Column('encoding', sa.String(length=20), nullable=True),
    sa.Column('delimiter', sa.String(length=2), nullable=True),
    sa.Column('sheet', sa.String(length=120), nullable=True),
    sa.Column('has_header', sa.Boolean(), nullable=False),
    sa.Column('mapping', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('dedup_keys', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('dedup_scope', sa.String(length=10), nullable=False),
    sa.Column('strategy', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=True),
    sa.Column('processed_rows', sa.Integer(), nullable=False),
    sa.Column('progress', sa.SmallInteger(), nullable=False),
    sa.Column('counts', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('rejects_path', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_lead_imports_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['list_id'], ['lead_lists.id'], name=op.f('fk_lead_imports_list_id_lead_lists'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_lead_imports_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_imports'))
    )
    op.create_index(op.f('ix_lead_imports_list_id'), 'lead_imports', ['list_id'], unique=False)
    op.create_index(op.f('ix_lead_imports_tenant_id'), 'lead_imports', ['tenant_id'], unique=False)
    op.create_table('leads',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('first_name', sa.Text(), nullable=True),
    sa.Column('last_name', sa.Text(), nullable=True),
    sa.Column('company', sa.Text(), nullable=True),
    sa.Column('phone_number', sa.String(length=20), nullable=False),
    sa.Column('alt_phone', sa.String(length=20), nullable=True),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('address1', sa.Text(), nullable=True),
    sa.Column('address2', sa.Text(), nullable=True),
    sa.Column('address3', sa.Text(), nullable=True),
    sa.Column('city', sa.Text(), nullable=True),
    sa.Column('state', sa.Text(), nullable=True),
    sa.Column('province', sa.Text(), nullable=True),
    sa.Column('postal_code', sa.String(length=20), nullable=True),
    sa.Column('country_code', sa.String(length=2), server_default='FR', nullable=False),
    sa.Column('comments', sa.Text(), nullable=True),
    sa.Column('last_name_key', sa.Text(), sa.Computed('lower(last_name)', persisted=True), nullable=True),
    sa.Column('first_name_key', sa.Text(), sa.Computed('lower(first_name)', persisted=True), nullable=True),
    sa.Column('company_key', sa.Text(), sa.Computed('lower(company)', persisted=True), nullable=True),
    sa.Column('email_key', sa.Text(), sa.Computed('lower(email)', persisted=True), nullable=True),
    sa.Column('vendor_lead_code', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='NEW', nullable=False),
    sa.Column('user_aff', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('custom', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('attempts', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('recycles', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('priority', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consent_source', sa.Text(), nullable=True),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consent_text', sa.Text(), nullable=True),
    sa.Column('consent_proof', sa.Text(), nullable=True),
    sa.Column('consent_outside_hours', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('existing_contract', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_leads_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id', 'list_id'], ['lead_lists.tenant_id', 'lead_lists.id'], name=op.f('fk_leads_tenant_id_lead_lists'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_aff'], ['users.id'], name=op.f('fk_leads_user_aff_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads'))
    )
    op.create_index('ix_leads_selection', 'leads', ['list_id', 'status', 'next_attempt_at'], unique=False)
    # searches use the *_key columns: under row-level security only leakproof
    # operators can use an index, and lower() / LIKE are not leakproof
    op.create_index('ix_leads_tenant_company', 'leads', ['tenant_id', 'company_key'], unique=False, postgresql_ops={'company_key': 'text_pattern_ops'}, postgresql_where=sa.text('company_key IS NOT NULL'))
    op.create_index('ix_leads_tenant_email', 'leads', ['tenant_id', 'email_key'], unique=False, postgresql_where=sa.text('email_key IS NOT NULL'))
    op.create_index('ix_leads_tenant_name', 'leads', ['tenant_id', 'last_name_key', 'first_name_key'], unique=False, postgresql_ops={'last_name_key': 'text_pattern_ops', 'first_name_key': 'text_pattern_ops'})
    op.create_index('ix_leads_tenant_phone', 'leads', ['tenant_id', 'phone_number'], unique=False)
    op.create_index('ix_leads_tenant_vendor_code', 'leads', ['tenant_id', 'vendor_lead_code'], unique=False)
    op.create_table('red_list_entries',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('phone_number', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('added_by', sa.Integer(), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['added_by'], ['users.id'], name=op.f('fk_red_list_entries_added_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_red_list_entries_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_red_list_entries_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_red_list_entries'))
    )
    op.create_index(op.f('ix_red_list_entries_tenant_id'), 'red_list_entries', ['tenant_id'], unique=False)
    op.create_index('uq_red_list_entries_scope_phone', 'red_list_entries', ['tenant_id', 'phone_number', 'campaign_id'], unique=True, postgresql_nulls_not_distinct=True)
    op.create_table('timeline_events',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('lead_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_timeline_events_lead_id_leads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_timeline_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_timeline_events_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timeline_events'))
    )
    op.create_index('ix_timeline_events_lead_occurred', 'timeline_events', ['lead_id', 'occurred_at'], unique=False)
    op.create_index(op.f('ix_timeline_events_tenant_id'), 'timeline_events', ['tenant_id'], unique=False)

    for table in TENANT_TABLES:
        for statement in rls_statements(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_index(op.f('ix_timeline_events_tenant_id'), table_name='timeline_events')
    op.drop_index('ix_timeline_events_lead_occurred', table_name='timeline_events')
    op.drop_table('timeline_events')
    op.drop_index('uq_red_list_entries_scope_phone', table_name='red_list_entries', postgresql_nulls_not_distinct=True)
    op.drop_index(op.f('ix_red_list_entries_tenant_id'), table_name='red_list_entries')
    op.drop_table('red_list_entries')
    op.drop_index('ix_leads_tenant_vendor_code', table_name='leads')
    op.drop_index('ix_leads_tenant_phone', table_name='leads')
    op.drop_index('ix_leads_tenant_name', table_name='leads')
    op.drop_index('ix_leads_tenant_email', table_name='leads')
    op.drop_index('ix_leads_tenant_company', table_name='leads')
    op.drop_index('ix_leads_selection', table_name='leads')
    op.drop_table('leads')
    op.drop_index(op.f('ix_lead_imports_tenant_id'), table_name='lead_imports')
    op.drop_index(op.f('ix_lead_imports_list_id'), table_name='lead_imports')
    op.drop_table('lead_imports')
    op.drop_index(op.f('ix_bloctel_files_tenant_id'), table_name='bloctel_files')
    op.drop_table('bloctel_files')
    op.drop_index(op.f('ix_recycle_rules_tenant_id'), table_name='recycle_rules')
    op.drop_index(op.f('ix_recycle_rules_campaign_id'), table_name='recycle_rules')
    op.drop_table('recycle_rules')
    op.drop_index(op.f('ix_lead_lists_tenant_id'), table_name='lead_lists')
    op.drop_index(op.f('ix_lead_lists_campaign_id'), table_name='lead_lists')
    op.drop_table('lead_lists')
    op.drop_index(op.f('ix_privacy_settings_tenant_id'), table_name='privacy_settings')
    op.drop_table('privacy_settings')
    op.drop_index(op.f('ix_custom_fields_tenant_id'), table_name='custom_fields')
    op.drop_table('custom_fields')
    op.drop_index(op.f('ix_campaigns_tenant_id'), table_name='campaigns')
    op.drop_table('campaigns')
    op.drop_table('bloctel_numbers')
