"""Contacts data (spec L1-L8). Field names follow VICIdial's so that integrators find
what they know (``vendor_lead_code``, ``user_aff``, ``list_id``...)."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects.postgresql import JSONB

from app.db import Base, TenantScoped, Timestamped, utcnow


class LeadList(TenantScoped, Timestamped, Base):
    __tablename__ = "lead_lists"
    # target of the leads' (tenant_id, list_id) foreign key
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "id"),
        sa.Index("uq_lead_lists_manual", "campaign_id", unique=True, postgresql_where=sa.text("manual")),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    campaign_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    active: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())
    # The campaign's list of the numbers its agents dialled by hand (MANUEL mode), made
    # on first use: at most one per campaign.
    manual: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    # The column mapping of the last import into this list, offered again next time.
    last_mapping: so.Mapped[dict | None] = so.mapped_column(JSONB)

    campaign = so.relationship("Campaign", lazy="joined")


class LeadListCount(TenantScoped, Base):
    """Signed changes to the number of leads of a list, appended by PostgreSQL
    triggers on ``leads`` (one row per list per statement; see the migration
    ``lead_counts``). A list's size is the sum of its rows; ``fold_list_counts``
    folds them into one row per list now and then."""

    __tablename__ = "lead_list_counts"

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    list_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("lead_lists.id", ondelete="CASCADE"), index=True)
    delta: so.Mapped[int] = so.mapped_column(sa.BigInteger)


class LeadStatus(enum.StrEnum):
    NEW = "NEW"
    DNC = "DNC"
    ERASED = "ERASED"


class Lead(TenantScoped, Base):
    """One person to call. Tens of millions of rows per database: the indexes below are
    the ones the dialer (per-list selection), imports and the directory (phone, email,
    name, code lookups) need, each led by ``tenant_id`` so one tenant's rows stay close."""

    __tablename__ = "leads"
    __table_args__ = (
        # One foreign key for both columns: a lead's list is of the lead's tenant, and
        # one integrity check per inserted row instead of two (imports insert millions).
        # Deleting a tenant deletes its lists, which deletes their leads.
        sa.ForeignKeyConstraint(["tenant_id", "list_id"], ["lead_lists.tenant_id", "lead_lists.id"],
                                ondelete="CASCADE"),
        sa.Index("ix_leads_selection", "list_id", "status", "next_attempt_at"),
        # the hopper's walk: due leads of a list, never-scheduled ones first
        sa.Index("ix_leads_hopper", "list_id", sa.nulls_first(sa.text("next_attempt_at")), "id"),
        sa.Index("ix_leads_tenant_phone", "tenant_id", "phone_number"),
        # Searches go through the *_key columns, never through lower(...) in the
        # query: under row-level security PostgreSQL uses an index only for
        # leakproof operators, and lower() and LIKE are not. Prefix searches use the
        # text_pattern_ops range operators (~>=~, ~<~), which are.
        sa.Index("ix_leads_tenant_email", "tenant_id", "email_key",
                 postgresql_where=sa.text("email_key IS NOT NULL")),
        sa.Index("ix_leads_tenant_name", "tenant_id", "last_name_key", "first_name_key",
                 postgresql_ops={"last_name_key": "text_pattern_ops", "first_name_key": "text_pattern_ops"}),
        sa.Index("ix_leads_tenant_company", "tenant_id", "company_key",
                 postgresql_ops={"company_key": "text_pattern_ops"},
                 postgresql_where=sa.text("company_key IS NOT NULL")),
        sa.Index("ix_leads_tenant_vendor_code", "tenant_id", "vendor_lead_code"),
    )

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    # Declared here rather than by the mixin: no single-column index (every index
    # above starts with tenant_id, and each extra index slows imports) and the
    # foreign key is the composite one above.
    tenant_id: so.Mapped[int] = so.mapped_column()
    list_id: so.Mapped[int] = so.mapped_column()
    first_name: so.Mapped[str | None] = so.mapped_column(sa.Text)
    last_name: so.Mapped[str | None] = so.mapped_column(sa.Text)
    company: so.Mapped[str | None] = so.mapped_column(sa.Text)
    phone_number: so.Mapped[str] = so.mapped_column(sa.String(20))  # E.164
    alt_phone: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    email: so.Mapped[str | None] = so.mapped_column(sa.Text)
    address1: so.Mapped[str | None] = so.mapped_column(sa.Text)
    address2: so.Mapped[str | None] = so.mapped_column(sa.Text)
    address3: so.Mapped[str | None] = so.mapped_column(sa.Text)
    city: so.Mapped[str | None] = so.mapped_column(sa.Text)
    state: so.Mapped[str | None] = so.mapped_column(sa.Text)
    province: so.Mapped[str | None] = so.mapped_column(sa.Text)
    postal_code: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    country_code: so.Mapped[str] = so.mapped_column(sa.String(2), default="FR", server_default="FR")
    comments: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # lower-cased copies kept by PostgreSQL, for indexed searches (see the indexes)
    last_name_key: so.Mapped[str | None] = so.mapped_column(sa.Text, sa.Computed("lower(last_name)", persisted=True))
    first_name_key: so.Mapped[str | None] = so.mapped_column(sa.Text, sa.Computed("lower(first_name)", persisted=True))
    company_key: so.Mapped[str | None] = so.mapped_column(sa.Text, sa.Computed("lower(company)", persisted=True))
    email_key: so.Mapped[str | None] = so.mapped_column(sa.Text, sa.Computed("lower(email)", persisted=True))
    vendor_lead_code: so.Mapped[str] = so.mapped_column(sa.String(64))
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default=LeadStatus.NEW, server_default="NEW")
    user_aff: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    owner_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    custom: so.Mapped[dict] = so.mapped_column(JSONB, default=dict, server_default=sa.text("'{}'::jsonb"))
    attempts: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=0, server_default="0")
    recycles: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=0, server_default="0")
    # Dial order among eligible leads: recycling rules raise or lower it (L7).
    priority: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=0, server_default="0")
    last_attempt_at: so.Mapped[dt.datetime | None]
    next_attempt_at: so.Mapped[dt.datetime | None]
    consent_source: so.Mapped[str | None] = so.mapped_column(sa.Text)
    consent_at: so.Mapped[dt.datetime | None]
    consent_text: so.Mapped[str | None] = so.mapped_column(sa.Text)
    consent_proof: so.Mapped[str | None] = so.mapped_column(sa.Text)
    consent_outside_hours: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    existing_contract: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, server_default=sa.func.now())
    updated_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, server_default=sa.func.now(),
                                                          onupdate=utcnow)

    lead_list = so.relationship(LeadList, lazy="joined")

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.company or self.phone_number


class CustomFieldKind(enum.StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"


class CustomField(TenantScoped, Timestamped, Base):
    """A tenant-defined lead field; values live in ``Lead.custom[key]``."""

    __tablename__ = "custom_fields"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    key: so.Mapped[str] = so.mapped_column(sa.String(40))
    label: so.Mapped[str] = so.mapped_column(sa.String(120))
    kind: so.Mapped[str] = so.mapped_column(sa.String(10), default=CustomFieldKind.TEXT)
    choices: so.Mapped[list] = so.mapped_column(JSONB, default=list, server_default=sa.text("'[]'::jsonb"))
    required: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    position: so.Mapped[int] = so.mapped_column(default=0, server_default="0")


class RedListEntry(TenantScoped, Timestamped, Base):
    """A blocked number: tenant-wide when ``campaign_id`` is empty, else for one campaign."""

    __tablename__ = "red_list_entries"
    __table_args__ = (
        # NULLS NOT DISTINCT (PostgreSQL 15): one tenant-wide entry per number too.
        sa.Index("uq_red_list_entries_scope_phone", "tenant_id", "phone_number", "campaign_id",
                 unique=True, postgresql_nulls_not_distinct=True),
    )

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    campaign_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    phone_number: so.Mapped[str] = so.mapped_column(sa.String(20))
    reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    added_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    campaign = so.relationship("Campaign", lazy="joined")


class BloctelFile(TenantScoped, Base):
    """One import of the national opposition list; the newest one is in force."""

    __tablename__ = "bloctel_files"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    file_date: so.Mapped[dt.date]
    filename: so.Mapped[str] = so.mapped_column(sa.String(255))
    numbers: so.Mapped[int] = so.mapped_column(default=0)
    rejected: so.Mapped[int] = so.mapped_column(default=0)
    imported_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    imported_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, server_default=sa.func.now())


class BloctelNumber(TenantScoped, Base):
    """Millions of rows per tenant: the number is stored as its E.164 digits in a
    bigint (8 bytes, no per-row string header) and the primary key is the lookup index.
    No foreign key to tenants on purpose: its per-row check doubled the time of a
    several-million-line import; rows of a deleted tenant are unreachable (tenant
    ids are never reused, and row-level security shows a tenant its own rows only)."""

    __tablename__ = "bloctel_numbers"

    tenant_id: so.Mapped[int] = so.mapped_column(primary_key=True)
    phone: so.Mapped[int] = so.mapped_column(sa.BigInteger, primary_key=True)


class TimelineEvent(TenantScoped, Base):
    """Contact history: every feature (calls, emails, tickets, quotes, imports) writes here."""

    __tablename__ = "timeline_events"
    __table_args__ = (sa.Index("ix_timeline_events_lead_occurred", "lead_id", "occurred_at"),)

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    lead_id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.ForeignKey("leads.id", ondelete="CASCADE"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(32))
    occurred_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, server_default=sa.func.now())
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    summary: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    data: so.Mapped[dict] = so.mapped_column(JSONB, default=dict, server_default=sa.text("'{}'::jsonb"))


class ImportStatus(enum.StrEnum):
    UPLOADED = "uploaded"
    VALIDATING = "validating"
    VALIDATED = "validated"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportJob(TenantScoped, Timestamped, Base):
    """One file import through the wizard; the job writes its progress here."""

    __tablename__ = "lead_imports"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    list_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("lead_lists.id", ondelete="CASCADE"), index=True)
    created_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    filename: so.Mapped[str] = so.mapped_column(sa.String(255))
    stored_path: so.Mapped[str] = so.mapped_column(sa.Text)
    size_bytes: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    file_format: so.Mapped[str] = so.mapped_column(sa.String(8))  # csv, txt, xlsx, xls
    encoding: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    delimiter: so.Mapped[str | None] = so.mapped_column(sa.String(2))
    sheet: so.Mapped[str | None] = so.mapped_column(sa.String(120))
    has_header: so.Mapped[bool] = so.mapped_column(default=True)
    mapping: so.Mapped[dict] = so.mapped_column(JSONB, default=dict)
    dedup_keys: so.Mapped[list] = so.mapped_column(JSONB, default=lambda: ["phone"])
    dedup_scope: so.Mapped[str] = so.mapped_column(sa.String(10), default="campaign")
    strategy: so.Mapped[str] = so.mapped_column(sa.String(10), default="ignore")
    status: so.Mapped[str] = so.mapped_column(sa.String(12), default=ImportStatus.UPLOADED)
    total_rows: so.Mapped[int | None]
    processed_rows: so.Mapped[int] = so.mapped_column(default=0)
    progress: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=0)  # percent of the running phase
    counts: so.Mapped[dict] = so.mapped_column(JSONB, default=dict)
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    rejects_path: so.Mapped[str | None] = so.mapped_column(sa.Text)
    started_at: so.Mapped[dt.datetime | None]
    finished_at: so.Mapped[dt.datetime | None]

    lead_list = so.relationship(LeadList, lazy="joined")


class RecyclePriority(enum.StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class RecycleRule(TenantScoped, Timestamped, Base):
    """L7: leads of this campaign left in ``status`` become dialable again after
    ``delay_minutes``, at most ``max_recycles`` times."""

    __tablename__ = "recycle_rules"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "campaign_id", "status"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    campaign_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    status: so.Mapped[str] = so.mapped_column(sa.String(20))
    delay_minutes: so.Mapped[int] = so.mapped_column(default=60)
    max_recycles: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=3)
    priority: so.Mapped[str] = so.mapped_column(sa.String(8), default=RecyclePriority.NORMAL)
    active: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())

    campaign = so.relationship("Campaign", lazy="joined")


class PrivacySettings(TenantScoped, Base):
    """L8 per tenant: retention, and the anonymised count of erased people."""

    __tablename__ = "privacy_settings"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    lead_retention_months: so.Mapped[int | None]
    erased_people: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    erased_calls: so.Mapped[int] = so.mapped_column(default=0, server_default="0")


class LegalBasis(enum.StrEnum):
    """GDPR art. 6(1) lawful bases."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTEREST = "legitimate_interest"


class ProcessingRegister(TenantScoped, Base):
    """L8 register of processing (GDPR art. 30), tenant level: who the controller
    and the DPO are, and when the product's own activities were written in."""

    __tablename__ = "processing_registers"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    controller_name: so.Mapped[str] = so.mapped_column(sa.String(200), default="", server_default="")
    controller_address: so.Mapped[str] = so.mapped_column(sa.Text, default="", server_default="")
    controller_contact: so.Mapped[str] = so.mapped_column(sa.String(200), default="", server_default="")
    dpo_name: so.Mapped[str] = so.mapped_column(sa.String(200), default="", server_default="")
    dpo_contact: so.Mapped[str] = so.mapped_column(sa.String(200), default="", server_default="")
    # set once the product's activities were added: deleting them later is final
    prefilled_at: so.Mapped[dt.datetime | None]
    updated_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, onupdate=utcnow,
                                                          server_default=sa.func.now())


class ProcessingActivity(TenantScoped, Timestamped, Base):
    """One processing activity of the register (GDPR art. 30(1) b-g)."""

    __tablename__ = "processing_activities"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name"),
        sa.CheckConstraint("legal_basis IN ('consent', 'contract', 'legal_obligation', 'vital_interests', "
                           "'public_task', 'legitimate_interest')", name="legal_basis"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    purpose: so.Mapped[str] = so.mapped_column(sa.Text)
    legal_basis: so.Mapped[str] = so.mapped_column(sa.String(24))
    data_categories: so.Mapped[str] = so.mapped_column(sa.Text)
    data_subjects: so.Mapped[str] = so.mapped_column(sa.Text)
    recipients: so.Mapped[str] = so.mapped_column(sa.Text, default="", server_default="")
    # empty: no transfer outside the EU
    transfers: so.Mapped[str] = so.mapped_column(sa.Text, default="", server_default="")
    transfer_safeguards: so.Mapped[str] = so.mapped_column(sa.Text, default="", server_default="")
    retention: so.Mapped[str] = so.mapped_column(sa.Text)
    security_measures: so.Mapped[str] = so.mapped_column(sa.Text, default="", server_default="")
    # the product activity it was pre-filled from (telephone_prospecting...), or None
    system_key: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    updated_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, onupdate=utcnow,
                                                          server_default=sa.func.now())
