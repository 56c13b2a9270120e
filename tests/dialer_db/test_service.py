"""The dialer service on real PostgreSQL with the simulated backend: calls placed,
routed to agents, CDRs written; one service per campaign; restart without
double-dialling. The clock is driven by the test (no sleeping)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from app.calls.models import Call
from app.campaigns.models import DialAttempt
from app.extensions import Session
from app.leads.models import Lead
from telephony.dialer.service import DialerService
from tenants.scoping import tenant_scope
from tests.dialer_db.conftest import OPEN, make_campaign, released


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _service(clock: FakeClock, tenant_id: int) -> DialerService:
    return DialerService(clock=clock, tenant_ids=[tenant_id], epoch_wall=OPEN.timestamp(), discover_every_s=30)


def _run(service: DialerService, clock: FakeClock, seconds: float, step: float = 0.5) -> None:
    end = clock.t + seconds
    while clock.t < end:
        service.step()
        clock.t += step


def _calls(tenant_id: int) -> list[Call]:
    with tenant_scope(tenant_id):
        calls = list(Session.scalars(sa.select(Call)))
        Session.expunge_all()  # detached, they keep their loaded values after the scope
        Session.rollback()
        return calls


def test_simulated_shift_places_calls_routes_them_and_writes_cdrs(world):
    campaign = make_campaign(world.a.id, "Démo", leads=200)
    clock = FakeClock()
    service = _service(clock, world.a.id)
    with released(service):
        _run(service, clock, 900)
    calls = _calls(world.a.id)
    assert len(calls) >= 8  # one agent, progressive: about one dial per agent cycle
    finished = [c for c in calls if c.ended_at is not None]
    assert finished, "some calls completed"
    bridged = [c for c in finished if c.bridged_at is not None]
    assert bridged and all(c.agent_id in {u.id for u in [world.a.users["agent"]]} for c in bridged)
    for call in finished:
        assert call.times["dialling"] <= max(call.times.values())
        assert call.disposition, "every finished call leaves a status"
    no_answers = [c for c in finished if c.state == "no_answer"]
    assert all(c.ring_s >= 15 for c in no_answers), "unanswered calls ring at least 15 s (R4)"
    with tenant_scope(world.a.id):
        attempts = Session.scalar(sa.select(sa.func.count()).select_from(DialAttempt))
        dialled = list(Session.scalars(sa.select(Lead).where(Lead.attempts > 0)))
    assert attempts == len(finished)
    assert all(lead.last_attempt_at is not None for lead in dialled)
    assert campaign.id not in service.held


def test_two_services_never_drive_one_campaign(world):
    campaign = make_campaign(world.a.id, "Verrou", leads=50)
    clock = FakeClock()
    first, second = _service(clock, world.a.id), _service(clock, world.a.id)
    try:
        first.discover()
        second.discover()
        assert campaign.id in first.held and campaign.id not in second.held
        first.release(campaign.id)
        second.discover()
        assert campaign.id in second.held, "another service takes over once the lock is free"
    finally:
        for service in (first, second):
            for campaign_id in list(service.held):
                service.release(campaign_id)


def test_restart_mid_shift_closes_open_calls_and_dials_no_lead_twice(world):
    make_campaign(world.a.id, "Reprise", leads=40)
    clock = FakeClock()
    service = _service(clock, world.a.id)
    _run(service, clock, 20)
    open_before = [c for c in _calls(world.a.id) if c.ended_at is None]
    assert open_before, "calls were in flight when the service died"
    for campaign_id in list(service.held):  # the process dies: its connection, and lock, go with it
        service.held.pop(campaign_id).lock.invalidate()
    restarted = _service(clock, world.a.id)
    with released(restarted):
        _run(restarted, clock, 120)
    calls = _calls(world.a.id)
    by_id = {c.id: c for c in calls}
    for call in open_before:
        closed = by_id[call.id]
        assert closed.ended_at is not None and closed.cause == "SERVICE_RESTART"
    per_lead: dict[int, int] = {}
    for call in calls:
        per_lead[call.lead_id] = per_lead.get(call.lead_id, 0) + 1
    assert max(per_lead.values()) == 1, "no lead was dialled twice across the restart"


def test_lead_deleted_while_in_flight_is_skipped_cleanly(world):
    make_campaign(world.a.id, "Suppression", leads=10)
    clock = FakeClock()
    service = _service(clock, world.a.id)
    with released(service):
        in_flight: list[Call] = []
        while not in_flight and clock.t < 120:
            _run(service, clock, 1)
            in_flight = [c for c in _calls(world.a.id) if c.ended_at is None]
        assert in_flight
        with tenant_scope(world.a.id):
            Session.execute(sa.delete(Lead).where(Lead.id == in_flight[0].lead_id))
            Session.commit()
        _run(service, clock, 300)
    with tenant_scope(world.a.id):
        call = Session.get(Call, uuid.UUID(str(in_flight[0].id)))
        assert call.lead_id is None and call.ended_at is not None
        Session.rollback()
