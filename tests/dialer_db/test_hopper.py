"""The hopper on real PostgreSQL: order, compliance screening, reservations, and
several processes taking leads at once without ever taking one twice."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os

import sqlalchemy as sa

from app.campaigns.callbacks import schedule_callback
from app.campaigns.models import Campaign, ComplianceBlock
from app.extensions import Session
from app.leads.models import Lead, LeadList, RedListEntry
from telephony.dialer.hopper import NEVER, Hopper
from tenants.scoping import tenant_scope
from tests.dialer_db.conftest import OPEN, add_leads, make_campaign


def _take(campaign_id: int, tenant_id: int, n: int, at: dt.datetime = OPEN):
    with tenant_scope(tenant_id):
        taken = Hopper(campaign_id, clock=lambda: at).take(n)
        Session.commit()
        return taken


def test_new_leads_in_list_order_and_reserved(campaign, world):
    first = _take(campaign.id, world.a.id, 5)
    assert len(first) == 5
    ids = [lead.lead_id for lead in first]
    assert ids == sorted(ids)
    second = _take(campaign.id, world.a.id, 5)
    assert not set(ids) & {lead.lead_id for lead in second}, "a reserved lead is never handed out again"
    with tenant_scope(world.a.id):
        reserved = Session.get(Lead, ids[0])
        assert reserved.next_attempt_at > OPEN


def test_outside_legal_hours_nothing_is_dialled_and_reasons_are_logged(campaign, world):
    saturday = dt.datetime(2026, 12, 5, 10, 0, tzinfo=dt.UTC)
    assert _take(campaign.id, world.a.id, 5, at=saturday) == []
    with tenant_scope(world.a.id):
        blocks = list(Session.scalars(sa.select(ComplianceBlock)))
        lead = Session.get(Lead, blocks[0].lead_id)
    assert {b.reason for b in blocks} == {"window"} or {b.reason for b in blocks} == {"holiday"} or blocks
    # parked until the next legal opening (Monday 10:00 Paris), not polled every second
    assert lead.next_attempt_at == dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def test_red_listed_and_unconsented_leads_are_held_back(campaign, world):
    with tenant_scope(world.a.id):
        lead_list = Session.scalars(sa.select(LeadList)).one()
        blocked, unconsented = add_leads(lead_list.id, 2, start=500)
        unconsented.consent_source = None
        Session.add(RedListEntry(phone_number=blocked.phone_number, reason="opposition"))
        Session.commit()
        blocked_id, unconsented_id = blocked.id, unconsented.id
    taken = {lead.lead_id for lead in _take(campaign.id, world.a.id, 50)}
    assert blocked_id not in taken and unconsented_id not in taken
    assert len(taken) == 20
    with tenant_scope(world.a.id):
        reasons = dict(Session.execute(sa.select(ComplianceBlock.lead_id, ComplianceBlock.reason)).all())
    assert reasons == {blocked_id: "red_list", unconsented_id: "consent"}


def test_due_shared_callback_comes_first_then_recycled_by_priority(campaign, world):
    with tenant_scope(world.a.id):
        leads = list(Session.scalars(sa.select(Lead).order_by(Lead.id)))
        recycled, callback_lead = leads[10], leads[15]
        recycled.attempts, recycled.priority = 1, 10
        recycled.next_attempt_at = OPEN - dt.timedelta(hours=2)
        camp = Session.get(Campaign, campaign.id)
        schedule_callback(callback_lead, camp, OPEN - dt.timedelta(minutes=5), agent_id=None,
                          now=OPEN - dt.timedelta(hours=1))
        Session.commit()
        ids = callback_lead.id, recycled.id, leads[0].id
    taken = [lead.lead_id for lead in _take(campaign.id, world.a.id, 3)]
    assert taken == list(ids)


def test_final_statuses_and_inactive_lists_are_never_taken(campaign, world):
    with tenant_scope(world.a.id):
        leads = list(Session.scalars(sa.select(Lead).order_by(Lead.id)))
        leads[0].status = "VT"  # sale: final
        leads[1].next_attempt_at = NEVER
        Session.commit()
        first_ids = {leads[0].id, leads[1].id}
    taken = {lead.lead_id for lead in _take(campaign.id, world.a.id, 50)}
    assert len(taken) == 18 and not taken & first_ids
    with tenant_scope(world.a.id):
        Session.scalars(sa.select(LeadList)).one().active = False
        Session.commit()
    assert _take(campaign.id, world.a.id, 5, at=OPEN + dt.timedelta(hours=1)) == []


def test_hopper_of_one_tenant_never_sees_another_tenants_leads(world):
    a_id = make_campaign(world.a.id, "Alpha", leads=5).id
    make_campaign(world.b.id, "Beta", leads=5)
    with tenant_scope(world.b.id):
        assert Hopper(a_id, clock=lambda: OPEN).take(10) == []  # campaign of A is invisible to B
        Session.rollback()
    assert len(_take(a_id, world.a.id, 10)) == 5


def _worker(campaign_id: int, tenant_id: int, rounds: int, queue) -> None:
    from app.extensions import dispose_db
    from app.runtime import boot_from_env

    dispose_db(close=False)  # the inherited connections are the parent's: leave them be
    boot_from_env()  # a fresh engine of this process's own
    got: list[int] = []
    empty = 0
    for _ in range(rounds):  # until the hopper is dry (twice: a batch can come back short
        batch = [lead.lead_id for lead in _take(campaign_id, tenant_id, 7)]  # when rows are locked)
        got.extend(batch)
        empty = 0 if batch else empty + 1
        if empty == 2:
            break
    queue.put(got)


def test_concurrent_processes_never_take_the_same_lead(world):
    campaign = make_campaign(world.a.id, "Concurrence", leads=300)
    ctx = multiprocessing.get_context("spawn" if os.environ.get("CARILLON_SPAWN") else "fork")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(campaign.id, world.a.id, 200, queue)) for _ in range(4)]
    for w in workers:
        w.start()
    results = [queue.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    taken = [lead_id for got in results for lead_id in got]
    assert len(taken) == 300, "between them the processes emptied the list"
    assert len(set(taken)) == len(taken), "a lead was handed to two dialers"


def test_count_dialable_counts_due_leads_up_to_a_cap(campaign, world):
    with tenant_scope(world.a.id):
        hopper = Hopper(campaign.id, clock=lambda: OPEN)
        assert hopper.count_dialable() == 20
        assert hopper.count_dialable(cap=7) == 7
        leads = list(Session.scalars(sa.select(Lead).order_by(Lead.id)))
        leads[0].status = "VT"  # final
        leads[1].next_attempt_at = OPEN + dt.timedelta(hours=1)  # not due yet
        leads[2].attempts, leads[2].next_attempt_at = 1, OPEN - dt.timedelta(minutes=1)  # recycled, due
        Session.flush()
        assert hopper.count_dialable() == 18
        Session.rollback()
