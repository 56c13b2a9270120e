"""The wallboard's inbound queues in a real browser: the row appears from the SSE
snapshot, the longest wait runs as a timer with its cue past the service-level
threshold, and a change of the queue arrives as a delta; another tenant's queue
never shows."""

from __future__ import annotations

import time

import pytest

from app.extensions import Session
from app.inbound import services
from app.realtime import bus
from tenants.scoping import tenant_scope
from tests.e2e.conftest import browser_page, live_server, shot  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
DAY = time.strftime("%Y-%m-%d")


def test_queue_row_live_in_the_browser(live_server, browser_page, world, camps, live):  # noqa: F811
    ids = {}
    for key, tenant in (("a", world.a), ("b", world.b)):
        with tenant_scope(tenant.id):
            ids[key] = services.save_queue(None, f"File {key.upper()}", {}, None, [camps[key].campaign_id], []).id
            Session.commit()
    bus.count_queue_calls(world.a.id, ids["a"], DAY, {"offered": 4, "answered": 3, "answered_in_sl": 3, "wait_s": 12})
    bus.publish_queue(world.a.id, ids["a"], {"waiting": 1, "oldest_since": round(time.time() - 30, 3), "agents": 2,
                                             "ready": 0, "day": DAY, "service_level_s": 20})
    bus.publish_queue(world.b.id, ids["b"], {"waiting": 7, "oldest_since": "", "agents": 1, "ready": 1, "day": DAY,
                                             "service_level_s": 20})
    page = browser_page
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", world.a.users["supervisor"].email)
    page.fill("input[name=password]", world.password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    page.goto(f"{live_server}/supervision/wallboard")
    row = page.locator(f"#wb-queues tr[data-queue-id='{ids['a']}']")
    row.wait_for()
    text = row.inner_text()
    assert "File A" in text and "0 / 2" in text and "100" in text  # ready / logged in, service level
    assert "File B" not in page.locator("#wb-queues").inner_text()
    longest = row.locator("[data-longest]")
    assert longest.inner_text().startswith("00:3") and "20 s" in longest.inner_text()  # over the threshold
    page.locator("#wb-status:not(.is-disconnected)").wait_for()
    time.sleep(0.5)
    bus.count_queue_calls(world.a.id, ids["a"], DAY, {"answered": 1, "wait_s": 31})
    bus.publish_queue(world.a.id, ids["a"], {"waiting": 0, "oldest_since": "", "agents": 2, "ready": 1, "day": DAY,
                                             "service_level_s": 20})
    page.locator(f"#wb-queues tr[data-queue-id='{ids['a']}'] [data-longest]:text-is('—')").wait_for(timeout=5000)
    assert "75" in page.locator(f"#wb-queues tr[data-queue-id='{ids['a']}']").inner_text()  # 3 of 4 within 20 s
    shot(page, "wallboard-queues")
