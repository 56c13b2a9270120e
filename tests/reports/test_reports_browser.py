"""Statistics pages in a real browser: charts drawn (CSP-clean), filters in the URL."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import browser_page, live_server, shot  # noqa: F401  (fixtures)
from tests.reports.conftest import DAY

pytestmark = pytest.mark.browser


def test_dashboard_and_campaign_report_draw_their_charts(live_server, browser_page, world, calls):  # noqa: F811
    page = browser_page
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", world.a.users["manager"].email)
    page.fill("input[name=password]", world.password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    days = f"period=custom&from={DAY.isoformat()}&to={DAY.isoformat()}"
    page.goto(f"{live_server}/reports/?{days}")
    page.locator("canvas[data-chart]").first.wait_for()
    page.wait_for_timeout(300)
    assert page.locator("canvas[data-chart]").first.bounding_box()["height"] > 50
    assert world.a.users["agent"].display_name in page.inner_text("main")
    shot(page, "reports-dashboard")
    page.goto(f"{live_server}/reports/campaigns?{days}&campaign={calls['a'].campaign_id}")
    page.locator("canvas[data-chart]").first.wait_for()
    page.wait_for_timeout(300)
    shot(page, "reports-campaigns")
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors
