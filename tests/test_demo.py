"""The demo the run command seeds: idempotent, a live campaign ready for the dialer."""

import sqlalchemy as sa

from app.auth.models import User
from app.campaigns.models import Campaign
from app.campaigns.services import campaign_agents
from app.extensions import Session
from app.leads.models import Lead
from tenants.demo import DEMO_CAMPAIGN, seed_demo
from tenants.scoping import tenant_scope, unscoped


def test_demo_seed_is_idempotent_and_ready_to_dial(db):
    first = seed_demo("Demo-pass-12345")
    Session.commit()
    second = seed_demo("Demo-pass-12345")
    Session.commit()
    assert [login.email for login in first] == [login.email for login in second]
    with unscoped():
        campaign = Session.scalars(sa.select(Campaign).where(Campaign.name == DEMO_CAMPAIGN)).one()
        assert Session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 1
        admins = Session.scalars(sa.select(User).where(User.level == 10)).all()
    assert len(admins) == 1 and admins[0].tenant_id is None
    with tenant_scope(campaign.tenant_id):
        campaign = Session.get(Campaign, campaign.id)
        assert campaign.active and campaign.dial_mode == "AUTOMATIQUE2" and campaign.script_id is not None
        assert {u.email for u in campaign_agents(campaign)} >= {"agent@carillon-demo.fr", "agent2@carillon-demo.fr"}
        leads = Session.scalars(sa.select(Lead)).all()
        assert len(leads) == 3000 and all(lead.consent_at is not None for lead in leads)
        Session.rollback()
