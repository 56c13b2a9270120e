"""REST API v1 (I3): list/get/create/update of each resource, filters, cursor
pagination, scopes, and tenant isolation (ids of another tenant are never found)."""

from __future__ import annotations

import sqlalchemy as sa

from tests.api.conftest import count_leads


def h(key: str) -> dict:
    return {"X-API-Key": key}


def test_crud_campaigns_lists_leads(client, api, owner_engine):
    key = h(api.a.write_key)
    created = client.post("/api/v1/campaigns", json={"name": "Printemps", "dial_mode": "TURBO"}, headers=key)
    assert created.status_code == 201, created.get_json()
    campaign = created.get_json()["data"]
    assert campaign["name"] == "Printemps" and campaign["dial_mode"] == "TURBO"
    assert client.post("/api/v1/campaigns", json={"name": "Printemps"}, headers=key).status_code == 409
    lst = client.post("/api/v1/lists", json={"name": "Fichier avril", "campaign_id": campaign["id"]}, headers=key)
    assert lst.status_code == 201
    list_id = lst.get_json()["data"]["id"]
    lead = client.post("/api/v1/leads", json={"list_id": list_id, "phone_number": "06 11 22 33 44",
                                              "first_name": "Ana"}, headers=key)
    assert lead.status_code == 201, lead.get_json()
    lead_data = lead.get_json()["data"]
    assert lead_data["phone_number"] == "+33611223344" and lead_data["status"] == "NEW"
    patched = client.patch(f"/api/v1/leads/{lead_data['id']}", json={"status": "rap", "city": "Lyon"}, headers=key)
    assert patched.status_code == 200 and patched.get_json()["data"]["status"] == "RAP"
    got = client.get(f"/api/v1/leads/{lead_data['id']}", headers=h(api.a.read_key))
    assert got.get_json()["data"]["city"] == "Lyon"
    renamed = client.patch(f"/api/v1/campaigns/{campaign['id']}", json={"active": False}, headers=key)
    assert renamed.get_json()["data"]["active"] is False
    listed = client.get("/api/v1/campaigns?active=false", headers=key).get_json()["data"]
    assert [c["name"] for c in listed] == ["Printemps"]
    assert count_leads(owner_engine, api.a.tenant_id) == 1


def test_cursor_pagination_and_filters(client, api):
    key = h(api.a.write_key)
    for i in range(7):
        client.post("/api/v1/leads", json={"list_id": api.a.list_id, "phone_number": f"061122334{i}",
                                           "status": "NEW" if i % 2 else "RAP"}, headers=key)
    seen, cursor = [], None
    while True:
        url = "/api/v1/leads?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=key).get_json()
        seen += [lead["id"] for lead in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and seen == sorted(seen)
    rap = client.get("/api/v1/leads?status=RAP", headers=key).get_json()["data"]
    assert len(rap) == 4
    by_phone = client.get("/api/v1/leads?phone_number=06 11 22 33 41", headers=key).get_json()["data"]
    assert [lead["phone_number"] for lead in by_phone] == ["+33611223341"]
    assert client.get("/api/v1/leads?cursor=@@@", headers=key).status_code == 400
    assert client.get("/api/v1/leads?limit=0", headers=key).status_code == 400
    assert client.get("/api/v1/leads?bogus=1", headers=key).status_code == 400


def test_users_and_statuses(client, api):
    key = h(api.a.write_key)
    user = client.post("/api/v1/users", json={"email": "new.agent@alpha-appels.fr", "display_name": "New Agent",
                                              "role": "agent", "group_id": api.a.group_id}, headers=key)
    assert user.status_code == 201, user.get_json()
    assert "password" not in user.get_json()["data"]
    assert client.post("/api/v1/users", json={"email": "x@y.fr", "display_name": "X", "role": "admin",
                                              "level": 10}, headers=key).status_code == 400
    dup = client.post("/api/v1/users", json={"email": api.world.b.users["agent"].email, "display_name": "Dup",
                                             "role": "agent"}, headers=key)
    assert dup.status_code == 409
    users = client.get("/api/v1/users?role=agent", headers=key).get_json()["data"]
    assert {u["email"] for u in users} == {"agent@alpha-appels.fr", "new.agent@alpha-appels.fr"}
    status = client.post("/api/v1/statuses", json={"campaign_id": api.a.campaign_id, "code": "vt", "name": "Vente",
                                                   "sale": True}, headers=key)
    assert status.status_code == 201 and status.get_json()["data"]["code"] == "VT"
    statuses = client.get(f"/api/v1/statuses?campaign_id={api.a.campaign_id}", headers=key).get_json()["data"]
    assert {s["code"] for s in statuses} == {"RAP", "VT"}
    patched = client.patch(f"/api/v1/statuses/{status.get_json()['data']['id']}", json={"final": True}, headers=key)
    assert patched.get_json()["data"]["final"] is True


def test_scopes(client, api, owner_engine):
    read = h(api.a.read_key)
    assert client.get("/api/v1/campaigns", headers=read).status_code == 200
    response = client.post("/api/v1/leads", json={"list_id": api.a.list_id, "phone_number": "0611223344"},
                           headers=read)
    assert response.status_code == 403
    assert client.get("/api/v1/campaigns").status_code == 401
    assert count_leads(owner_engine) == 0


def test_tenant_isolation_including_guessed_ids(client, api, owner_engine):
    b_lead = client.post("/api/v1/leads", json={"list_id": api.b.list_id, "phone_number": "0611223344"},
                         headers=h(api.b.write_key)).get_json()["data"]
    key = h(api.a.write_key)
    b_user = api.world.b.users["agent"]
    for path in (f"/api/v1/leads/{b_lead['id']}", f"/api/v1/lists/{api.b.list_id}",
                 f"/api/v1/campaigns/{api.b.campaign_id}", f"/api/v1/users/{b_user.id}",
                 f"/api/v1/users/{api.world.platform_admin.id}"):
        assert client.get(path, headers=key).status_code == 404, path
        assert client.patch(path, json={}, headers=key).status_code == 404, path
    assert client.patch(f"/api/v1/leads/{b_lead['id']}", json={"status": "DNC"}, headers=key).status_code == 404
    # writing into B's list, or moving A's lead there, is refused and writes nothing
    refused = client.post("/api/v1/leads", json={"list_id": api.b.list_id, "phone_number": "0611223355"},
                          headers=key)
    assert refused.status_code == 400
    a_lead = client.post("/api/v1/leads", json={"list_id": api.a.list_id, "phone_number": "0611223366"},
                         headers=key).get_json()["data"]
    assert client.patch(f"/api/v1/leads/{a_lead['id']}", json={"list_id": api.b.list_id},
                        headers=key).status_code == 400
    assert client.post("/api/v1/lists", json={"name": "x", "campaign_id": api.b.campaign_id},
                       headers=key).status_code == 400
    listed = client.get("/api/v1/leads", headers=key).get_json()["data"]
    assert [lead["id"] for lead in listed] == [a_lead["id"]]
    users = client.get("/api/v1/users", headers=key).get_json()["data"]
    assert all(u["email"].endswith("@alpha-appels.fr") for u in users)
    with owner_engine.connect() as conn:
        b_rows = conn.execute(sa.text("SELECT status, list_id FROM leads WHERE tenant_id = :t"),
                              {"t": api.b.tenant_id}).all()
    assert [tuple(r) for r in b_rows] == [("NEW", api.b.list_id)]


def test_huge_and_odd_ids_are_404_not_errors(client, api):
    key = h(api.a.read_key)
    for path in ("/api/v1/leads/99999999999999999999", "/api/v1/campaigns/2147483648", "/api/v1/lists/0"):
        response = client.get(path, headers=key)
        assert response.status_code == 404 and response.get_json()["success"] is False


def test_openapi_document_and_docs_page(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    for path in ("/api/external/validate", "/api/external/leads", "/api/external/leads/batch",
                 "/api/public/click2call", "/api/public/status", "/api/v1/leads", "/api/v1/leads/{item_id}"):
        assert path in spec["paths"]
    assert "ApiKey" in spec["components"]["securitySchemes"]
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/public/click2call" in html and "/api/v1/statuses/{item_id}" in html


def test_calls_and_recordings_metadata_are_read_only_and_isolated(client, api):
    import datetime as dt

    from app.calls.models import Call
    from app.extensions import Session
    from app.recordings.models import Recording
    from tenants.scoping import tenant_scope

    start = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
    ids = {}
    for tenant in (api.a, api.b):
        with tenant_scope(tenant.tenant_id):
            calls = [Call(phone_number=f"+3361122334{i}", state="ended", campaign_id=tenant.campaign_id,
                          started_at=start + dt.timedelta(minutes=i)) for i in range(5)]
            Session.add_all(calls)
            Session.flush()
            recording = Recording(call_id=calls[0].id, status="ready", duration_s=12.5)
            Session.add(recording)
            Session.flush()
            ids[tenant.tenant_id] = ([str(c.id) for c in calls], recording.id)
            Session.commit()
    key = h(api.a.read_key)
    a_calls, a_recording = ids[api.a.tenant_id]
    b_calls, b_recording = ids[api.b.tenant_id]
    seen, cursor = [], None
    while True:
        body = client.get("/api/v1/calls?limit=2" + (f"&cursor={cursor}" if cursor else ""), headers=key).get_json()
        seen += [c["id"] for c in body["data"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == a_calls
    later = client.get("/api/v1/calls?started_after=2026-11-26T09:03:00Z", headers=key).get_json()["data"]
    assert [c["id"] for c in later] == a_calls[3:]
    assert client.get(f"/api/v1/calls/{a_calls[0]}", headers=key).get_json()["data"]["state"] == "ended"
    assert client.get(f"/api/v1/calls/{b_calls[0]}", headers=key).status_code == 404
    assert client.get("/api/v1/calls?cursor=bm9wZQ", headers=key).status_code == 400
    recordings = client.get("/api/v1/recordings", headers=key).get_json()["data"]
    assert [(r["id"], r["call_id"], r["duration_s"]) for r in recordings] == [(a_recording, a_calls[0], 12.5)]
    assert client.get(f"/api/v1/recordings/{b_recording}", headers=key).status_code == 404
    assert client.post("/api/v1/recordings", json={}, headers=h(api.a.write_key)).status_code == 405
