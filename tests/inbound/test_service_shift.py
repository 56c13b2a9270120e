"""The dialer service on the simulated backend serves an inbound queue: Poisson
callers reach the campaign's (virtual) agents, who talk and disposition; the CDR rows
are complete. Real PostgreSQL and Redis; the clock is driven by the test."""

from __future__ import annotations

import sqlalchemy as sa

from app.auth.models import Role
from app.auth.services import create_user
from app.calls.models import Call
from app.extensions import Session
from app.inbound.models import InboundQueue
from app.realtime import bus
from telephony.dialer.service import DialerService
from tenants.scoping import tenant_scope
from tests.inbound.conftest import OPEN, FakeClock


def test_simulated_callers_reach_agents_and_leave_complete_cdrs(setups):
    a = setups["a"]
    with tenant_scope(a.tenant_id):
        for n in range(3):
            create_user(email=f"shift{n}@alpha-appels.fr", display_name=f"Agent {n}", password="Correct-horse-42",
                        role=Role.AGENT, tenant_id=a.tenant_id)
        Session.get(InboundQueue, a.queue_id).simulated_per_hour = 720  # one caller every 5 s on average
        Session.commit()
    clock = FakeClock()
    service = DialerService(clock=clock, tenant_ids=[a.tenant_id], epoch_wall=OPEN.timestamp(), discover_every_s=30)
    try:
        while clock.t < 400:
            service.step()
            clock.t += 0.5
    finally:
        service.inbound.close()
        for campaign_id in list(service.held):
            service.release(campaign_id)
    with tenant_scope(a.tenant_id):
        calls = list(Session.scalars(sa.select(Call).where(Call.direction == "in")))
        Session.commit()
    assert len(calls) >= 30  # ~80 expected in 400 s at 720/h
    assert all(c.queue_id == a.queue_id for c in calls)
    done = [c for c in calls if c.state == "dispositioned"]
    assert done, "some callers were served and their calls dispositioned"
    for call in done:
        assert call.agent_id is not None and call.campaign_id in a.campaign_ids
        assert call.wait_s is not None and call.talk_s and call.talk_s > 0 and call.disposition
        assert call.answered_at <= call.bridged_at <= call.ended_at
    # every caller either was answered or left (abandoned, overflowed), or is still in the system
    assert {c.state for c in calls} <= {"queued", "human", "bridged", "wrap_up", "dispositioned", "abandoned",
                                        "overflowed"}
    counts = bus.queue_day_counts(a.tenant_id, a.queue_id, OPEN.date().isoformat())
    assert int(counts["offered"]) == len(calls)
    assert int(counts["answered"]) >= len(done)


def test_an_inbound_only_campaign_is_driven_and_its_agents_take_the_queue(world):
    """RÉCEPTION: the service holds the campaign (it never dials) so that its agents
    serve the queues that accept it."""
    from app.inbound import services
    from tests.inbound.conftest import make_campaign

    tenant_id = world.a.id
    with tenant_scope(tenant_id):
        reception = make_campaign(tenant_id, "Accueil téléphonique", mode="RECEPTION")
        queue = services.save_queue(None, "Standard", {"simulated_per_hour": 1800, "max_wait_s": 300}, None,
                                    [reception.id], [])
        ids = (reception.id, queue.id)
        Session.commit()
    reception_id, queue_id = ids
    clock = FakeClock()
    service = DialerService(clock=clock, tenant_ids=[tenant_id], epoch_wall=OPEN.timestamp(), discover_every_s=30)
    try:
        while clock.t < 120:
            service.step()
            clock.t += 0.5
        assert reception_id in service.held
        assert service.held[reception_id].runner.engine.counters.dials == 0
    finally:
        service.inbound.close()
        for campaign_id in list(service.held):
            service.release(campaign_id)
    with tenant_scope(tenant_id):
        answered = list(Session.scalars(sa.select(Call).where(Call.queue_id == queue_id, Call.agent_id.is_not(None))))
        outbound = Session.scalar(sa.select(sa.func.count()).select_from(Call).where(Call.direction == "out"))
        Session.commit()
    assert answered and all(c.campaign_id == reception_id for c in answered)
    assert outbound == 0


def test_waiting_callers_count_for_pacing_but_show_under_their_queue(world):
    """No agent logged in: callers wait; each accepting campaign's pacing sees them as
    calls waiting, while the campaign row's "waiting" keeps to outbound calls and the
    queue's live state counts the callers once."""
    from app.inbound import services
    from tests.inbound.conftest import make_campaign

    tenant_id = world.a.id
    with tenant_scope(tenant_id):
        first = make_campaign(tenant_id, "Accueil", mode="RECEPTION")
        second = make_campaign(tenant_id, "Relance", mode="RECEPTION")
        queue = services.save_queue(None, "Standard", {"simulated_per_hour": 3600, "max_wait_s": 600}, None,
                                    [first.id, second.id], [])
        ids = (first.id, second.id, queue.id)
        Session.commit()
    clock = FakeClock()
    service = DialerService(clock=clock, tenant_ids=[tenant_id], epoch_wall=OPEN.timestamp(), discover_every_s=30,
                            virtual_agents=False)
    service.inbound.media.patience_mean_s = 10_000  # nobody hangs up during the test
    try:
        while clock.t < 40:
            service.step()
            clock.t += 0.5
        waiting = len(service.inbound.waiting[ids[2]])
        assert waiting >= 5
        for campaign_id in ids[:2]:
            runner = service.held[campaign_id].runner
            assert runner.engine.snapshot().calls_waiting == waiting
            assert runner.stats()["waiting"] == 0
        assert bus.all_queues(tenant_id)[ids[2]]["waiting"] == str(waiting)
    finally:
        service.inbound.close()
        for campaign_id in list(service.held):
            service.release(campaign_id)
