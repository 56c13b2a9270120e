"""The wallboard's inbound queues section: rows built from the queue state and the
per-day counters the call events keep in Redis, pushed over the SSE stream, filtered,
and never another tenant's."""

from __future__ import annotations

import json
import time

import pytest

from app.extensions import Session
from app.inbound import services
from app.realtime import bus
from app.supervision.live import Directory, queue_row
from tenants.scoping import tenant_scope
from tests.factories import login
from tests.supervision.test_wallboard import read_events

DAY = "2026-12-01"


def test_queue_row_service_level_and_average_wait():
    directory = Directory(1, queues={5: "Accueil"})
    row = queue_row(directory, 5, {"waiting": "2", "oldest_since": "1764581400.5", "agents": "3", "ready": "0",
                                   "offered": "12", "answered": "8", "answered_in_sl": "6", "abandoned": "1",
                                   "overflowed": "1", "wait_s": "150", "service_level_s": "20"})
    assert row["name"] == "Accueil" and row["waiting"] == 2 and row["oldest_since"] == 1764581400.5
    assert row["service_level"] == 60.0  # 6 answered within 20 s of the 10 whose wait ended
    assert row["average_wait_s"] == 15.0
    empty = queue_row(directory, 5, {"waiting": "0", "oldest_since": ""})
    assert empty["service_level"] is None and empty["oldest_since"] is None and empty["offered"] == 0


@pytest.fixture()
def queues(world, camps):
    out = {}
    for key, tenant in (("a", world.a), ("b", world.b)):
        with tenant_scope(tenant.id):
            queue = services.save_queue(None, f"File {key.upper()}", {}, None, [camps[key].campaign_id], [])
            out[key] = queue.id
            Session.commit()
    return out


def test_stream_sends_own_queues_then_their_changes(client, world, camps, live, queues):
    a, b = queues["a"], queues["b"]
    bus.count_queue_calls(world.a.id, a, DAY, {"offered": 3, "answered": 2, "answered_in_sl": 2, "wait_s": 10})
    bus.publish_queue(world.a.id, a, {"waiting": 1, "oldest_since": 1764581400.0, "agents": 2, "ready": 0,
                                      "day": DAY, "service_level_s": 20})
    bus.publish_queue(world.b.id, b, {"waiting": 4, "oldest_since": "", "agents": 1, "ready": 1, "day": DAY,
                                      "service_level_s": 20})
    login(client, world.a.users["supervisor"].email, world.password)
    page = client.get("/supervision/wallboard").get_data(as_text=True)
    assert 'id="wb-queues"' in page and "Inbound queues" in page
    response = client.get("/supervision/wallboard/stream", buffered=False)
    try:
        snap = read_events(response, "snapshot")[-1][1]
        assert [(q["id"], q["name"], q["waiting"], q["answered"], q["service_level"]) for q in snap["queues"]] == [
            (a, "File A", 1, 2, 100.0)]
        time.sleep(0.3)  # the tenant feed is subscribed
        bus.count_queue_calls(world.b.id, b, DAY, {"abandoned": 1})
        bus.publish_queue(world.b.id, b, {"waiting": 5, "oldest_since": "", "agents": 1, "ready": 1, "day": DAY,
                                          "service_level_s": 20})
        bus.count_queue_calls(world.a.id, a, DAY, {"abandoned": 1, "wait_s": 40})
        bus.publish_queue(world.a.id, a, {"waiting": 0, "oldest_since": "", "agents": 2, "ready": 1, "day": DAY,
                                          "service_level_s": 20})
        events = read_events(response, "delta")
        delta = events[-1][1]
        row = delta["queues"][str(a)]
        assert (row["waiting"], row["abandoned"], row["service_level"]) == (0, 1, pytest.approx(66.7))
        body = json.dumps([e for _, e in events])
        assert "File B" not in body and f'"{b}"' not in json.dumps(delta["queues"])
    finally:
        response.close()


def test_queue_filtered_out_with_its_campaigns(client, world, camps, live, queues):
    from app.campaigns import services as campaigns

    with tenant_scope(world.a.id):
        other = campaigns.create_campaign("A Mutuelle", {"caller_id": "+33162000002"})
        Session.commit()
    bus.publish_queue(world.a.id, queues["a"], {"waiting": 1, "oldest_since": "", "agents": 0, "ready": 0,
                                               "day": DAY, "service_level_s": 20})
    login(client, world.a.users["supervisor"].email, world.password)
    for query, expected in ((f"campaign={other.id}", []), (f"campaign={camps['a'].campaign_id}", [queues["a"]])):
        response = client.get(f"/supervision/wallboard/stream?{query}", buffered=False)
        try:
            snap = read_events(response, "snapshot")[-1][1]
            assert [q["id"] for q in snap["queues"]] == expected
        finally:
            response.close()
