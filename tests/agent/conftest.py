from __future__ import annotations

import os
import pathlib
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from app.campaigns import scripts as script_services
from app.campaigns.models import Campaign
from app.campaigns.services import set_assignments
from app.extensions import Session, redis
from app.leads.models import Lead, LeadList
from app.realtime import bus
from tenants.scoping import tenant_scope
from tests.dialer_db.conftest import add_leads, make_campaign
from tests.factories import login

SCRIPT = {"pages": [
    {"key": "p1", "title": "Présentation", "blocks": [
        {"type": "text", "text": "Bonjour {first_name} {last_name}, je vous appelle de la part de Habitat Plus."},
        {"type": "question", "key": "owner", "label": "Propriétaire ?", "answer_type": "yes_no", "choices": [],
         "branches": []},
        {"type": "question", "key": "heating", "label": "Chauffage", "answer_type": "choice",
         "choices": ["Fioul", "Gaz", "Électricité"], "branches": []},
        {"type": "button", "label": "Vente", "status": "VT"}]}]}


# Other test sessions may share this Redis and their databases number tenants and
# campaigns from 1 too: these tests use ids of their own (by process id), so live keys
# never collide, and clear only their own keys.
ROOT_DIR = pathlib.Path(__file__).resolve().parents[2]
ID_BASE = 100_000 + (os.getpid() % 20_000) * 100


@pytest.fixture(autouse=True)
def _ids_of_our_own(db, owner_engine):
    with owner_engine.connect() as conn:
        for table in ("tenants", "campaigns", "users"):
            conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {ID_BASE})"))


def clear_bus() -> None:
    for pattern in (f"{bus.PREFIX}:t{ID_BASE // 100}*", f"{bus.PREFIX}:commands:campaign:{ID_BASE // 100}*"):
        for key in redis().scan_iter(pattern):
            redis().delete(key)


@dataclass
class Desk:
    """One tenant's campaign with a published script, its leads, and its agent."""

    tenant_id: int
    campaign: Campaign
    leads: list[Lead]
    agent: object


def make_desk(tenant_world, name: str, leads: int = 3, **settings) -> Desk:
    campaign = make_campaign(tenant_world.id, name, leads=0, **settings)
    agent = tenant_world.users["agent"]
    with tenant_scope(tenant_world.id):
        campaign = Session.get(Campaign, campaign.id)
        script = script_services.create_script(f"Script {name}", SCRIPT)
        script_services.publish_script(script)
        campaign.script_id = script.id
        set_assignments(campaign, [agent.id], [])
        lead_list = Session.query(LeadList).filter_by(campaign_id=campaign.id).one()
        start = 1000 * (tenant_world.id % 50)
        made = add_leads(lead_list.id, leads, start=start)
        Session.commit()
        lead_ids = [lead.id for lead in made]
    with tenant_scope(tenant_world.id):
        made = [Session.get(Lead, i) for i in lead_ids]
        campaign = Session.get(Campaign, campaign.id)
        Session.commit()
    return Desk(tenant_world.id, campaign, made, agent)


@pytest.fixture()
def desks(world):
    clear_bus()
    yield make_desk(world.a, "Rénovation"), make_desk(world.b, "Mutuelle")
    clear_bus()


def logged_in(client, world, user) -> None:
    response = login(client, user.email, world.password)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def join(client, desk: Desk) -> None:
    """Log the agent in to the desk's campaign through the page."""
    from tests.factories import csrf_from

    page = client.get("/agent/")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post("/agent/", data={"csrf_token": token, "campaign_id": desk.campaign.id,
                                            "phone": "webrtc"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def put_in_call(desk: Desk, lead: Lead, state: str = "in_call") -> str:
    """What the dialer publishes when it bridges a call to the agent."""
    call_id = str(uuid.uuid4())
    bus.publish_agent(desk.tenant_id, desk.agent.id, {
        "state": state, "since": 1_700_000_000.0, "campaign_id": desk.campaign.id, "pause_code": "",
        "call_id": call_id, "lead_id": lead.id, "phone": lead.phone_number, "virtual": 0})
    return call_id


def token_of(client) -> str:
    from tests.factories import csrf_from

    return csrf_from(client.get("/agent/").get_data(as_text=True))
