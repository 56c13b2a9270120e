import datetime as dt

import sqlalchemy as sa

from app.extensions import Session
from app.leads import privacy, services, tasks
from app.leads.models import Lead, LeadList, PrivacySettings, RecycleRule, TimelineEvent
from tenants.scoping import tenant_scope

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def make_lead(list_id, phone, **values):
    lead = Lead(list_id=list_id, phone_number=phone, last_name="Test", vendor_lead_code=services.generate_vendor_lead_code(),
                **values)
    Session.add(lead)
    Session.flush()
    return lead


def test_recycling_is_idempotent_and_bounded(world, lists):
    with tenant_scope(world.a.id):
        Session.add(RecycleRule(campaign_id=lists["a"].campaign_id, status="NA", delay_minutes=60, max_recycles=2,
                                priority="high"))
        last = NOW - dt.timedelta(hours=2)
        due = make_lead(lists["a"].list_id, "+33600000001", status="NA", last_attempt_at=last)
        maxed = make_lead(lists["a"].list_id, "+33600000002", status="NA", last_attempt_at=last, recycles=2)
        other = make_lead(lists["a"].list_id, "+33600000003", status="B", last_attempt_at=last)
        assert privacy.apply_recycling(NOW) == 1
        assert privacy.apply_recycling(NOW) == 0
        Session.refresh(due)
        assert due.next_attempt_at == last + dt.timedelta(hours=1)
        assert (due.recycles, due.priority) == (1, 10)
        Session.refresh(maxed)
        Session.refresh(other)
        assert maxed.next_attempt_at is None and other.next_attempt_at is None
        # a new attempt makes the lead recyclable again
        due.last_attempt_at = NOW - dt.timedelta(minutes=30)
        Session.flush()
        assert privacy.apply_recycling(NOW) == 1
        Session.commit()
    # tenant B has no rule: nothing of A's changes when B's job runs
    with tenant_scope(world.b.id):
        assert privacy.apply_recycling(NOW) == 0
        Session.commit()


def test_retention_purge(world, lists):
    with tenant_scope(world.a.id):
        privacy.set_retention(6)
        old = make_lead(lists["a"].list_id, "+33600000001")
        old.updated_at = old.created_at = NOW - dt.timedelta(days=400)
        make_lead(lists["a"].list_id, "+33600000002")
        Session.commit()
    with tenant_scope(world.b.id):
        ancient = make_lead(lists["b"].list_id, "+33600000009")
        ancient.updated_at = ancient.created_at = NOW - dt.timedelta(days=4000)
        Session.commit()
    tasks.purge_retention.fn()
    with tenant_scope(world.a.id):
        assert Session.scalars(sa.select(Lead.phone_number)).all() == ["+33600000002"]
        Session.commit()
    with tenant_scope(world.b.id):
        # B has no retention policy: nothing purged
        assert Session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 1
        Session.commit()


def test_erasure_keeps_only_counts_and_signals(world, lists):
    received = []

    def listener(tenant_id, **kw):
        received.append((tenant_id, kw["phones"]))

    privacy.person_erased.connect(listener)
    try:
        with tenant_scope(world.a.id):
            lead = make_lead(lists["a"].list_id, "+33600000001", email="x@example.fr")
            twin = make_lead(lists["a"].list_id, "+33600000002", email="X@example.fr")
            make_lead(lists["a"].list_id, "+33600000003")
            services.add_timeline(lead, "call", "appel 30 s")
            services.add_timeline(twin, "call", "appel 10 s")
            assert privacy.erase_person(lead) == 2
            Session.commit()
            assert Session.scalar(sa.select(sa.func.count()).select_from(Lead)) == 1
            assert Session.scalar(sa.select(sa.func.count()).select_from(TimelineEvent)) == 0
            record = Session.scalar(sa.select(PrivacySettings))
            assert (record.erased_people, record.erased_calls) == (1, 2)
            Session.commit()
    finally:
        privacy.person_erased.disconnect(listener)
    assert received == [(world.a.id, ["+33600000001", "+33600000002"])]


def test_create_and_rectify_lead(world, lists):
    with tenant_scope(world.a.id):
        lead_list = Session.get(LeadList, lists["a"].list_id)
        lead = services.create_lead(lead_list, {"last_name": "Dupont", "phone_number": "06 12 34 56 78"})
        assert lead.phone_number == "+33612345678"
        assert lead.vendor_lead_code.startswith("EXT-")
        changes = services.update_lead(lead, {"email": "J@Example.fr", "last_name": "Dupont"})
        assert changes == {"email": (None, "j@example.fr")}
        kinds = [e.kind for e in services.timeline(lead)]
        assert kinds == ["edited", "created"]
        Session.commit()
