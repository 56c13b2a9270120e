"""The inbound pages through the test client: create, edit, list, delete; every bad
input refused with a clear message and nothing written; tenant isolation on every route."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import Session
from app.inbound.models import Did, InboundQueue, IvrMenu, IvrOption, QueueCampaign
from tenants.scoping import tenant_scope
from tests.factories import csrf_from, login
from tests.inbound.conftest import make_campaign


def _login(client, user, password) -> str:
    assert login(client, user.email, password).status_code == 302
    return csrf_from(client.get("/inbound/").get_data(as_text=True))


def _count(tenant_id: int, model) -> int:
    with tenant_scope(tenant_id):
        n = Session.scalar(sa.select(sa.func.count()).select_from(model))
        Session.commit()
    return n


def _did_form(token: str, **overrides) -> dict:
    form = {"csrf_token": token, "number": "01 70 00 00 01", "label": "Standard", "active": "y", "dest": "",
            "dest_value": "", "time_zone": "Europe/Paris", "holiday_country": "FR", "closed_dates": "",
            "closed": "", "closed_value": ""}
    form.update({f"hours-{day}": "" for day in range(7)})
    form.update(overrides)
    return form


def _queue_form(token: str, **overrides) -> dict:
    form = {"csrf_token": token, "name": "Accueil", "active": "y", "priority": "5", "max_wait_s": "120",
            "overflow": "", "overflow_value": "", "hold_music": "local_stream://moh", "service_level_s": "20",
            "wrapup_s": "30", "simulated_per_hour": "0"}
    form.update(overrides)
    return form


def _ivr_form(token: str, **overrides) -> dict:
    form = {"csrf_token": token, "name": "Standard", "greeting_audio": "carillon/accueil.wav", "invalid_audio": "",
            "timeout_s": "5", "max_retries": "3", "timeout": "", "timeout_value": ""}
    for i in range(12):
        form.update({f"options-{i}-caption": "", f"options-{i}-dest": "", f"options-{i}-value": ""})
    form.update(overrides)
    return form


@pytest.fixture()
def manager(client, world):
    return _login(client, world.a.users["manager"], world.password)


def test_manager_builds_a_queue_a_menu_and_a_number(client, world, manager):
    with tenant_scope(world.a.id):
        campaign_id = make_campaign(world.a.id, "Service client").id
        Session.commit()
    page = client.get("/inbound/queues/new")
    assert page.status_code == 200 and "Service client" in page.get_data(as_text=True)
    response = client.post("/inbound/queues/new", data=_queue_form(
        manager, campaigns=[str(campaign_id)], groups=[str(world.a.group.id)], overflow="external",
        overflow_value="01 45 00 00 00", announce_position="y"))
    assert response.status_code == 302
    with tenant_scope(world.a.id):
        queue = Session.scalar(sa.select(InboundQueue))
        assert (queue.name, queue.overflow_kind, queue.overflow_number, queue.announce_position) == (
            "Accueil", "external", "+33145000000", True)
        assert Session.scalar(sa.select(QueueCampaign.campaign_id)) == campaign_id
        queue_id = queue.id
        Session.commit()
    response = client.post("/inbound/ivrs/new", data=_ivr_form(manager, **{
        "options-0-caption": "Service client", "options-0-dest": f"queue:{queue_id}",
        "options-2-dest": "external", "options-2-value": "+33612345678",
        "timeout": "message", "timeout_value": "carillon/au-revoir.wav"}))
    assert response.status_code == 302
    with tenant_scope(world.a.id):
        menu = Session.scalar(sa.select(IvrMenu))
        assert [(o.digit, o.dest_kind, o.dest_target, o.dest_number) for o in menu.options] == [
            ("1", "queue", queue_id, None), ("3", "external", None, "+33612345678")]
        menu_id = menu.id
        Session.commit()
    response = client.post("/inbound/dids/new", data=_did_form(
        manager, dest=f"ivr:{menu_id}", **{"hours-0": "09:00-12:30, 14:00-18:00", "hours-4": "09:00-17:00"},
        closed_dates="2026-12-24\n2026-12-31", closed="message", closed_value="carillon/ferme.wav"))
    assert response.status_code == 302
    with tenant_scope(world.a.id):
        did = Session.scalar(sa.select(Did))
        assert (did.number, did.dest_kind, did.dest_target) == ("+33170000001", "ivr", menu_id)
        assert did.hours == {"0": [["09:00", "12:30"], ["14:00", "18:00"]], "4": [["09:00", "17:00"]]}
        assert [d.isoformat() for d in did.closed_dates] == ["2026-12-24", "2026-12-31"]
        Session.commit()
    listing = client.get("/inbound/").get_data(as_text=True)
    assert "+33170000001" in listing and "Standard" in listing
    edit = client.get(f"/inbound/dids/{did.id}").get_data(as_text=True)
    assert "09:00-12:30, 14:00-18:00" in edit and "2026-12-24" in edit
    assert "Standard" in client.get("/inbound/ivrs").get_data(as_text=True)
    assert "Accueil" in client.get("/inbound/queues").get_data(as_text=True)
    # a queue still used by a menu cannot be deleted; the menu can, then the queue
    refused = client.post(f"/inbound/queues/{queue_id}/delete", data={"csrf_token": manager}, follow_redirects=True)
    assert "Still used by Standard" in refused.get_data(as_text=True)
    assert _count(world.a.id, InboundQueue) == 1


@pytest.mark.parametrize("overrides, message", [
    ({"number": "12", "dest": "message", "dest_value": "carillon/x.wav"}, "is not a valid phone number"),
    ({"dest": ""}, "Choose a destination"),
    ({"dest": "external", "dest_value": "not a number"}, "is not a valid phone number"),
    ({"dest": "message", "dest_value": "file with spaces.wav"}, "without spaces"),
    ({"dest": "queue:99999"}, "This destination does not exist"),
    ({"dest": "message", "dest_value": "a.wav", "hours-2": "18:00-09:00"}, "must be after its start"),
    ({"dest": "message", "dest_value": "a.wav", "hours-2": "le matin"}, "Write the hours as"),
    ({"dest": "message", "dest_value": "a.wav", "closed_dates": "24/12/2026"}, "one date a line"),
    ({"dest": "message", "dest_value": "a.wav", "holiday_country": "ZZ"}, "No public holiday calendar"),
    ({"dest": "message", "dest_value": "a.wav", "time_zone": "Mars/Olympus"}, "Unknown time zone"),
])
def test_bad_did_input_is_refused_and_nothing_is_written(client, world, manager, overrides, message):
    response = client.post("/inbound/dids/new", data=_did_form(manager, **overrides))
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert _count(world.a.id, Did) == 0


def test_a_number_held_by_another_tenant_is_refused_in_the_same_words(client, world):
    with tenant_scope(world.a.id):
        Session.add(Did(number="+33170000001", dest_kind="message", dest_number="a.wav"))
        Session.commit()
    token = _login(client, world.b.users["manager"], world.password)
    response = client.post("/inbound/dids/new", data=_did_form(token, number="+33 1 70 00 00 01", dest="message",
                                                                 dest_value="b.wav"))
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "This number is already in use." in text
    assert "Alpha" not in text  # nothing about who holds it
    assert _count(world.b.id, Did) == 0 and _count(world.a.id, Did) == 1


def test_bad_queue_and_menu_input(client, world, manager):
    assert client.post("/inbound/queues/new", data=_queue_form(manager, max_wait_s="5")).status_code == 200
    assert client.post("/inbound/queues/new", data=_queue_form(manager, campaigns=["4242"])).status_code == 200
    assert _count(world.a.id, InboundQueue) == 0
    client.post("/inbound/queues/new", data=_queue_form(manager))
    with tenant_scope(world.a.id):
        queue_id = Session.scalar(sa.select(InboundQueue.id))
        Session.commit()
    same = client.post("/inbound/queues/new", data=_queue_form(manager, name="accueil"))
    assert "Another queue already has this name." in same.get_data(as_text=True)
    itself = client.post(f"/inbound/queues/{queue_id}", data=_queue_form(manager, overflow=f"queue:{queue_id}"))
    assert "A queue cannot overflow into itself." in itself.get_data(as_text=True)
    with tenant_scope(world.a.id):
        assert Session.get(InboundQueue, queue_id).overflow_kind is None
        Session.commit()
    empty = client.post("/inbound/ivrs/new", data=_ivr_form(manager))
    assert "Give at least one key" in empty.get_data(as_text=True)
    bad_audio = client.post("/inbound/ivrs/new", data=_ivr_form(manager, greeting_audio="mon accueil.wav",
                                                                  **{"options-0-dest": f"queue:{queue_id}"}))
    assert "without spaces" in bad_audio.get_data(as_text=True)
    assert _count(world.a.id, IvrMenu) == 0 and _count(world.a.id, IvrOption) == 0


def test_unknown_ids_are_not_found(client, manager):
    for path in ("/inbound/dids/999", "/inbound/ivrs/999", "/inbound/queues/999"):
        assert client.get(path).status_code == 404
        assert client.post(path + "/delete", data={"csrf_token": manager}).status_code == 404


def test_an_agent_may_not_open_the_inbound_pages(client, world):
    assert login(client, world.a.users["agent"].email, world.password).status_code == 302
    for path in ("/inbound/", "/inbound/ivrs", "/inbound/queues", "/inbound/dids/new"):
        assert client.get(path).status_code == 403


def test_tenant_isolation_on_every_route(client, world):
    """Tenant B's manager cannot see, edit or delete tenant A's number, menu or queue,
    nor point a destination at them."""
    with tenant_scope(world.a.id):
        queue = InboundQueue(name="Accueil A")
        Session.add(queue)
        Session.flush()
        menu = IvrMenu(name="Menu A", greeting_audio="a.wav")
        Session.add(menu)
        Session.flush()
        Session.add(IvrOption(menu_id=menu.id, digit="1", dest_kind="queue", dest_target=queue.id))
        did = Did(number="+33170000001", dest_kind="queue", dest_target=queue.id)
        Session.add(did)
        Session.commit()
        ids = {"dids": did.id, "ivrs": menu.id, "queues": queue.id}
    token = _login(client, world.b.users["manager"], world.password)
    for listing in ("/inbound/", "/inbound/ivrs", "/inbound/queues"):
        text = client.get(listing).get_data(as_text=True)
        assert "+33170000001" not in text and "Menu A" not in text and "Accueil A" not in text
    for kind, object_id in ids.items():
        path = f"/inbound/{kind}/{object_id}"
        assert client.get(path).status_code == 404
        assert client.post(path, data={"csrf_token": token, "name": "pris"}).status_code == 404
        assert client.post(path + "/delete", data={"csrf_token": token}).status_code == 404
    stolen = client.post("/inbound/dids/new", data=_did_form(token, number="+33180000001",
                                                             dest=f"queue:{ids['queues']}"))
    assert "This destination does not exist" in stolen.get_data(as_text=True)
    stolen_ivr = client.post("/inbound/dids/new", data=_did_form(token, number="+33180000001",
                                                                 dest=f"ivr:{ids['ivrs']}"))
    assert "This destination does not exist" in stolen_ivr.get_data(as_text=True)
    agent_a = world.a.users["agent"].id
    stolen_agent = client.post("/inbound/dids/new", data=_did_form(token, number="+33180000001",
                                                                   dest=f"agent:{agent_a}"))
    assert "This destination does not exist" in stolen_agent.get_data(as_text=True)
    assert _count(world.b.id, Did) == 0
    assert _count(world.a.id, Did) == 1 and _count(world.a.id, IvrMenu) == 1 and _count(world.a.id, InboundQueue) == 1
