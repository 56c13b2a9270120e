"""Lists and leads: creation, filtering, bulk actions, directory search, edits and
the contact timeline (spec L1, L4, L5). Functions flush; the edge commits."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields

import sqlalchemy as sa

from app.campaigns.models import Campaign
from app.db import utcnow
from app.extensions import Session
from app.leads.models import (
    CustomField,
    CustomFieldKind,
    ImportJob,
    Lead,
    LeadList,
    LeadListCount,
    LeadStatus,
    RecyclePriority,
    RecycleRule,
    TimelineEvent,
)
from app.leads.phones import normalize_phone

PAGE_SIZE = 50
EXPORT_COLUMNS = ("id", "list_id", "status", "first_name", "last_name", "company", "phone_number", "alt_phone",
                  "email", "address1", "address2", "address3", "postal_code", "city", "state", "province",
                  "country_code", "comments", "vendor_lead_code", "user_aff", "attempts", "last_attempt_at",
                  "next_attempt_at", "consent_source", "consent_at", "created_at")
EDITABLE_FIELDS = ("first_name", "last_name", "company", "phone_number", "alt_phone", "email", "address1",
                   "address2", "address3", "postal_code", "city", "state", "province", "country_code",
                   "comments", "consent_source", "consent_text", "consent_proof")


class LeadRuleError(ValueError):
    """A change breaks a rule; ``code`` selects the message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def generate_vendor_lead_code() -> str:
    """External code for a lead created without one (same shape as the import's)."""
    return f"EXT-{int(time.time() * 1000)}-{secrets.token_hex(4)}"


# --------------------------------------------------------------------------- campaigns and lists


def fold_list_counts() -> int:
    """Folds the current tenant's count deltas into one row per list; returns the
    number of rows there were. Safe beside concurrent writers: rows appended after
    this statement's snapshot stay for the next run."""
    return Session.execute(sa.text("""
        WITH folded AS (DELETE FROM lead_list_counts RETURNING tenant_id, list_id, delta),
             summed AS (INSERT INTO lead_list_counts (tenant_id, list_id, delta)
                        SELECT tenant_id, list_id, sum(delta) FROM folded GROUP BY tenant_id, list_id
                        HAVING sum(delta) <> 0)
        SELECT count(*) FROM folded""")).scalar_one()


def list_campaigns() -> list[Campaign]:
    return list(Session.scalars(sa.select(Campaign).order_by(Campaign.name)))


def create_campaign(name: str) -> Campaign:
    name = name.strip()
    if Session.scalar(sa.select(Campaign.id).where(Campaign.name == name)) is not None:
        raise LeadRuleError("campaign_exists")
    campaign = Campaign(name=name)
    Session.add(campaign)
    Session.flush()
    return campaign


def create_list(campaign: Campaign, name: str) -> LeadList:
    lead_list = LeadList(campaign_id=campaign.id, name=name.strip())
    Session.add(lead_list)
    Session.flush()
    return lead_list


def set_list_active(lead_list: LeadList, active: bool) -> None:
    lead_list.active = active
    Session.flush()


def all_lists() -> list[LeadList]:
    return list(Session.scalars(sa.select(LeadList).join(LeadList.campaign).order_by(Campaign.name, LeadList.name)))


def recent_imports(lead_list: LeadList, limit: int = 5) -> list[ImportJob]:
    return list(Session.scalars(sa.select(ImportJob).where(ImportJob.list_id == lead_list.id)
                                .order_by(ImportJob.id.desc()).limit(limit)))


def lists_with_counts() -> list[tuple[LeadList, int]]:
    """Every list with its number of leads, read from the deltas the triggers keep
    (a few rows per list), never by counting the leads themselves."""
    counts = {list_id: int(total) for list_id, total in Session.execute(
        sa.select(LeadListCount.list_id, sa.func.sum(LeadListCount.delta)).group_by(LeadListCount.list_id))}
    lists = Session.scalars(sa.select(LeadList).join(LeadList.campaign).order_by(Campaign.name, LeadList.name))
    return [(item, counts.get(item.id, 0)) for item in lists]


# --------------------------------------------------------------------------- filters (L4)


@dataclass
class LeadFilter:
    status: str = ""
    attempts_min: int | None = None
    attempts_max: int | None = None
    called_from: dt.date | None = None
    called_to: dt.date | None = None
    agent_id: int | None = None
    postal_code: str = ""
    custom_key: str = ""
    custom_value: str = ""

    @classmethod
    def from_args(cls, args: dict[str, str]) -> LeadFilter:
        def number(name: str) -> int | None:
            value = (args.get(name) or "").strip()
            return int(value) if value.isdigit() else None

        def date(name: str) -> dt.date | None:
            try:
                return dt.date.fromisoformat((args.get(name) or "").strip())
            except ValueError:
                return None

        return cls(status=(args.get("status") or "").strip().upper(), attempts_min=number("attempts_min"),
                   attempts_max=number("attempts_max"), called_from=date("called_from"), called_to=date("called_to"),
                   agent_id=number("agent_id"), postal_code=(args.get("postal_code") or "").strip(),
                   custom_key=(args.get("custom_key") or "").strip(),
                   custom_value=(args.get("custom_value") or "").strip())

    def as_args(self) -> dict[str, str]:
        out = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value not in (None, ""):
                out[item.name] = value.isoformat() if isinstance(value, dt.date) else str(value)
        return out

    def apply(self, stmt: sa.Select) -> sa.Select:
        if self.status:
            stmt = stmt.where(Lead.status == self.status)
        if self.attempts_min is not None:
            stmt = stmt.where(Lead.attempts >= self.attempts_min)
        if self.attempts_max is not None:
            stmt = stmt.where(Lead.attempts <= self.attempts_max)
        if self.called_from is not None:
            stmt = stmt.where(Lead.last_attempt_at >= dt.datetime.combine(self.called_from, dt.time(), dt.UTC))
        if self.called_to is not None:
            end = dt.datetime.combine(self.called_to + dt.timedelta(days=1), dt.time(), dt.UTC)
            stmt = stmt.where(Lead.last_attempt_at < end)
        if self.agent_id is not None:
            stmt = stmt.where(Lead.user_aff == self.agent_id)
        if self.postal_code:
            stmt = stmt.where(Lead.postal_code.startswith(self.postal_code, autoescape=True))
        if self.custom_key:
            if self.custom_value:
                stmt = stmt.where(Lead.custom[self.custom_key].astext == self.custom_value)
            else:
                stmt = stmt.where(Lead.custom.has_key(self.custom_key))
        return stmt


def filtered_ids(list_id: int, lead_filter: LeadFilter) -> sa.Select:
    return lead_filter.apply(sa.select(Lead.id).where(Lead.list_id == list_id))


@dataclass
class Page:
    items: list[Lead]
    next_after: int | None
    prev_before: int | None = None
    extra: dict[str, object] = field(default_factory=dict)


def page_of(stmt: sa.Select, *, after: int | None = None, before: int | None = None,
            size: int = PAGE_SIZE) -> Page:
    """Keyset pagination on the lead id: constant cost whatever the page."""
    if before is not None:
        rows = list(Session.scalars(stmt.where(Lead.id < before).order_by(Lead.id.desc()).limit(size + 1)))
        has_more = len(rows) > size
        rows = list(reversed(rows[:size]))
        return Page(rows, rows[-1].id if rows else None, rows[0].id if rows and has_more else None)
    if after is not None:
        stmt = stmt.where(Lead.id > after)
    rows = list(Session.scalars(stmt.order_by(Lead.id).limit(size + 1)))
    has_next = len(rows) > size
    rows = rows[:size]
    return Page(rows, rows[-1].id if has_next and rows else None, rows[0].id if rows and after else None)


def list_page(list_id: int, lead_filter: LeadFilter, *, after: int | None = None,
              before: int | None = None) -> Page:
    return page_of(lead_filter.apply(sa.select(Lead).where(Lead.list_id == list_id)), after=after, before=before)


# --------------------------------------------------------------------------- bulk actions (L4)


def _targets(list_id: int, lead_filter: LeadFilter, ids: Sequence[int] | None) -> sa.Select:
    stmt = filtered_ids(list_id, lead_filter)
    if ids is not None:
        stmt = stmt.where(Lead.id.in_(list(ids)))
    return stmt


def move_leads(list_id: int, lead_filter: LeadFilter, ids: Sequence[int] | None, target: LeadList) -> int:
    stmt = sa.update(Lead).where(Lead.id.in_(_targets(list_id, lead_filter, ids))).values(
        list_id=target.id, updated_at=utcnow())
    return Session.execute(stmt, execution_options={"synchronize_session": False}).rowcount


def reset_leads(list_id: int, lead_filter: LeadFilter, ids: Sequence[int] | None) -> int:
    """Back to a fresh lead: status NEW, no attempt, dialable now (DNC leads stay DNC)."""
    stmt = sa.update(Lead).where(Lead.id.in_(_targets(list_id, lead_filter, ids)),
                                 Lead.status.notin_([LeadStatus.DNC, LeadStatus.ERASED])).values(
        status=LeadStatus.NEW, attempts=0, recycles=0, last_attempt_at=None, next_attempt_at=None,
        updated_at=utcnow())
    return Session.execute(stmt, execution_options={"synchronize_session": False}).rowcount


def assign_leads(list_id: int, lead_filter: LeadFilter, ids: Sequence[int] | None, agent_id: int | None) -> int:
    stmt = sa.update(Lead).where(Lead.id.in_(_targets(list_id, lead_filter, ids))).values(
        user_aff=agent_id, updated_at=utcnow())
    return Session.execute(stmt, execution_options={"synchronize_session": False}).rowcount


def delete_leads(list_id: int, lead_filter: LeadFilter, ids: Sequence[int] | None) -> int:
    stmt = sa.delete(Lead).where(Lead.id.in_(_targets(list_id, lead_filter, ids)))
    return Session.execute(stmt, execution_options={"synchronize_session": False}).rowcount


def export_rows(list_id: int, lead_filter: LeadFilter, ids: Sequence[int] | None = None) -> Iterator[list[object]]:
    """Header, then one row per lead, streamed in id order."""
    yield [*EXPORT_COLUMNS, "custom"]
    stmt = lead_filter.apply(sa.select(Lead).where(Lead.list_id == list_id)).order_by(Lead.id)
    if ids is not None:
        stmt = stmt.where(Lead.id.in_(list(ids)))
    for lead in Session.scalars(stmt.execution_options(yield_per=2000)):
        yield lead_row(lead)


def lead_row(lead: Lead) -> list[object]:
    row: list[object] = []
    for name in EXPORT_COLUMNS:
        value = getattr(lead, name)
        row.append(value.isoformat() if isinstance(value, dt.datetime) else value)
    row.append(json.dumps(lead.custom, ensure_ascii=False) if lead.custom else "")
    return row


# --------------------------------------------------------------------------- directory (L5)


def starts_with(column: sa.ColumnElement[str], prefix: str) -> sa.ColumnElement[bool]:
    """``column`` starts with ``prefix`` (both lower-case), written as a byte-order
    range with the text_pattern_ops operators: unlike LIKE they are leakproof, so
    PostgreSQL can use the index under row-level security."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return sa.and_(column.op("~>=~")(prefix), column.op("~<~")(upper))


def _name_condition(text: str) -> sa.ColumnElement[bool]:
    """Name or company search, each branch matching an index (``ix_leads_tenant_name``
    leads with the last name, ``ix_leads_tenant_company`` is partial): one word is a
    last-name or company prefix; two words are a last name and a first-name prefix,
    in either order."""
    text = text.lower()
    words = text.split()
    branches = [sa.and_(Lead.company_key.is_not(None), starts_with(Lead.company_key, text))]
    if len(words) == 2:
        a, b = words
        branches += [sa.and_(Lead.last_name_key == a, starts_with(Lead.first_name_key, b)),
                     sa.and_(Lead.last_name_key == b, starts_with(Lead.first_name_key, a))]
    else:
        branches.append(starts_with(Lead.last_name_key, text))
    return sa.or_(*branches)


@dataclass
class DirectoryQuery:
    text: str = ""
    status: str = ""
    campaign_id: int | None = None
    called_from: dt.date | None = None
    called_to: dt.date | None = None
    agent_id: int | None = None

    @classmethod
    def from_args(cls, args: dict[str, str]) -> DirectoryQuery:
        dates = LeadFilter.from_args(args)  # the same date and agent parsing as the lists screen
        campaign = (args.get("campaign_id") or "").strip()
        return cls(text=args.get("q") or "", status=args.get("status") or "",
                   campaign_id=int(campaign) if campaign.isdigit() else None, called_from=dates.called_from,
                   called_to=dates.called_to, agent_id=dates.agent_id)

    def as_args(self) -> dict[str, str]:
        values = {"q": self.text, "status": self.status, "campaign_id": self.campaign_id,
                  "called_from": self.called_from, "called_to": self.called_to, "agent_id": self.agent_id}
        return {k: v.isoformat() if isinstance(v, dt.date) else str(v) for k, v in values.items() if v}

    def apply(self, stmt: sa.Select, region: str) -> sa.Select:
        text = self.text.strip()
        if text:
            digits = sum(ch.isdigit() for ch in text)
            phone = normalize_phone(text, region).e164 if digits >= 6 and not re.search(r"[a-zA-Z@]", text) else None
            if phone:
                stmt = stmt.where(sa.or_(Lead.phone_number == phone, Lead.alt_phone == phone))
            elif "@" in text:
                stmt = stmt.where(Lead.email_key == text.lower())
            else:
                stmt = stmt.where(_name_condition(text))
        if self.status:
            stmt = stmt.where(Lead.status == self.status.upper())
        if self.campaign_id:
            stmt = stmt.where(Lead.list_id.in_(sa.select(LeadList.id).where(LeadList.campaign_id == self.campaign_id)))
        return LeadFilter(called_from=self.called_from, called_to=self.called_to, agent_id=self.agent_id).apply(stmt)


def search_contacts(query: DirectoryQuery, region: str, *, after: int | None = None,
                    before: int | None = None) -> Page:
    return page_of(query.apply(sa.select(Lead), region), after=after, before=before)


def search_rows(query: DirectoryQuery, region: str) -> Iterator[list[object]]:
    """The directory's results for export (L5), header first, streamed."""
    yield [*EXPORT_COLUMNS, "custom"]
    stmt = query.apply(sa.select(Lead), region).order_by(Lead.id).execution_options(yield_per=2000)
    for lead in Session.scalars(stmt):
        yield lead_row(lead)


# --------------------------------------------------------------------------- one lead


def add_timeline(lead: Lead, kind: str, summary: str, *, user_id: int | None = None,
                 data: dict | None = None, occurred_at: dt.datetime | None = None) -> TimelineEvent:
    """Contact history entry; other features (calls, emails, tickets) call this."""
    event = TimelineEvent(lead_id=lead.id, kind=kind, summary=summary, user_id=user_id, data=data or {},
                          occurred_at=occurred_at or utcnow())
    Session.add(event)
    Session.flush()
    return event


def timeline(lead: Lead, limit: int = 200) -> list[TimelineEvent]:
    return list(Session.scalars(sa.select(TimelineEvent).where(TimelineEvent.lead_id == lead.id)
                                .order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc()).limit(limit)))


def create_lead(lead_list: LeadList, values: dict[str, str | None], *, region: str = "FR",
                user_id: int | None = None) -> Lead:
    lead = Lead(list_id=lead_list.id, vendor_lead_code=values.get("vendor_lead_code") or generate_vendor_lead_code(),
                custom={})
    _assign(lead, values, region)
    Session.add(lead)
    Session.flush()
    add_timeline(lead, "created", "", user_id=user_id)
    return lead


def _assign(lead: Lead, values: dict[str, str | None], region: str) -> dict[str, tuple[object, object]]:
    changes: dict[str, tuple[object, object]] = {}
    for name in EDITABLE_FIELDS:
        if name not in values:
            continue
        value = (values[name] or "").strip() or None
        if name in ("phone_number", "alt_phone") and value is not None:
            parsed = normalize_phone(value, lead.country_code or region)
            if parsed.e164 is None:
                raise LeadRuleError(f"{name}:{parsed.reason}")
            value = parsed.e164
        if name == "phone_number" and value is None:
            raise LeadRuleError("phone_number:empty")
        if name == "email" and value is not None:
            value = value.lower()
        if name == "country_code":
            value = (value or "FR").upper()[:2]
        old = getattr(lead, name)
        if old != value:
            changes[name] = (old, value)
            setattr(lead, name, value)
    return changes


def _assign_custom(lead: Lead, values: dict[str, str]) -> dict[str, tuple[object, object]]:
    from app.leads.imports import custom_value

    definitions = {c.key: c for c in Session.scalars(sa.select(CustomField))}
    custom = dict(lead.custom or {})
    changes: dict[str, tuple[object, object]] = {}
    for key, raw in values.items():
        definition = definitions.get(key)
        if definition is None:
            continue
        text = (raw or "").strip()
        if text:
            value, problem = custom_value(definition, text)
            if problem:
                raise LeadRuleError(problem)
        elif definition.required:
            raise LeadRuleError(f"missing:{key}")
        else:
            value = None
        if custom.get(key) != value:
            changes[f"custom.{key}"] = (custom.get(key), value)
            if value is None:
                custom.pop(key, None)
            else:
                custom[key] = value
    if changes:
        lead.custom = custom
    return changes


def update_lead(lead: Lead, values: dict[str, str | None], *, region: str = "FR",
                user_id: int | None = None, custom: dict[str, str] | None = None) -> dict[str, tuple[object, object]]:
    """Quick edit and GDPR rectification; the change is kept in the timeline."""
    changes = _assign(lead, values, region)
    changes.update(_assign_custom(lead, custom or {}))
    if changes:
        lead.updated_at = utcnow()
        add_timeline(lead, "edited", ", ".join(sorted(changes)), user_id=user_id,
                     data={"fields": sorted(changes)})
    Session.flush()
    return changes


# --------------------------------------------------------------------------- custom fields (L1)

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def create_custom_field(key: str, label: str, kind: str, choices: Sequence[str] = (),
                        required: bool = False) -> CustomField:
    key = key.strip().lower()
    if not _KEY.match(key):
        raise LeadRuleError("field_key")
    if kind not in {k.value for k in CustomFieldKind}:
        raise LeadRuleError("field_kind")
    if Session.scalar(sa.select(CustomField.id).where(CustomField.key == key)) is not None:
        raise LeadRuleError("field_exists")
    cleaned = [c.strip() for c in choices if c.strip()]
    if kind == CustomFieldKind.CHOICE and not cleaned:
        raise LeadRuleError("field_choices")
    position = (Session.scalar(sa.select(sa.func.max(CustomField.position))) or 0) + 1
    field_def = CustomField(key=key, label=label.strip() or key, kind=kind, required=required,
                            choices=cleaned if kind == CustomFieldKind.CHOICE else [], position=position)
    Session.add(field_def)
    Session.flush()
    return field_def


def delete_custom_field(field_def: CustomField) -> None:
    """The definition goes; values already stored in leads stay in ``custom``."""
    Session.delete(field_def)
    Session.flush()


# --------------------------------------------------------------------------- recycling rules (L7)

# The delays offered on the screen (minutes); any other value is a custom delay.
RECYCLE_DELAYS = (60, 360, 720, 1440, 2880, 10080)
RECYCLE_MAX_MINUTES = 90 * 24 * 60


def recycle_rules() -> list[RecycleRule]:
    return list(Session.scalars(sa.select(RecycleRule).join(Campaign, Campaign.id == RecycleRule.campaign_id)
                                .order_by(Campaign.name, RecycleRule.status)))


def campaign_status_codes(campaign: Campaign) -> list[str]:
    from app.campaigns.models import CampaignStatus

    return list(Session.scalars(sa.select(CampaignStatus.code).where(CampaignStatus.campaign_id == campaign.id)
                                .order_by(CampaignStatus.position, CampaignStatus.code)))


def save_recycle_rule(campaign: Campaign, status: str, delay_minutes: int | None, max_recycles: int | None,
                      priority: str) -> RecycleRule:
    """Creates the campaign's rule for ``status``, or changes it if there is one."""
    status = status.strip().upper()
    if status not in campaign_status_codes(campaign):
        raise LeadRuleError("recycle_status")
    if delay_minutes is None or not 1 <= delay_minutes <= RECYCLE_MAX_MINUTES:
        raise LeadRuleError("recycle_delay")
    if max_recycles is None or not 1 <= max_recycles <= 10:
        raise LeadRuleError("recycle_max")
    if priority not in {p.value for p in RecyclePriority}:
        raise LeadRuleError("recycle_priority")
    rule = Session.scalar(sa.select(RecycleRule).where(RecycleRule.campaign_id == campaign.id,
                                                       RecycleRule.status == status))
    if rule is None:
        rule = RecycleRule(campaign_id=campaign.id, status=status)
        Session.add(rule)
    rule.delay_minutes = delay_minutes
    rule.max_recycles = max_recycles
    rule.priority = priority
    rule.active = True
    Session.flush()
    return rule


def set_recycle_rule_active(rule: RecycleRule, active: bool) -> None:
    rule.active = active
    Session.flush()


def delete_recycle_rule(rule: RecycleRule) -> None:
    Session.delete(rule)
    Session.flush()
