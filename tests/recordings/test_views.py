"""Recordings pages: search, range-served audio, download, pause/resume, settings;
permissions and tenant isolation on every route."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.extensions import Session, redis
from app.realtime import bus
from app.recordings import control, services
from app.recordings.models import Recording, RecordingSettings
from app.recordings.storage import storage_from_config
from app.runtime import current_config
from tenants.scoping import tenant_scope
from tests.factories import csrf_from, login
from tests.recordings.conftest import make_call, make_ready_recording, write_wav


def sign_in(client, world, tenant: str, role: str) -> None:
    slug = {"a": "alpha-appels", "b": "beta-contact"}[tenant]
    response = login(client, f"{role}@{slug}.fr", world.password)
    assert response.status_code == 302


def csrf(client) -> str:
    return csrf_from(client.get("/", follow_redirects=True).get_data(as_text=True))


@pytest.fixture()
def ready(world, spool):
    """Tenant A: a 4 s recording by A's agent; tenant B: one of its own."""
    rec_a = make_ready_recording(world.a.id, spool, 4.0, agent_id=world.a.users["agent"].id, phone="+33612340001")
    rec_b = make_ready_recording(world.b.id, spool, 2.0, agent_id=world.b.users["agent"].id, phone="+33698760002")
    return rec_a, rec_b


def test_audio_supports_range_requests(client, world, ready, storage_root):
    rec_a, _ = ready
    sign_in(client, world, "a", "supervisor")
    whole = (storage_root / rec_a.path).read_bytes()
    url = f"/recordings/{rec_a.id}/audio"

    full = client.get(url)
    assert full.status_code == 200 and full.mimetype == "audio/mpeg"
    assert full.headers["Accept-Ranges"] == "bytes"
    assert full.data == whole and int(full.headers["Content-Length"]) == len(whole)
    assert full.headers["Content-Disposition"].startswith("inline")

    head = client.get(url, headers={"Range": "bytes=0-99"})
    assert head.status_code == 206
    assert head.headers["Content-Range"] == f"bytes 0-99/{len(whole)}"
    assert head.data == whole[:100] and head.headers["Content-Length"] == "100"

    middle = client.get(url, headers={"Range": "bytes=1000-"})
    assert middle.status_code == 206 and middle.data == whole[1000:]
    assert middle.headers["Content-Range"] == f"bytes 1000-{len(whole) - 1}/{len(whole)}"

    tail = client.get(url, headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.data == whole[-500:]

    beyond = client.get(url, headers={"Range": f"bytes={len(whole) + 10}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(whole)}"

    many = client.get(url, headers={"Range": "bytes=0-1,5-6"})  # multipart not served: the whole file
    assert many.status_code == 200 and many.data == whole


def test_search_page_lists_plays_and_filters(client, world, ready, spool):
    rec_a, rec_b = ready
    other = make_ready_recording(world.a.id, spool, 1.0, phone="+33700000009",
                                 started=dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC))
    sign_in(client, world, "a", "supervisor")
    page = client.get("/recordings/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'<audio controls preload="none" src="/recordings/{rec_a.id}/audio">' in html
    assert f"/recordings/{rec_a.id}/download" in html and "+33612340001" in html and "+33700000009" in html
    assert "+33698760002" not in html, "another tenant's recording is never listed"

    def phones(**query) -> set[str]:
        text = client.get("/recordings/", query_string=query).get_data(as_text=True)
        return set(re.findall(r"\+33\d{9}", text))

    assert phones(phone="0612340001") == {"+33612340001"}
    assert phones(agent=world.a.users["agent"].id) == {"+33612340001"}
    assert phones(**{"from": "2026-11-01"}) == {"+33612340001"}
    assert phones(to="2026-10-31") == {"+33700000009"}
    assert phones(min_s=3) == {"+33612340001"}
    assert phones(max_s=2) == {"+33700000009"}
    assert phones(status="failed") == set()
    assert phones(agent=world.b.users["agent"].id) == set()
    fragment = client.get("/recordings/", query_string={"phone": "0700000009"},
                          headers={"HX-Request": "true", "HX-Target": "results"})
    assert "<table" in fragment.get_data(as_text=True) and "<form" not in fragment.get_data(as_text=True)
    assert other.id


def test_download_is_an_audited_attachment(client, world, ready, storage_root):
    rec_a, _ = ready
    sign_in(client, world, "a", "manager")
    response = client.get(f"/recordings/{rec_a.id}/download")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=\"recording-")
    assert response.data == (storage_root / rec_a.path).read_bytes()
    with tenant_scope(world.a.id):
        event = Session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "recordings.downloaded"))
        assert event.target_id == str(rec_a.id) and event.actor_id == world.a.users["manager"].id


@pytest.mark.parametrize("path", ["/recordings/", "/recordings/{id}/audio", "/recordings/{id}/download"])
def test_agents_may_not_listen_and_anonymous_users_log_in(client, world, ready, path):
    rec_a, _ = ready
    url = path.format(id=rec_a.id)
    assert client.get(url).status_code == 302
    sign_in(client, world, "a", "agent")
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("suffix", ["audio", "download"])
def test_another_tenants_recording_is_not_found_even_by_guessing_ids(client, world, ready, suffix):
    rec_a, rec_b = ready
    sign_in(client, world, "b", "admin")
    assert client.get(f"/recordings/{rec_b.id}/{suffix}").status_code == 200
    for guess in range(1, rec_b.id + 5):
        if guess != rec_b.id:
            assert client.get(f"/recordings/{guess}/{suffix}").status_code == 404, guess
    with tenant_scope(world.b.id):
        downloads = Session.scalars(sa.select(AuditEvent.target_id).where(AuditEvent.action == "recordings.downloaded"))
        assert set(downloads) <= {str(rec_b.id)}


def test_pending_recording_is_not_served(client, world, spool):
    call = make_call(world.a.id)
    with tenant_scope(world.a.id):
        recording = services.register_recording(call.id, str(write_wav(spool / "p.wav", 1.0)))
        Session.commit()
    sign_in(client, world, "a", "supervisor")
    assert client.get(f"/recordings/{recording.id}/audio").status_code == 404


def _orders(campaign_id) -> list[dict]:
    return [json.loads(item) for item in redis().lrange(control.queue_key(campaign_id), 0, -1)]


def test_payment_pause_and_resume_mark_the_gap_and_order_the_dialer(client, world, spool, storage_root):
    call = make_call(world.a.id, ended=False, started=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30))
    redis().delete(control.queue_key(None))
    sign_in(client, world, "a", "supervisor")
    headers = {"X-CSRF-Token": csrf(client)}
    paused = client.post(f"/recordings/calls/{call.id}/pause", headers=headers)
    assert paused.status_code == 200 and paused.json["paused"] is True
    assert client.post(f"/recordings/calls/{call.id}/pause", headers=headers).status_code == 409
    resumed = client.post(f"/recordings/calls/{call.id}/resume", headers=headers)
    assert resumed.status_code == 200 and resumed.json["paused"] is False
    assert client.post(f"/recordings/calls/{call.id}/resume", headers=headers).status_code == 409
    assert [o["action"] for o in _orders(None)] == ["pause", "resume"]
    assert {o["call_id"] for o in _orders(None)} == {str(call.id)}
    with tenant_scope(world.a.id):
        actions = set(Session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("recordings.%"))))
        assert actions == {"recordings.paused", "recordings.resumed"}
    # the call ends; the conversion places the gap in the audio
    with tenant_scope(world.a.id):
        from app.calls.models import Call

        Session.get(Call, call.id).ended_at = dt.datetime.now(dt.UTC)
        wav = write_wav(spool / f"{call.id}.wav", 40.0)
        recording = services.register_recording(call.id, str(wav))
        services.convert_recording(recording.id, storage_from_config(current_config()))
        Session.commit()
        (gap,) = recording.gaps
        assert 20 <= gap["from_s"] <= gap["to_s"] <= 40
        assert recording.segments[0] == {"from_s": 0.0, "to_s": gap["from_s"]}
    redis().delete(control.queue_key(None))


def test_agents_pause_only_their_own_call(client, world):
    call = make_call(world.a.id, ended=False)
    sign_in(client, world, "a", "agent")
    headers = {"X-CSRF-Token": csrf(client)}
    agent = world.a.users["agent"]
    redis().delete(bus.agent_key(world.a.id, agent.id))
    assert client.post(f"/recordings/calls/{call.id}/pause", headers=headers).status_code == 403
    redis().hset(bus.agent_key(world.a.id, agent.id), mapping={"state": "in_call", "call_id": str(call.id)})
    try:
        assert client.post(f"/recordings/calls/{call.id}/pause", headers=headers).status_code == 200
    finally:
        redis().delete(bus.agent_key(world.a.id, agent.id))
        redis().delete(control.queue_key(None))


def test_pause_needs_csrf_and_stays_in_its_tenant(client, world):
    call_a = make_call(world.a.id, ended=False)
    sign_in(client, world, "b", "supervisor")
    assert client.post(f"/recordings/calls/{call_a.id}/pause").status_code == 400  # no CSRF token
    headers = {"X-CSRF-Token": csrf(client)}
    for action in ("pause", "resume"):
        assert client.post(f"/recordings/calls/{call_a.id}/{action}", headers=headers).status_code == 404
    assert client.post("/recordings/calls/not-a-uuid/pause", headers=headers).status_code == 404
    with tenant_scope(world.a.id):
        assert Session.scalar(sa.select(sa.func.count()).select_from(Recording)) == 0


def test_retention_settings_per_tenant(client, world):
    sign_in(client, world, "a", "admin")
    page = client.get("/recordings/settings")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    saved = client.post("/recordings/settings",
                        data={"retention_days": "90", "max_part_minutes": "30", "csrf_token": token})
    assert saved.status_code == 302
    for bad_days, bad_minutes in (("0", "30"), ("90", "601"), ("90", "-1"), ("90", "")):
        bad = client.post("/recordings/settings",
                          data={"retention_days": bad_days, "max_part_minutes": bad_minutes, "csrf_token": token})
        assert bad.status_code == 200 and 'aria-invalid="true"' in bad.get_data(as_text=True)
    with tenant_scope(world.a.id):
        assert Session.execute(sa.select(RecordingSettings.retention_days,
                                         RecordingSettings.max_part_minutes)).one() == (90, 30)
        assert services.max_part_seconds(365) == 1800.0
    with tenant_scope(world.b.id):
        assert Session.scalar(sa.select(RecordingSettings)) is None
    client.get("/logout")
    sign_in(client, world, "b", "supervisor")
    assert client.get("/recordings/settings").status_code == 403
