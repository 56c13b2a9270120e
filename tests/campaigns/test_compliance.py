"""Compliance wiring: DB history for may_dial, every refusal logged, the report."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.campaigns import compliance, services
from app.campaigns.models import Campaign, ComplianceBlock
from app.compliance import Reason
from app.extensions import Session
from app.leads.models import Lead
from app.leads.redlist import add_number
from tenants.scoping import tenant_scope
from tests.campaigns.conftest import NOW

CONSENT = {"consent_source": "web form", "consent_at": dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
           "consent_text": "J'accepte d'être appelé", "consent_proof": "ip=203.0.113.7"}


def _setup(world, camps, **lead_fields):
    c = camps["a"]
    campaign = Session.get(Campaign, c.campaign_id)
    lead = Session.get(Lead, c.lead_id)
    for key, value in lead_fields.items():
        setattr(lead, key, value)
    Session.flush()
    return campaign, lead


def _blocks() -> list[str]:
    return list(Session.scalars(sa.select(ComplianceBlock.reason).order_by(ComplianceBlock.id)))


def test_allowed_dial_is_not_logged(world, camps):
    with tenant_scope(world.a.id):
        campaign, lead = _setup(world, camps, **CONSENT)
        assert compliance.check_lead(campaign, lead, NOW).allowed
        assert _blocks() == []


def test_refusals_are_logged_with_their_reason(world, camps):
    with tenant_scope(world.a.id):
        campaign, lead = _setup(world, camps)
        assert compliance.check_lead(campaign, lead, NOW).reason is Reason.CONSENT  # opt-in since Aug 2026
        for key, value in CONSENT.items():
            setattr(lead, key, value)
        saturday = dt.datetime(2026, 12, 5, 10, 30, tzinfo=dt.UTC)
        decision = compliance.check_lead(campaign, lead, saturday)
        assert decision.reason is Reason.WINDOW and decision.next_allowed_at is not None
        for days in (1, 2, 3, 4):
            compliance.record_attempt(campaign, lead, NOW - dt.timedelta(days=days))
        assert compliance.check_lead(campaign, lead, NOW).reason is Reason.ATTEMPTS
        add_number(lead.phone_number, reason="demande client")
        assert compliance.check_lead(campaign, lead, NOW).reason is Reason.RED_LIST
        assert _blocks() == ["consent", "window", "attempts", "red_list"]
        block = Session.scalars(sa.select(ComplianceBlock).where(ComplianceBlock.reason == "window")).one()
        assert (block.campaign_id, block.lead_id, block.phone_number) == (campaign.id, lead.id, lead.phone_number)


def test_refusal_delay_comes_from_a_not_interested_status(world, camps):
    with tenant_scope(world.a.id):
        campaign, lead = _setup(world, camps, **CONSENT)
        refusal = services.status_by_code(campaign, "RF")
        compliance.record_attempt(campaign, lead, NOW - dt.timedelta(days=40), refusal)
        history = compliance.history_for(lead.phone_number, NOW)
        assert history.attempts == () and history.last_refusal_at == NOW - dt.timedelta(days=40)
        decision = compliance.check_lead(campaign, lead, NOW)
        assert decision.reason is Reason.REFUSAL_DELAY
        assert decision.next_allowed_at >= NOW + dt.timedelta(days=20)


def test_existing_contract_campaign_is_exempt_from_opt_in_only(world, camps):
    with tenant_scope(world.a.id):
        campaign, lead = _setup(world, camps)
        campaign.existing_contract = True
        assert compliance.check_lead(campaign, lead, NOW).allowed
        sunday = dt.datetime(2026, 12, 6, 10, 30, tzinfo=dt.UTC)
        assert compliance.check_lead(campaign, lead, sunday).reason is Reason.WINDOW


def test_history_is_per_tenant(world, camps):
    with tenant_scope(world.b.id):
        campaign_b = Session.get(Campaign, camps["b"].campaign_id)
        lead_b = Session.get(Lead, camps["b"].lead_id)
        for days in (1, 2, 3, 4, 5):
            compliance.record_attempt(campaign_b, lead_b, NOW - dt.timedelta(days=days))
        Session.commit()
    with tenant_scope(world.a.id):
        assert compliance.history_for("+33612345678", NOW).attempts == ()


def test_block_report_by_day_and_reason(world, camps):
    with tenant_scope(world.a.id):
        campaign, lead = _setup(world, camps)
        compliance.check_lead(campaign, lead, NOW)
        compliance.check_lead(campaign, lead, NOW + dt.timedelta(minutes=5))
        compliance.check_lead(campaign, lead, NOW - dt.timedelta(days=1))
        report = compliance.block_report(campaign, NOW - dt.timedelta(days=30))
        assert report.days == [dt.date(2026, 11, 30), dt.date(2026, 11, 29)]
        assert report.counts[(dt.date(2026, 11, 30), Reason.CONSENT)] == 2
        assert report.totals == {Reason.CONSENT: 3} and report.total == 3
        assert [block.reason for block, _ in compliance.recent_blocks(campaign)] == ["consent"] * 3


def test_form_warnings_for_numbers_and_limits(world, camps):
    with tenant_scope(world.a.id):
        campaign, _ = _setup(world, camps)
        campaign.caller_id = "+33612345678"
        campaign.dial_mode = "AUTOMATIQUE1"
        campaign.attempt_limit = 6
        campaign.hours_data = {"5": [["09:00", "12:00"]]}
        codes = {w.code for w in compliance.form_warnings(campaign)}
        assert {"mobile", "attempt_limit_above_legal", "hours_exceed_legal"} <= codes


def test_histories_for_many_numbers_at_once(world, camps):
    with tenant_scope(world.a.id):
        campaign, lead = _setup(world, camps)
        refusal = services.status_by_code(campaign, "RF")
        compliance.record_attempt(campaign, lead, NOW - dt.timedelta(days=2))
        compliance.record_attempt(campaign, lead, NOW - dt.timedelta(days=1), refusal)
        compliance.record_attempt(campaign, lead, NOW + dt.timedelta(days=1))  # after "now": ignored
        histories = compliance.histories_for([lead.phone_number, "+33100000000"], NOW)
        assert list(histories) == [lead.phone_number]
        history = histories[lead.phone_number]
        assert history.attempts == (NOW - dt.timedelta(days=2), NOW - dt.timedelta(days=1))
        assert history.last_refusal_at == NOW - dt.timedelta(days=1)
        assert compliance.history_for("+33100000000", NOW).attempts == ()
