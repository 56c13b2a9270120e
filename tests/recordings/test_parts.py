"""Recordings split into parts (transfers, maximum length): the part clock, the parts'
rows and conversion, the FreeSWITCH commands (scripted ESL server replaying recorded
sessions: FreeSWITCH itself is not run here), the dialer splitting a live call at the
maximum length, and the pages showing the parts in order."""

from __future__ import annotations

import datetime as dt
import uuid

import gevent
import pytest
import sqlalchemy as sa

from app.calls.models import Call
from app.extensions import Session
from app.leads.models import TimelineEvent
from app.realtime import bus
from app.recordings import services
from app.recordings.models import Recording, RecordingStatus
from app.recordings.segments import PartClock
from app.recordings.storage import storage_from_config
from app.runtime import current_config
from telephony.callcontrol import CallControlError, EventKind, OriginateRequest
from telephony.freeswitch.backend import FreeSwitchCallControl
from telephony.freeswitch.nodes import FreeSwitchNode
from tenants.scoping import tenant_scope
from tests.dialer_db.conftest import make_campaign
from tests.dialer_fs.test_freeswitch_dialer import (  # noqa: F401
    ANSWERED,
    _call,
    _clear_bus,
    _run_until,
    _service,
    _stop,
    servers,
)
from tests.recordings.conftest import make_call, write_wav
from tests.recordings.test_views import sign_in
from tests.telephony.conftest import EventSink
from tests.telephony.eslserver import ScriptedEslServer, Step, api_response, load_sessions

T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


# -- the part clock ------------------------------------------------------------------


def test_part_clock_splits_at_the_limit_and_rereads_it_each_minute():
    reads = []
    limits = iter([600.0, 0.0])

    def load() -> float | None:
        reads.append(1)
        return next(limits)

    clock = PartClock(load)
    assert clock.due(T0) == [] and reads == []  # no live call: the setting is not even read
    clock.started("a", T0)
    clock.started("b", T0 + dt.timedelta(seconds=30))
    assert clock.due(T0 + dt.timedelta(seconds=599)) == []
    assert clock.due(T0 + dt.timedelta(seconds=600)) == ["a"]
    assert clock.split("a", T0 + dt.timedelta(seconds=600)) == 2 and clock.part("a") == 2
    assert clock.due(T0 + dt.timedelta(seconds=630)) == ["b"]
    assert len(reads) == 1  # cached for a minute
    clock.ended("b")
    assert clock.due(T0 + dt.timedelta(seconds=700)) == []  # limit re-read: 0 means never split
    assert len(reads) == 2
    assert clock.take("a") == 2 and clock.take("a") == 1 and clock.take("b") == 1


# -- rows and conversion ---------------------------------------------------------------


def test_close_part_queues_the_closed_part_and_carries_an_open_pause(world, spool):
    tenant = world.a.id
    call = make_call(tenant, ended=False)
    cut = call.answered_at + dt.timedelta(seconds=3)
    first = write_wav(spool / str(tenant) / f"{call.id}.wav", 3.0)
    second = write_wav(spool / str(tenant) / f"{call.id}-p2.wav", 2.0)
    with tenant_scope(tenant):
        live = Session.get(Call, call.id)
        services.pause_recording(live, None)  # a card payment runs across the cut
        closed = services.close_part(call.id, str(first), cut)
        assert (closed.part, closed.status, closed.source_path) == (1, RecordingStatus.PENDING, str(first))
        assert closed.gaps[0]["end"] == cut.isoformat()
        current = Session.scalar(sa.select(Recording).where(Recording.part == 2))
        assert current.status == RecordingStatus.RECORDING and current.started_at == cut
        assert current.gaps[0]["start"] == cut.isoformat() and current.gaps[0]["end"] is None
        services.resume_recording(live, None)  # the pause ends in part 2
        live.ended_at = cut + dt.timedelta(seconds=2)
        assert services.register_recording(call.id, str(second)).part == 2
        storage = storage_from_config(current_config())
        for recording in Session.scalars(sa.select(Recording).order_by(Recording.part)).all():
            services.convert_recording(recording.id, storage)
        parts = services.call_parts([call.id])[call.id]
        assert [(p.part, p.status) for p in parts] == [(1, "ready"), (2, "ready")]
        assert [round(p.duration_s) for p in parts] == [3, 2]
        # each part's gap is placed against that part's own start
        assert parts[0].gaps[0]["to_s"] == pytest.approx(3.0, abs=0.01)
        assert parts[1].gaps[0]["from_s"] == 0.0
        assert parts[0].path != parts[1].path
        assert not first.exists() and not second.exists()
        # a split after the call's last part closed changes nothing
        assert services.close_part(call.id, "/x.wav", cut) is None
        Session.commit()


def test_close_part_of_another_tenants_call_finds_nothing(world):
    call = make_call(world.a.id, ended=False)
    with tenant_scope(world.b.id):
        assert services.close_part(call.id, "/spool/x.wav", T0) is None
        Session.rollback()
    with tenant_scope(world.a.id):
        assert Session.scalar(sa.select(sa.func.count()).select_from(Recording)) == 0


# -- FreeSWITCH commands (scripted server) -----------------------------------------------


def _control(server: ScriptedEslServer, sink: EventSink) -> FreeSwitchCallControl:
    node = FreeSwitchNode(name="fs1", host="127.0.0.1", port=server.port, password="ClueCon",
                          sip_address="10.0.0.1:5080")
    control = FreeSwitchCallControl([node], sink, recordings_dir="/var/calls", backoff_initial=0.05,
                                    backoff_max=0.2, connect_timeout=1.0)
    assert control.start(wait_s=3)
    return control


def test_split_stops_the_file_and_records_on_in_the_next_part():
    sessions = load_sessions("03_originate_answered")
    sessions[0].steps.append(Step("api uuid_record x stop y", [api_response("+OK Success\n")]))
    sessions[0].steps.append(Step("api uuid_record x stop y", [api_response("+OK Success\n")]))
    sessions[0].steps.append(Step("api uuid_record x start y", [api_response("+OK Success\n")]))
    sessions[0].steps.append(Step("api uuid_record x mask y", [api_response("+OK Success\n")]))
    server = ScriptedEslServer(sessions).start()
    sink = EventSink()
    control = _control(server, sink)
    try:
        with pytest.raises(CallControlError):
            control.split_recording(ANSWERED, 2)  # no such call yet
        control.originate(OriginateRequest(call_id=ANSWERED, tenant_id=7, campaign_id=3, lead_id=11,
                                           destination="0601020304", caller_id="0162000000",
                                           ring_timeout_s=20, record=True))
        sink.wait_for(EventKind.ANSWERED, ANSWERED)
        first = f"/var/calls/7/{ANSWERED}.wav"
        assert control.split_recording(ANSWERED, 2) == (first, f"/var/calls/7/{ANSWERED}-p2.wav")
        control.pause_recording(ANSWERED)  # masked: the next part starts masked too
        assert control.split_recording(ANSWERED, 3)[1] == f"/var/calls/7/{ANSWERED}-p3.wav"
        with pytest.raises(CallControlError):
            control.split_recording(ANSWERED, 3)  # already on part 3
        commands = [c for c in server.commands("api uuid_record")]
        p2, p3 = f"/var/calls/7/{ANSWERED}-p2.wav", f"/var/calls/7/{ANSWERED}-p3.wav"
        assert commands == [
            f"api uuid_record {ANSWERED} stop {first}",
            f"api uuid_record {ANSWERED} start {p2}",
            f"api uuid_record {ANSWERED} mask {p2}",
            f"api uuid_record {ANSWERED} stop {p2}",
            f"api uuid_record {ANSWERED} start {p3}",
            f"api uuid_record {ANSWERED} mask {p3}",
        ]
    finally:
        with gevent.Timeout(5):
            control.stop()
        server.stop()


def test_split_of_an_unrecorded_call_is_refused():
    server = ScriptedEslServer(load_sessions("03_originate_answered")).start()
    sink = EventSink()
    control = _control(server, sink)
    try:
        control.originate(OriginateRequest(call_id=ANSWERED, tenant_id=7, campaign_id=3, lead_id=11,
                                           destination="0601020304", caller_id="0162000000", ring_timeout_s=20))
        sink.wait_for(EventKind.ANSWERED, ANSWERED)
        with pytest.raises(CallControlError, match="not recorded"):
            control.split_recording(ANSWERED, 2)
        assert server.commands("api uuid_record") == []
    finally:
        with gevent.Timeout(5):
            control.stop()
        server.stop()


# -- the dialer splits a live call at the maximum length ------------------------------------


def test_dialer_splits_a_long_call_and_registers_every_part(world, servers):  # noqa: F811
    _clear_bus()
    tenant_id, agent = world.a.id, world.a.users["agent"]
    campaign = make_campaign(tenant_id, "Longs appels", leads=1, recording=True)
    sessions = load_sessions("03_originate_answered")
    sessions[0].steps.append(Step("api uuid_transfer x", [api_response("+OK\n")]))
    sessions[0].steps.append(Step("api uuid_record x stop y", [api_response("+OK Success\n")]))
    sessions[0].steps.append(Step("api uuid_record x start y", [api_response("+OK Success\n")]))
    server = ScriptedEslServer(sessions).start()
    servers.append(server)
    service = _service(server, tenant_id, [ANSWERED])
    try:
        service.discover()
        bus.mark_alive(tenant_id, agent.id)
        bus.send_command(bus.AgentCommand("login", tenant_id, campaign.id, agent.id))
        _run_until(service, lambda: server.commands("api uuid_transfer"), tenant_id, agent.id)
        parts = service.held[campaign.id].runner.backend.parts
        assert server.commands("api uuid_record") == []  # under the tenant's 60 min: no split
        parts._load_limit = lambda: 2.0  # a 2 s maximum (the tenant's setting is in minutes)
        parts._limit_read_at = None
        _run_until(service, lambda: server.commands(f"api uuid_record {ANSWERED} start"),
                   tenant_id, agent.id)
        p1, p2 = f"/var/calls/{tenant_id}/{ANSWERED}.wav", f"/var/calls/{tenant_id}/{ANSWERED}-p2.wav"
        assert server.commands("api uuid_record")[:2] == [f"api uuid_record {ANSWERED} stop {p1}",
                                                           f"api uuid_record {ANSWERED} start {p2}"]
        parts._load_limit = lambda: None  # no further split
        parts._limit_read_at = None
        service.held[campaign.id].runner.backend.hangup(ANSWERED)
        _run_until(service, lambda: getattr(_call(tenant_id, ANSWERED), "ended_at", None) is not None,
                   tenant_id, agent.id)
    finally:
        _stop(service)
    with tenant_scope(tenant_id):
        rows = Session.scalars(sa.select(Recording).where(Recording.call_id == uuid.UUID(ANSWERED))
                               .order_by(Recording.part)).all()
        assert [(r.part, r.status, r.source_path) for r in rows] == [
            (1, RecordingStatus.PENDING, p1), (2, RecordingStatus.PENDING, p2)]
        assert rows[0].started_at is None and rows[1].started_at is not None
        Session.rollback()


# -- pages ---------------------------------------------------------------------------


@pytest.fixture()
def split_call(world, spool):
    """Tenant A: a call recorded in two parts, converted; a call event in its lead's history."""
    tenant = world.a.id
    campaign = make_campaign(tenant, "Parts", leads=1, recording=True)
    with tenant_scope(tenant):
        from app.leads.models import Lead

        lead_id = Session.scalar(sa.select(Lead.id).order_by(Lead.id.desc()).limit(1))
    call = make_call(tenant, campaign_id=campaign.id, phone="+33655550001")
    cut = call.answered_at + dt.timedelta(seconds=2)
    with tenant_scope(tenant):
        services.close_part(call.id, str(write_wav(spool / str(tenant) / f"{call.id}.wav", 2.0)), cut)
        services.register_recording(call.id, str(write_wav(spool / str(tenant) / f"{call.id}-p2.wav", 3.0)))
        storage = storage_from_config(current_config())
        for recording in Session.scalars(sa.select(Recording).where(Recording.call_id == call.id)).all():
            services.convert_recording(recording.id, storage)
        Session.add(TimelineEvent(lead_id=lead_id, kind="call", summary="VENTE · dispositioned",
                                  occurred_at=call.started_at, data={"call_id": str(call.id)}))
        ids = [r.id for r in Session.scalars(sa.select(Recording).where(Recording.call_id == call.id)
                                             .order_by(Recording.part))]
        Session.commit()
    return call, lead_id, ids


def test_search_page_shows_a_calls_parts_in_order(client, world, split_call):
    call, _, (first, second) = split_call
    sign_in(client, world, "a", "supervisor")
    html = client.get("/recordings/?phone=0655550001").get_data(as_text=True)
    assert html.count('class="recording-call"') == 1
    assert html.index(f'data-recording-id="{first}" data-part="1"') < html.index(
        f'data-recording-id="{second}" data-part="2"')
    assert "Part 1" in html and "Part 2" in html
    assert f"/recordings/{first}/audio" in html and f"/recordings/{second}/download" in html
    # filters apply per part: only the 3 s part is at least 3 s long
    longer = client.get("/recordings/?phone=0655550001&min_s=3").get_data(as_text=True)
    assert f'data-recording-id="{second}"' in longer and f'data-recording-id="{first}"' not in longer
    client.get("/logout")
    sign_in(client, world, "b", "supervisor")
    other = client.get("/recordings/?phone=0655550001").get_data(as_text=True)
    assert 'class="recording-call"' not in other
    assert client.get(f"/recordings/{second}/audio").status_code == 404


def test_contact_history_lists_the_parts_in_order(client, world, split_call):
    _, lead_id, (first, second) = split_call
    sign_in(client, world, "a", "manager")
    html = client.get(f"/leads/contacts/{lead_id}").get_data(as_text=True)
    assert 'class="recording-parts"' in html
    assert html.index(f"/recordings/{first}/audio") < html.index(f"/recordings/{second}/audio")
    client.get("/logout")
    sign_in(client, world, "b", "manager")
    assert client.get(f"/leads/contacts/{lead_id}").status_code == 404


def test_search_pages_by_each_calls_newest_part(world):
    """Parts of calls interleave in time; pages follow each call's newest part, a call
    appears once, with all its parts, and never again on a later page."""
    tenant = world.a.id
    calls = [make_call(tenant, phone=f"+3361000000{n}") for n in range(4)]
    c1, c2, c3, c4 = (call.id for call in calls)
    order = [(c1, 1), (c2, 1), (c1, 2), (c3, 1), (c4, 1), (c2, 2)]  # ids in this order
    with tenant_scope(tenant):
        ids = []
        for call_id, part in order:
            recording = Recording(call_id=call_id, part=part, status=RecordingStatus.PENDING, gaps=[], segments=[])
            Session.add(recording)
            Session.flush()
            ids.append(recording.id)
        filters = services.RecordingFilters(phone="+336100000")
        pages, before = [], None
        while True:
            page = services.search_recordings(filters, before_id=before, limit=2, batch=2)
            if not page:
                break
            pages.append([(r.call.id, [p.id for p in r.parts]) for r in page])
            before = page[-1].newest_id
        Session.rollback()
    assert pages == [[(c2, [ids[1], ids[5]]), (c4, [ids[4]])],
                     [(c3, [ids[3]]), (c1, [ids[0], ids[2]])]]
