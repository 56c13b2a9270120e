"""Tenant B gets 404 on every campaigns route that names tenant A's rows, and A's rows
stay as they were."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.campaigns import callbacks, scripts
from app.campaigns.models import Callback, Campaign, CampaignStatus, PauseCode, Script
from app.extensions import Session
from app.leads.models import Lead
from tenants.scoping import tenant_scope
from tests.campaigns.conftest import logged_in


@pytest.fixture()
def a_rows(world, camps):
    c = camps["a"]
    with tenant_scope(world.a.id):
        campaign = Session.get(Campaign, c.campaign_id)
        campaign.voicemail_audio = "missing.wav"
        script = scripts.create_script("Script A")
        version = scripts.publish_script(script)
        callback = callbacks.schedule_callback(Session.get(Lead, c.lead_id), campaign,
                                               dt.datetime.now(dt.UTC) + dt.timedelta(days=1), agent_id=None)
        rows = {"campaign": c.campaign_id, "status": c.status_id, "pause": c.pause_id, "script": script.id,
                "version": version.id, "callback": callback.id, "agent": world.a.users["agent"].id}
        Session.commit()
    return rows


def _routes(a: dict, b_campaign: int, b_script: int) -> list[tuple[str, str]]:
    cid = a["campaign"]
    return [
        ("GET", f"/campaigns/{cid}"), ("POST", f"/campaigns/{cid}"),
        ("POST", f"/campaigns/{cid}/clone"), ("POST", f"/campaigns/{cid}/archive"),
        ("POST", f"/campaigns/{cid}/restore"), ("GET", f"/campaigns/{cid}/voicemail"),
        ("GET", f"/campaigns/{cid}/statuses"), ("POST", f"/campaigns/{cid}/statuses"),
        ("GET", f"/campaigns/{cid}/statuses/{a['status']}"), ("POST", f"/campaigns/{cid}/statuses/{a['status']}"),
        ("POST", f"/campaigns/{cid}/statuses/{a['status']}/delete"), ("POST", f"/campaigns/{cid}/statuses/order"),
        ("GET", f"/campaigns/{b_campaign}/statuses/{a['status']}"),
        ("POST", f"/campaigns/{b_campaign}/statuses/{a['status']}/delete"),
        ("GET", f"/campaigns/{cid}/pauses"), ("POST", f"/campaigns/{cid}/pauses"),
        ("POST", f"/campaigns/{cid}/pauses/mode"), ("POST", f"/campaigns/{cid}/pauses/{a['pause']}/delete"),
        ("POST", f"/campaigns/{b_campaign}/pauses/{a['pause']}/delete"),
        ("GET", f"/campaigns/{cid}/callbacks"), ("POST", f"/campaigns/{cid}/callbacks"),
        ("POST", f"/campaigns/callbacks/{a['callback']}/transfer"), ("POST", f"/campaigns/callbacks/{a['callback']}/done"),
        ("GET", f"/campaigns/callbacks?agent={a['agent']}"),
        ("GET", f"/campaigns/{cid}/compliance"),
        ("GET", f"/campaigns/scripts/{a['script']}"), ("POST", f"/campaigns/scripts/{a['script']}"),
        ("POST", f"/campaigns/scripts/{a['script']}/publish"), ("GET", f"/campaigns/scripts/{a['script']}/preview"),
        ("GET", f"/campaigns/scripts/{b_script}/preview?version={a['version']}"),
    ]


def test_tenant_b_gets_404_on_every_route(client, world, camps, a_rows):
    with tenant_scope(world.b.id):
        b_script = scripts.create_script("Script B").id
        Session.commit()
    token = logged_in(client, world.b.users["manager"], world.password)
    for method, url in _routes(a_rows, camps["b"].campaign_id, b_script):
        data = {"csrf_token": token, "name": "pwned", "code": "ZZ", "category": "commercial", "agent_id": "0",
                "pause_mode": "disabled", "status_id": str(a_rows["status"])}
        response = client.get(url) if method == "GET" else client.post(url, data=data)
        assert response.status_code == 404, (method, url, response.status_code)
    with tenant_scope(world.a.id):
        campaign = Session.get(Campaign, a_rows["campaign"], populate_existing=True)
        assert (campaign.name, campaign.archived, campaign.pause_mode) == ("A Rénovation", False, "optional")
        assert Session.get(CampaignStatus, a_rows["status"], populate_existing=True) is not None
        assert Session.get(PauseCode, a_rows["pause"], populate_existing=True) is not None
        assert Session.get(Callback, a_rows["callback"], populate_existing=True).state == "pending"
        assert Session.get(Script, a_rows["script"], populate_existing=True).name == "Script A"
        assert Session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 1


def test_lists_never_show_other_tenant_rows(client, world, camps, a_rows):
    logged_in(client, world.b.users["manager"], world.password)
    assert "A Rénovation" not in client.get("/campaigns/").get_data(as_text=True)
    assert "Script A" not in client.get("/campaigns/scripts").get_data(as_text=True)
    edit = client.get(f"/campaigns/{camps['b'].campaign_id}").get_data(as_text=True)
    assert "Agent Alpha Appels" not in edit and "Agent Beta Contact" in edit
    assert "Script A" not in edit


def test_foreign_ids_in_forms_are_ignored(client, world, camps, a_rows):
    """B cannot attach A's agents, groups or script to its campaign by posting ids."""
    from tests.campaigns.test_routes import campaign_form

    token = logged_in(client, world.b.users["manager"], world.password)
    data = campaign_form(token, name="B Rénovation", agents=str(world.a.users["agent"].id),
                         groups=str(world.a.group.id), script_id=str(a_rows["script"]))
    response = client.post(f"/campaigns/{camps['b'].campaign_id}", data=data)
    assert response.status_code == 200  # "not a valid choice"
    with tenant_scope(world.b.id):
        assert Session.get(Campaign, camps["b"].campaign_id, populate_existing=True).script_id is None
