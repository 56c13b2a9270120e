"""Supervisor actions from a wallboard row: permission, refusal reasons, bus commands,
audit, and tenant isolation."""

from __future__ import annotations

import json
import time
import uuid

import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.calls.models import Call
from app.extensions import Session, redis
from app.realtime import bus
from tenants.scoping import tenant_scope, unscoped
from tests.supervision.conftest import agent_state


def _post(client, token, agent_id, action, **data):
    return client.post(f"/supervision/agents/{agent_id}/{action}", data=data, headers={"X-CSRF-Token": token})


def _audit(action: str) -> list[AuditEvent]:
    with unscoped():
        return list(Session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_supervision_on_simulated_backend_is_refused_with_reason_and_audited(client, world, camps, live,
                                                                             logged_in):
    agent = world.a.users["agent"]
    call_id = uuid.uuid4()
    with tenant_scope(world.a.id):
        Session.add(Call(id=call_id, campaign_id=camps["a"].campaign_id, phone_number="+33612345678",
                         state="bridged", backend="simulated"))
        Session.commit()
    bus.publish_agent(world.a.id, agent.id, agent_state(camps["a"].campaign_id, "in_call", call_id=str(call_id)))
    token = logged_in(client, world.a.users["supervisor"], world.password)
    for action in ("listen", "whisper", "barge", "take_over"):
        result = _post(client, token, agent.id, action).get_json()
        assert result["ok"] is False and "simulated" in result["message"]
    events = _audit("supervision.listen")
    assert len(events) == 1 and events[0].target_id == str(agent.id) and "refused" in events[0].details


def test_supervision_on_freeswitch_call_is_queued_for_the_dialer(client, world, camps, live, logged_in):
    agent = world.a.users["agent"]
    call_id = uuid.uuid4()
    with tenant_scope(world.a.id):
        Session.add(Call(id=call_id, campaign_id=camps["a"].campaign_id, phone_number="+33612345678",
                         state="bridged", backend="freeswitch"))
        Session.commit()
    bus.pop_supervision(camps["a"].campaign_id)
    bus.publish_agent(world.a.id, agent.id, agent_state(camps["a"].campaign_id, "in_call", call_id=str(call_id)))
    token = logged_in(client, world.a.users["supervisor"], world.password)
    assert _post(client, token, agent.id, "whisper").get_json()["ok"] is True
    [request] = bus.pop_supervision(camps["a"].campaign_id)
    assert (request["tenant_id"], request["call_id"], request["mode"]) == (world.a.id, str(call_id), "whisper")
    assert request["supervisor_id"] == world.a.users["supervisor"].id
    assert len(_audit("supervision.whisper")) == 1


def test_not_in_call_and_logged_out_are_refused(client, world, camps, live, logged_in):
    agent = world.a.users["agent"]
    token = logged_in(client, world.a.users["supervisor"], world.password)
    assert "not logged in" in _post(client, token, agent.id, "listen").get_json()["message"]
    bus.publish_agent(world.a.id, agent.id, agent_state(camps["a"].campaign_id, "ready"))
    assert "not in a call" in _post(client, token, agent.id, "barge").get_json()["message"]


def test_force_pause_and_logout_go_through_bus_commands(client, world, camps, live, logged_in):
    agent = world.a.users["agent"]
    campaign_id = camps["a"].campaign_id
    redis().delete(bus.commands_key(campaign_id))
    bus.publish_agent(world.a.id, agent.id, agent_state(campaign_id, "ready"))
    token = logged_in(client, world.a.users["supervisor"], world.password)
    assert _post(client, token, agent.id, "force_pause").get_json()["ok"] is True
    assert _post(client, token, agent.id, "force_logout").get_json()["ok"] is True
    commands = bus.pop_commands(campaign_id)
    assert [(c.kind, c.agent_id, c.tenant_id, c.pause_code) for c in commands] == [
        ("pause", agent.id, world.a.id, "SUP"), ("logout", agent.id, world.a.id, None)]
    assert len(_audit("supervision.force_pause")) == 1 and len(_audit("supervision.force_logout")) == 1
    bus.publish_agent(world.a.id, agent.id, agent_state(campaign_id, "in_call", call_id="x"))
    assert "in a call" in _post(client, token, agent.id, "force_pause").get_json()["message"]
    assert bus.pop_commands(campaign_id) == []


def test_message_reaches_the_agent(client, world, camps, live, logged_in):
    agent = world.a.users["agent"]
    bus.publish_agent(world.a.id, agent.id, agent_state(camps["a"].campaign_id, "ready"))
    token = logged_in(client, world.a.users["supervisor"], world.password)
    pubsub = redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(bus.events_channel(world.a.id))
    try:
        assert _post(client, token, agent.id, "message", text="").get_json()["ok"] is False
        assert _post(client, token, agent.id, "message", text="Pensez au rappel de 15 h").get_json()["ok"] is True
        event: dict = {}
        deadline = time.monotonic() + 3
        while event.get("type") != "message" and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.5)
            event = json.loads(message["data"]) if message else {}
        assert agent.id in (event.get("recipient_id"), event.get("agent_id"))
    finally:
        pubsub.close()
    assert len(_audit("supervision.message")) == 1


def test_agents_of_another_tenant_and_agents_themselves_are_refused(client, world, camps, live, logged_in):
    b_agent = world.b.users["agent"]
    bus.publish_agent(world.b.id, b_agent.id, agent_state(camps["b"].campaign_id, "ready"))
    redis().delete(bus.commands_key(camps["b"].campaign_id))
    token = logged_in(client, world.a.users["supervisor"], world.password)
    for action in ("listen", "force_pause", "force_logout", "message"):
        assert _post(client, token, b_agent.id, action, text="x").status_code == 404
    assert _post(client, token, world.a.users["agent"].id, "dance").status_code == 404
    assert bus.pop_commands(camps["b"].campaign_id) == []
    agent_client = client.application.test_client()
    agent_token = logged_in(agent_client, world.a.users["agent"], world.password)
    assert _post(agent_client, agent_token, world.a.users["agent"].id, "force_logout").status_code == 403
