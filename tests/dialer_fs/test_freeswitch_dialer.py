"""The dialer service on the FreeSWITCH backend, against the scripted ESL server
replaying recorded FreeSWITCH sessions (tests/telephony/data): a campaign dials, the
events reach the engine through the runner's queue, the CDR row is completed with the
media figures; a restart adopts calls still live and closes the others."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal

import gevent
import pytest
import sqlalchemy as sa

from app.calls.models import Call
from app.config import Config
from app.extensions import Session, redis
from app.realtime import bus
from app.recordings import control as recording_control
from app.recordings.models import Recording, RecordingStatus
from telephony.dialer.backends import FreeSwitchBackends, SimulatedBackends, make_backends
from telephony.dialer.service import DialerService
from telephony.freeswitch.nodes import FreeSwitchNode
from telephony.routing.models import Carrier, CarrierRate, Trunk
from tenants.scoping import tenant_scope
from tests.dialer_db.conftest import OPEN, make_campaign
from tests.telephony.conftest import recorded_frames
from tests.telephony.eslserver import (
    ScriptedEslServer,
    SessionScript,
    Step,
    api_response,
    json_event,
    load_sessions,
)

ANSWERED = "c0ffee00-0003-4000-8000-000000000001"
BUSY = "c0ffee00-0004-4000-8000-000000000001"
LIVE = "c0ffee00-0009-4000-8000-000000000001"


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture()
def servers() -> Iterator[list[ScriptedEslServer]]:
    started: list[ScriptedEslServer] = []
    yield started
    for server in started:
        server.stop()


def _clear_bus() -> None:
    for key in redis().scan_iter(f"{bus.PREFIX}:*"):
        redis().delete(key)


def _service(server: ScriptedEslServer, tenant_id: int, call_ids: list[str], **options) -> DialerService:
    node = FreeSwitchNode(name="fs1", host="127.0.0.1", port=server.port, password="ClueCon")
    backends = FreeSwitchBackends([node], connect_wait_s=3, backoff_initial=0.05, backoff_max=0.2,
                                  connect_timeout=1.0, recordings_dir="/var/calls", **options)
    ids = iter(call_ids)
    return DialerService(clock=FakeClock(), tenant_ids=[tenant_id], epoch_wall=OPEN.timestamp(),
                         discover_every_s=3600, backends=backends, new_call_id=lambda: next(ids))


def _run_until(service: DialerService, done, tenant_id: int, agent_id: int | None = None, limit: int = 200) -> None:
    clock = service._clock
    for _ in range(limit):
        if agent_id is not None:
            bus.mark_alive(tenant_id, agent_id)
        service.step()
        if done():
            return
        gevent.sleep(0.02)  # the ESL greenlets read the server's replies and events
        clock.t += 0.5
    raise AssertionError("condition never met")


def _call(tenant_id: int, call_id: str) -> Call | None:
    with tenant_scope(tenant_id):
        call = Session.get(Call, uuid.UUID(call_id), populate_existing=True)
        if call is not None:
            Session.expunge(call)
        Session.rollback()
        return call


def _stop(service: DialerService) -> None:
    for campaign_id in list(service.held):
        service.release(campaign_id)
    with gevent.Timeout(5):
        service.backends.close()


def test_answered_call_is_dialled_presented_and_its_cdr_completed(world, servers):
    _clear_bus()
    tenant_id, agent = world.a.id, world.a.users["agent"]
    campaign = make_campaign(tenant_id, "FreeSWITCH", leads=1, recording=True)
    sessions = load_sessions("03_originate_answered")
    # the recording has no agent conference: the transfer into it is acknowledged here
    sessions[0].steps.append(Step("api uuid_transfer x", [api_response("+OK\n")]))
    server = ScriptedEslServer(sessions).start()
    servers.append(server)
    service = _service(server, tenant_id, [ANSWERED])
    try:
        service.discover()
        assert campaign.id in service.held
        bus.mark_alive(tenant_id, agent.id)
        bus.send_command(bus.AgentCommand("login", tenant_id, campaign.id, agent.id))
        _run_until(service, lambda: server.commands("api uuid_transfer"), tenant_id, agent.id)
        originate = server.commands("bgapi originate")[0]
        for expected in (f"origination_uuid={ANSWERED}", f"carillon_tenant_id={tenant_id}",
                         f"carillon_campaign_id={campaign.id}", "record_session", f"/var/calls/{tenant_id}/"):
            assert expected in originate
        assert server.commands("api uuid_transfer") == [
            f"api uuid_transfer {ANSWERED} conference:agent-{tenant_id}-{agent.id}@default inline"
        ]
        open_row = _call(tenant_id, ANSWERED)
        assert open_row.ended_at is None and open_row.backend == "freeswitch"
        # card payment: the web's pause/resume orders reach FreeSWITCH at the next step
        recording_control.send(campaign.id, ANSWERED, recording_control.PAUSE)
        recording_control.send(campaign.id, ANSWERED, recording_control.RESUME)
        _run_until(service, lambda: len(server.commands("api uuid_record")) >= 2, tenant_id, agent.id)
        path = f"/var/calls/{tenant_id}/{ANSWERED}.wav"
        assert server.commands("api uuid_record") == [f"api uuid_record {ANSWERED} mask {path}",
                                                      f"api uuid_record {ANSWERED} unmask {path}"]
        # the customer hangs up before the agent's leg joins
        service.held[campaign.id].runner.backend.hangup(ANSWERED)
        _run_until(service, lambda: (_call(tenant_id, ANSWERED) or open_row).ended_at is not None,
                   tenant_id, agent.id)
    finally:
        _stop(service)
    call = _call(tenant_id, ANSWERED)
    assert call.cause == "NORMAL_CLEARING" and call.answered_at is not None and call.ended_at is not None
    assert (call.data["billsec"], call.data["rtp_audio_in_mos"], call.data["hangup_cause"]) == (
        "7", "4.50", "NORMAL_CLEARING")
    assert call.node == "fs1"
    assert {"dialling", "ringing", "answered"} <= set(call.times)
    with tenant_scope(tenant_id):
        recording = Session.scalar(sa.select(Recording).where(Recording.call_id == call.id))
        assert recording is not None and recording.status == RecordingStatus.PENDING
        assert recording.source_path == f"/var/calls/rec_{ANSWERED}.wav"  # FreeSWITCH's own path, from RECORD_STOP
        Session.rollback()


def test_busy_number_closes_the_cdr_as_busy(world, servers):
    _clear_bus()
    tenant_id, agent = world.a.id, world.a.users["agent"]
    campaign = make_campaign(tenant_id, "Occupé", leads=1, recording=True)
    server = ScriptedEslServer(load_sessions("04_originate_busy")).start()
    servers.append(server)
    service = _service(server, tenant_id, [BUSY], event_format="plain")
    try:
        service.discover()
        bus.mark_alive(tenant_id, agent.id)
        bus.send_command(bus.AgentCommand("login", tenant_id, campaign.id, agent.id))
        _run_until(service, lambda: (_call(tenant_id, BUSY) is not None and _call(tenant_id, BUSY).ended_at
                                     is not None), tenant_id, agent.id)
    finally:
        _stop(service)
    call = _call(tenant_id, BUSY)
    assert (call.state, call.cause, call.disposition) == ("busy", "USER_BUSY", "OCC")
    assert call.data["hangup_cause_q850"] == "17" and call.answered_at is None
    with tenant_scope(tenant_id):
        assert Session.scalar(sa.select(Recording)) is None, "an unanswered call has no recording"
        Session.rollback()


def _open_row(tenant_id: int, campaign_id: int, call_id: str) -> None:
    with tenant_scope(tenant_id):
        now = OPEN - dt.timedelta(minutes=1)
        Session.add(Call(id=uuid.UUID(call_id), campaign_id=campaign_id, phone_number="+33601020304", state="dialling",
                         started_at=now, backend="freeswitch", times={"dialling": now.isoformat()}, data={}))
        Session.commit()


def test_restart_adopts_live_calls_and_closes_vanished_ones(world, servers):
    _clear_bus()
    tenant_id = world.a.id
    campaign = make_campaign(tenant_id, "Reprise", leads=0)
    gone = str(uuid.uuid4())
    _open_row(tenant_id, campaign.id, LIVE)
    _open_row(tenant_id, campaign.id, gone)
    # a carrier pricing the number (+33601020304): the adopted call is priced at its end
    carrier = Carrier(name="Alpha")
    Session.add(carrier)
    Session.flush()
    Session.add_all([Trunk(carrier_id=carrier.id, name="alpha-1", host="192.0.2.10"),
                     CarrierRate(carrier_id=carrier.id, prefix="336", rate_per_minute=Decimal("0.0300"))])
    Session.commit()
    bodies = [f.body or "" for f in recorded_frames("09_reconnect_reconcile")]
    rows = [b for b in bodies if b.startswith('{"row_count":1,"rows":[{"uuid"')][1]
    dump = next(b for b in bodies if b.startswith('{"Event-Name":"CHANNEL_DATA"')).replace(
        '"variable_crm_tenant_id":"7"', f'"variable_carillon_tenant_id":"{tenant_id}"').replace(
        '"variable_crm_call_id":"1011"',
        f'"variable_carillon_call_id":"{LIVE}","variable_carillon_campaign_id":"{campaign.id}"')
    listing = [Step("api show channels as json", [api_response(rows)]), Step("api uuid_dump", [api_response(dump)])]
    # listed once when the session opens (nothing is owned yet), again at takeover
    server = ScriptedEslServer([SessionScript(steps=listing + [Step(s.command, s.replies) for s in listing])]).start()
    servers.append(server)
    service = _service(server, tenant_id, [])
    try:
        service.discover()
        assert campaign.id in service.held
        closed = _call(tenant_id, gone)
        assert (closed.state, closed.cause) == ("failed", "CHANNEL_GONE") and closed.ended_at is not None
        _run_until(service, lambda: _call(tenant_id, LIVE).answered_at is not None, tenant_id)
        assert _call(tenant_id, LIVE).ended_at is None, "a live call is not closed by the restart"
        server.push(json_event({
            "Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": LIVE, "Hangup-Cause": "NORMAL_CLEARING",
            "variable_hangup_cause": "NORMAL_CLEARING", "variable_billsec": "42",
            "variable_rtp_audio_in_mos": "4.30",
        }))
        _run_until(service, lambda: _call(tenant_id, LIVE).ended_at is not None, tenant_id)
    finally:
        _stop(service)
    call = _call(tenant_id, LIVE)
    assert (call.cause, call.data["billsec"], call.data["rtp_audio_in_mos"], call.data["adopted"]) == (
        "NORMAL_CLEARING", "42", "4.30", "true")
    assert call.state == "answered" and call.node == "fs1"
    # 42 billed seconds at 0.03/min by 60 s increments: one minute; the vanished call is unpriced
    assert (call.billsec, call.rate_prefix, call.cost) == (42, "336", Decimal("0.030000"))
    assert closed.cost is None


def test_backend_factory_follows_the_configuration():
    base = Config.from_env()
    assert isinstance(make_backends(base), SimulatedBackends)
    with pytest.raises(ValueError, match="FREESWITCH_NODES"):
        make_backends(Config.from_env(DIALER_BACKEND="freeswitch", FREESWITCH_NODES=""))
    with pytest.raises(ValueError, match="unknown DIALER_BACKEND"):
        make_backends(Config.from_env(DIALER_BACKEND="asterisk"))
