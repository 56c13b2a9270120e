"""The wallboard in a real browser: live rows over SSE from the werkzeug threaded
server, timers, and a refused supervision action shown to the supervisor."""

from __future__ import annotations

import pytest

from app.realtime import bus
from tests.e2e.conftest import browser_page, live_server, shot  # noqa: F401  (fixtures)
from tests.supervision.conftest import agent_state

pytestmark = pytest.mark.browser


def test_wallboard_updates_live_and_shows_refusals(live_server, browser_page, world, camps, live):  # noqa: F811
    page = browser_page
    agent = world.a.users["agent"]
    bus.publish_agent(world.a.id, agent.id, agent_state(camps["a"].campaign_id, "ready"))
    bus.publish_agent(world.b.id, world.b.users["agent"].id, agent_state(camps["b"].campaign_id, "ready"))
    bus.publish_campaign(world.a.id, camps["a"].campaign_id, {"agents": 1, "ready": 1, "abandon_rate": 2.7})
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", world.a.users["supervisor"].email)
    page.fill("input[name=password]", world.password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    page.goto(f"{live_server}/supervision/wallboard")
    row = page.locator(f"#wb-agents tr[data-agent-id='{agent.id}']")
    row.wait_for()
    assert agent.display_name in row.inner_text()
    assert page.locator("#wb-agents tr").count() == 1  # tenant B's agent never shows
    page.locator("#wb-status:not(.is-disconnected)").wait_for()
    assert "A Rénovation" in page.locator("#wb-campaigns").inner_text()
    bus.publish_agent(world.a.id, agent.id, agent_state(camps["a"].campaign_id, "in_call", phone="+33612345678", call_id="c-1",
                                                         lead_id=camps["a"].lead_id))
    page.locator(f"#wb-agents tr[data-agent-id='{agent.id}'][data-state='in_call']").wait_for()
    assert "+33612345678" in row.inner_text()
    shot(page, "wallboard")
    row.locator("summary").click()
    row.locator("[data-action=listen]").click()
    page.locator("#wb-feedback:not(:empty)").wait_for(state="attached")
    assert "FreeSWITCH" in page.inner_text("#wb-feedback")
