"""Compliance wiring (R2, R3, R6): the database behind ``may_dial`` and the report.

History comes from ``dial_attempts`` (every attempt to a number by this tenant, any
campaign, since D223-9 counts per professional); every refusal is written to
``compliance_blocks`` through ``record_refusal``'s sink.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from app.campaigns.models import Campaign, CampaignStatus, ComplianceBlock, DialAttempt
from app.compliance import (
    ALLOW_ALL_LIMITS,
    REASON_LABELS,
    CallHistory,
    ComplianceWarning,
    Decision,
    Limits,
    Reason,
    RefusalRecord,
    check_campaign_limits,
    check_presented_numbers,
    may_dial,
    record_refusal,
)
from app.core import signals
from app.extensions import Session
from app.leads.models import Lead
from app.leads.redlist import is_blocked

# Longer than the legal 30-day period so a rule with a longer period still sees enough.
HISTORY_WINDOW = dt.timedelta(days=31)


def history_for(phone_number: str, at: dt.datetime) -> CallHistory:
    return histories_for([phone_number], at).get(phone_number, CallHistory())


def histories_for(phone_numbers: Iterable[str], at: dt.datetime) -> dict[str, CallHistory]:
    """Recent attempts and last refusal of many numbers in two queries (a hopper
    refill); numbers never dialled are absent from the result."""
    wanted = set(phone_numbers)
    attempts: dict[str, list[dt.datetime]] = defaultdict(list)
    for phone, when in Session.execute(sa.select(DialAttempt.phone_number, DialAttempt.attempted_at).where(
            DialAttempt.phone_number.in_(wanted), DialAttempt.attempted_at > at - HISTORY_WINDOW,
            DialAttempt.attempted_at <= at).order_by(DialAttempt.attempted_at)):
        attempts[phone].append(when)
    refusals = dict(Session.execute(sa.select(DialAttempt.phone_number, sa.func.max(DialAttempt.attempted_at)).where(
        DialAttempt.phone_number.in_(wanted), DialAttempt.refusal.is_(True), DialAttempt.attempted_at <= at,
    ).group_by(DialAttempt.phone_number)).all())
    return {phone: CallHistory(tuple(attempts.get(phone, ())), refusals.get(phone))
            for phone in set(attempts) | set(refusals)}


def record_attempt(campaign: Campaign, lead: Lead, at: dt.datetime,
                   status: CampaignStatus | None = None) -> DialAttempt:
    """One dial to ``lead``; a NOT_INTERESTED status starts the refusal delay."""
    attempt = DialAttempt(campaign_id=campaign.id, lead_id=lead.id, phone_number=lead.phone_number,
                          attempted_at=at, status_code=status.code if status else None,
                          refusal=bool(status and status.not_interested))
    Session.add(attempt)
    Session.flush()
    return attempt


def log_block(record: RefusalRecord) -> ComplianceBlock:
    """The ``record_refusal`` sink: one row per refused dial."""
    block = ComplianceBlock(campaign_id=record.campaign_id, lead_id=record.lead_id,
                            phone_number=record.phone_number, reason=str(record.reason),
                            blocked_at=record.at, next_allowed_at=record.next_allowed_at)
    Session.add(block)
    Session.flush()
    signals.dial_blocked.send("compliance", tenant_id=record.tenant_id,
                              payload={"campaign_id": record.campaign_id, "blocked_at": record.at.isoformat()})
    return block


@dataclass(frozen=True)
class LeadForCampaign:
    """The lead as the engine sees it for this campaign: a campaign about existing
    contracts makes every lead's call an existing-contract call (opt-in exemption)."""

    lead: Lead
    existing_contract: bool

    def __getattr__(self, name: str) -> object:
        return getattr(self.lead, name)


def lead_for_campaign(lead: Lead, campaign: Campaign) -> LeadForCampaign:
    return LeadForCampaign(lead, bool(lead.existing_contract or campaign.existing_contract))


def check_lead(campaign: Campaign, lead: Lead, at: dt.datetime, limits: Limits = ALLOW_ALL_LIMITS) -> Decision:
    """``may_dial`` with this tenant's history and red lists; a refusal is logged."""
    subject = lead_for_campaign(lead, campaign)
    decision = may_dial(subject, campaign, at, history=history_for(lead.phone_number, at),
                        blocked=is_blocked, limits=limits)
    record_refusal(log_block, subject, campaign, decision, at)
    return decision


def form_warnings(campaign: Campaign, country_code: str | None = "FR") -> list[ComplianceWarning]:
    """What the campaign form shows: limits, hours and presented numbers."""
    return check_campaign_limits(campaign, country_code) + check_presented_numbers(campaign)


@dataclass(frozen=True)
class BlockReport:
    days: list[dt.date]
    reasons: list[Reason]
    counts: dict[tuple[dt.date, Reason], int]
    totals: dict[Reason, int]

    @property
    def top_reasons(self) -> list[Reason]:
        return sorted(self.reasons, key=lambda reason: -self.totals[reason])

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    def label(self, reason: Reason) -> str:
        return str(REASON_LABELS[reason])


def block_report(campaign: Campaign, since: dt.datetime, zone: str = "Europe/Paris") -> BlockReport:
    """Blocks per day (in the tenant's zone) and reason since ``since``."""
    day = sa.func.date(sa.func.timezone(zone, ComplianceBlock.blocked_at))
    rows = Session.execute(sa.select(day, ComplianceBlock.reason, sa.func.count()).where(
        ComplianceBlock.campaign_id == campaign.id, ComplianceBlock.blocked_at >= since,
    ).group_by(day, ComplianceBlock.reason).order_by(day.desc())).all()
    counts: dict[tuple[dt.date, Reason], int] = {}
    totals: dict[Reason, int] = defaultdict(int)
    for when, reason, count in rows:
        counts[(when, Reason(reason))] = count
        totals[Reason(reason)] += count
    days = sorted({when for when, _ in counts}, reverse=True)
    reasons = [reason for reason in Reason if reason in totals]
    return BlockReport(days, reasons, counts, dict(totals))


def recent_blocks(campaign: Campaign, limit: int = 50) -> list[tuple[ComplianceBlock, Lead | None]]:
    stmt = (sa.select(ComplianceBlock, Lead).outerjoin(Lead, Lead.id == ComplianceBlock.lead_id)
            .where(ComplianceBlock.campaign_id == campaign.id)
            .order_by(ComplianceBlock.blocked_at.desc(), ComplianceBlock.id.desc()).limit(limit))
    return [(block, lead) for block, lead in Session.execute(stmt).all()]
