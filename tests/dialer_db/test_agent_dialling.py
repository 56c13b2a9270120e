"""MANUEL / PREVIEW calls, transfers and the wrap-up timer through the dialer service
(real PostgreSQL and Redis, the simulated backend with customers who always answer)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time

import pytest
import sqlalchemy as sa

from app.calls.models import Call
from app.campaigns.models import Campaign, ComplianceBlock
from app.extensions import Session
from app.leads.models import Lead
from app.realtime import bus
from telephony.dialer import backends as dialer_backends
from tenants.scoping import tenant_scope
from tests.dialer_db.conftest import make_campaign, released
from tests.dialer_db.test_live_agents import _clear_bus, _join, _real_agent_service, _wait_for
from tests.dialer_db.test_service import FakeClock, _run


@pytest.fixture(autouse=True)
def answering_customers(monkeypatch):
    profile = dataclasses.replace(dialer_backends.DEMO_PROFILE, human=1.0, machine=0.0, busy_invalid=0.0,
                                  pickup_ring_mean_s=3.0, pickup_ring_sd_s=0.5, talk_mean_s=600.0, talk_cv=0.1)
    monkeypatch.setattr(dialer_backends, "DEMO_PROFILE", profile)
    _clear_bus()
    yield
    _clear_bus()


@dataclasses.dataclass(frozen=True)
class _Ref:
    """A campaign's id, kept apart from the session (a rollback expires the row)."""

    id: int


def _lead_ids(tenant_id: int, campaign_id: int) -> list[int]:
    with tenant_scope(tenant_id):
        ids = list(Session.scalars(sa.select(Lead.id).order_by(Lead.id)))
        Session.rollback()
    return ids


def _call(tenant_id: int, call_id: str) -> Call:
    with tenant_scope(tenant_id):
        call = Session.scalars(sa.select(Call).where(Call.id == sa.cast(call_id, sa.Uuid))).one()
        Session.expunge(call)
        Session.rollback()
    return call


def _beat(service, clock, tenant_id, agent_ids, seconds):
    for _ in range(int(seconds)):
        for agent_id in agent_ids:
            bus.mark_alive(tenant_id, agent_id)
        _run(service, clock, 1)


def test_a_manual_campaign_dials_only_what_the_agent_asks_and_bridges_it_to_them(world):
    agent = _Ref(world.a.users["agent"].id)
    campaign = make_campaign(world.a.id, "Manuel", leads=5, dial_mode="MANUEL")
    campaign = _Ref(campaign.id)
    clock = FakeClock()
    service = _real_agent_service(clock, world.a.id)
    lead_id = _lead_ids(world.a.id, campaign.id)[2]
    with released(service):
        _join(service, clock, world.a.id, campaign.id, agent.id)
        assert campaign.id in service.held, "MANUEL campaigns are driven too"
        _beat(service, clock, world.a.id, [agent.id], 20)
        assert bus.all_campaigns(world.a.id)[campaign.id]["dials"] == "0"  # nothing dialled by itself
        bus.send_command(bus.AgentCommand("dial", world.a.id, campaign.id, agent.id, lead_id=lead_id))
        _run(service, clock, 0.5)
        ringing = bus.agent_state(world.a.id, agent.id)
        assert (ringing["state"], ringing["lead_id"], ringing["dialled"]) == ("ringing", str(lead_id), "1")
        in_call = _wait_for(service, clock, agent.id, world.a.id, "in_call", limit=clock.t + 30)
        assert in_call["call_id"] == ringing["call_id"]
        bus.send_command(bus.AgentCommand("hangup", world.a.id, campaign.id, agent.id))
        _wait_for(service, clock, agent.id, world.a.id, "wrap_up", limit=clock.t + 10)
        bus.send_command(bus.AgentCommand("disposition", world.a.id, campaign.id, agent.id, status="VT",
                                          call_id=in_call["call_id"]))
        _beat(service, clock, world.a.id, [agent.id], 2)
    call = _call(world.a.id, in_call["call_id"])
    assert (call.lead_id, call.agent_id, call.disposition, call.abandoned) == (lead_id, agent.id, "VT", False)
    assert {"dialling", "answered", "bridged", "wrap_up", "dispositioned"} <= set(call.times)


def test_a_lead_refused_by_compliance_at_dial_time_is_not_dialled_and_the_agent_is_told(world):
    agent = _Ref(world.a.users["agent"].id)
    tenant_b = world.b.id
    other = make_campaign(tenant_b, "Autre", leads=1)
    b_lead = _lead_ids(tenant_b, other.id)[0]
    campaign = make_campaign(world.a.id, "Manuel refus", leads=2, dial_mode="MANUEL")
    campaign = _Ref(campaign.id)
    lead_id = _lead_ids(world.a.id, campaign.id)[0]
    with tenant_scope(world.a.id):
        Session.get(Lead, lead_id).consent_at = None  # prospecting without a provable consent
        Session.commit()
    clock = FakeClock()
    service = _real_agent_service(clock, world.a.id)
    from app.extensions import redis

    events = redis().pubsub(ignore_subscribe_messages=True)
    events.subscribe(bus.events_channel(world.a.id))
    with released(service):
        _join(service, clock, world.a.id, campaign.id, agent.id)
        bus.send_command(bus.AgentCommand("dial", world.a.id, campaign.id, agent.id, lead_id=lead_id))
        # another tenant's lead id, named by a forged command, is never found
        bus.send_command(bus.AgentCommand("dial", world.a.id, campaign.id, agent.id, lead_id=b_lead))
        _run(service, clock, 0.5)
        assert bus.agent_state(world.a.id, agent.id)["state"] == "ready"
    refusals = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        raw = events.get_message(timeout=0.1)
        if raw is not None and json.loads(raw["data"]).get("type") == "refused":
            refusals.append(json.loads(raw["data"]))
    events.close()
    assert [(r["command"], r["reason_code"]) for r in refusals] == [("dial", "consent"), ("dial", "closed")]
    with tenant_scope(world.a.id):
        assert Session.scalars(sa.select(Call)).all() == []
        assert Session.scalars(sa.select(ComplianceBlock.lead_id)).all() == [lead_id]
        Session.rollback()


def test_cold_transfer_to_another_agent_is_kept_in_the_cdr(world):
    agent, other = _Ref(world.a.users["agent"].id), _Ref(world.a.users["supervisor"].id)
    campaign = make_campaign(world.a.id, "Transfert", leads=3, dial_mode="MANUEL")
    campaign = _Ref(campaign.id)
    clock = FakeClock()
    service = _real_agent_service(clock, world.a.id)
    with released(service):
        _join(service, clock, world.a.id, campaign.id, agent.id)
        _join(service, clock, world.a.id, campaign.id, other.id)
        bus.send_command(bus.AgentCommand("dial", world.a.id, campaign.id, agent.id,
                                          lead_id=_lead_ids(world.a.id, campaign.id)[0]))
        in_call = _wait_for(service, clock, agent.id, world.a.id, "in_call", limit=clock.t + 30)
        bus.send_command(bus.AgentCommand("transfer", world.a.id, campaign.id, agent.id, call_id=in_call["call_id"],
                                          transfer_kind="agent", target=str(other.id)))
        _beat(service, clock, world.a.id, [agent.id, other.id], 1)
        assert bus.agent_state(world.a.id, agent.id)["state"] == "ready"
        taken = bus.agent_state(world.a.id, other.id)
        assert (taken["state"], taken["call_id"]) == ("in_call", in_call["call_id"])
        bus.send_command(bus.AgentCommand("hangup", world.a.id, campaign.id, other.id))
        _wait_for(service, clock, other.id, world.a.id, "wrap_up", limit=clock.t + 10)
        bus.send_command(bus.AgentCommand("disposition", world.a.id, campaign.id, other.id, status="VT",
                                          call_id=in_call["call_id"]))
        _beat(service, clock, world.a.id, [agent.id, other.id], 2)
    call = _call(world.a.id, in_call["call_id"])
    (transfer,) = json.loads(call.data["transfers"])
    assert call.agent_id == other.id and call.disposition == "VT"
    assert (transfer["mode"], transfer["kind"], transfer["target"], transfer["agent_id"]) == (
        "cold", "agent", str(other.id), agent.id)
    assert transfer["at"].startswith("2026-12-01T")  # wall time in the CDR


def test_the_wrap_up_timer_closes_with_the_campaign_default_status(world):
    agent = _Ref(world.a.users["agent"].id)
    campaign = make_campaign(world.a.id, "Post-appel", leads=3, dial_mode="MANUEL")
    campaign = _Ref(campaign.id)
    with tenant_scope(world.a.id):
        row = Session.get(Campaign, campaign.id)
        row.wrapup_s, row.wrapup_status = 20, "RP"
        Session.commit()
    clock = FakeClock()
    service = _real_agent_service(clock, world.a.id)
    with released(service):
        _join(service, clock, world.a.id, campaign.id, agent.id)
        bus.send_command(bus.AgentCommand("dial", world.a.id, campaign.id, agent.id,
                                          lead_id=_lead_ids(world.a.id, campaign.id)[0]))
        in_call = _wait_for(service, clock, agent.id, world.a.id, "in_call", limit=clock.t + 30)
        bus.send_command(bus.AgentCommand("hangup", world.a.id, campaign.id, agent.id))
        _wait_for(service, clock, agent.id, world.a.id, "wrap_up", limit=clock.t + 10)
        _beat(service, clock, world.a.id, [agent.id], 15)
        assert bus.agent_state(world.a.id, agent.id)["state"] == "wrap_up"  # not before the 20 s
        _wait_for(service, clock, agent.id, world.a.id, "ready", limit=clock.t + 10)
    call = _call(world.a.id, in_call["call_id"])
    assert call.disposition == "RP" and 20 <= call.wrapup_s <= 22


@contextlib.contextmanager
def _queues_released(service):
    """The service's inbound router lets go of its queues (and their advisory locks)."""
    try:
        yield
    finally:
        service.inbound.close()


def test_cold_transfer_to_a_queue_gives_the_customer_a_new_inbound_call(world):
    """Simulated backend: the first agent's part ends (wrap-up, outbound CDR with the
    transfer), the customer waits in the queue under a new call id and goes to the
    ready agent of the accepting campaign, with the same lead."""
    from tests.inbound.conftest import make_queue

    agent, other = _Ref(world.a.users["agent"].id), _Ref(world.a.users["supervisor"].id)
    campaign = _Ref(make_campaign(world.a.id, "Vers la file", leads=3, dial_mode="MANUEL").id)
    with tenant_scope(world.a.id):
        queue_id = make_queue("Accueil", [campaign.id]).id
        Session.commit()
    clock = FakeClock()
    service = _real_agent_service(clock, world.a.id)
    with released(service), _queues_released(service):
        _join(service, clock, world.a.id, campaign.id, agent.id)
        lead_id = _lead_ids(world.a.id, campaign.id)[0]
        bus.send_command(bus.AgentCommand("dial", world.a.id, campaign.id, agent.id, lead_id=lead_id))
        in_call = _wait_for(service, clock, agent.id, world.a.id, "in_call", limit=clock.t + 30)
        _join(service, clock, world.a.id, campaign.id, other.id)
        bus.send_command(bus.AgentCommand("transfer", world.a.id, campaign.id, agent.id, call_id=in_call["call_id"],
                                          transfer_kind="queue", target=str(queue_id)))
        _beat(service, clock, world.a.id, [agent.id, other.id], 1)
        assert bus.agent_state(world.a.id, agent.id)["state"] == "wrap_up"
        bus.send_command(bus.AgentCommand("disposition", world.a.id, campaign.id, agent.id, status="VT",
                                          call_id=in_call["call_id"]))
        taken = _wait_for(service, clock, other.id, world.a.id, "in_call", limit=clock.t + 30)
        assert taken["call_id"] != in_call["call_id"]
    original = _call(world.a.id, in_call["call_id"])
    (transfer,) = json.loads(original.data["transfers"])
    assert (original.direction, original.agent_id, original.disposition) == ("out", agent.id, "VT")
    assert (transfer["mode"], transfer["kind"], transfer["target"]) == ("cold", "queue", str(queue_id))
    new = _call(world.a.id, taken["call_id"])
    assert (new.direction, new.queue_id, new.agent_id, new.lead_id) == ("in", queue_id, other.id, lead_id)
    assert new.data["transferred_from"] == in_call["call_id"]
