"""The agent page's wrap-up countdown for a call taken from an inbound queue: the
queue's wrap-up length (published by the dialer with the agent's state), not the
campaign's."""

from __future__ import annotations

from app.realtime import bus
from tests.agent.conftest import clear_bus, join, logged_in, make_desk, put_in_call


def test_the_countdown_of_a_queue_call_is_the_queues_and_otherwise_the_campaigns(client, world):
    clear_bus()
    desk = make_desk(world.a, "Accueil")  # the campaign's wrap-up: 30 s by default
    logged_in(client, world, desk.agent)
    join(client, desk)
    call_id = put_in_call(desk, desk.leads[0], state="wrap_up")
    assert 'data-countdown-target="30"' in client.get("/agent/").get_data(as_text=True)
    state = {**bus.agent_state(desk.tenant_id, desk.agent.id), "call_id": call_id, "wrapup_s": 45}
    bus.publish_agent(desk.tenant_id, desk.agent.id, state)
    page = client.get("/agent/").get_data(as_text=True)
    assert 'data-countdown-target="45"' in page and 'data-countdown-target="30"' not in page
    # a value that is not a number of seconds falls back to the campaign's
    bus.publish_agent(desk.tenant_id, desk.agent.id, {**state, "wrapup_s": "4 5"})
    assert 'data-countdown-target="30"' in client.get("/agent/").get_data(as_text=True)
    clear_bus()
