"""The wallboard: page, event stream (snapshot, deltas, filters, tenant isolation)."""

from __future__ import annotations

import datetime as dt
import json
import time

from app.realtime import bus
from tests.factories import login
from tests.supervision.conftest import agent_state


def read_events(response, wanted: str, timeout: float = 6.0) -> list[tuple[str, dict]]:
    """Read SSE events from a streamed test response until one named ``wanted``."""
    events: list[tuple[str, dict]] = []
    buffer = ""
    deadline = time.monotonic() + timeout
    chunks = iter(response.response)
    while time.monotonic() < deadline:
        chunk = next(chunks)
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if "event" in lines:
                events.append((lines["event"], json.loads(lines["data"])))
                if lines["event"] == wanted:
                    return events
    raise AssertionError(f"no {wanted} event in {events}")


def test_page_needs_supervise_permission(client, world):
    assert client.get("/supervision/wallboard").status_code == 302
    login(client, world.a.users["agent"].email, world.password)
    assert client.get("/supervision/wallboard").status_code == 403
    assert client.get("/supervision/wallboard/stream").status_code == 403


def test_page_lists_only_own_campaigns_and_groups(client, world, camps, live):
    login(client, world.a.users["supervisor"].email, world.password)
    page = client.get("/supervision/wallboard")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "A Rénovation" in html and "B Rénovation" not in html
    assert world.a.group.name in html and world.b.group.name not in html
    assert "js/wallboard.js" in html and "<script>" not in html


def test_stream_snapshot_then_delta_and_never_other_tenant(client, world, camps, live):
    a_agent, b_agent = world.a.users["agent"], world.b.users["agent"]
    bus.publish_agent(world.a.id, a_agent.id, agent_state(camps["a"].campaign_id))
    bus.publish_agent(world.b.id, b_agent.id, agent_state(camps["b"].campaign_id))
    bus.publish_campaign(world.a.id, camps["a"].campaign_id, {"agents": 1, "ready": 1, "abandon_rate": 1.0})
    bus.publish_campaign(world.b.id, camps["b"].campaign_id, {"agents": 1, "ready": 1})
    login(client, world.a.users["supervisor"].email, world.password)
    response = client.get("/supervision/wallboard/stream", buffered=False)
    assert response.mimetype == "text/event-stream"
    try:
        name, snap = read_events(response, "snapshot")[-1]
        assert [a["id"] for a in snap["agents"]] == [a_agent.id]
        assert snap["agents"][0]["name"] == a_agent.display_name
        assert snap["agents"][0]["campaign"] == "A Rénovation"
        assert [c["id"] for c in snap["campaigns"]] == [camps["a"].campaign_id]
        time.sleep(0.3)  # the tenant feed is subscribed
        bus.publish_agent(world.b.id, b_agent.id, agent_state(camps["b"].campaign_id, "paused", pause_code="REPAS"))
        bus.publish_agent(world.a.id, a_agent.id, agent_state(camps["a"].campaign_id, "in_call",
                                                               phone="+33612345678", lead_id=camps["a"].lead_id))
        events = read_events(response, "delta")
        delta = events[-1][1]
        assert list(delta["agents"]) == [str(a_agent.id)]
        row = delta["agents"][str(a_agent.id)]
        assert (row["state"], row["phone"], row["lead_id"]) == ("in_call", "+33612345678", camps["a"].lead_id)
        body = json.dumps([e for _, e in events])
        assert str(b_agent.display_name) not in body and "REPAS" not in body
        assert "tick" in [name for name, _ in read_events(response, "tick")]
    finally:
        response.close()


def test_stream_filters_by_campaign_and_group(client, world, camps, live):
    from app.campaigns import services
    from app.extensions import Session
    from tenants.scoping import tenant_scope

    with tenant_scope(world.a.id):
        other = services.create_campaign("A Mutuelle", {"caller_id": "+33162000002"})
        Session.commit()
    agent, manager = world.a.users["agent"], world.a.users["manager"]
    bus.publish_agent(world.a.id, agent.id, agent_state(camps["a"].campaign_id))
    bus.publish_agent(world.a.id, manager.id, agent_state(other.id))
    login(client, world.a.users["supervisor"].email, world.password)
    response = client.get(f"/supervision/wallboard/stream?campaign={other.id}", buffered=False)
    try:
        snap = read_events(response, "snapshot")[-1][1]
        assert [a["id"] for a in snap["agents"]] == [manager.id]
    finally:
        response.close()
    response = client.get(f"/supervision/wallboard/stream?group={world.a.group.id}", buffered=False)
    try:
        snap = read_events(response, "snapshot")[-1][1]
        assert {a["id"] for a in snap["agents"]} == {agent.id, manager.id}
    finally:
        response.close()
    page = client.get(f"/supervision/wallboard?campaign={other.id}").get_data(as_text=True)
    assert f"campaign={other.id}" in page


def test_campaign_row_flags_abandon_near_and_over_target(client, world, camps, live):
    from app.supervision.live import abandon_level

    assert abandon_level(3.1, 3.0) == "alert"
    assert abandon_level(2.5, 3.0) == "warn"
    assert abandon_level(1.0, 3.0) == "ok"
    from app.supervision import counters

    day = counters.local_day(dt.datetime.now(dt.UTC), "Europe/Paris")
    cid = camps["a"].campaign_id
    # today 120 calls, 2.6 % abandoned (13 of 500 live answers); 1.2 % over 30 days
    counters.add_to_day(world.a.id, day, {f"c{cid}:calls": 120, f"c{cid}:answered": 600, f"c{cid}:machines": 100,
                                          f"c{cid}:abandoned": 13, f"c{cid}:blocks": 4})
    bus.store_wallboard_counters(world.a.id, {"day": day, "past": {str(cid): [2000, 100, 11]}})
    bus.publish_campaign(world.a.id, camps["a"].campaign_id, {"agents": 3, "ready": 1, "abandon_rate": 0.5})
    login(client, world.a.users["supervisor"].email, world.password)
    response = client.get("/supervision/wallboard/stream", buffered=False)
    try:
        row = read_events(response, "snapshot")[-1][1]["campaigns"][0]
    finally:
        response.close()
    assert (row["calls_today"], row["abandon_today"], row["blocks_today"]) == (120, 2.6, 4)
    assert (row["level"], row["level_30d"], row["target"]) == ("warn", "ok", 3.0)


def test_lead_links_only_for_those_who_may_open_leads(client, world, live):
    login(client, world.a.users["supervisor"].email, world.password)
    assert "data-lead-url" not in client.get("/supervision/wallboard").get_data(as_text=True)
    manager = client.application.test_client()
    login(manager, world.a.users["manager"].email, world.password)
    assert 'data-lead-url="/leads/contacts/0"' in manager.get("/supervision/wallboard").get_data(as_text=True)
