"""The inbound router (telephony.dialer.inbound) with real campaign engines, real
PostgreSQL (CDR rows) and Redis (queue counters). The media backend is a scripted
stand-in for FreeSWITCH (``ScriptedMedia``): it hands out the callers the test
places and records what the router asks of it."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from app.calls.models import Call
from app.extensions import Session
from app.realtime import bus
from telephony.callcontrol import CallEvent, EventKind, OriginateRequest
from telephony.dialer.calls import AgentState
from telephony.dialer.engine import CampaignEngine, CampaignSettings
from telephony.dialer.inbound import InboundRouter, Overflow, WaitingCall, finish_call
from telephony.dialer.pacing import DialMode
from tenants.scoping import tenant_scope
from tests.inbound.conftest import OPEN, FakeClock


class ScriptedMedia:
    """Stands in for FreeSWITCH (mocked media, as the house rules allow)."""

    name = "scripted"

    def __init__(self) -> None:
        self.pending: list[WaitingCall] = []
        self.hung_up: list[str] = []
        self.overflowed: list[tuple[str, Overflow | None]] = []
        self.presented: list[tuple[str, int]] = []
        self.accepted: list[str] = []

    def arrivals(self, queue, now):
        mine = [c for c in self.pending if c.queue_id == queue.queue_id]
        self.pending = [c for c in self.pending if c.queue_id != queue.queue_id]
        return mine

    def accept(self, call, now):
        self.accepted.append(call.call_id)

    def gone(self, now):
        left, self.hung_up = self.hung_up, []
        return left

    def overflow(self, call, destination):
        self.overflowed.append((call.call_id, destination))

    def present(self, runner, call, queue):
        self.presented.append((call.call_id, runner.campaign_id))

    def after_bridge(self, runner, call, queue):
        return None


class NullControl:
    def __init__(self) -> None:
        self.bridged: list[tuple[str, int]] = []

    def originate(self, request: OriginateRequest) -> None:
        raise AssertionError("no outbound dial expected in these tests")

    def hangup(self, call_id, cause="NORMAL_CLEARING"):
        return None

    def bridge_to_agent(self, call_id, agent_id):
        self.bridged.append((call_id, agent_id))

    def play_message(self, call_id, audio):
        return None


class NoLeads:
    def take(self, n):
        return []


class Runner:
    """The parts of ``CampaignRunner`` the router and ``finish_call`` use."""

    def __init__(self, tenant_id: int, campaign_id: int, clock: FakeClock) -> None:
        self.tenant_id, self.campaign_id = tenant_id, campaign_id
        self.control = NullControl()
        self.backend = self.control
        self.engine = CampaignEngine(
            CampaignSettings(tenant_id=tenant_id, campaign_id=campaign_id, mode=DialMode.PROGRESSIF,
                             caller_id="+33162000000", max_clock_step_s=1000.0),
            self.control, _Clock(clock), NoLeads(), on_call_finished=self._finished)
        self.finished: list[Call] = []

    def wall(self, t: float) -> dt.datetime:
        return OPEN + dt.timedelta(seconds=t)

    def _finished(self, record) -> None:
        with tenant_scope(self.tenant_id):
            self.finished.append(finish_call(self, record))
            Session.commit()


class _Clock:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def now(self) -> float:
        return self.clock()


AGENTS: dict[int, int] = {}  # test's agent number -> user id (filled by the rig)


def _agents(tenant_id: int) -> dict[int, int]:
    from app.auth.models import Role
    from app.auth.services import create_user

    with tenant_scope(tenant_id):
        ids = {n: create_user(email=f"agent{n}-{tenant_id}@alpha-appels.fr", display_name=f"Agent {n}",
                              password="Correct-horse-42", role=Role.AGENT, tenant_id=tenant_id).id
               for n in (10, 11, 20)}
        Session.commit()
    return ids


@pytest.fixture()
def rig(setups):
    AGENTS.clear()
    AGENTS.update(_agents(setups["a"].tenant_id))
    clock = FakeClock()
    media = ScriptedMedia()
    router = InboundRouter(media, clock, epoch_wall=OPEN.timestamp(), tenant_ids=[setups["a"].tenant_id])
    a = setups["a"]
    runners = {cid: Runner(a.tenant_id, cid, clock) for cid in a.campaign_ids}
    yield clock, media, router, runners, a
    router.close()


def _caller(setup, number="+33612345678") -> WaitingCall:
    return WaitingCall(str(uuid.uuid4()), setup.tenant_id, setup.queue_id, number, 0.0, did="+33162000099")


def _row(tenant_id: int, call_id: str) -> Call:
    with tenant_scope(tenant_id):
        row = Session.get(Call, uuid.UUID(call_id), populate_existing=True)
        Session.commit()
        return row


def _day_counts(setup) -> dict[str, str]:
    return bus.queue_day_counts(setup.tenant_id, setup.queue_id, OPEN.date().isoformat())


def test_caller_goes_to_the_longest_idle_agent_across_the_accepting_campaigns(rig):
    clock, media, router, runners, a = rig
    first, second = (runners[cid] for cid in a.campaign_ids)
    clock.t = 0.0
    second.engine.login(AGENTS[20])  # ready first (idle longest), in the second campaign
    clock.t = 5.0
    first.engine.login(AGENTS[10])
    clock.t = 6.0
    first.engine.login(AGENTS[11])
    one, two, three = _caller(a), _caller(a, "+33612345679"), _caller(a, "+33612345670")
    for call in (one, two, three):
        call.arrived_at = 10.0
    media.pending = [one, two, three]
    clock.t = 10.0
    router.step(runners)
    assert second.control.bridged == [(one.call_id, AGENTS[20])]
    assert first.control.bridged == [(two.call_id, AGENTS[10]), (three.call_id, AGENTS[11])]
    assert second.engine.agents[AGENTS[20]].state is AgentState.RINGING
    row = _row(a.tenant_id, one.call_id)
    assert (row.direction, row.queue_id, row.agent_id, row.did) == ("in", a.queue_id, AGENTS[20], "+33162000099")
    assert row.wait_s == 0.0 and row.answered_at is not None
    counts = _day_counts(a)
    assert counts["offered"] == "3" and counts["answered"] == "3" and counts["answered_in_sl"] == "3"


def test_group_restriction_skips_agents_outside_the_queue_groups(rig, world):
    clock, media, router, runners, a = rig
    from app.inbound import services
    from app.inbound.models import InboundQueue

    with tenant_scope(a.tenant_id):
        queue = Session.get(InboundQueue, a.queue_id)
        services.save_queue(queue, queue.name, {}, None, a.campaign_ids, [world.a.group.id])
        Session.commit()
    outsider, member = 999_001, world.a.users["agent"].id
    first = runners[a.campaign_ids[0]]
    first.engine.login(outsider)  # longest idle, but not in the queue's group
    clock.t = 1.0
    first.engine.login(member)
    call = _caller(a)
    media.pending = [call]
    clock.t = 2.0
    router.step(runners)
    assert first.control.bridged == [(call.call_id, member)]


def test_waiting_caller_overflows_after_the_maximum_wait(rig):
    clock, media, router, runners, a = rig
    call = _caller(a)
    media.pending = [call]
    router.step(runners)
    assert [c.call_id for c in router.waiting[a.queue_id]] == [call.call_id]
    assert runners[a.campaign_ids[0]].engine.snapshot().calls_waiting == 1  # pacing sees it (blending)
    clock.t = 59.0
    router.step(runners)
    assert media.overflowed == []
    clock.t = 60.0
    router.step(runners)
    assert media.overflowed == [(call.call_id, Overflow(kind="external", target=None, number="+33145000000"))]
    row = _row(a.tenant_id, call.call_id)
    assert (row.state, row.abandoned, row.wait_s, row.cause) == ("overflowed", False, 60.0, "QUEUE_MAX_WAIT")
    assert row.ended_at == OPEN + dt.timedelta(seconds=60)
    assert _day_counts(a)["overflowed"] == "1"
    assert runners[a.campaign_ids[0]].engine.snapshot().calls_waiting == 0


def test_caller_who_hangs_up_while_waiting_is_abandoned(rig):
    clock, media, router, runners, a = rig
    call = _caller(a)
    media.pending = [call]
    router.step(runners)
    clock.t = 12.5
    media.hung_up = [call.call_id]
    router.step(runners)
    row = _row(a.tenant_id, call.call_id)
    assert (row.state, row.abandoned, row.wait_s) == ("abandoned", True, 12.5)
    counts = _day_counts(a)
    assert counts["abandoned"] == "1" and "answered" not in counts
    assert router.waiting[a.queue_id] == type(router.waiting[a.queue_id])()


def test_answer_outside_the_service_level_and_the_cdr_after_disposition(rig):
    clock, media, router, runners, a = rig
    call = _caller(a)
    media.pending = [call]
    router.step(runners)  # nobody is logged in: the caller waits
    clock.t = 25.0
    first = runners[a.campaign_ids[0]]
    first.engine.login(AGENTS[10])
    router.step(runners)
    assert first.control.bridged == [(call.call_id, AGENTS[10])]
    counts = _day_counts(a)
    assert counts["answered"] == "1" and "answered_in_sl" not in counts  # 25 s > 20 s threshold
    clock.t = 25.5
    first.engine.on_event(CallEvent(call.call_id, EventKind.BRIDGED, 25.5))
    clock.t = 85.0
    first.engine.on_event(CallEvent(call.call_id, EventKind.HANGUP, 85.0, "NORMAL_CLEARING"))
    clock.t = 95.0
    first.engine.disposition(AGENTS[10], "INJ")
    [row] = first.finished
    row = _row(a.tenant_id, call.call_id)
    assert (row.state, row.disposition, row.agent_id, row.campaign_id) == ("dispositioned", "INJ", AGENTS[10], first.campaign_id)
    assert (row.wait_s, row.talk_s, row.wrapup_s) == (25.0, 59.5, 10.0)
    assert row.abandoned is False and row.direction == "in"
    assert first.engine.counters.abandoned == 0


def test_inbound_hangup_during_presentation_does_not_count_in_the_outbound_abandon_rate(rig):
    clock, media, router, runners, a = rig
    first = runners[a.campaign_ids[0]]
    first.engine.login(AGENTS[10])
    call = _caller(a)
    media.pending = [call]
    router.step(runners)
    first.engine.on_event(CallEvent(call.call_id, EventKind.HANGUP, 0.5, "ORIGINATOR_CANCEL"))
    assert first.engine.counters.abandoned == 0
    assert first.engine.agents[AGENTS[10]].state is AgentState.READY
    assert _row(a.tenant_id, call.call_id).state == "abandoned"


def test_a_queue_of_another_tenant_is_not_served_by_this_tenant_agents(setups, world):
    """Tenant B's caller never reaches tenant A's agents, even if the runners are given."""
    clock, media = FakeClock(), ScriptedMedia()
    a, b = setups["a"], setups["b"]
    router = InboundRouter(media, clock, epoch_wall=OPEN.timestamp(), tenant_ids=[a.tenant_id, b.tenant_id])
    try:
        runners = {cid: Runner(a.tenant_id, cid, clock) for cid in a.campaign_ids}
        runners[a.campaign_ids[0]].engine.login(world.a.users["agent"].id)
        call = _caller(b)
        media.pending = [call]
        router.step(runners)
        assert runners[a.campaign_ids[0]].control.bridged == []
        assert [c.call_id for c in router.waiting[b.queue_id]] == [call.call_id]
        with tenant_scope(a.tenant_id):
            assert Session.scalar(sa.select(sa.func.count()).select_from(Call)) == 0
            Session.commit()
    finally:
        router.close()


def test_wallboard_state_is_published_for_the_queue(rig):
    clock, media, router, runners, a = rig
    media.pending = [_caller(a), _caller(a, "+33612345679")]
    clock.t = 3.0
    for c in media.pending:
        c.arrived_at = 3.0
    router.step(runners)
    state = bus.all_queues(a.tenant_id)[a.queue_id]
    assert state["waiting"] == "2" and state["offered"] == "2"
    assert float(state["oldest_since"]) == pytest.approx(OPEN.timestamp() + 3.0)


def test_screen_pop_finds_the_caller_lead_of_this_tenant_only(rig, world):
    """The caller's number finds the tenant's lead (the agent screen shows its card);
    the same number in another tenant is never used."""
    from app.campaigns.services import create_campaign
    from app.leads.models import Lead, LeadList

    clock, media, router, runners, a = rig
    leads = {}
    for key, tenant in (("a", world.a), ("b", world.b)):
        with tenant_scope(tenant.id):
            campaign = create_campaign(f"{key} Fichier clients", {"caller_id": "+33162000000"})
            lead_list = LeadList(campaign_id=campaign.id, name="Clients")
            Session.add(lead_list)
            Session.flush()
            lead = Lead(list_id=lead_list.id, phone_number="+33612345678", first_name="Camille", last_name=key,
                        vendor_lead_code=f"{key}-1")
            Session.add(lead)
            Session.commit()
            leads[key] = lead.id
    first = runners[a.campaign_ids[0]]
    first.engine.login(AGENTS[10])
    call = _caller(a)
    media.pending = [call]
    router.step(runners)
    assert _row(a.tenant_id, call.call_id).lead_id == leads["a"]
    assert first.engine.calls[call.call_id].lead_id == leads["a"]  # published with the agent's state
    unknown = _caller(a, "+33699999999")
    media.pending = [unknown]
    router.step(runners)
    assert _row(a.tenant_id, unknown.call_id).lead_id is None


def test_a_customer_transferred_to_the_queue_is_a_new_inbound_call_routed_to_another_agent(rig, world):
    """An agent's cold transfer to a queue (CampaignRunner hands the customer over in
    ``queue_transfers``): the router takes the customer as a new caller of the queue,
    with a CDR row of its own that points at the original call and keeps its lead."""
    from collections import deque

    from app.campaigns.services import create_campaign
    from app.leads.models import Lead, LeadList
    from telephony.dialer.calls import CallRecord, CallState
    from telephony.dialer.inbound import transferred_call

    clock, media, router, runners, a = rig
    with tenant_scope(a.tenant_id):
        campaign = create_campaign("Relances", {"caller_id": "+33162000000"})
        lead_list = LeadList(campaign_id=campaign.id, name="Relances")
        Session.add(lead_list)
        Session.flush()
        lead = Lead(list_id=lead_list.id, phone_number="+33612340000", first_name="Inès", last_name="Roux",
                    vendor_lead_code="r-1")
        Session.add(lead)
        Session.commit()
        lead_id = lead.id
    original = CallRecord(str(uuid.uuid4()), lead_id, "+33612340000", CallState.WRAP_UP, {CallState.QUEUED: 0.0})
    first, second = (runners[cid] for cid in a.campaign_ids)
    second.engine.login(AGENTS[20])
    clock.t = 30.0
    waiting = transferred_call(a.tenant_id, original, a.queue_id, 30.0)
    first.queue_transfers = deque([waiting])
    router.step(runners)
    assert not first.queue_transfers
    assert second.control.bridged == [(waiting.call_id, AGENTS[20])]
    record = second.engine.calls[waiting.call_id]
    assert record.lead_id == lead_id and record.data["transferred_from"] == original.call_id  # screen pop
    row = _row(a.tenant_id, waiting.call_id)
    assert (row.direction, row.queue_id, row.agent_id, row.lead_id) == ("in", a.queue_id, AGENTS[20], lead_id)
    assert row.data["transferred_from"] == original.call_id
    assert _row(a.tenant_id, original.call_id) is None  # the outbound row is never reused
    assert _day_counts(a)["offered"] == "1"


def test_a_transfer_to_a_queue_not_held_here_is_not_taken(rig, setups):
    """A customer sent to another tenant's queue (or one this process does not serve)
    never enters a queue of this router; it is dropped after a while with a warning."""
    from collections import deque

    from telephony.dialer.calls import CallRecord, CallState
    from telephony.dialer.inbound import TRANSFER_PICKUP_S, transferred_call

    clock, media, router, runners, a = rig
    first = runners[a.campaign_ids[0]]
    first.engine.login(AGENTS[10])
    original = CallRecord(str(uuid.uuid4()), None, "+33612340000", CallState.WRAP_UP, {CallState.QUEUED: 0.0})
    waiting = transferred_call(a.tenant_id, original, setups["b"].queue_id, 0.0)
    first.queue_transfers = deque([waiting])
    router.step(runners)
    assert list(first.queue_transfers) == [waiting] and first.control.bridged == []
    clock.t = TRANSFER_PICKUP_S
    router.step(runners)
    assert not first.queue_transfers and first.control.bridged == []
    assert _row(a.tenant_id, waiting.call_id) is None
