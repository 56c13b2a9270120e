"""Manual dial (MANUEL), preview accept/skip (PREVIEW), transfers, the card-payment
button, pause times by code and the campaign's wrap-up setting, through the agent's
routes; each with bad input writing nothing and tenant isolation."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
import sqlalchemy as sa

from app.agent import services as agent_services
from app.campaigns.models import Campaign, ComplianceBlock
from app.extensions import Session, redis
from app.leads.models import Lead, LeadList, TimelineEvent
from app.realtime import bus
from app.supervision.models import AgentStateSpan
from tenants.scoping import tenant_scope
from tests.agent.conftest import join, logged_in, put_in_call, token_of

# Tuesday 1 December 2026, 10:30 in Paris: inside the legal calling window
NOW = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def legal_hours(monkeypatch):
    monkeypatch.setattr(agent_services, "utcnow", lambda: NOW)


def _commands(campaign_id: int) -> list[dict]:
    """What the page asked of the dialer (a page load may also re-join: ``login``)."""
    return [command for raw in redis().lrange(bus.commands_key(campaign_id), 0, -1)
            if (command := json.loads(raw))["kind"] != "login"]


def _mode(desk, mode: str) -> None:
    with tenant_scope(desk.tenant_id):
        Session.get(Campaign, desk.campaign.id).dial_mode = mode
        Session.commit()


def _ready(desk) -> None:
    bus.publish_agent(desk.tenant_id, desk.agent.id, {"state": "ready", "since": 1_700_000_000.0,
                                                      "campaign_id": desk.campaign.id})


def _start(client, world, desk, mode):
    _mode(desk, mode)
    logged_in(client, world, desk.agent)
    join(client, desk)
    redis().delete(bus.commands_key(desk.campaign.id))
    return {"X-CSRF-Token": token_of(client)}


def test_manual_dial_sends_a_dial_command_for_the_chosen_lead(client, world, desks):
    a, b = desks
    headers = _start(client, world, a, "MANUEL")
    page = client.get("/agent/").get_data(as_text=True)
    assert 'data-testid="manual-dial-form"' in page and 'data-testid="preview-panel"' not in page
    # not ready (the dialer has not logged the agent in yet): nothing is dialled
    response = client.post("/agent/dial", data={"lead": a.leads[0].phone_number}, headers=headers)
    assert response.status_code == 422 and _commands(a.campaign.id) == []
    _ready(a)
    response = client.post("/agent/dial", data={"lead": a.leads[0].phone_number}, headers=headers)
    assert response.status_code == 200 and 'data-dialling="true"' in response.get_data(as_text=True)
    (command,) = _commands(a.campaign.id)
    assert (command["kind"], command["lead_id"], command["agent_id"]) == ("dial", a.leads[0].id, a.agent.id)


def test_manual_dial_by_name_lists_the_matches_and_refusals_show_their_reason(client, world, desks):
    a, _ = desks
    headers = _start(client, world, a, "MANUEL")
    _ready(a)
    matches = client.post("/agent/dial", data={"lead": "test"}, headers=headers)
    assert matches.status_code == 200
    html = matches.get_data(as_text=True)
    assert 'data-testid="dial-matches"' in html and all(f'"lead_id": {lead.id}' in html for lead in a.leads)
    with tenant_scope(a.tenant_id):
        Session.get(Lead, a.leads[1].id).consent_at = None
        Session.commit()
    refused = client.post("/agent/dial", data={"lead_id": str(a.leads[1].id)}, headers=headers)
    assert refused.status_code == 200 and 'data-allowed="false"' in refused.get_data(as_text=True)
    assert _commands(a.campaign.id) == []
    with tenant_scope(a.tenant_id):
        assert Session.scalars(sa.select(ComplianceBlock.lead_id)).all() == [a.leads[1].id]
        Session.rollback()


def test_manual_dial_never_reaches_another_tenants_lead_nor_an_automatic_campaign(client, world, desks):
    a, b = desks
    headers = _start(client, world, a, "MANUEL")
    _ready(a)
    for data in ({"lead_id": str(b.leads[0].id)}, {"lead": b.leads[0].phone_number}, {"lead": "Mutuelle"},
                 {"lead": ""}):
        assert client.post("/agent/dial", data=data, headers=headers).status_code == 422
    _mode(a, "PROGRESSIF")
    assert client.post("/agent/dial", data={"lead": a.leads[0].phone_number}, headers=headers).status_code == 422
    assert client.post("/agent/preview/next", headers=headers).status_code == 409
    assert _commands(a.campaign.id) == []


def test_preview_shows_the_next_lead_then_accept_dials_it_and_skip_logs_it(client, world, desks):
    a, b = desks
    headers = _start(client, world, a, "PREVIEW")
    assert 'data-testid="preview-panel"' in client.get("/agent/").get_data(as_text=True)
    first = client.post("/agent/preview/next", headers=headers).get_data(as_text=True)
    shown = int(first.split('data-lead-id="')[1].split('"')[0])
    assert shown in {lead.id for lead in a.leads}
    with tenant_scope(a.tenant_id):
        assert Session.get(Lead, shown).next_attempt_at > NOW  # reserved: no one else sees it
        Session.rollback()
    # asking again shows the same lead (kept until accepted or skipped)
    assert f'data-lead-id="{shown}"' in client.post("/agent/preview/next", headers=headers).get_data(as_text=True)
    # skip: back in the hopper behind the others, kept in the lead's history, next lead shown
    skipped = client.post("/agent/preview/skip", data={"lead_id": str(shown)}, headers=headers)
    following = int(skipped.get_data(as_text=True).split('data-lead-id="')[1].split('"')[0])
    assert following != shown
    with tenant_scope(a.tenant_id):
        lead = Session.get(Lead, shown)
        assert lead.next_attempt_at > NOW + dt.timedelta(minutes=20)
        kinds = Session.scalars(sa.select(TimelineEvent.kind).where(TimelineEvent.lead_id == shown)).all()
        assert kinds == ["preview_skipped"]
        Session.rollback()
    # accept needs the lead in the preview, and the agent ready
    assert client.post("/agent/preview/accept", data={"lead_id": str(shown)}, headers=headers).status_code == 422
    assert client.post("/agent/preview/accept", data={"lead_id": str(following)}, headers=headers).status_code == 422
    _ready(a)
    accepted = client.post("/agent/preview/accept", data={"lead_id": str(following)}, headers=headers)
    assert accepted.status_code == 200
    assert [(c["kind"], c["lead_id"]) for c in _commands(a.campaign.id)] == [("dial", following)]
    # the other tenant's lead can neither be skipped nor accepted
    for path in ("/agent/preview/skip", "/agent/preview/accept"):
        assert client.post(path, data={"lead_id": str(b.leads[0].id)}, headers=headers).status_code == 422
    with tenant_scope(b.tenant_id):
        assert Session.scalars(sa.select(TimelineEvent)).all() == []
        Session.rollback()


def test_transfer_commands_are_checked_before_they_reach_the_dialer(client, world, desks):
    a, b = desks
    headers = _start(client, world, a, "MANUEL")
    call_id = put_in_call(a, a.leads[0])
    page = client.get("/agent/").get_data(as_text=True)
    assert 'data-testid="transfer-form"' in page
    bad = [{"kind": "external", "number": "12"}, {"kind": "agent", "agent_id": str(b.agent.id)},
           {"kind": "agent", "agent_id": str(a.agent.id)}, {"kind": "queue", "number": "3"},
           {"kind": "fax", "number": "+33145000000"}]
    for data in bad:
        response = client.post("/agent/transfer", data={"call_id": call_id, **data}, headers=headers)
        assert response.status_code == 422, data
    other_call = client.post("/agent/transfer", data={"call_id": "not-mine", "kind": "external",
                                                      "number": "+33145000000"}, headers=headers)
    assert other_call.status_code == 422 and _commands(a.campaign.id) == []
    ok = client.post("/agent/transfer", data={"call_id": call_id, "kind": "external", "number": "01 45 00 00 00",
                                              "warm": "1"}, headers=headers)
    assert ok.status_code == 200
    assert client.post("/agent/transfer/complete", data={"call_id": call_id}, headers=headers).status_code == 200
    assert client.post("/agent/transfer/cancel", data={"call_id": "x"}, headers=headers).status_code == 422
    commands = [(c["kind"], c.get("transfer_kind"), c.get("target"), c.get("warm")) for c in _commands(a.campaign.id)]
    assert commands == [("transfer", "external", "+33145000000", True), ("transfer_complete", None, None, False)]


def test_transfer_to_an_agent_of_the_campaign(client, world, desks):
    a, _ = desks
    colleague = world.a.users["supervisor"]
    headers = _start(client, world, a, "MANUEL")
    bus.publish_agent(a.tenant_id, colleague.id, {"state": "ready", "since": 1.0, "campaign_id": a.campaign.id})
    call_id = put_in_call(a, a.leads[0])
    page = client.get("/agent/").get_data(as_text=True)
    assert f'<option value="{colleague.id}">' in page
    response = client.post("/agent/transfer", data={"call_id": call_id, "kind": "agent",
                                                    "agent_id": str(colleague.id)}, headers=headers)
    assert response.status_code == 200
    (command,) = _commands(a.campaign.id)
    assert (command["kind"], command["target"], command["warm"]) == ("transfer", str(colleague.id), False)


def _queue(tenant_id: int, name: str, active: bool = True) -> int:
    from app.inbound.models import InboundQueue

    with tenant_scope(tenant_id):
        queue = InboundQueue(name=name, active=active)
        Session.add(queue)
        Session.commit()
        return queue.id


def test_transfer_to_a_queue_of_the_tenant_cold_only(client, world, desks):
    a, b = desks
    accueil = _queue(a.tenant_id, "Accueil")
    closed = _queue(a.tenant_id, "Ancienne file", active=False)
    foreign = _queue(b.tenant_id, "File de B")
    headers = _start(client, world, a, "MANUEL")
    call_id = put_in_call(a, a.leads[0])
    page = client.get("/agent/").get_data(as_text=True)
    assert 'data-testid="transfer-queue"' in page and f'<option value="{accueil}">Accueil</option>' in page
    assert f'<option value="{closed}">' not in page and "File de B" not in page
    for queue_id in (foreign, closed, "x"):  # another tenant's queue is unknown here, like an inactive one
        response = client.post("/agent/transfer", data={"call_id": call_id, "kind": "queue",
                                                        "queue_id": str(queue_id)}, headers=headers)
        assert response.status_code == 422 and "Choose an active queue." in response.get_data(as_text=True)
    warm = client.post("/agent/transfer", data={"call_id": call_id, "kind": "queue", "queue_id": str(accueil),
                                                "warm": "1"}, headers=headers)
    assert warm.status_code == 422 and "without consulting" in warm.get_data(as_text=True)
    assert _commands(a.campaign.id) == []
    ok = client.post("/agent/transfer", data={"call_id": call_id, "kind": "queue", "queue_id": str(accueil)},
                     headers=headers)
    assert ok.status_code == 200
    (command,) = _commands(a.campaign.id)
    assert (command["kind"], command["transfer_kind"], command["target"], command["warm"]) == (
        "transfer", "queue", str(accueil), False)


def test_card_payment_button_in_a_recorded_call(client, world, desks):
    a, _ = desks
    with tenant_scope(a.tenant_id):
        Session.get(Campaign, a.campaign.id).recording = True
        Session.commit()
    logged_in(client, world, a.agent)
    join(client, a)
    call_id = put_in_call(a, a.leads[0])
    html = client.get("/agent/").get_data(as_text=True)
    assert f'data-pause-url="/recordings/calls/{call_id}/pause"' in html
    assert f'data-resume-url="/recordings/calls/{call_id}/resume"' in html
    assert 'aria-pressed="false" data-payment-pause' in html and "Recording paused</span>" not in html
    # a card payment in progress (the recording masked), then the agent reloads the page:
    # the button still says the recording is paused
    from app.calls.models import Call
    from app.recordings.models import Recording

    with tenant_scope(a.tenant_id):
        Session.add(Call(id=uuid.UUID(call_id), campaign_id=a.campaign.id, lead_id=a.leads[0].id,
                         phone_number=a.leads[0].phone_number, state="in_call"))
        Session.flush()
        Session.add(Recording(call_id=uuid.UUID(call_id), status="recording",
                              gaps=[{"start": "2026-11-26T10:00:00+00:00", "end": None, "reason": "payment"}]))
        Session.commit()
    html = client.get("/agent/").get_data(as_text=True)
    assert 'aria-pressed="true" data-payment-pause' in html
    assert "Recording paused</span>" in html and "Resume the recording</span></button>" in html


def test_pause_times_by_code_today_are_the_agents_own(client, world, desks):
    a, b = desks
    now = NOW
    with tenant_scope(a.tenant_id):
        Session.add_all([
            AgentStateSpan(agent_id=a.agent.id, state="paused", pause_code="REPAS", started_at=now - dt.timedelta(
                minutes=50), ended_at=now - dt.timedelta(minutes=20)),
            AgentStateSpan(agent_id=a.agent.id, state="paused", pause_code="PAUSE", started_at=now - dt.timedelta(
                minutes=5), ended_at=None),
            AgentStateSpan(agent_id=a.agent.id, state="ready", started_at=now - dt.timedelta(minutes=20),
                           ended_at=now - dt.timedelta(minutes=5)),
            AgentStateSpan(agent_id=a.agent.id, state="paused", pause_code="REPAS",
                           started_at=now - dt.timedelta(days=3), ended_at=now - dt.timedelta(days=3, hours=-1))])
        Session.commit()
    with tenant_scope(b.tenant_id):
        Session.add(AgentStateSpan(agent_id=b.agent.id, state="paused", pause_code="FORMATION",
                                   started_at=now - dt.timedelta(minutes=30), ended_at=now))
        Session.commit()
    logged_in(client, world, a.agent)
    join(client, a)
    html = client.get("/agent/indicators").get_data(as_text=True)
    assert 'data-pause-code="REPAS">30:00' in html and "Repas" in html
    assert 'data-pause-code="PAUSE">5:0' in html
    assert "FORMATION" not in html
    logged_in(client, world, b.agent)
    join(client, b)
    html_b = client.get("/agent/indicators").get_data(as_text=True)
    assert 'data-pause-code="FORMATION">30:00' in html_b and "REPAS" not in html_b


def test_the_wrap_up_countdown_follows_the_campaign_setting(client, world, desks):
    a, _ = desks
    with tenant_scope(a.tenant_id):
        Session.get(Campaign, a.campaign.id).wrapup_s = 45
        Session.commit()
    logged_in(client, world, a.agent)
    join(client, a)
    put_in_call(a, a.leads[0], state="wrap_up")
    assert 'data-countdown-target="45"' in client.get("/agent/").get_data(as_text=True)


def test_campaign_form_sets_the_wrap_up_time_and_default_status(client, world):
    from tests.factories import csrf_from

    manager = world.a.users["manager"]
    logged_in(client, world, manager)
    token = csrf_from(client.get("/campaigns/new").get_data(as_text=True))
    data = {"csrf_token": token, "name": "Post-appel", "dial_mode": "MANUEL", "trunk_id": "0",
            "dial_order": "random", "dial_speed": "0", "abandon_target_pct": "3", "script_id": "0",
            "pause_mode": "disabled"}
    for bad in ({"wrapup_s": "3"}, {"wrapup_s": "901"}, {"wrapup_status": "ZZZ"}):
        assert client.post("/campaigns/new", data={**data, **bad}).status_code in (200, 422), bad
    with tenant_scope(world.a.id):
        assert Session.scalars(sa.select(Campaign)).all() == []  # a refused form writes nothing
        Session.rollback()
    assert client.post("/campaigns/new", data={**data, "wrapup_s": "45", "wrapup_status": "RP"}).status_code == 302
    with tenant_scope(world.a.id):
        campaign = Session.scalars(sa.select(Campaign)).one()
        assert (campaign.wrapup_s, campaign.wrapup_status) == (45, "RP")
        Session.rollback()
    assert client.post("/campaigns/new", data={**data, "name": "Sans"}).status_code == 302
    with tenant_scope(world.a.id):
        default = Session.scalars(sa.select(Campaign).where(Campaign.name == "Sans")).one()
        assert (default.wrapup_s, default.wrapup_status) == (30, None)
        Session.rollback()


def test_a_dialer_refusal_reaches_the_page_with_its_reason_in_words(client, world, desks):
    a, _ = desks
    logged_in(client, world, a.agent)
    join(client, a)
    _ready(a)
    response = client.get("/agent/stream", buffered=False)
    chunks = iter(response.response)
    seen = ""
    while "event: indicators" not in seen:  # the first screen went out
        seen += next(chunks).decode()
    for code in ("consent", "in_call"):
        bus.publish(a.tenant_id, {"type": "refused", "agent_id": a.agent.id, "command": "dial",
                                  "reason": f"compliance: {code}", "reason_code": code})
    notices = ""
    while notices.count("event: notice") < 2:
        notices += next(chunks).decode()
    response.close()
    assert "compliance: consent" not in notices and "compliance: in_call" not in notices
    assert notices.count('data-kind="warning"') == 2


def _contract_campaign(desk) -> None:
    """Customer care on existing contracts: no prospecting consent needed (opt-in exemption)."""
    with tenant_scope(desk.tenant_id):
        Session.get(Campaign, desk.campaign.id).existing_contract = True
        Session.commit()


def _manual_leads(tenant_id: int) -> list[Lead]:
    with tenant_scope(tenant_id):
        leads = list(Session.scalars(sa.select(Lead).join(LeadList, LeadList.id == Lead.list_id)
                                     .where(LeadList.manual).order_by(Lead.id)))
        Session.expunge_all()  # kept as read (a rollback would expire them)
        Session.rollback()
    return leads


def test_manual_dial_of_a_new_number_makes_a_lead_of_the_manual_list_and_dials_it(client, world, desks):
    a, b = desks
    headers = _start(client, world, a, "MANUEL")
    _contract_campaign(a)
    _ready(a)
    offer = client.post("/agent/dial", data={"lead": "06 99 88 77 66"}, headers=headers)
    html = offer.get_data(as_text=True)
    assert offer.status_code == 422 and 'data-testid="dial-new"' in html and "+33699887766" in html
    assert _commands(a.campaign.id) == [] and _manual_leads(a.tenant_id) == []
    response = client.post("/agent/dial-new", data={"number": "+33699887766"}, headers=headers)
    assert response.status_code == 200 and 'data-dialling="true"' in response.get_data(as_text=True)
    (lead,) = _manual_leads(a.tenant_id)
    assert (lead.phone_number, lead.user_aff, lead.owner_id, lead.status) == ("+33699887766", a.agent.id,
                                                                              a.agent.id, "NEW")
    (command,) = _commands(a.campaign.id)
    assert (command["kind"], command["lead_id"], command["agent_id"]) == ("dial", lead.id, a.agent.id)
    with tenant_scope(a.tenant_id):
        manual = Session.get(LeadList, lead.list_id)
        assert (manual.campaign_id, manual.manual) == (a.campaign.id, True)
        assert Session.scalars(sa.select(TimelineEvent.kind).where(TimelineEvent.lead_id == lead.id)).all() == [
            "created"]
        Session.rollback()
    # the same number again is that lead now (no second one); another number joins the same list
    redis().delete(bus.commands_key(a.campaign.id))
    again = client.post("/agent/dial-new", data={"number": "0699887766"}, headers=headers)
    assert again.status_code == 200 and [c["lead_id"] for c in _commands(a.campaign.id)] == [lead.id]
    client.post("/agent/dial-new", data={"number": "0611223344"}, headers=headers)
    first, second = _manual_leads(a.tenant_id)
    assert first.id == lead.id and second.list_id == lead.list_id
    # tenant B has no manual list and no new lead
    assert _manual_leads(b.tenant_id) == []


def test_a_new_number_is_screened_first_and_bad_input_creates_nothing(client, world, desks):
    a, b = desks
    headers = _start(client, world, a, "MANUEL")
    # not ready yet: refused, nothing written
    assert client.post("/agent/dial-new", data={"number": "0699887766"}, headers=headers).status_code == 422
    _ready(a)
    for bad in ("", "12", "not a number", "+33 1 23"):
        response = client.post("/agent/dial-new", data={"number": bad}, headers=headers)
        assert response.status_code == 422 and 'data-testid="ws-notice"' in response.get_data(as_text=True)
    # a prospecting campaign: a number with no recorded consent is refused with its reason, no lead made
    refused = client.post("/agent/dial-new", data={"number": "0699887766"}, headers=headers)
    assert refused.status_code == 200 and 'data-allowed="false"' in refused.get_data(as_text=True)
    assert _manual_leads(a.tenant_id) == [] and _commands(a.campaign.id) == []
    with tenant_scope(a.tenant_id):
        blocks = Session.execute(sa.select(ComplianceBlock.lead_id, ComplianceBlock.phone_number,
                                           ComplianceBlock.reason)).all()
        assert blocks == [(None, "+33699887766", "consent")]
        assert Session.scalar(sa.select(sa.func.count()).select_from(LeadList).where(LeadList.manual)) == 0
        Session.rollback()
    # only a MANUEL campaign dials new numbers
    _mode(a, "PREVIEW")
    assert client.post("/agent/dial-new", data={"number": "0699887766"}, headers=headers).status_code == 422
    assert _manual_leads(a.tenant_id) == [] and _commands(a.campaign.id) == []


def test_a_number_of_another_tenants_lead_is_a_new_contact_of_ones_own(client, world, desks):
    a, b = desks
    headers = _start(client, world, a, "MANUEL")
    _contract_campaign(a)
    _ready(a)
    number = b.leads[0].phone_number
    assert client.post("/agent/dial-new", data={"number": number}, headers=headers).status_code == 200
    (lead,) = _manual_leads(a.tenant_id)
    assert lead.tenant_id == a.tenant_id and lead.id != b.leads[0].id
    (command,) = _commands(a.campaign.id)
    assert command["lead_id"] == lead.id and _commands(b.campaign.id) == []
    with tenant_scope(b.tenant_id):
        assert Session.get(Lead, b.leads[0].id).user_aff != a.agent.id
        Session.rollback()
