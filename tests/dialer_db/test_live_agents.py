"""Real agents alongside the dialer service: commands over Redis, live state in
Redis for the pages and the wallboard, presence and its grace period."""

from __future__ import annotations

import sqlalchemy as sa

from app.calls.models import Call
from app.extensions import Session, redis
from app.realtime import bus
from telephony.dialer.service import DialerService
from tenants.scoping import tenant_scope
from tests.dialer_db.conftest import OPEN, make_campaign, released
from tests.dialer_db.test_service import FakeClock, _run


def _clear_bus() -> None:
    for key in redis().scan_iter(f"{bus.PREFIX}:*"):
        redis().delete(key)


def _real_agent_service(clock: FakeClock, tenant_id: int) -> DialerService:
    return DialerService(clock=clock, tenant_ids=[tenant_id], epoch_wall=OPEN.timestamp(), discover_every_s=30,
                         virtual_agents=False)


def _wait_for(service, clock, agent_id, tenant_id, state, limit=600.0):
    while clock.t < limit:
        bus.mark_alive(tenant_id, agent_id)  # the page's heartbeat (presence has a real-time TTL)
        _run(service, clock, 1)
        if bus.agent_state(tenant_id, agent_id).get("state") == state:
            return bus.agent_state(tenant_id, agent_id)
    raise AssertionError(f"agent never reached {state}: {bus.agent_state(tenant_id, agent_id)}")


def _join(service, clock, tenant_id, campaign_id, agent_id) -> None:
    """What the agent's page does: beat presence, log in to the campaign."""
    service.discover()
    bus.mark_alive(tenant_id, agent_id)
    bus.send_command(bus.AgentCommand("login", tenant_id, campaign_id, agent_id))
    _run(service, clock, 1)


def test_real_agent_gets_a_call_and_dispositions_it_once(world):
    _clear_bus()
    campaign = make_campaign(world.a.id, "Agents réels", leads=50)
    agent = world.a.users["agent"]
    clock = FakeClock()
    service = _real_agent_service(clock, world.a.id)
    with released(service):
        _join(service, clock, world.a.id, campaign.id, agent.id)
        assert bus.agent_state(world.a.id, agent.id)["state"] == "ready"
        stats = bus.all_campaigns(world.a.id)[campaign.id]
        # leads left, for the wallboard: 50, less the one the first tick may already be dialling
        assert int(stats["dialable"]) in (49, 50) and int(stats["agents"]) == 1
        in_call = _wait_for(service, clock, agent.id, world.a.id, "in_call")
        assert in_call["lead_id"] and in_call["phone"].startswith("+33")
        bus.send_command(bus.AgentCommand("hangup", world.a.id, campaign.id, agent.id))
        wrap = _wait_for(service, clock, agent.id, world.a.id, "wrap_up")
        # a real agent's wrap-up waits for them: the simulator does not close it
        for _ in range(60):
            bus.mark_alive(world.a.id, agent.id)
            _run(service, clock, 1)
        assert bus.agent_state(world.a.id, agent.id)["state"] == "wrap_up"
        bus.mark_alive(world.a.id, agent.id)
        for _ in range(2):  # a double click sends it twice
            bus.send_command(bus.AgentCommand("disposition", world.a.id, campaign.id, agent.id, status="VT",
                                              call_id=wrap["call_id"]))
        _run(service, clock, 1)
        assert bus.agent_state(world.a.id, agent.id)["state"] in ("ready", "in_call", "ringing")
    with tenant_scope(world.a.id):
        call = Session.scalars(sa.select(Call).where(Call.id == sa.cast(wrap["call_id"], sa.Uuid))).one()
        assert (call.disposition, call.agent_id) == ("VT", agent.id)
        Session.rollback()
    assert bus.all_campaigns(world.a.id) == {}, "a released campaign leaves the wallboard"


def test_agent_whose_page_is_gone_is_logged_out_after_grace(world):
    _clear_bus()
    campaign = make_campaign(world.a.id, "Présence", leads=5)
    agent = world.a.users["agent"]
    clock = FakeClock()
    service = _real_agent_service(clock, world.a.id)
    with released(service):
        _join(service, clock, world.a.id, campaign.id, agent.id)
        bus.send_command(bus.AgentCommand("pause", world.a.id, campaign.id, agent.id, pause_code="REPAS"))
        _run(service, clock, 1)
        state = bus.agent_state(world.a.id, agent.id)
        assert (state["state"], state["pause_code"]) == ("paused", "REPAS")
        redis().delete(bus.presence_key(world.a.id, agent.id))  # the tab closed, heartbeats stop
        _run(service, clock, 2)
        assert bus.agent_state(world.a.id, agent.id) == {"state": "logged_out"}


def test_commands_for_another_tenant_are_ignored(world):
    _clear_bus()
    campaign = make_campaign(world.a.id, "Étanche", leads=5)
    intruder = world.b.users["agent"]
    clock = FakeClock()
    service = _real_agent_service(clock, world.a.id)
    with released(service):
        # a forged command naming tenant B on tenant A's campaign list
        _join(service, clock, world.b.id, campaign.id, intruder.id)
        _run(service, clock, 1)
        assert intruder.id not in service.held[campaign.id].runner.engine.agents
        assert bus.all_agents(world.a.id) == {} and bus.all_agents(world.b.id) == {}


def test_unknown_command_kind_is_rejected():
    import pytest

    with pytest.raises(ValueError):
        bus.AgentCommand("explode", 1, 1, 1)


def test_supervision_on_the_simulated_backend_is_refused_with_a_reason(world, monkeypatch):
    _clear_bus()
    campaign = make_campaign(world.a.id, "Écoute", leads=5)
    published: list[dict] = []
    real_publish = bus.publish
    monkeypatch.setattr(bus, "publish", lambda tenant_id, event: (published.append(event),
                                                                   real_publish(tenant_id, event)))
    clock = FakeClock()
    service = _real_agent_service(clock, world.a.id)
    with released(service):
        service.discover()
        bus.send_supervision(world.a.id, campaign.id, {"call_id": "0d2f6a3e-0000-4000-8000-000000000000",
                                                       "agent_id": world.a.users["agent"].id,
                                                       "supervisor_id": world.a.users["supervisor"].id,
                                                       "mode": "listen"})
        bus.send_supervision(world.b.id, campaign.id, {"call_id": "x", "agent_id": 1, "supervisor_id": 2,
                                                       "mode": "listen"})  # another tenant's: ignored
        _run(service, clock, 1)
    failed = [e for e in published if e.get("type") == "supervision_failed"]
    assert len(failed) == 1 and "FreeSWITCH" in failed[0]["reason"]


def test_finished_calls_are_announced_to_webhooks(world):
    from app.core import signals

    ended: list[dict] = []
    changed: list[dict] = []

    def on_end(sender, tenant_id, payload, **_):
        ended.append(payload)

    def on_change(sender, tenant_id, payload, **_):
        changed.append(payload)

    signals.call_ended.connect(on_end)
    signals.lead_status_changed.connect(on_change)
    try:
        make_campaign(world.a.id, "Annonces", leads=30)
        clock = FakeClock()
        service = DialerService(clock=clock, tenant_ids=[world.a.id], epoch_wall=OPEN.timestamp(),
                                discover_every_s=30)
        with released(service):
            _run(service, clock, 300)
    finally:
        signals.call_ended.disconnect(on_end)
        signals.lead_status_changed.disconnect(on_change)
    assert ended and all(p["disposition"] for p in ended)
    assert {p["call_id"] for p in changed} == {p["id"] for p in ended if p["lead_id"] is not None}
