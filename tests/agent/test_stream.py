"""The agent's SSE stream: current state first, only this agent's events, messages
addressed to them, presence beats, and nothing from another tenant."""

from __future__ import annotations

import threading
import time

from app.agent.stream import Renderers, agent_events, sse_event
from app.extensions import redis
from app.realtime import bus
from tests.agent.conftest import ID_BASE, clear_bus, join, logged_in, put_in_call

TENANT, OTHER_TENANT, AGENT = ID_BASE + 91, ID_BASE + 92, 77


def _renderers() -> Renderers:
    return Renderers(
        agent=lambda s, changed: ([("lead", f"lead={s.get('lead_id', '')}")] if changed else [])
        + [("state", f"state={s.get('state')}")],
        side=lambda: [],
        refused=lambda e: [("notice", f"refused={e['command']}")],
        message=lambda e: [("message", f"message={e['message_id']}")],
        refresh=lambda part: [(part, "refreshed")],
        beat=lambda: [("callbacks", "due")],
    )


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _next_events(events, count: int) -> list[str]:
    out = []
    while len(out) < count:
        chunk = next(events)
        if not chunk.startswith(":") and not chunk.startswith("retry"):
            out.append(chunk)
    return out


def test_sse_event_format_splits_lines():
    assert sse_event("lead", "<p>a</p>\n<p>b</p>") == "event: lead\ndata: <p>a</p>\ndata: <p>b</p>\n\n"


def test_stream_sends_state_first_then_only_this_agents_events():
    clear_bus()
    bus.publish_agent(TENANT, AGENT, {"state": "ready", "since": 1.0, "campaign_id": 5, "call_id": "", "lead_id": ""})
    clock = FakeClock()
    events = agent_events(TENANT, AGENT, _renderers(), poll_s=0.05, clock=clock)
    try:
        first = _next_events(events, 2)
        assert first == [sse_event("lead", "lead="), sse_event("state", "state=ready")]
        bus.publish_agent(TENANT, AGENT + 1, {"state": "in_call", "call_id": "zzz", "lead_id": 9})
        bus.publish_agent(OTHER_TENANT, AGENT, {"state": "in_call", "call_id": "yyy", "lead_id": 8})
        bus.publish(TENANT, {"type": "message", "message_id": 1, "recipient_id": AGENT + 1, "sender_id": 3})
        bus.publish_agent(TENANT, AGENT, {"state": "in_call", "since": 2.0, "campaign_id": 5, "call_id": "c1",
                                          "lead_id": 42})
        assert _next_events(events, 2) == [sse_event("lead", "lead=42"), sse_event("state", "state=in_call")]
        bus.publish(TENANT, {"type": "refused", "agent_id": AGENT, "command": "disposition", "reason": "closed"})
        assert _next_events(events, 1) == [sse_event("notice", "refused=disposition")]
        bus.publish_message(TENANT, 12, None, 3)
        assert _next_events(events, 1) == [sse_event("message", "message=12")]
        bus.publish_message(TENANT, 13, AGENT, 3)
        assert _next_events(events, 1) == [sse_event("message", "message=13")]
        bus.publish_refresh(TENANT, AGENT, "callbacks")
        assert _next_events(events, 1) == [sse_event("callbacks", "refreshed")]
        # same call, new state: the lead screen is not redrawn
        bus.publish_agent(TENANT, AGENT, {"state": "wrap_up", "since": 3.0, "campaign_id": 5, "call_id": "c1",
                                          "lead_id": 42})
        assert _next_events(events, 1) == [sse_event("state", "state=wrap_up")]
    finally:
        events.close()
    clear_bus()


def test_stream_beats_presence_and_keeps_the_connection_alive():
    clear_bus()
    clock = FakeClock()
    events = agent_events(TENANT, AGENT, _renderers(), poll_s=0.05, beat_s=10, clock=clock)
    try:
        _next_events(events, 2)
        assert bus.is_alive(TENANT, AGENT)
        redis().delete(bus.presence_key(TENANT, AGENT))
        bus.set_phone_registered(TENANT, AGENT, True)
        redis().expire(bus.phone_key(TENANT, AGENT), 5)
        clock.t = 10.5
        assert next(events) == ": keep-alive\n\n"
        assert next(events) == sse_event("callbacks", "due")
        assert bus.is_alive(TENANT, AGENT)
        assert redis().ttl(bus.phone_key(TENANT, AGENT)) > 5, "a registered phone stays fresh while the page lives"
    finally:
        events.close()
    clear_bus()


def test_stream_endpoint_streams_rendered_fragments(app, client, world, desks):
    """Over HTTP: the page's first events, then the lead screen when a call arrives."""
    a, _ = desks
    logged_in(client, world, a.agent)
    join(client, a)
    bus.publish_agent(a.tenant_id, a.agent.id, {"state": "ready", "since": time.time(), "campaign_id": a.campaign.id,
                                                "call_id": "", "lead_id": "", "phone": "", "pause_code": "",
                                                "virtual": 0})
    response = client.get("/agent/stream", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    timer = None
    try:
        chunks = iter(response.response)
        received = ""
        while "event: callbacks" not in received:
            chunk = next(chunks)
            received += chunk.decode() if isinstance(chunk, bytes) else chunk
        assert "event: state" in received and "data-state=" in received
        timer = threading.Timer(0.2, put_in_call, args=(a, a.leads[1]))
        timer.start()
        received = ""
        deadline = time.monotonic() + 10
        name = a.leads[1].last_name
        while name not in received or received.find("event: script", received.find(name)) < 0:
            assert time.monotonic() < deadline, received
            chunk = next(chunks)
            received += chunk.decode() if isinstance(chunk, bytes) else chunk
        assert "script-var" in received
    finally:
        response.close()  # ends the generator: its request context must not leak into the next test
        if timer is not None:
            timer.join()


def test_stream_alerts_when_a_callback_falls_due(app, client, world, desks):
    import datetime as dt

    from app.campaigns.models import Callback
    from app.extensions import Session
    from tenants.scoping import tenant_scope

    a, _ = desks
    with tenant_scope(a.tenant_id):
        Session.add(Callback(campaign_id=a.campaign.id, lead_id=a.leads[2].id, agent_id=a.agent.id,
                             due_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1), timezone="Europe/Paris"))
        Session.commit()
    logged_in(client, world, a.agent)
    join(client, a)
    app.config["AGENT_STREAM_BEAT_S"] = 0.3
    response = client.get("/agent/stream", buffered=False)
    try:
        chunks = iter(response.response)
        received = ""
        deadline = time.monotonic() + 8
        while "Callback due" not in received:
            assert time.monotonic() < deadline, received[-2000:]
            chunk = next(chunks)
            received += chunk.decode() if isinstance(chunk, bytes) else chunk
        assert a.leads[2].display_name in received.split("Callback due")[-1]
    finally:
        response.close()
        app.config.pop("AGENT_STREAM_BEAT_S")
