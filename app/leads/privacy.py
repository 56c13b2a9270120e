"""GDPR (spec L8) and recycling (L7): one person's data, erasure, opposition,
retention purge, and the recycling rules applied by a periodic job.

A "person" is every lead of the tenant with the same phone number or email as the
lead the request started from: the same consumer is often in several lists."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from blinker import Namespace

from app.db import utcnow
from app.extensions import Session
from app.leads import redlist
from app.leads.models import (
    Lead,
    LeadList,
    LeadStatus,
    PrivacySettings,
    RecyclePriority,
    RecycleRule,
    TimelineEvent,
)
from app.leads.services import EXPORT_COLUMNS, add_timeline

signals = Namespace()
# Sent before a person's leads are deleted, with the tenant id, the lead ids and the
# phone numbers: the recordings feature removes their recordings (L8).
person_erased = signals.signal("person-erased")

PRIORITY_VALUES = {RecyclePriority.HIGH: 10, RecyclePriority.NORMAL: 0, RecyclePriority.LOW: -10}


def same_person(lead: Lead) -> sa.Select:
    conditions = [Lead.phone_number == lead.phone_number]
    if lead.email:
        conditions.append(Lead.email_key == lead.email.lower())
    return sa.select(Lead).where(sa.or_(*conditions)).order_by(Lead.id)


def person_data(lead: Lead) -> dict[str, Any]:
    """Everything held about the person (access and portability)."""
    leads = list(Session.scalars(same_person(lead)))
    ids = [item.id for item in leads]
    events = list(Session.scalars(sa.select(TimelineEvent).where(TimelineEvent.lead_id.in_(ids))
                                  .order_by(TimelineEvent.occurred_at)))
    return {
        "exported_at": utcnow().isoformat(),
        "records": [_lead_dict(item) for item in leads],
        "history": [{"lead_id": e.lead_id, "kind": e.kind, "occurred_at": e.occurred_at.isoformat(),
                     "summary": e.summary, "data": e.data} for e in events],
    }


def _lead_dict(lead: Lead) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in (*EXPORT_COLUMNS, "consent_text", "consent_proof"):
        value = getattr(lead, name)
        out[name] = value.isoformat() if isinstance(value, dt.datetime) else value
    out["custom"] = lead.custom
    out["list"] = lead.lead_list.name
    out["campaign"] = lead.lead_list.campaign.name
    return out


def as_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def as_rows(data: dict[str, Any]) -> Iterator[list[object]]:
    """CSV form: one section of records, then one of history."""
    records = data["records"]
    if records:
        columns = list(records[0])
        yield ["record", *columns]
        for record in records:
            yield ["record", *(json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v
                               for v in record.values())]
    yield ["history", "lead_id", "kind", "occurred_at", "summary", "data"]
    for event in data["history"]:
        yield ["history", event["lead_id"], event["kind"], event["occurred_at"], event["summary"],
               json.dumps(event["data"], ensure_ascii=False)]


def settings() -> PrivacySettings:
    current = Session.scalar(sa.select(PrivacySettings))
    if current is None:
        current = PrivacySettings()
        Session.add(current)
        Session.flush()
    return current


def erase_person(lead: Lead, *, user_id: int | None = None) -> int:
    """Deletes every lead of the person and their history; only anonymised counts
    remain (people erased, calls they had)."""
    leads = list(Session.scalars(same_person(lead)))
    ids = [item.id for item in leads]
    calls = Session.scalar(sa.select(sa.func.count()).select_from(TimelineEvent)
                           .where(TimelineEvent.lead_id.in_(ids), TimelineEvent.kind == "call")) or 0
    person_erased.send(lead.tenant_id, lead_ids=ids, phones=sorted({item.phone_number for item in leads}))
    Session.execute(sa.delete(Lead).where(Lead.id.in_(ids)), execution_options={"synchronize_session": False})
    record = settings()
    record.erased_people += 1
    record.erased_calls += calls
    Session.flush()
    return len(ids)


def record_opposition(lead: Lead, *, user_id: int | None = None) -> None:
    """The person objects: tenant-wide red list, and their leads leave the dialer."""
    redlist.add_number(lead.phone_number, reason="opposition RGPD", added_by=user_id, region=lead.country_code)
    for item in Session.scalars(same_person(lead)):
        item.status = LeadStatus.DNC
        add_timeline(item, "opposition", "", user_id=user_id)
    Session.flush()


def set_retention(months: int | None) -> None:
    settings().lead_retention_months = months
    Session.flush()


def purge_expired(now: dt.datetime | None = None) -> int:
    """Deletes the current tenant's leads untouched for longer than its retention
    period (last attempt or last change); idempotent."""
    record = Session.scalar(sa.select(PrivacySettings))
    if record is None or not record.lead_retention_months:
        return 0
    limit = (now or utcnow()) - dt.timedelta(days=30 * record.lead_retention_months)
    last_touch = sa.func.greatest(Lead.updated_at, sa.func.coalesce(Lead.last_attempt_at, Lead.created_at))
    result = Session.execute(sa.delete(Lead).where(last_touch < limit),
                             execution_options={"synchronize_session": False})
    return result.rowcount


def apply_recycling(now: dt.datetime | None = None) -> int:
    """L7: leads left in a rule's status become dialable again ``delay`` after their
    last attempt, at most ``max_recycles`` times. A lead already scheduled after its
    last attempt is skipped, so running twice changes nothing."""
    moment = now or utcnow()
    total = 0
    rules = Session.scalars(sa.select(RecycleRule).where(RecycleRule.active.is_(True)))
    for rule in rules:
        lists = sa.select(LeadList.id).where(LeadList.campaign_id == rule.campaign_id)
        due = Lead.last_attempt_at + sa.func.make_interval(0, 0, 0, 0, 0, rule.delay_minutes)
        stmt = (sa.update(Lead)
                .where(Lead.list_id.in_(lists), Lead.status == rule.status, Lead.recycles < rule.max_recycles,
                       Lead.last_attempt_at.is_not(None), Lead.last_attempt_at <= moment,
                       sa.or_(Lead.next_attempt_at.is_(None), Lead.next_attempt_at <= Lead.last_attempt_at))
                .values(next_attempt_at=due, recycles=Lead.recycles + 1,
                        priority=PRIORITY_VALUES.get(RecyclePriority(rule.priority), 0)))
        total += Session.execute(stmt, execution_options={"synchronize_session": False}).rowcount
    return total
