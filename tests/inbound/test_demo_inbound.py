"""The demo tenant's inbound set: one number → one voice menu → one queue taken by the
demo campaign, with simulated callers; seeded once however often the seed runs."""

import sqlalchemy as sa

from app.campaigns.models import Campaign
from app.extensions import Session
from app.inbound.models import Did, InboundQueue, IvrMenu, QueueCampaign
from tenants.demo import DEMO_CAMPAIGN, DEMO_DID, DEMO_IVR, DEMO_QUEUE, seed_demo
from tenants.scoping import tenant_scope, unscoped


def test_demo_has_a_number_a_menu_and_a_queue_for_its_campaign(db):
    seed_demo("Demo-pass-12345")
    Session.commit()
    seed_demo("Demo-pass-12345")
    Session.commit()
    with unscoped():
        campaign = Session.scalars(sa.select(Campaign).where(Campaign.name == DEMO_CAMPAIGN)).one()
        assert Session.scalar(sa.select(sa.func.count()).select_from(InboundQueue)) == 1
        Session.commit()
    with tenant_scope(campaign.tenant_id):
        queue = Session.scalars(sa.select(InboundQueue)).one()
        menu = Session.scalars(sa.select(IvrMenu)).one()
        did = Session.scalars(sa.select(Did)).one()
        assert (queue.name, menu.name, did.number) == (DEMO_QUEUE, DEMO_IVR, DEMO_DID)
        assert queue.simulated_per_hour > 0 and queue.active
        assert list(Session.scalars(sa.select(QueueCampaign.campaign_id))) == [campaign.id]
        assert (did.dest_kind, did.dest_target) == ("ivr", menu.id)
        assert [(o.digit, o.dest_kind, o.dest_target) for o in menu.options][0] == ("1", "queue", queue.id)
        assert did.holiday_country == "FR" and did.closed_kind == "message"
        Session.rollback()
