"""Callbacks: time zones, automatic scheduling, due order, transfer, agent lists."""

from __future__ import annotations

import datetime as dt

import pytest

from app.campaigns import callbacks, services
from app.campaigns.models import Campaign
from app.extensions import Session
from app.leads.models import Lead
from tenants.scoping import tenant_scope
from tests.campaigns.conftest import NOW


def _lead(c, **fields) -> Lead:
    lead = Lead(list_id=c.list_id, phone_number="+33612000000", vendor_lead_code="cb", **fields)
    Session.add(lead)
    Session.flush()
    return lead


def test_due_at_is_read_in_the_leads_time_zone(world, camps):
    c = camps["a"]
    with tenant_scope(world.a.id):
        campaign = Session.get(Campaign, c.campaign_id)
        reunion = _lead(c, postal_code="97400")
        callback = callbacks.schedule_callback(reunion, campaign, dt.datetime(2026, 12, 1, 10, 0),
                                               agent_id=None, now=NOW)
        assert callback.timezone == "Indian/Reunion"
        assert callback.due_at == dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)
        assert callback.local_due_at.hour == 10 and callback.shared
        with pytest.raises(services.CampaignError):
            callbacks.schedule_callback(reunion, campaign, dt.datetime(2026, 11, 1, 10, 0), agent_id=None, now=NOW)


def test_callback_status_schedules_automatically(world, camps):
    c = camps["a"]
    agent = world.a.users["agent"]
    with tenant_scope(world.a.id):
        campaign = Session.get(Campaign, c.campaign_id)
        lead = Session.get(Lead, c.lead_id)
        assert callbacks.schedule_callback_from_status(lead, campaign, services.status_by_code(campaign, "VT"),
                                                       agent_id=agent.id, now=NOW) is None
        made = callbacks.schedule_callback_from_status(lead, campaign, services.status_by_code(campaign, "RP"),
                                                       agent_id=agent.id, now=NOW)
        assert (made.agent_id, made.status_code, made.due_at) == (agent.id, "RP", NOW + callbacks.DEFAULT_CALLBACK_DELAY)
        shared = callbacks.schedule_callback_from_status(lead, campaign, services.status_by_code(campaign, "RP"),
                                                         agent_id=agent.id, now=NOW, personal=False,
                                                         local_due=dt.datetime(2026, 12, 2, 15, 0))
        assert shared.agent_id is None and shared.local_due_at.hour == 15


def test_due_callbacks_order_and_limit(world, camps):
    c = camps["a"]
    with tenant_scope(world.a.id):
        campaign = Session.get(Campaign, c.campaign_id)
        other = services.create_campaign("Autre")
        lead = Session.get(Lead, c.lead_id)
        earlier = NOW - dt.timedelta(days=1)

        def make(minutes_before: int, priority: int = 0, target: Campaign = campaign):
            return callbacks.schedule_callback(lead, target, NOW - dt.timedelta(minutes=minutes_before),
                                               agent_id=None, now=earlier, priority=priority)

        old = make(120)
        recent = make(10)
        urgent = make(5, priority=5)
        make(-30)  # not due yet
        make(60, target=other)  # another campaign
        done = make(200)
        callbacks.complete_callback(done, NOW)
        due = callbacks.due_callbacks(campaign.id, NOW, limit=10)
        assert [cb.id for cb in due] == [urgent.id, old.id, recent.id]
        assert [cb.id for cb in callbacks.due_callbacks(campaign.id, NOW, limit=2)] == [urgent.id, old.id]


def test_transfer_and_agent_lists(world, camps):
    c = camps["a"]
    agent, supervisor = world.a.users["agent"], world.a.users["supervisor"]
    with tenant_scope(world.a.id):
        campaign = Session.get(Campaign, c.campaign_id)
        lead = Session.get(Lead, c.lead_id)
        personal = callbacks.schedule_callback(lead, campaign, NOW + dt.timedelta(hours=2), agent_id=agent.id, now=NOW)
        shared = callbacks.schedule_callback(lead, campaign, NOW + dt.timedelta(hours=3), agent_id=None, now=NOW)
        assert [cb.id for cb in callbacks.agent_callbacks(agent.id)] == [personal.id]
        services.set_assignments(campaign, [agent.id], [])
        assert [cb.id for cb in callbacks.agent_callbacks(agent.id)] == [personal.id, shared.id]
        callbacks.transfer_callback(personal, supervisor.id)
        assert [cb.id for cb in callbacks.agent_callbacks(supervisor.id)] == [personal.id]
        with pytest.raises(services.CampaignError):
            callbacks.transfer_callback(personal, world.b.users["agent"].id)
        callbacks.cancel_callback(shared)
        with pytest.raises(services.CampaignError):
            callbacks.transfer_callback(shared, agent.id)


def test_cross_campaign_follow_up(world, camps):
    c = camps["a"]
    with tenant_scope(world.a.id):
        origin = Session.get(Campaign, c.campaign_id)
        follow_up = services.create_campaign("Suivi contrat", {"prospecting": False, "existing_contract": True})
        lead = Session.get(Lead, c.lead_id)
        callback = callbacks.schedule_callback(lead, follow_up, NOW + dt.timedelta(days=2), agent_id=None, now=NOW,
                                               origin_campaign=origin)
        assert (callback.campaign_id, callback.origin_campaign_id) == (follow_up.id, origin.id)
        assert callbacks.campaign_callbacks(follow_up.id)[0].id == callback.id
        assert callbacks.campaign_callbacks(origin.id) == []
