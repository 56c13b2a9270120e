"""Agent state history from the live bus, the pause report and agents' time."""

from __future__ import annotations

import os
import threading
import time

import sqlalchemy as sa

from app.extensions import Session
from app.realtime import bus
from app.supervision import recorder
from app.supervision.models import AgentStateSpan
from tenants.scoping import tenant_scope
from tests.reports.conftest import DAY, at

DAYS = f"period=custom&from={DAY.isoformat()}&to={DAY.isoformat()}"


def _event(agent_id: int, campaign_id: int, state: str, since, pause_code: str = "") -> dict:
    return {"type": "agent", "agent_id": agent_id, "state": state, "since": since.timestamp(),
            "campaign_id": campaign_id, "pause_code": pause_code}


def _record_day(world, camps) -> None:
    agent, campaign = world.a.users["agent"].id, camps["a"].campaign_id
    recorder.record(world.a.id, [
        _event(agent, campaign, "ready", at(9)),
        _event(agent, campaign, "in_call", at(9, 10)),
        _event(agent, campaign, "wrap_up", at(9, 20)),
        _event(agent, campaign, "paused", at(9, 21), "REPAS"),
        _event(agent, campaign, "paused", at(9, 21), "REPAS"),  # announced twice
        _event(agent, campaign, "ready", at(10, 21)),
        _event(agent, campaign, "paused", at(11), "PAUSE"),
        _event(agent, campaign, "logged_out", at(11, 15)),
    ])


def test_spans_follow_the_events(world, camps):
    _record_day(world, camps)
    with tenant_scope(world.a.id):
        spans = Session.execute(sa.select(AgentStateSpan.state, AgentStateSpan.pause_code, AgentStateSpan.ended_at)
                                .order_by(AgentStateSpan.started_at)).all()
    assert [(s, c) for s, c, _ in spans] == [("ready", None), ("in_call", None), ("wrap_up", None),
                                              ("paused", "REPAS"), ("ready", None), ("paused", "PAUSE")]
    assert all(ended is not None for _, _, ended in spans)
    with tenant_scope(world.b.id):
        assert Session.scalar(sa.select(sa.func.count()).select_from(AgentStateSpan)) == 0


def test_listener_records_bus_events_per_tenant(world, camps, monkeypatch):
    monkeypatch.setattr(bus, "PREFIX", f"carillon-test-{os.getpid()}:rt")
    agent_a, agent_b = world.a.users["agent"].id, world.b.users["agent"].id

    def publish() -> None:
        time.sleep(0.4)
        bus.publish_agent(world.a.id, agent_a, {"state": "paused", "since": time.time(),
                                                "campaign_id": camps["a"].campaign_id, "pause_code": "PAUSE"})
        bus.publish_agent(world.b.id, agent_b, {"state": "ready", "since": time.time(),
                                                "campaign_id": camps["b"].campaign_id, "pause_code": ""})

    thread = threading.Thread(target=publish)
    thread.start()
    assert recorder.listen(1.5, batch_s=0.2) == 2
    thread.join()
    with tenant_scope(world.a.id):
        assert Session.scalars(sa.select(AgentStateSpan.agent_id)).all() == [agent_a]
    with tenant_scope(world.b.id):
        assert Session.scalars(sa.select(AgentStateSpan.agent_id)).all() == [agent_b]


def test_pause_report_and_agent_time(client, world, camps, logged_in):
    _record_day(world, camps)
    logged_in(client, world.a.users["manager"], world.password)
    html = client.get(f"/reports/pauses?{DAYS}").get_data(as_text=True)
    assert "REPAS" in html and "1:00:00" in html and "0:15:00" in html  # lunch 1 h, short pause 15 min
    assert "0:10:00" in html  # in call 09:10-09:20
    csv_text = client.get(f"/reports/pauses?{DAYS}&export=csv").get_data().decode("utf-8-sig")
    assert "REPAS;1;3600.0" in csv_text
    assert client.get(f"/reports/pauses?{DAYS}&campaign={camps['b'].campaign_id}").status_code == 404
    dashboard = client.get(f"/reports/?{DAYS}").get_data(as_text=True)
    assert "1:15:00" in dashboard  # pause time tile
    other = client.application.test_client()
    logged_in(other, world.b.users["manager"], world.password)
    assert "REPAS" not in other.get(f"/reports/pauses?{DAYS}").get_data(as_text=True)
