"""Campaign pages through the test client: the happy paths and every bad input."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import sqlalchemy as sa

from app.campaigns import compliance, scripts
from app.campaigns.models import Callback, Campaign, CampaignStatus, PauseCode, Script
from app.extensions import Session
from app.leads.models import Lead, LeadList
from tenants.scoping import tenant_scope
from tests.campaigns.conftest import NOW, logged_in


def campaign_form(token: str, **overrides) -> dict:
    data = {
        "csrf_token": token, "name": "Isolation thermique", "dial_mode": "AUTOMATIQUE2", "trunk_id": "0",
        "caller_id": "01 62 00 00 01", "dids": "0162000002\n0270000003", "local_presence": "y", "recording": "y",
        "dial_order": "oldest_attempt", "attempt_limit": "3", "min_spacing_minutes": "120",
        "refusal_delay_days": "60", "amd": "y", "dial_speed": "4", "abandon_target_pct": "2.5", "script_id": "0",
        "pause_mode": "mandatory", "prospecting": "y",
    }
    for day in range(7):
        for key in ("start1", "end1", "start2", "end2"):
            data[f"hours-{day}-{key}"] = ""
    for day in range(5):
        data.update({f"hours-{day}-start1": "10:00", f"hours-{day}-end1": "12:30",
                     f"hours-{day}-start2": "14:00", f"hours-{day}-end2": "19:00"})
    data.update(overrides)
    return data


def _count(world, model) -> int:
    with tenant_scope(world.a.id):
        return Session.scalar(sa.select(sa.func.count()).select_from(model))


def test_manager_creates_a_full_campaign(app, client, world, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path))
    token = logged_in(client, world.a.users["manager"], world.password)
    data = campaign_form(token, agents=str(world.a.users["agent"].id), groups=str(world.a.group.id),
                         voicemail=(io.BytesIO(b"RIFF....WAVEfmt "), "message.wav"))
    response = client.post("/campaigns/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with tenant_scope(world.a.id):
        campaign = Session.scalars(sa.select(Campaign)).one()
        assert (campaign.dial_mode, campaign.caller_id, campaign.dids) == (
            "AUTOMATIQUE2", "+33162000001", ["+33162000002", "+33270000003"])
        assert campaign.local_presence and campaign.recording and campaign.amd and campaign.prospecting
        assert (campaign.attempt_limit, campaign.dial_speed, campaign.dial_order) == (3, 4, "oldest_attempt")
        assert campaign.abandon_target == 0.025 and campaign.pause_mode == "mandatory"
        assert campaign.min_attempt_spacing == dt.timedelta(hours=2) and campaign.refusal_delay.days == 60
        assert campaign.calling_hours[4] == [(dt.time(10), dt.time(12, 30)), (dt.time(14), dt.time(19))]
        assert 5 not in campaign.calling_hours
        assert campaign.voicemail_audio.endswith(".wav") and not campaign.active
        campaign_id = campaign.id
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Isolation thermique" in page and "D223-9" in page  # the legal rule is shown
    assert "AUTOMATIQUE2" in page and "RÉCEPTION" in page
    audio = client.get(f"/campaigns/{campaign_id}/voicemail")
    assert (audio.status_code, audio.mimetype) == (200, "audio/wav")
    audio.close()


def test_bad_hours_write_nothing(client, world):
    token = logged_in(client, world.a.users["manager"], world.password)
    response = client.post("/campaigns/new", data=campaign_form(token, **{"hours-1-end1": "09:00"}))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The end of a time range must be after its start." in html and 'aria-invalid="true"' in html
    assert _count(world, Campaign) == 0


def test_duplicate_name_writes_nothing(client, world, camps):
    token = logged_in(client, world.a.users["manager"], world.password)
    response = client.post("/campaigns/new", data=campaign_form(token, name="a rénovation"))
    assert response.status_code == 200
    assert "Another campaign already has this name." in response.get_data(as_text=True)
    assert _count(world, Campaign) == 1


def test_invalid_caller_id_is_a_field_error(client, world):
    token = logged_in(client, world.a.users["manager"], world.password)
    response = client.post("/campaigns/new", data=campaign_form(token, caller_id="12"))
    assert "12 is not a valid phone number." in response.get_data(as_text=True)
    assert _count(world, Campaign) == 0


def test_activation_without_list_keeps_everything(client, world, camps):
    c = camps["a"]
    token = logged_in(client, world.a.users["manager"], world.password)
    with tenant_scope(world.a.id):
        Session.get(LeadList, c.list_id).active = False
        Session.commit()
    data = campaign_form(token, name="A Rénovation", active="y", dial_speed="9")
    response = client.post(f"/campaigns/{c.campaign_id}", data=data)
    assert response.status_code == 200
    assert "Activate at least one list before activating the campaign." in response.get_data(as_text=True)
    with tenant_scope(world.a.id):
        campaign = Session.get(Campaign, c.campaign_id, populate_existing=True)
        assert (campaign.active, campaign.dial_speed) == (False, 3)
    data["lists"] = str(c.list_id)
    assert client.post(f"/campaigns/{c.campaign_id}", data=data).status_code == 302
    with tenant_scope(world.a.id):
        campaign = Session.get(Campaign, c.campaign_id, populate_existing=True)
        assert (campaign.active, campaign.dial_speed) == (True, 9)


def test_edit_page_shows_presented_number_and_limit_warnings(client, world, camps):
    c = camps["a"]
    with tenant_scope(world.a.id):
        campaign = Session.get(Campaign, c.campaign_id)
        campaign.caller_id, campaign.dial_mode, campaign.attempt_limit = "+33612345678", "AUTOMATIQUE1", 6
        Session.commit()
    logged_in(client, world.a.users["manager"], world.password)
    html = client.get(f"/campaigns/{c.campaign_id}").get_data(as_text=True)
    assert "is a mobile number (06/07)" in html and "notice-error" in html
    assert "Above 4" in html


def test_clone_and_archive(client, world, camps):
    c = camps["a"]
    token = logged_in(client, world.a.users["manager"], world.password)
    response = client.post(f"/campaigns/{c.campaign_id}/clone", data={"csrf_token": token, "name": "Copie A"})
    assert response.status_code == 302
    with tenant_scope(world.a.id):
        copy = Session.scalars(sa.select(Campaign).where(Campaign.name == "Copie A")).one()
        assert len(copy.statuses) == len(Session.get(Campaign, c.campaign_id).statuses)
    client.post(f"/campaigns/{c.campaign_id}/clone", data={"csrf_token": token, "name": "copie a"})
    assert _count(world, Campaign) == 2
    assert client.post(f"/campaigns/{c.campaign_id}/archive", data={"csrf_token": token}).status_code == 302
    assert "A Rénovation" in client.get("/campaigns/?archived=1").get_data(as_text=True)
    assert "A Rénovation" not in client.get("/campaigns/").get_data(as_text=True)
    assert client.post(f"/campaigns/{c.campaign_id}/restore", data={"csrf_token": token}).status_code == 302


def test_status_routes_and_code_clash(client, world, camps):
    c = camps["a"]
    token = logged_in(client, world.a.users["manager"], world.password)
    before = _count(world, CampaignStatus)
    clash = client.post(f"/campaigns/{c.campaign_id}/statuses",
                        data={"csrf_token": token, "code": "vt", "name": "Vente 2", "category": "commercial"})
    assert clash.status_code == 200
    assert "This campaign already has a status with code VT." in clash.get_data(as_text=True)
    assert _count(world, CampaignStatus) == before
    added = client.post(f"/campaigns/{c.campaign_id}/statuses",
                        data={"csrf_token": token, "code": "pr", "name": "Promesse", "category": "commercial",
                              "callback": "y"})
    assert added.status_code == 302
    with tenant_scope(world.a.id):
        status = Session.scalars(sa.select(CampaignStatus).where(CampaignStatus.code == "PR")).one()
        status_id, first_id = status.id, c.status_id
    edited = client.post(f"/campaigns/{c.campaign_id}/statuses/{status_id}",
                         data={"csrf_token": token, "code": "PRO", "name": "Promesse", "category": "commercial"})
    assert edited.status_code == 302
    order = client.post(f"/campaigns/{c.campaign_id}/statuses/order",
                        data={"csrf_token": token, "status_id": [str(status_id), str(first_id)]},
                        headers={"HX-Request": "true"})
    assert order.status_code == 200
    with tenant_scope(world.a.id):
        statuses = Session.get(Campaign, c.campaign_id, populate_existing=True).statuses
        assert [s.id for s in statuses[:2]] == [status_id, first_id]
        system_id = next(s.id for s in statuses if s.system)
    assert client.post(f"/campaigns/{c.campaign_id}/statuses/{status_id}/delete",
                       data={"csrf_token": token}).status_code == 302
    client.post(f"/campaigns/{c.campaign_id}/statuses/{system_id}/delete", data={"csrf_token": token})
    assert _count(world, CampaignStatus) == before


def test_pause_routes(client, world, camps):
    c = camps["a"]
    token = logged_in(client, world.a.users["manager"], world.password)
    assert client.post(f"/campaigns/{c.campaign_id}/pauses",
                       data={"csrf_token": token, "code": "brief", "name": "Brief"}).status_code == 302
    clash = client.post(f"/campaigns/{c.campaign_id}/pauses", data={"csrf_token": token, "code": "REPAS", "name": "x"})
    assert "already has the pause code REPAS" in clash.get_data(as_text=True)
    client.post(f"/campaigns/{c.campaign_id}/pauses/mode", data={"csrf_token": token, "pause_mode": "disabled"})
    client.post(f"/campaigns/{c.campaign_id}/pauses/{c.pause_id}/delete", data={"csrf_token": token})
    with tenant_scope(world.a.id):
        campaign = Session.get(Campaign, c.campaign_id, populate_existing=True)
        assert campaign.pause_mode == "disabled"
        assert [p.code for p in campaign.pause_codes][-1] == "BRIEF" and "PAUSE" not in [p.code for p in campaign.pause_codes]
    assert _count(world, PauseCode) == 6


def test_script_editor_publish_and_preview(client, world, camps):
    token = logged_in(client, world.a.users["manager"], world.password)
    response = client.post("/campaigns/scripts", data={"csrf_token": token, "name": "Argumentaire"})
    assert response.status_code == 302
    editor = response.headers["Location"]
    page = client.get(editor).get_data(as_text=True)
    assert "script_editor.js" in page and "{first_name}" in page
    bad = {"pages": [{"key": "p1", "title": "Accueil", "blocks": [{"type": "text", "text": "Bonjour {prénom}"}]}]}
    refused = client.post(editor, data={"csrf_token": token, "name": "Argumentaire", "content": json.dumps(bad)})
    assert refused.status_code == 200 and "unknown placeholder {prénom}" in refused.get_data(as_text=True)
    good = {"pages": [{"key": "p1", "title": "Accueil", "blocks": [
        {"type": "text", "text": "Bonjour **{first_name}** {last_name}"},
        {"type": "question", "key": "owner", "label": "Propriétaire ?", "answer_type": "yes_no",
         "branches": [{"answer": "no", "page": "p2"}]},
        {"type": "button", "label": "Vente", "status": "VT"}]},
        {"key": "p2", "title": "Fin", "blocks": [{"type": "text", "text": "Merci."}]}]}
    saved = client.post(editor, data={"csrf_token": token, "name": "Argumentaire", "content": json.dumps(good)})
    assert saved.status_code == 302
    script_id = int(re.search(r"/scripts/(\d+)", editor).group(1))
    assert client.post(f"/campaigns/scripts/{script_id}/publish", data={"csrf_token": token}).status_code == 302
    preview = client.get(f"/campaigns/scripts/{script_id}/preview").get_data(as_text=True)
    assert '<span class="script-var">Camille</span>' in preview and "→ Fin" in preview
    with tenant_scope(world.a.id):
        script = Session.get(Script, script_id)
        assert scripts.published_version(script).number == 1
    client.post(editor, data={"csrf_token": token, "name": "Argumentaire", "content": json.dumps(good)})
    with tenant_scope(world.a.id):
        versions = Session.get(Script, script_id, populate_existing=True).versions
        assert [(v.number, v.published) for v in versions] == [(1, True), (2, False)]


def test_callback_routes(client, world, camps):
    c = camps["a"]
    agent = world.a.users["agent"]
    token = logged_in(client, world.a.users["manager"], world.password)
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    data = {"csrf_token": token, "lead": "06 12 34 56 78", "campaign_id": str(c.campaign_id), "day": tomorrow,
            "time": "10:30", "agent_id": str(agent.id), "priority": "2", "note": "Rappeler après 10 h"}
    assert client.post(f"/campaigns/{c.campaign_id}/callbacks", data=data).status_code == 302
    past = client.post(f"/campaigns/{c.campaign_id}/callbacks", data={**data, "day": "2020-01-01"})
    assert "A callback must be in the future." in past.get_data(as_text=True)
    unknown = client.post(f"/campaigns/{c.campaign_id}/callbacks", data={**data, "lead": "0699999999"})
    assert "No lead has this ID or phone number." in unknown.get_data(as_text=True)
    assert _count(world, Callback) == 1
    with tenant_scope(world.a.id):
        callback_id = Session.scalars(sa.select(Callback.id)).one()
    page = client.get(f"/campaigns/{c.campaign_id}/callbacks").get_data(as_text=True)
    assert "Rappeler après 10 h" in page and "10:30" in page
    assert client.post(f"/campaigns/callbacks/{callback_id}/transfer",
                       data={"csrf_token": token, "agent_id": "0"}).status_code == 302
    assert client.post(f"/campaigns/callbacks/{callback_id}/done", data={"csrf_token": token}).status_code == 302
    with tenant_scope(world.a.id):
        callback = Session.get(Callback, callback_id, populate_existing=True)
        assert (callback.agent_id, callback.state) == (None, "done")


def test_agent_sees_own_callbacks_only(client, world, camps):
    c = camps["a"]
    agent, other = world.a.users["agent"], world.a.users["supervisor"]
    from app.campaigns import callbacks

    with tenant_scope(world.a.id):
        campaign, lead = Session.get(Campaign, c.campaign_id), Session.get(Lead, c.lead_id)
        mine = callbacks.schedule_callback(lead, campaign, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
                                           agent_id=agent.id, note="le mien")
        theirs = callbacks.schedule_callback(lead, campaign, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
                                             agent_id=other.id, note="pas le mien")
        theirs_id = theirs.id
        Session.commit()
    token = logged_in(client, agent, world.password)
    page = client.get("/campaigns/callbacks").get_data(as_text=True)
    assert "le mien" in page and "pas le mien" not in page and mine.id
    assert client.post(f"/campaigns/callbacks/{theirs_id}/done", data={"csrf_token": token}).status_code == 404
    assert client.get("/campaigns/").status_code == 403


def test_compliance_report_shows_why_leads_were_held(client, world, camps):
    c = camps["a"]
    with tenant_scope(world.a.id):
        campaign, lead = Session.get(Campaign, c.campaign_id), Session.get(Lead, c.lead_id)
        now = dt.datetime.now(dt.UTC)
        compliance.check_lead(campaign, lead, now)
        Session.commit()
    logged_in(client, world.a.users["manager"], world.password)
    html = client.get(f"/campaigns/{c.campaign_id}/compliance").get_data(as_text=True)
    assert "No recorded consent" in html and "data-chart" in html
    assert "+33612345678" in html and NOW.year == 2026


def test_no_hours_at_all_means_the_legal_window(client, world):
    token = logged_in(client, world.a.users["manager"], world.password)
    data = campaign_form(token, name="Fenêtre légale")
    for key in [k for k in data if k.startswith("hours-")]:
        data[key] = ""
    assert client.post("/campaigns/new", data=data).status_code == 302
    with tenant_scope(world.a.id):
        assert Session.scalars(sa.select(Campaign)).one().calling_hours is None


def test_half_filled_range_is_refused(client, world):
    token = logged_in(client, world.a.users["manager"], world.password)
    response = client.post("/campaigns/new", data=campaign_form(token, **{"hours-2-end2": ""}))
    assert "Give both the start and the end." in response.get_data(as_text=True)
    assert _count(world, Campaign) == 0


def test_form_warns_about_script_buttons_without_status(client, world, camps):
    c = camps["a"]
    with tenant_scope(world.a.id):
        script = scripts.create_script("Boutons")
        scripts.save_draft(script, {"pages": [{"key": "p1", "title": "T", "blocks": [
            {"type": "button", "label": "Spécial", "status": "ZZ"}]}]})
        scripts.publish_script(script)
        Session.get(Campaign, c.campaign_id).script_id = script.id
        Session.commit()
    logged_in(client, world.a.users["manager"], world.password)
    html = client.get(f"/campaigns/{c.campaign_id}").get_data(as_text=True)
    assert "does not have: ZZ" in html


def test_minimal_post_without_optional_fields(client, world):
    token = logged_in(client, world.a.users["manager"], world.password)
    data = {"csrf_token": token, "name": "Minimal", "dial_mode": "MANUEL", "trunk_id": "0", "dial_order": "random",
            "dial_speed": "0", "abandon_target_pct": "3", "script_id": "0", "pause_mode": "disabled"}
    assert client.post("/campaigns/new", data=data).status_code == 302
    with tenant_scope(world.a.id):
        campaign = Session.scalars(sa.select(Campaign)).one()
        assert (campaign.caller_id, campaign.dids, campaign.calling_hours) == (None, [], None)
