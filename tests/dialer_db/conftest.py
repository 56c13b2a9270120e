from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

import pytest

from app.campaigns.models import Campaign
from app.campaigns.services import create_campaign
from app.extensions import Session
from app.leads.models import Lead, LeadList
from tenants.scoping import tenant_scope

# A Tuesday, 10:30 in Paris: inside the French legal window (D223-9).
OPEN = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
CONSENT = {"consent_source": "web form", "consent_at": dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
           "consent_text": "J'accepte d'être appelé", "consent_proof": "form-123"}


def add_leads(list_id: int, count: int, start: int = 0, **fields) -> list[Lead]:
    leads = [Lead(list_id=list_id, phone_number=f"+3361{start + i:07d}", vendor_lead_code=f"T{start + i}",
                  first_name="Lea", last_name=f"Test{start + i}", postal_code="75011", **{**CONSENT, **fields})
             for i in range(count)]
    Session.add_all(leads)
    Session.flush()
    return leads


def make_campaign(tenant_id: int, name: str = "Prospection", leads: int = 20, **settings) -> Campaign:
    with tenant_scope(tenant_id):
        campaign = create_campaign(name, {"dial_mode": "PROGRESSIF", "caller_id": "+33162000000", **settings})
        campaign.active = True
        lead_list = LeadList(campaign_id=campaign.id, name=f"{name} liste")
        Session.add(lead_list)
        Session.flush()
        add_leads(lead_list.id, leads)
        Session.commit()
        return campaign


@pytest.fixture()
def campaign(world) -> Campaign:
    return make_campaign(world.a.id)


@contextlib.contextmanager
def released(service) -> Iterator[None]:
    """Whatever the test does, the service lets go of its campaigns (and their locks)."""
    try:
        yield
    finally:
        for campaign_id in list(service.held):
            service.release(campaign_id)
