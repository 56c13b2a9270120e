from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from app.campaigns import services
from app.extensions import Session
from app.leads.models import Lead, LeadList
from tenants.scoping import tenant_scope
from tests.factories import csrf_from, login

NOW = dt.datetime(2026, 11, 30, 10, 30, tzinfo=dt.UTC)  # a Monday, 11:30 in Paris


@dataclass
class TenantCampaign:
    tenant_id: int
    campaign_id: int
    list_id: int
    lead_id: int
    status_id: int
    pause_id: int


def make_campaign(tenant_id: int, prefix: str) -> TenantCampaign:
    with tenant_scope(tenant_id):
        campaign = services.create_campaign(f"{prefix} Rénovation", {"caller_id": "+33162000001"})
        lead_list = LeadList(campaign_id=campaign.id, name=f"{prefix} fichier")
        Session.add(lead_list)
        Session.flush()
        lead = Lead(list_id=lead_list.id, first_name="Camille", last_name=prefix, phone_number="+33612345678",
                    postal_code="75011", vendor_lead_code=f"{prefix}-1", custom={"heating": "fioul"})
        Session.add(lead)
        Session.flush()
        made = TenantCampaign(tenant_id, campaign.id, lead_list.id, lead.id, campaign.statuses[0].id,
                              campaign.pause_codes[0].id)
        Session.commit()
    return made


@pytest.fixture()
def camps(world):
    return {"a": make_campaign(world.a.id, "A"), "b": make_campaign(world.b.id, "B")}


def logged_in(client, user, password) -> str:
    """Log in and return a CSRF token for the session."""
    assert login(client, user.email, password).status_code == 302
    return csrf_from(client.get("/campaigns/").get_data(as_text=True))
