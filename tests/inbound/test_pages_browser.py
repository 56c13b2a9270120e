"""The inbound pages in Debian Chromium: a manager creates a queue for a campaign, a
voice menu whose key 1 leads to it, and a number with opening hours that leads to the
menu; a bad number shows its error next to the field. Screenshots as artifacts."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import Session
from app.inbound.models import Did, InboundQueue, IvrMenu
from tenants.scoping import tenant_scope
from tests.e2e.conftest import browser_page, live_server, shot  # noqa: F401  (fixtures)
from tests.inbound.conftest import make_campaign

pytestmark = pytest.mark.browser


def test_manager_sets_up_a_number_a_menu_and_a_queue(live_server, browser_page, world):  # noqa: F811
    with tenant_scope(world.a.id):
        make_campaign(world.a.id, "Service client")
        Session.commit()
    page = browser_page
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", world.a.users["manager"].email)
    page.fill("input[name=password]", world.password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    page.goto(f"{live_server}/inbound/queues/new")
    page.fill("input[name=name]", "Accueil")
    page.check("text=Service client")
    page.fill("input[name=max_wait_s]", "90")
    page.select_option("select[name=overflow]", "external")
    page.fill("input[name=overflow_value]", "01 45 00 00 00")
    shot(page, "inbound-queue-form")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert "Accueil" in page.locator("main table").inner_text()
    page.goto(f"{live_server}/inbound/ivrs/new")
    page.fill("input[name=name]", "Standard")
    page.fill("input[name=greeting_audio]", "carillon/accueil.wav")
    page.fill("input[name='options-0-caption']", "Service client")
    with tenant_scope(world.a.id):
        queue_id = Session.scalar(sa.select(InboundQueue.id))
        Session.rollback()
    page.select_option("select[name='options-0-dest']", f"queue:{queue_id}")
    shot(page, "inbound-ivr-form")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    page.goto(f"{live_server}/inbound/dids/new")
    page.fill("input[name=number]", "12")
    with tenant_scope(world.a.id):
        menu_id = Session.scalar(sa.select(IvrMenu.id))
        Session.rollback()
    page.select_option("select[name=dest]", f"ivr:{menu_id}")
    for day in range(5):
        page.fill(f"input[name='hours-{day}']", "09:00-12:30, 14:00-18:00")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    error = page.locator("#number-error")
    assert error.is_visible() and "12" in error.inner_text()  # "12 n'est pas un numéro de téléphone valide."
    page.fill("input[name=number]", "01 70 00 00 01")
    shot(page, "inbound-did-form")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    listing = page.locator("main table").inner_text()
    assert "+33170000001" in listing and "Standard" in listing
    shot(page, "inbound-dids")
    with tenant_scope(world.a.id):
        did = Session.scalars(sa.select(Did)).one()
        menu = Session.scalars(sa.select(IvrMenu)).one()
        queue = Session.scalars(sa.select(InboundQueue)).one()
        assert (did.dest_kind, did.dest_target) == ("ivr", menu.id)
        assert (menu.options[0].dest_kind, menu.options[0].dest_target) == ("queue", queue.id)
        assert (queue.overflow_kind, queue.overflow_number, queue.max_wait_s) == ("external", "+33145000000", 90)
        assert did.hours["0"] == [["09:00", "12:30"], ["14:00", "18:00"]] and "5" not in did.hours
        Session.rollback()
