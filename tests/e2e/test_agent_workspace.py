"""An agent works a campaign in a real browser: logs in to the campaign, receives a
call from the dialer service (running in a thread with a real clock on the simulated
backend), fills the script, schedules a callback, hangs up, dispositions with a
shortcut key, and receives a supervisor's message — all live over SSE. Prints the
event-to-page latency; screenshots go to test-artifacts/.

A second test dials a lead by hand in a MANUEL campaign and transfers the answered
call to a colleague (logged in without a browser); the CDR keeps the transfer.

A third test registers the in-page softphone (JsSIP over WebSocket) with a real
Kamailio reading the subscriber rows the application writes; it is skipped when
kamailio is not installed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from app.calls.models import Call
from app.campaigns.models import Callback, ScriptAnswer
from app.extensions import Session, redis
from app.leads.models import TimelineEvent
from app.messaging import services as messaging
from app.realtime import bus
from app.recordings.models import Recording
from telephony.dialer import backends as dialer_backends
from telephony.dialer.service import DialerService
from tenants.scoping import tenant_scope
from tests.agent.conftest import _ids_of_our_own, clear_bus, make_desk  # noqa: F401  (autouse: ids of our own)
from tests.e2e.conftest import shot

pytestmark = pytest.mark.browser

# "Now" for the dialer: Tuesday 1 December 2026, 11:00 in Paris (inside the legal window).
DIAL_NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


class EventLog:
    """Records when each event reached Redis subscribers (unix time), to measure how
    long the page took to show it."""

    def __init__(self, tenant_id: int) -> None:
        self.events: list[tuple[float, dict]] = []
        self._pubsub = redis().pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(bus.events_channel(tenant_id))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            raw = self._pubsub.get_message(timeout=0.2)
            if raw and raw.get("type") == "message":
                self.events.append((time.time(), json.loads(raw["data"])))

    def first(self, predicate) -> float:
        return next(at for at, event in self.events if predicate(event))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._pubsub.close()


@pytest.fixture()
def fast_customers(monkeypatch):
    """Customers who pick up within a couple of seconds and stay on the line until the
    agent hangs up: the browser test waits seconds, not minutes, for its call."""
    profile = dataclasses.replace(dialer_backends.DEMO_PROFILE, human=1.0, machine=0.0, busy_invalid=0.0,
                                  pickup_ring_mean_s=1.5, pickup_ring_sd_s=0.3, talk_mean_s=900.0, talk_cv=0.1)
    monkeypatch.setattr(dialer_backends, "DEMO_PROFILE", profile)


@pytest.fixture()
def dialer(world):
    """The dialer service for tenant A in a background thread, real clock."""
    clear_bus()
    service = DialerService(tenant_ids=[world.a.id], virtual_agents=False, discover_every_s=1.0,
                            epoch_wall=DIAL_NOW.timestamp() - time.monotonic())
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop, 0.05), daemon=True)
    thread.start()
    yield service
    stop.set()
    thread.join(timeout=10)
    clear_bus()


def _login(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")


def test_agent_takes_a_call_from_login_to_disposition(live_server, browser_page, world, fast_customers, dialer):
    desk = make_desk(world.a, "Rénovation énergétique", leads=5)
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log = EventLog(desk.tenant_id)
    try:
        _login(page, live_server, desk.agent.email, world.password)
        page.goto(f"{live_server}/agent/")
        shot(page, "agent_login")
        page.select_option("select[name=campaign_id]", str(desk.campaign.id))
        with page.expect_navigation():
            page.click("[data-testid=agent-login] button[type=submit]")
        page.wait_for_selector("#agent-workspace")
        page.wait_for_selector("[data-testid=phone-status] [data-phone-state=simulation]")

        # the dialer logs the agent in, then bridges the first answered call
        page.wait_for_selector("[data-testid=agent-state] [data-state=ready], "
                               "[data-testid=agent-state] [data-state=in_call]", timeout=20_000)
        shot(page, "agent_ready")
        page.wait_for_selector("[data-testid=lead-name]", timeout=60_000)
        page.wait_for_selector("[data-testid=agent-state] [data-state=in_call]")
        # the page's own copy of the call id (Redis keys may be shared with other test runs)
        call_id = page.input_value("#ws-lead input[name=call_id]")
        published = log.first(lambda e: e.get("type") == "agent" and e.get("agent_id") == desk.agent.id
                              and e.get("call_id") == call_id and e.get("state") == "in_call")
        shown = int(page.get_attribute("#agent-workspace", "data-swapped-lead")) / 1000
        call_latency = shown - published
        print(f"\nevent-to-page latency, call arrival (lead screen swapped): {call_latency * 1000:.0f} ms")
        assert call_latency < 1.0
        lead_name = page.inner_text("[data-testid=lead-name]")
        assert "Lea" in lead_name and "script-var" in page.inner_html("#ws-script")
        shot(page, "agent_in_call")

        # script answers, saved on change with the call id
        with page.expect_response(re.compile(r".*/agent/script$")):
            page.select_option("select[name=q-owner]", "yes")
        with page.expect_response(re.compile(r".*/agent/script$")):
            page.select_option("select[name=q-heating]", "Gaz")

        # a personal callback in two days, 10:30 in the lead's zone
        day = (dt.date.today() + dt.timedelta(days=2)).isoformat()
        page.fill("#cb-day", day)
        page.fill("#cb-time", "10:30")
        page.fill("#cb-note", "Rappeler pour le devis")
        page.click("[data-testid=callback-save]")
        page.wait_for_selector("[data-testid=ws-notice][data-kind=success]")

        # hang up (F9), then the wrap-up shows its countdown and the dispositions
        page.keyboard.press("F9")
        page.wait_for_selector("[data-testid=agent-state] [data-state=wrap_up]", timeout=10_000)
        page.wait_for_selector("[data-testid=wrapup]")
        # the dialer holds the next call until the disposition is saved
        page.wait_for_timeout(2_500)
        assert page.query_selector("[data-testid=agent-state] [data-state=wrap_up]") is not None
        shot(page, "agent_wrap_up")
        page.keyboard.press("1")  # the first status: Vente
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=agent-state] [data-state=wrap_up]')", timeout=10_000)
        assert page.input_value("[data-testid=dispositions] ~ *, #ws-lead input[name=call_id]") != call_id or \
            page.query_selector("[data-testid=no-lead]") is not None

        # a supervisor writes to the agent
        supervisor = world.a.users["supervisor"]
        with tenant_scope(desk.tenant_id):
            message = messaging.send_message(supervisor, "Bravo pour la vente !", desk.agent.id)
            messaging.announce_after_commit(desk.tenant_id, message)
            Session.commit()
        page.wait_for_selector("[data-testid=message-toast]:has-text('Bravo pour la vente')", timeout=5_000)
        page.wait_for_selector("[data-testid=unread]")
        sent = log.first(lambda e: e.get("type") == "message")
        shown = int(page.get_attribute("#agent-workspace", "data-swapped-message")) / 1000
        print(f"event-to-page latency, supervisor message: {(shown - sent) * 1000:.0f} ms")
        shot(page, "agent_message")
        assert errors == []
    finally:
        log.close()

    with tenant_scope(desk.tenant_id):
        call = Session.scalars(sa.select(Call).where(Call.id == uuid.UUID(call_id))).one()
        assert (call.disposition, call.agent_id) == ("VT", desk.agent.id)
        answers = Session.get(ScriptAnswer, uuid.UUID(call_id))
        assert answers.answers == {"owner": True, "heating": "Gaz"}
        callback = Session.scalars(sa.select(Callback)).one()
        assert (callback.agent_id, callback.local_due_at.strftime("%H:%M")) == (desk.agent.id, "10:30")
        Session.rollback()


@pytest.fixture()
def legal_hours_on_the_web(monkeypatch):
    """The page's compliance check runs at the dialer's "now" (inside the legal window)."""
    from app.agent import services as agent_services

    started = time.time()
    monkeypatch.setattr(agent_services, "utcnow", lambda: DIAL_NOW + dt.timedelta(seconds=time.time() - started))


class Colleague:
    """A second agent logged in to the campaign without a browser: the page's presence
    beat and login, as the dialer sees them."""

    def __init__(self, tenant_id: int, campaign_id: int, agent_id: int) -> None:
        self.tenant_id, self.campaign_id, self.agent_id = tenant_id, campaign_id, agent_id
        self._stop = threading.Event()
        bus.mark_alive(tenant_id, agent_id)
        bus.send_command(bus.AgentCommand("login", tenant_id, campaign_id, agent_id))
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(2.0):
            bus.mark_alive(self.tenant_id, self.agent_id)

    def state(self) -> dict[str, str]:
        return bus.agent_state(self.tenant_id, self.agent_id)

    def wait_for(self, state: str, timeout: float = 15.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.state().get("state") == state:
                return self.state()
            time.sleep(0.1)
        raise AssertionError(f"colleague never reached {state}: {self.state()}")

    def send(self, kind: str, **fields) -> None:
        bus.send_command(bus.AgentCommand(kind, self.tenant_id, self.campaign_id, self.agent_id, **fields))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def test_agent_dials_manually_then_transfers_the_call_to_a_colleague(live_server, browser_page, world, fast_customers,
                                                                    legal_hours_on_the_web, dialer):
    desk = make_desk(world.a, "Appels manuels", leads=3, dial_mode="MANUEL", recording=True)
    lead = desk.leads[1]
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    colleague = Colleague(desk.tenant_id, desk.campaign.id, world.a.users["supervisor"].id)
    try:
        _login(page, live_server, desk.agent.email, world.password)
        page.goto(f"{live_server}/agent/")
        page.select_option("select[name=campaign_id]", str(desk.campaign.id))
        with page.expect_navigation():
            page.click("[data-testid=agent-login] button[type=submit]")
        page.wait_for_selector("[data-testid=agent-state] [data-state=ready]", timeout=20_000)
        colleague.wait_for("ready")
        # a MANUEL campaign dials nothing by itself
        page.wait_for_timeout(2_000)
        assert page.query_selector("[data-testid=agent-state] [data-state=ready]") is not None

        page.fill("[data-testid=manual-dial-lead]", lead.phone_number)
        page.click("[data-testid=manual-dial-submit]")
        page.wait_for_selector("[data-testid=dial-check][data-dialling=true]")
        page.wait_for_selector("[data-testid=agent-state] [data-state=ringing], "
                               "[data-testid=agent-state] [data-state=in_call]", timeout=10_000)
        shot(page, "agent_manual_dial")
        page.wait_for_selector("[data-testid=agent-state] [data-state=in_call]", timeout=20_000)
        assert lead.last_name in page.inner_text("[data-testid=lead-name]")
        call_id = page.input_value("#ws-lead input[name=call_id]")

        # card payment: the recording is paused, then resumed; the button shows the server's state
        page.click("[data-testid=payment-pause]")
        page.wait_for_selector("[data-testid=payment-pause][aria-pressed=true]")
        shot(page, "agent_payment_pause")
        page.click("[data-testid=payment-pause]")
        page.wait_for_selector("[data-testid=payment-pause][aria-pressed=false]")

        # cold transfer to the colleague, chosen in the transfer menu
        page.click("[data-testid=transfer-menu] summary")
        page.select_option("[data-testid=transfer-agent]", str(colleague.agent_id))
        shot(page, "agent_transfer")
        page.click("[data-testid=transfer-submit]")
        page.wait_for_selector("[data-testid=agent-state] [data-state=ready]", timeout=10_000)
        taken = colleague.wait_for("in_call")
        assert taken["call_id"] == call_id and taken["lead_id"] == str(lead.id)
        colleague.send("hangup")
        colleague.wait_for("wrap_up")
        colleague.send("disposition", status="VT", call_id=call_id)
        colleague.wait_for("ready")
        assert errors == []
    finally:
        colleague.close()

    with tenant_scope(desk.tenant_id):
        call = Session.scalars(sa.select(Call).where(Call.id == uuid.UUID(call_id))).one()
        assert (call.lead_id, call.agent_id, call.disposition) == (lead.id, colleague.agent_id, "VT")
        (transfer,) = json.loads(call.data["transfers"])
        assert (transfer["mode"], transfer["kind"], transfer["agent_id"]) == ("cold", "agent", desk.agent.id)
        (recording,) = Session.scalars(sa.select(Recording).where(Recording.call_id == call.id)).all()
        (gap,) = recording.gaps
        assert gap["reason"] == "payment" and gap["end"] is not None
        Session.rollback()


def test_agent_previews_skips_then_calls_a_lead(live_server, browser_page, world, fast_customers,
                                               legal_hours_on_the_web, dialer):
    desk = make_desk(world.a, "Aperçu", leads=3, dial_mode="PREVIEW")
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _login(page, live_server, desk.agent.email, world.password)
    page.goto(f"{live_server}/agent/")
    page.select_option("select[name=campaign_id]", str(desk.campaign.id))
    with page.expect_navigation():
        page.click("[data-testid=agent-login] button[type=submit]")
    page.wait_for_selector("[data-testid=agent-state] [data-state=ready]", timeout=20_000)
    page.click("[data-testid=preview-next]")
    first = page.get_attribute("[data-testid=preview-lead]", "data-lead-id")
    page.click("[data-testid=preview-skip]")
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=preview-lead]')?.dataset.leadId !== '{first}'")
    second = page.get_attribute("[data-testid=preview-lead]", "data-lead-id")
    shot(page, "agent_preview")
    page.click("[data-testid=preview-accept]")
    page.wait_for_selector("[data-testid=dial-check][data-dialling=true]")
    page.wait_for_selector("[data-testid=agent-state] [data-state=in_call]", timeout=20_000)
    call_id = page.input_value("#ws-lead input[name=call_id]")
    page.keyboard.press("F9")
    page.wait_for_selector("[data-testid=agent-state] [data-state=wrap_up]", timeout=10_000)
    page.keyboard.press("1")
    page.wait_for_selector("[data-testid=agent-state] [data-state=ready]", timeout=10_000)
    assert errors == []
    with tenant_scope(desk.tenant_id):
        call = Session.scalars(sa.select(Call).where(Call.id == uuid.UUID(call_id))).one()
        assert (call.lead_id, call.agent_id, call.disposition) == (int(second), desk.agent.id, "VT")
        skipped = Session.scalars(sa.select(TimelineEvent.kind).where(TimelineEvent.lead_id == int(first))).all()
        assert "preview_skipped" in skipped
        Session.rollback()


SIP_DOMAIN = "agents.carillon.test"


@pytest.fixture()
def kamailio_edge(app, tmp_path, owner_engine):
    """A real Kamailio on loopback reading ``kamailio.subscriber`` of this test
    database, where the application writes the agents' digests."""
    from tests.conftest import TEST_DB
    from tests.integration.kamailio_support import harness

    missing = harness.missing_binaries()
    if missing:
        pytest.skip(f"needs the Debian kamailio and sip-tester packages (missing: {', '.join(missing)})")
    server = harness.tcp_server_url()
    role = os.environ.get("KAMAILIO_DB_ROLE", "kamailio")
    db_url = f"postgres://{role}@{server.host or harness.LOOPBACK}:{server.port or 5432}/{TEST_DB}"
    sip, ws, rpc_port = harness.free_ports(3)
    ports = harness.KamailioPorts(sip=sip, ws=ws, rpc=rpc_port)
    cfg = harness.install_config(tmp_path / "etc", harness.local_cfg(ports, db_url, SIP_DOMAIN))
    with harness.running_kamailio(cfg, ports) as kamailio:
        app.config.update(SIP_DOMAIN=SIP_DOMAIN, SIP_WS_URL=f"ws://{harness.LOOPBACK}:{ports.ws}")
        try:
            yield kamailio
        finally:
            app.config.pop("SIP_DOMAIN")
            app.config.pop("SIP_WS_URL")
            with owner_engine.begin() as conn:  # the kamailio schema is not emptied between tests
                conn.execute(sa.text("DELETE FROM kamailio.subscriber WHERE domain = :d"), {"d": SIP_DOMAIN})


@pytest.mark.kamailio
def test_softphone_registers_with_kamailio_over_websocket(kamailio_edge, live_server, browser_page, world):
    desk = make_desk(world.a, "Softphone", leads=0)
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _login(page, live_server, desk.agent.email, world.password)
    page.goto(f"{live_server}/agent/")
    page.select_option("select[name=campaign_id]", str(desk.campaign.id))
    page.select_option("select[name=phone]", "webrtc")
    with page.expect_navigation():
        page.click("[data-testid=agent-login] button[type=submit]")
    try:
        page.wait_for_selector("[data-testid=phone-status] [data-phone-state=registered]", timeout=20_000)
    except Exception as error:
        raise AssertionError(f"softphone not registered; Kamailio said:\n{kamailio_edge.log_text()[-3000:]}") from error
    assert bus.phone_registered(desk.tenant_id, desk.agent.id)
    shot(page, "agent_softphone_registered")
    assert errors == []
