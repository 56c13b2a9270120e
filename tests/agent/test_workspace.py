"""The agent workspace through its routes: login to a campaign, the lead screen of
the current call, script answers, lead edits with their optimistic lock,
dispositions, pauses, callbacks, red list, softphone credentials, indicators; and
tenant isolation for each route."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import sqlalchemy as sa

from app.calls.models import Call
from app.campaigns.models import Callback, Campaign, PauseMode, ScriptAnswer
from app.extensions import Session, redis
from app.leads.models import Lead, RedListEntry
from app.realtime import bus
from tenants.scoping import tenant_scope
from tests.agent.conftest import join, logged_in, put_in_call, token_of


def _commands(campaign_id: int) -> list[dict]:
    return [json.loads(raw) for raw in redis().lrange(bus.commands_key(campaign_id), 0, -1)]


def test_login_page_lists_only_assigned_campaigns(client, world, desks):
    a, b = desks
    logged_in(client, world, a.agent)
    html = client.get("/agent/").get_data(as_text=True)
    assert "Rénovation" in html and "Mutuelle" not in html
    join(client, a)
    assert [c["kind"] for c in _commands(a.campaign.id)] == ["login"]
    assert bus.is_alive(a.tenant_id, a.agent.id)
    page = client.get("/agent/").get_data(as_text=True)
    assert 'sse-connect="/agent/stream"' in page and "Rénovation" in page


def test_agent_cannot_join_another_tenants_campaign(client, world, desks):
    a, b = desks
    logged_in(client, world, b.agent)
    token = token_of(client)
    response = client.post("/agent/", data={"csrf_token": token, "campaign_id": a.campaign.id, "phone": "webrtc"})
    assert response.status_code == 422
    assert _commands(a.campaign.id) == [] and _commands(b.campaign.id) == []


def test_workspace_shows_the_lead_and_script_of_the_current_call(client, world, desks):
    a, _ = desks
    logged_in(client, world, a.agent)
    join(client, a)
    lead = a.leads[0]
    put_in_call(a, lead)
    html = client.get("/agent/").get_data(as_text=True)
    assert f"Bonjour <span class=\"script-var\">{lead.first_name}</span>" in html
    assert lead.phone_number in html and 'data-testid="hangup"' in html
    # dispositions are offered in wrap-up only, with their shortcut keys
    assert 'data-status="VT"' in html and 'data-shortcut="1"' in html and "disabled" in html


def test_script_answers_are_saved_with_the_call(client, world, desks):
    a, _ = desks
    logged_in(client, world, a.agent)
    join(client, a)
    call_id = put_in_call(a, a.leads[0])
    token = token_of(client)
    response = client.post("/agent/script", data={"call_id": call_id, "q-owner": "yes", "q-heating": "Gaz"},
                           headers={"X-CSRF-Token": token})
    assert response.status_code == 200
    bad = client.post("/agent/script", data={"call_id": call_id, "q-heating": "Charbon"},
                      headers={"X-CSRF-Token": token})
    assert bad.status_code == 422
    other = client.post("/agent/script", data={"call_id": str(uuid.uuid4()), "q-owner": "no"},
                        headers={"X-CSRF-Token": token})
    assert other.status_code == 422, "only the current call's answers"
    with tenant_scope(a.tenant_id):
        row = Session.get(ScriptAnswer, uuid.UUID(call_id))
        assert row.answers == {"owner": True, "heating": "Gaz"}
        Session.rollback()


def test_lead_edit_is_validated_and_locked_optimistically(client, world, desks):
    a, _ = desks
    logged_in(client, world, a.agent)
    join(client, a)
    lead = a.leads[0]
    call_id = put_in_call(a, lead)
    token = token_of(client)
    with tenant_scope(a.tenant_id):
        version = Session.get(Lead, lead.id).updated_at.isoformat()
        Session.rollback()
    data = {"csrf_token": token, "call_id": call_id, "version": version, "first_name": "Camille",
            "last_name": "Martin", "email": "pas-un-email"}
    invalid = client.post("/agent/lead", data=data)
    assert invalid.status_code == 422
    data["email"] = "camille@exemple.fr"
    saved = client.post("/agent/lead", data=data)
    assert saved.status_code == 200 and 'data-testid="lead-saved"' in saved.get_data(as_text=True)
    # a second writer still holding the old version is told, not allowed to overwrite
    data["first_name"] = "Écrasé"
    conflict = client.post("/agent/lead", data=data)
    assert conflict.status_code == 422 and 'data-testid="lead-conflict"' in conflict.get_data(as_text=True)
    with tenant_scope(a.tenant_id):
        fresh = Session.get(Lead, lead.id, populate_existing=True)
        assert (fresh.first_name, fresh.email) == ("Camille", "camille@exemple.fr")
        Session.rollback()


def test_disposition_goes_to_the_dialer_for_the_current_call_only(client, world, desks):
    a, _ = desks
    logged_in(client, world, a.agent)
    join(client, a)
    call_id = put_in_call(a, a.leads[0], state="wrap_up")
    token = token_of(client)
    redis().delete(bus.commands_key(a.campaign.id))
    ok = client.post("/agent/disposition", data={"call_id": call_id, "status": "VT"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200
    unknown = client.post("/agent/disposition", data={"call_id": call_id, "status": "NRP"},
                          headers={"X-CSRF-Token": token})
    assert unknown.status_code == 422, "system statuses are the dialer's"
    stale = client.post("/agent/disposition", data={"call_id": str(uuid.uuid4()), "status": "VT"},
                        headers={"X-CSRF-Token": token})
    assert stale.status_code == 422
    assert [(c["kind"], c["status"], c["call_id"]) for c in _commands(a.campaign.id)] == [
        ("disposition", "VT", call_id)]


def test_pause_honours_the_campaign_pause_mode(client, world, desks):
    a, _ = desks
    logged_in(client, world, a.agent)
    join(client, a)
    token = token_of(client)
    redis().delete(bus.commands_key(a.campaign.id))
    headers = {"X-CSRF-Token": token}
    assert client.post("/agent/pause", data={"code": "INCONNU"}, headers=headers).status_code == 422
    assert client.post("/agent/pause", data={"code": "REPAS"}, headers=headers).status_code == 204
    with tenant_scope(a.tenant_id):
        Session.get(Campaign, a.campaign.id).pause_mode = PauseMode.MANDATORY
        Session.commit()
    assert client.post("/agent/pause", data={}, headers=headers).status_code == 422
    with tenant_scope(a.tenant_id):
        Session.get(Campaign, a.campaign.id).pause_mode = PauseMode.DISABLED
        Session.commit()
    assert client.post("/agent/pause", data={"code": "REPAS"}, headers=headers).status_code == 204
    assert client.post("/agent/ready", headers=headers).status_code == 204
    assert client.post("/agent/rejoin", headers=headers).status_code == 204
    assert [(c["kind"], c["pause_code"]) for c in _commands(a.campaign.id)] == [
        ("pause", "REPAS"), ("pause", "PAUSE"), ("ready", None), ("login", None)]


def test_callback_in_the_leads_zone_and_red_list(client, world, desks):
    a, _ = desks
    logged_in(client, world, a.agent)
    join(client, a)
    lead = a.leads[0]
    call_id = put_in_call(a, lead, state="wrap_up")
    token = token_of(client)
    day = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    response = client.post("/agent/callback", data={"csrf_token": token, "call_id": call_id, "day": day,
                                                    "time": "10:30", "owner": "me", "note": "après 10 h"})
    assert response.status_code == 200, response.get_data(as_text=True)
    past = client.post("/agent/callback", data={"csrf_token": token, "call_id": call_id, "day": "2020-01-01",
                                                "time": "10:30", "owner": "anyone"})
    assert past.status_code == 422
    red = client.post("/agent/red-list", data={"call_id": call_id}, headers={"X-CSRF-Token": token})
    assert red.status_code == 200
    with tenant_scope(a.tenant_id):
        callback = Session.scalars(sa.select(Callback)).one()
        assert (callback.agent_id, callback.local_due_at.strftime("%H:%M"), callback.timezone) == (
            a.agent.id, "10:30", "Europe/Paris")
        assert Session.scalars(sa.select(RedListEntry.phone_number)).all() == [lead.phone_number]
        Session.rollback()
    listing = client.get("/agent/callbacks").get_data(as_text=True)
    assert lead.display_name not in listing, "due in two days: not in the next hours"


def test_softphone_credentials_simulation_and_sip(app, client, world, desks, owner_engine):
    a, _ = desks
    logged_in(client, world, a.agent)
    join(client, a)
    token = token_of(client)
    headers = {"X-CSRF-Token": token}
    assert client.post("/agent/phone/credentials", headers=headers).get_json() == {"mode": "simulation"}
    app.config.update(SIP_DOMAIN="sip.carillon.test", SIP_WS_URL="wss://sip.carillon.test/ws")
    try:
        creds = client.post("/agent/phone/credentials", headers=headers).get_json()
    finally:
        app.config.pop("SIP_DOMAIN")
        app.config.pop("SIP_WS_URL")
    assert creds["mode"] == "sip" and creds["username"] == f"t{a.tenant_id}a{a.agent.id}"
    from kamailio.subscribers import ha1

    with owner_engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT ha1 FROM kamailio.subscriber WHERE username = :u"),
                              {"u": creds["username"]}).scalar()
    assert stored == ha1(creds["username"], "sip.carillon.test", creds["password"])
    app.config.update(SIP_DOMAIN="autre.carillon.test", SIP_WS_URL="wss://autre.carillon.test/ws")
    try:
        client.post("/agent/phone/credentials", headers=headers)
    finally:
        app.config.pop("SIP_DOMAIN")
        app.config.pop("SIP_WS_URL")
    with owner_engine.connect() as conn:
        domains = conn.execute(sa.text("SELECT domain FROM kamailio.subscriber WHERE username = :u"),
                               {"u": creds["username"]}).scalars().all()
        conn.execute(sa.text("DELETE FROM kamailio.subscriber WHERE username = :u"), {"u": creds["username"]})
        conn.commit()
    assert domains == ["autre.carillon.test"], "one SIP account per agent"
    status = client.post("/agent/phone/status", data={"registered": "true"}, headers=headers)
    assert status.status_code == 200 and bus.phone_registered(a.tenant_id, a.agent.id)
    client.post("/agent/phone/status", data={"registered": "false"}, headers=headers)
    assert not bus.phone_registered(a.tenant_id, a.agent.id)


def test_indicators_count_todays_calls(client, world, desks):
    a, _ = desks
    now = dt.datetime.now(dt.UTC)
    with tenant_scope(a.tenant_id):
        for disposition, talk in (("VT", 120.0), ("RF", 30.0), ("VT", 60.0)):
            Session.add(Call(campaign_id=a.campaign.id, lead_id=a.leads[0].id, agent_id=a.agent.id,
                             phone_number=a.leads[0].phone_number, state="done", disposition=disposition,
                             talk_s=talk, started_at=now))
        Session.commit()
    logged_in(client, world, a.agent)
    html = client.get("/agent/indicators").get_data(as_text=True)
    assert 'data-indicator="calls">3<' in html and 'data-indicator="sales">2<' in html
    assert 'data-indicator="talk">3:30<' in html


# ------------------------------------------------------------- isolation
def test_forged_state_never_shows_another_tenants_lead(client, world, desks):
    """Even if tenant B's agent state named tenant A's lead, B's pages cannot load it."""
    a, b = desks
    logged_in(client, world, b.agent)
    join(client, b)
    foreign = a.leads[0]
    call_id = str(uuid.uuid4())
    bus.publish_agent(b.tenant_id, b.agent.id, {"state": "in_call", "since": 1.0, "campaign_id": b.campaign.id,
                                                "call_id": call_id, "lead_id": foreign.id, "phone": "", "virtual": 0,
                                                "pause_code": ""})
    html = client.get("/agent/").get_data(as_text=True)
    assert foreign.last_name not in html and 'data-testid="no-lead"' in html
    token = token_of(client)
    for path, data in (("/agent/script", {"call_id": call_id, "q-owner": "yes"}),
                       ("/agent/red-list", {"call_id": call_id}),
                       ("/agent/callback", {"call_id": call_id, "day": "2030-01-01", "time": "10:00"}),
                       ("/agent/lead", {"call_id": call_id, "version": "x", "first_name": "Pirate"})):
        response = client.post(path, data={**data, "csrf_token": token})
        assert response.status_code == 422, path
    with tenant_scope(a.tenant_id):
        assert Session.get(Lead, foreign.id, populate_existing=True).first_name == "Lea"
        assert Session.scalars(sa.select(ScriptAnswer)).all() == []
        Session.rollback()


def test_commands_only_target_the_agents_own_campaign(client, world, desks):
    a, b = desks
    logged_in(client, world, b.agent)
    join(client, b)
    token = token_of(client)
    headers = {"X-CSRF-Token": token}
    for path in ("/agent/ready", "/agent/pause", "/agent/hangup", "/agent/rejoin", "/agent/logout"):
        client.post(path, data={"campaign_id": a.campaign.id}, headers=headers)
    client.post("/agent/disposition", data={"campaign_id": a.campaign.id, "status": "VT", "call_id": "x"},
                headers=headers)
    assert _commands(a.campaign.id) == []
    assert {c["tenant_id"] for c in _commands(b.campaign.id)} == {b.tenant_id}


def test_every_agent_route_needs_a_login(client, desks):
    for method, path in (("get", "/agent/"), ("get", "/agent/stream"), ("get", "/agent/callbacks"),
                         ("get", "/agent/indicators"), ("post", "/agent/ready"), ("post", "/agent/phone/credentials"),
                         ("get", "/messages/")):
        response = getattr(client, method)(path)
        assert response.status_code in (302, 400), (path, response.status_code)


def test_actions_without_a_joined_campaign_are_refused(client, world, desks):
    a, _ = desks
    logged_in(client, world, a.agent)
    token = token_of(client)
    assert client.post("/agent/ready", headers={"X-CSRF-Token": token}).status_code == 409
    assert client.get("/agent/stream").status_code == 204


def test_manual_dial_shows_the_compliance_decision(client, world, desks):
    a, b = desks
    with tenant_scope(a.tenant_id):
        Session.get(Campaign, a.campaign.id).dial_mode = "MANUEL"
        lead = Session.get(Lead, a.leads[1].id)
        lead.consent_at = None
        lead.consent_source = None
        Session.commit()
    logged_in(client, world, a.agent)
    join(client, a)
    token = token_of(client)
    headers = {"X-CSRF-Token": token}
    response = client.post("/agent/dial-check", data={"lead": a.leads[1].phone_number}, headers=headers)
    assert response.status_code == 200
    assert 'data-allowed="false"' in response.get_data(as_text=True)
    # another tenant's lead, by id or by phone, is not found
    for query in (str(b.leads[0].id), b.leads[0].phone_number):
        assert client.post("/agent/dial-check", data={"lead": query}, headers=headers).status_code == 422
    with tenant_scope(a.tenant_id):
        from app.campaigns.models import ComplianceBlock

        assert Session.scalars(sa.select(ComplianceBlock.lead_id)).all() == [a.leads[1].id]
        Session.rollback()


def test_lead_custom_fields_are_validated_and_kept_in_the_history(client, world, desks):
    from app.leads.models import CustomField, TimelineEvent

    a, b = desks
    with tenant_scope(a.tenant_id):
        Session.add_all([CustomField(key="heating", label="Chauffage", kind="choice", choices=["Fioul", "Gaz"]),
                         CustomField(key="surface", label="Surface", kind="text", required=True)])
        Session.commit()
    with tenant_scope(b.tenant_id):
        Session.add(CustomField(key="secret_b", label="Champ de B", kind="text"))
        Session.commit()
    logged_in(client, world, a.agent)
    join(client, a)
    lead = a.leads[0]
    call_id = put_in_call(a, lead)
    html = client.get("/agent/").get_data(as_text=True)
    assert 'name="custom-heating"' in html and "Champ de B" not in html
    token = token_of(client)

    def post(**custom):
        with tenant_scope(a.tenant_id):
            version = Session.get(Lead, lead.id, populate_existing=True).updated_at.isoformat()
            Session.rollback()
        return client.post("/agent/lead", data={"csrf_token": token, "call_id": call_id, "version": version,
                                                "first_name": "Lea", **{f"custom-{k}": v for k, v in custom.items()}})

    assert post(heating="Charbon", surface="92").status_code == 422
    assert post(heating="Gaz", surface="").status_code == 422
    assert post(heating="Gaz", surface="92", secret_b="x").status_code == 200
    with tenant_scope(a.tenant_id):
        saved = Session.get(Lead, lead.id, populate_existing=True)
        assert saved.custom == {"heating": "Gaz", "surface": "92"}
        assert saved.last_name == lead.last_name, "a field the page did not send is left alone"
        history = Session.scalars(sa.select(TimelineEvent).where(TimelineEvent.lead_id == lead.id)).all()
        assert [(e.kind, e.summary) for e in history] == [("edited", "heating, surface")]
        Session.rollback()


def test_side_panels_and_presence_stay_within_the_tenant(client, world, desks):
    """/agent/callbacks, /agent/indicators, /agent/heartbeat, /agent/phone/*: tenant B's
    agent sees none of A's callbacks or calls and touches only their own live keys."""
    a, b = desks
    now = dt.datetime.now(dt.UTC)
    with tenant_scope(a.tenant_id):
        Session.add(Callback(campaign_id=a.campaign.id, lead_id=a.leads[0].id, agent_id=None,
                             due_at=now + dt.timedelta(hours=1), timezone="Europe/Paris"))
        Session.add(Call(campaign_id=a.campaign.id, lead_id=a.leads[0].id, agent_id=a.agent.id,
                         phone_number=a.leads[0].phone_number, state="done", disposition="VT", talk_s=60.0,
                         started_at=now))
        Session.commit()
    logged_in(client, world, b.agent)
    join(client, b)
    token = token_of(client)
    headers = {"X-CSRF-Token": token}
    assert a.leads[0].display_name not in client.get("/agent/callbacks").get_data(as_text=True)
    assert 'data-indicator="calls">0<' in client.get("/agent/indicators").get_data(as_text=True)
    redis().delete(bus.presence_key(a.tenant_id, a.agent.id))
    assert client.post("/agent/heartbeat", headers=headers).status_code == 204
    client.post("/agent/phone/status", data={"registered": "true"}, headers=headers)
    assert bus.is_alive(b.tenant_id, b.agent.id) and not bus.is_alive(a.tenant_id, a.agent.id)
    assert bus.phone_registered(b.tenant_id, b.agent.id) and not bus.phone_registered(a.tenant_id, a.agent.id)
