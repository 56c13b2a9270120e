"""REST API v1: a recording is one part of a call's recording; each item says which
part it is, how many parts the call has, and when the part began."""

from __future__ import annotations

import datetime as dt
import uuid

from app.calls.models import Call
from app.extensions import Session
from app.recordings.models import Recording
from tenants.scoping import tenant_scope

START = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


def h(key: str) -> dict:
    return {"X-API-Key": key}


def _call_with_parts(tenant_id: int, campaign_id: int, parts: int) -> tuple[str, list[int]]:
    with tenant_scope(tenant_id):
        call = Call(phone_number="+33611223344", state="ended", campaign_id=campaign_id, started_at=START)
        Session.add(call)
        Session.flush()
        rows = [Recording(call_id=call.id, part=n, status="ready", duration_s=60.0,
                          started_at=None if n == 1 else START + dt.timedelta(minutes=n - 1))
                for n in range(1, parts + 1)]
        Session.add_all(rows)
        Session.flush()
        made = str(call.id), [r.id for r in rows]
        Session.commit()
    return made


def test_recordings_give_their_part_and_the_calls_part_count(client, api):
    long_call, long_ids = _call_with_parts(api.a.tenant_id, api.a.campaign_id, 3)
    short_call, (short_id,) = _call_with_parts(api.a.tenant_id, api.a.campaign_id, 1)
    b_call, b_ids = _call_with_parts(api.b.tenant_id, api.b.campaign_id, 2)
    key = h(api.a.read_key)

    # pages of two: the count is the call's, not the page's
    seen, cursor = [], None
    while True:
        body = client.get("/api/v1/recordings?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                          headers=key).get_json()
        seen += [(r["id"], r["call_id"], r["part"], r["parts"], r["started_at"]) for r in body["data"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [
        (long_ids[0], long_call, 1, 3, None),
        (long_ids[1], long_call, 2, 3, "2026-11-26T09:01:00+00:00"),
        (long_ids[2], long_call, 3, 3, "2026-11-26T09:02:00+00:00"),
        (short_id, short_call, 1, 1, None),
    ]
    one = client.get(f"/api/v1/recordings/{long_ids[1]}", headers=key).get_json()["data"]
    assert (one["part"], one["parts"], one["duration_s"]) == (2, 3, 60.0)
    by_call = client.get(f"/api/v1/recordings?call_id={long_call}", headers=key).get_json()["data"]
    assert [(r["part"], r["parts"]) for r in by_call] == [(1, 3), (2, 3), (3, 3)]

    # tenant isolation: B's parts are neither listed nor counted for A, and A's for B
    assert client.get(f"/api/v1/recordings/{b_ids[1]}", headers=key).status_code == 404
    assert client.get(f"/api/v1/recordings?call_id={b_call}", headers=key).get_json()["data"] == []
    b_view = client.get("/api/v1/recordings", headers=h(api.b.read_key)).get_json()["data"]
    assert [(r["call_id"], r["part"], r["parts"]) for r in b_view] == [(b_call, 1, 2), (b_call, 2, 2)]
    assert client.get(f"/api/v1/recordings/{long_ids[0]}", headers=h(api.b.read_key)).status_code == 404


def test_recordings_schema_documents_the_part_fields_and_refuses_a_part_filter(client, api):
    spec = client.get("/api/openapi.json").get_json()
    schema = spec["components"]["schemas"]["RecordingOut"]["properties"]
    assert schema["part"]["type"] == schema["parts"]["type"] == "integer"
    assert "recording" in schema["part"]["description"] and schema["started_at"]["type"] == ["string", "null"]
    # the resource stays read-only and strict about its query
    reply = client.get("/api/v1/recordings?part=2", headers=h(api.a.read_key))
    assert reply.status_code == 400
    assert client.get(f"/api/v1/recordings?call_id={uuid.uuid4()}", headers=h(api.a.read_key)).get_json()["data"] == []
