"""Lead import API (I1): the guide's examples replayed, every error status, batches,
idempotency, bad input."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

from app.extensions import Session
from app.leads.models import Lead, RedListEntry
from tenants.scoping import tenant_scope
from tests.api.conftest import count_leads


def guide_lead(list_id: object, /, **changes: object) -> dict:
    # The guide's curl body. Its "email" reads "[email protected]" in the published
    # page (an e-mail obfuscation artefact of the site), so a real address stands in.
    body = {
        "user_aff": "1swis",
        "user_group": "1swis",
        "status": "NEW",
        "first_name": "Jean",
        "last_name": "Dupont",
        "phone_number": "0612345678",
        "email": "jean.dupont@example.fr",
        "list_id": changes.pop("list_id", list_id),
        "comments": "Demande de devis via formulaire web",
    }
    body.update(changes)
    return body


def post_lead(client, key: str, body, **headers):
    return client.post("/api/external/leads", data=json.dumps(body),
                       headers={"Content-Type": "application/json", "X-API-Key": key, **headers})


def test_guide_curl_example_creates_the_lead(client, api, owner_engine):
    response = post_lead(client, api.a.write_key, guide_lead(api.a.list_id))
    assert response.status_code == 201
    body = response.get_json()
    assert body["success"] is True
    assert body["message"] == "Lead créé avec succès"
    data = body["data"]
    assert set(data) >= {"lead_id", "affectation_id", "vendor_lead_code", "list_id", "list_name", "campaign_id",
                         "user_aff", "status"}
    assert data["list_id"] == api.a.list_id and data["list_name"] == "NEW"
    assert data["campaign_id"] == str(api.a.campaign_id)
    assert data["user_aff"] == "1swis" and data["status"] == "NEW"
    assert re.fullmatch(r"EXT-\d{13}-[0-9a-f]{8}", data["vendor_lead_code"])
    assert isinstance(data["lead_id"], int) and isinstance(data["affectation_id"], int)
    with tenant_scope(api.a.tenant_id):
        lead = Session.get(Lead, data["lead_id"])
        assert lead.phone_number == "+33612345678"
        assert lead.country_code == "FR"
        assert lead.comments == "Demande de devis via formulaire web"
    assert count_leads(owner_engine, api.b.tenant_id) == 0


def test_validate_endpoint(client, api):
    ok = client.get("/api/external/validate", headers={"X-API-Key": api.a.read_key})
    assert ok.status_code == 200
    assert ok.get_json()["success"] is True
    for headers in ({}, {"X-API-Key": "carillon_key_nope"}):
        bad = client.get("/api/external/validate", headers=headers)
        assert bad.status_code == 401
        assert bad.get_json() == {"success": False, "error": "API Key invalide ou manquante"}


def test_key_is_never_taken_from_a_cookie_and_read_keys_cannot_write(client, api, owner_engine):
    from tests.factories import login

    login(client, api.world.a.users["admin"].email, api.world.password)
    assert post_lead(client, "", guide_lead(api.a.list_id)).status_code == 401
    response = post_lead(client, api.a.read_key, guide_lead(api.a.list_id))
    assert response.status_code == 403
    assert count_leads(owner_engine) == 0


def test_revoked_key_is_refused(client, api):
    from app.api import keys
    from app.api.models import ApiKey

    with tenant_scope(api.a.tenant_id):
        key = Session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == keys.digest(api.a.write_key)))
        keys.revoke_api_key(key)
        Session.commit()
    assert post_lead(client, api.a.write_key, guide_lead(api.a.list_id)).status_code == 401


def test_last_use_is_recorded(client, api):
    from app.api import keys
    from app.api.models import ApiKey

    client.get("/api/external/validate", headers={"X-API-Key": api.a.write_key})
    with tenant_scope(api.a.tenant_id):
        key = Session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == keys.digest(api.a.write_key)))
        Session.refresh(key)
        assert key.last_used_at is not None and key.last_used_ip == "127.0.0.1"


def test_missing_required_fields_are_400_and_nothing_written(client, api, owner_engine):
    body = guide_lead(api.a.list_id)
    del body["last_name"], body["phone_number"]
    response = post_lead(client, api.a.write_key, body)
    assert response.status_code == 400
    payload = response.get_json()
    assert payload["success"] is False and payload["error"]
    assert set(payload["errors"]) == {"last_name", "phone_number"}
    assert count_leads(owner_engine) == 0


def test_optional_fields_and_given_vendor_code(client, api):
    body = guide_lead(api.a.list_id, city="Paris", postal_code="75001", country_code="be",
                      phone_number="+32 470 12 34 56", vendor_lead_code="CRM-42", alt_phone="0470123457",
                      address1="1 rue de la Paix", state="IDF", province="X", address2="b", address3="c")
    response = post_lead(client, api.a.write_key, body)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()["data"]
    assert data["vendor_lead_code"] == "CRM-42"
    with tenant_scope(api.a.tenant_id):
        lead = Session.get(Lead, data["lead_id"])
        assert (lead.country_code, lead.phone_number, lead.alt_phone) == ("BE", "+32470123456", "+32470123457")
        assert lead.city == "Paris" and lead.postal_code == "75001"


def test_odd_phone_formats(client, api, owner_engine):
    for raw in ("06 12 34 56 78", "06.12.34.56.78", "06-12-34-56-78", "0033612345678", "33612345678"):
        response = post_lead(client, api.a.write_key, guide_lead(api.a.list_id, phone_number=raw))
        assert response.status_code == 201, raw
        with tenant_scope(api.a.tenant_id):
            assert Session.get(Lead, response.get_json()["data"]["lead_id"]).phone_number == "+33612345678"
    before = count_leads(owner_engine)
    for raw in ("abc", "12", "+33 6 12", "06123456789012345", "", 612345678.5, True, None):
        response = post_lead(client, api.a.write_key, guide_lead(api.a.list_id, phone_number=raw))
        assert response.status_code == 400, raw
        assert response.get_json()["success"] is False
    assert count_leads(owner_engine) == before


def test_numbers_as_strings_and_strings_as_numbers(client, api):
    response = post_lead(client, api.a.write_key, guide_lead(str(api.a.list_id), phone_number=612345678))
    assert response.status_code == 201, response.get_json()


def test_red_listed_number_is_accepted_but_flagged(client, api):
    with tenant_scope(api.a.tenant_id):
        Session.add(RedListEntry(phone_number="+33612345678", reason="opposition"))
        Session.commit()
    response = post_lead(client, api.a.write_key, guide_lead(api.a.list_id))
    assert response.status_code == 201
    body = response.get_json()
    assert body["data"]["red_listed"] is True and body["warnings"]
    other = post_lead(client, api.a.write_key, guide_lead(api.a.list_id, phone_number="0698765432"))
    assert other.get_json()["data"]["red_listed"] is False


def test_unknown_references_are_400(client, api, owner_engine):
    cases = {"user_group": "NOPE", "list_id": 999999, "status": "ZZZ", "user_aff": "ghost"}
    for name, value in cases.items():
        response = post_lead(client, api.a.write_key, guide_lead(api.a.list_id, **{name: value}))
        assert response.status_code == 400, name
        assert name in response.get_json()["errors"]
    assert count_leads(owner_engine) == 0
    known_status = post_lead(client, api.a.write_key, guide_lead(api.a.list_id, status="rap"))
    assert known_status.status_code == 201 and known_status.get_json()["data"]["status"] == "RAP"


def test_user_aff_can_name_an_agent(client, api):
    agent = api.world.a.users["agent"]
    for value in (agent.email, str(agent.id), agent.id):
        response = post_lead(client, api.a.write_key, guide_lead(api.a.list_id, user_aff=value))
        assert response.status_code == 201
        with tenant_scope(api.a.tenant_id):
            assert Session.get(Lead, response.get_json()["data"]["lead_id"]).user_aff == agent.id
    # an agent of the other tenant is unknown here
    other = api.world.b.users["agent"]
    assert post_lead(client, api.a.write_key, guide_lead(api.a.list_id, user_aff=other.email)).status_code == 400


def test_list_of_another_tenant_is_refused_and_nothing_written(client, api, owner_engine):
    response = post_lead(client, api.a.write_key, guide_lead(api.b.list_id))
    assert response.status_code == 400
    assert response.get_json()["errors"] == {"list_id": ["Liste introuvable"]}
    batch = client.post("/api/external/leads/batch", json={"leads": [guide_lead(api.b.list_id)]},
                        headers={"X-API-Key": api.a.write_key})
    assert batch.status_code == 400
    assert count_leads(owner_engine) == 0


def test_bad_bodies(client, api, owner_engine):
    key = {"X-API-Key": api.a.write_key}
    malformed = client.post("/api/external/leads", data='{"first_name": "Jean",',
                            headers={**key, "Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.get_json()["error"] == "JSON invalide"
    wrong_type = client.post("/api/external/leads", data="first_name=Jean", headers={
        **key, "Content-Type": "application/x-www-form-urlencoded"})
    assert wrong_type.status_code == 415 and wrong_type.get_json()["success"] is False
    empty = client.post("/api/external/leads", data="", headers={**key, "Content-Type": "application/json"})
    assert empty.status_code == 400
    not_object = post_lead(client, api.a.write_key, ["x"])
    assert not_object.status_code == 400
    unknown = post_lead(client, api.a.write_key, guide_lead(api.a.list_id, favourite_colour="blue"))
    assert unknown.status_code == 400 and "favourite_colour" in unknown.get_json()["errors"]
    nul = post_lead(client, api.a.write_key, guide_lead(api.a.list_id, comments="a\x00b"))
    assert nul.status_code == 400
    huge = post_lead(client, api.a.write_key, guide_lead(api.a.list_id, comments="x" * (1024 * 1024 + 10)))
    assert huge.status_code == 413 and huge.get_json()["success"] is False
    assert count_leads(owner_engine) == 0


def test_unknown_route_and_method_answer_json(client, api):
    assert client.get("/api/external/nowhere").get_json()["success"] is False
    response = client.get("/api/external/leads", headers={"X-API-Key": api.a.write_key})
    assert response.status_code == 405 and response.get_json()["success"] is False


def test_idempotency_key_replays_the_first_answer(client, api, owner_engine):
    body = guide_lead(api.a.list_id)
    first = post_lead(client, api.a.write_key, body, **{"Idempotency-Key": "form-123"})
    again = post_lead(client, api.a.write_key, body, **{"Idempotency-Key": "form-123"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_leads(owner_engine) == 1
    changed = post_lead(client, api.a.write_key, guide_lead(api.a.list_id, first_name="Paul"),
                        **{"Idempotency-Key": "form-123"})
    assert changed.status_code == 422
    # keys belong to one API key: the other tenant's same key is a new request
    other = post_lead(client, api.b.write_key, guide_lead(api.b.list_id), **{"Idempotency-Key": "form-123"})
    assert other.status_code == 201
    assert count_leads(owner_engine) == 2


def test_failed_request_is_not_stored_for_idempotency(client, api, owner_engine):
    bad = post_lead(client, api.a.write_key, guide_lead(999999), **{"Idempotency-Key": "k1"})
    assert bad.status_code == 400
    # the failure wrote nothing and was not kept: the corrected request goes through
    good = post_lead(client, api.a.write_key, guide_lead(api.a.list_id), **{"Idempotency-Key": "k1"})
    assert good.status_code == 201 and "Idempotent-Replayed" not in good.headers
    retry = post_lead(client, api.a.write_key, guide_lead(api.a.list_id), **{"Idempotency-Key": "k1"})
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert count_leads(owner_engine) == 1


def test_batch_partial_results(client, api, owner_engine):
    leads = [guide_lead(api.a.list_id, first_name=f"P{i}", phone_number=f"061234567{i}") for i in range(5)]
    leads[1]["phone_number"] = "not a phone"
    del leads[3]["last_name"]
    leads.append("not an object")
    response = client.post("/api/external/leads/batch", json={"leads": leads}, headers={"X-API-Key": api.a.write_key})
    assert response.status_code == 200
    body = response.get_json()
    assert body["success"] is False
    assert (body["data"]["total"], body["data"]["created"], body["data"]["failed"]) == (6, 3, 3)
    results = body["data"]["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert [r["success"] for r in results] == [True, False, True, False, True, False]
    assert "phone_number" in results[1]["errors"] and "last_name" in results[3]["errors"]
    assert results[0]["data"]["list_name"] == "NEW"
    assert count_leads(owner_engine) == 3


def test_batch_bare_array_limits_and_idempotency(client, api, owner_engine):
    key = {"X-API-Key": api.a.write_key}
    bare = client.post("/api/external/leads/batch", json=[guide_lead(api.a.list_id)], headers=key)
    assert bare.status_code == 200 and bare.get_json()["success"] is True
    assert client.post("/api/external/leads/batch", json={"leads": []}, headers=key).status_code == 400
    too_many = [guide_lead(api.a.list_id)] * 101
    response = client.post("/api/external/leads/batch", json={"leads": too_many}, headers=key)
    assert response.status_code == 400 and response.get_json()["error"] == "Le lot contient plus de 100 leads"
    assert client.post("/api/external/leads/batch", json={"lead": []}, headers=key).status_code == 400
    hundred = [guide_lead(api.a.list_id, first_name=str(i)) for i in range(100)]
    ok = client.post("/api/external/leads/batch", json={"leads": hundred}, headers={**key, "Idempotency-Key": "b"})
    assert ok.get_json()["data"]["created"] == 100
    again = client.post("/api/external/leads/batch", json={"leads": hundred}, headers={**key, "Idempotency-Key": "b"})
    assert again.get_json() == ok.get_json()
    assert count_leads(owner_engine) == 101


def test_imported_lead_is_on_the_timeline_with_its_assignment(client, api):
    from app.leads.models import TimelineEvent

    data = post_lead(client, api.a.write_key, guide_lead(api.a.list_id)).get_json()["data"]
    with tenant_scope(api.a.tenant_id):
        event = Session.get(TimelineEvent, data["affectation_id"])
        assert event.lead_id == data["lead_id"] and event.kind == "api_import"


def test_old_idempotency_records_are_purged(client, api):
    import datetime as dt

    from app.api.models import IdempotencyRecord
    from app.api.tasks import purge_idempotency_records

    post_lead(client, api.a.write_key, guide_lead(api.a.list_id), **{"Idempotency-Key": "old"})
    post_lead(client, api.b.write_key, guide_lead(api.b.list_id), **{"Idempotency-Key": "new"})
    with tenant_scope(api.a.tenant_id):
        Session.execute(sa.update(IdempotencyRecord).values(
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)))
        Session.commit()
    assert purge_idempotency_records() == 1
    replay = post_lead(client, api.b.write_key, guide_lead(api.b.list_id), **{"Idempotency-Key": "new"})
    assert replay.headers.get("Idempotent-Replayed") == "true"
