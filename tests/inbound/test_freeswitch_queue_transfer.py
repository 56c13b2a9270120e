"""An agent transfers their customer to an inbound queue, on a real FreeSWITCH.

The dialer service (``DialerService`` with ``FreeSwitchBackends``, its inbound router
included) drives two campaigns of tenant A on the node: an outbound one whose call
reaches agent 1, and a reception one whose agent 2 takes the queue. Agent 1's cold
transfer sends ``uuid_setvar_multi`` + ``uuid_transfer`` to the queue extension; the
node fetches it from this application (mod_xml_curl), the caller waits in the queue
as any inbound caller and is bridged into agent 2's conference. The outbound call is
closed by agent 1's disposition, the customer's new inbound call by agent 2's; each
has its own CDR row and its own recording part.

Runs when FREESWITCH_ESL, FREESWITCH_XMLCURL_LISTEN and FREESWITCH_XMLCURL_TEST_SECRET
are set (as tests/inbound/test_freeswitch_inbound.py); the customer is a SIPp UAS when
FREESWITCH_SIPP_UAS is set (RTP echoed), FreeSWITCH's ``null`` endpoint otherwise;
recordings are written to FREESWITCH_RECORDINGS_DIR (shared with the node)."""

from __future__ import annotations

import json
import os
import pathlib
import time
import uuid
import wave

import gevent
import pytest
import sqlalchemy as sa

from app.auth.models import Role
from app.auth.services import create_user
from app.extensions import Session
from app.inbound.models import InboundQueue
from app.realtime import bus
from app.recordings.models import Recording
from telephony.dialer.backends import FreeSwitchBackends
from telephony.dialer.service import DialerService
from telephony.freeswitch.backend import CAUSE_TRANSFERRED_TO_QUEUE
from telephony.freeswitch.nodes import FreeSwitchNode
from tenants.scoping import tenant_scope
from tests.dialer_db.conftest import OPEN, make_campaign
from tests.dialer_fs.test_freeswitch_dialer import FakeClock, _call, _clear_bus, _stop
from tests.inbound.conftest import engine_state, make_queue, step_until
from tests.inbound.conftest import make_campaign as make_reception_campaign
from tests.inbound.test_freeswitch_inbound import ESL, LISTEN, SECRET, served_app  # noqa: F401 - fixture
from tests.telephony.test_freeswitch_integration import RECORDINGS, SIPP_PROFILE, SIPP_UAS

pytestmark = [
    pytest.mark.freeswitch,
    pytest.mark.skipif(not (ESL and LISTEN and SECRET), reason=(
        "FREESWITCH_ESL, FREESWITCH_XMLCURL_LISTEN and FREESWITCH_XMLCURL_TEST_SECRET are not set: "
        "no FreeSWITCH to test against")),
]


def _recordings(tenant_id: int, call_id: str) -> list[tuple[int, str, str]]:
    with tenant_scope(tenant_id):
        rows = Session.scalars(sa.select(Recording).where(Recording.call_id == uuid.UUID(call_id))
                               .order_by(Recording.part)).all()
        out = [(r.part, r.status, r.source_path) for r in rows]
        Session.rollback()
    return out


def _stereo_wav(path: str) -> float:
    wav = pathlib.Path(path)
    assert wav.is_file() and wav.stat().st_size > 44, f"FreeSWITCH wrote no {wav}"
    with wave.open(str(wav), "rb") as written:
        assert written.getnchannels() == 2, f"{wav.name} is not stereo"
        return written.getnframes() / written.getframerate()


def test_customer_transferred_to_a_queue_reaches_the_next_agent_on_a_real_node(world, served_app):  # noqa: F811
    _clear_bus()
    tenant_id = world.a.id
    first_agent = world.a.users["agent"]
    outbound = make_campaign(tenant_id, "Relance réelle", leads=1, recording=True)
    with tenant_scope(tenant_id):
        second_agent = create_user(email="fs-queue@alpha-appels.fr", display_name="Agent file",
                                   password="Correct-horse-42", role=Role.AGENT, tenant_id=tenant_id)
        reception = make_reception_campaign(tenant_id, "Accueil réel", mode="RECEPTION")
        queue = make_queue("Accueil", [reception.id], recording=True, wrapup_s=45,
                           hold_music="tone_stream://%(200,800,440)")
        ids = (second_agent.id, reception.id, queue.id)
        Session.commit()
    second_id, reception_id, queue_id = ids
    esl = FreeSwitchNode.from_esl_setting(ESL, name="fs-it")
    template = f"sofia/{SIPP_PROFILE}/{{destination}}@{SIPP_UAS}" if SIPP_UAS else "null/{destination}"
    node = FreeSwitchNode(name=esl.name, host=esl.host, port=esl.port, password=esl.password,
                          dial_template=template)
    backends = FreeSwitchBackends([node], connect_wait_s=5, backoff_initial=0.2, backoff_max=1.0,
                                  recordings_dir=RECORDINGS)
    client = backends.control.clients["fs-it"]
    outbound_id = str(uuid.uuid4())
    call_ids = iter([outbound_id])
    service = DialerService(clock=FakeClock(), tenant_ids=[tenant_id], epoch_wall=OPEN.timestamp(),
                            discover_every_s=3600, backends=backends, new_call_id=lambda: next(call_ids))
    legs = {agent_id: str(uuid.uuid4()) for agent_id in (first_agent.id, second_id)}

    def conference_members(agent_id: int) -> set[str]:
        reply = client.api(f"conference agent-{tenant_id}-{agent_id} json_list")
        if not reply.lstrip().startswith("["):
            return set()
        return {m["uuid"] for c in json.loads(reply) for m in c.get("members", [])}

    def run_until(done, what: str, seconds: float = 30.0) -> None:
        step_until(service, tenant_id, legs, done, what, limit=int(seconds / 0.1), pause=0.1)

    def agent_state(campaign_id: int, agent_id: int) -> str:
        return engine_state(service, campaign_id, agent_id)

    try:
        for agent_id, leg in legs.items():  # the agents' softphones, waiting in their conferences
            reply = client.api(f"originate {{origination_uuid={leg}}}null/agent{agent_id} "
                               f"&conference(agent-{tenant_id}-{agent_id}@default)")
            assert reply.startswith("+OK"), reply
        service.discover()
        assert {outbound.id, reception_id} <= set(service.held)
        bus.pop_inbound_arrivals(queue_id)
        bus.send_command(bus.AgentCommand("login", tenant_id, reception_id, second_id))
        bus.send_command(bus.AgentCommand("login", tenant_id, outbound.id, first_agent.id))
        run_until(lambda: agent_state(outbound.id, first_agent.id) == "in_call", "the customer never reached agent 1")
        assert outbound_id in conference_members(first_agent.id)
        gevent.sleep(1.0)  # a second of conversation in the outbound recording

        bus.send_command(bus.AgentCommand("transfer", tenant_id, outbound.id, first_agent.id,
                                          transfer_kind="queue", target=str(queue_id)))
        asked = time.monotonic()
        run_until(lambda: agent_state(reception_id, second_id) == "in_call",
                  "the transferred customer never reached agent 2")
        handed_s = time.monotonic() - asked  # the service's clock is a fake one: wall time here
        assert agent_state(outbound.id, first_agent.id) == "wrap_up"
        tracked = [c for c in backends.control.tracker.calls.values() if c.channel == outbound_id]
        assert len(tracked) == 1 and tracked[0].call_id != outbound_id
        new_id = tracked[0].call_id
        # the same channel, now in agent 2's conference with agent 2's leg
        assert {outbound_id, legs[second_id]} <= conference_members(second_id)
        assert outbound_id not in conference_members(first_agent.id)
        assert client.api(f"uuid_getvar {outbound_id} carillon_call_id").strip() == new_id
        gevent.sleep(1.0)  # a second of conversation with agent 2, recorded as the queue says

        # agent 1 qualifies the outbound call while the customer talks with agent 2
        bus.send_command(bus.AgentCommand("disposition", tenant_id, outbound.id, first_agent.id, status="VT",
                                          call_id=outbound_id))
        run_until(lambda: getattr(_call(tenant_id, outbound_id), "ended_at", None) is not None,
                  "the outbound call never closed")
        # the customer hangs up: agent 2's wrap-up, then their disposition closes the queue call
        backends.control.hangup(new_id)
        run_until(lambda: agent_state(reception_id, second_id) == "wrap_up", "agent 2 never went to wrap-up")
        bus.send_command(bus.AgentCommand("disposition", tenant_id, reception_id, second_id, status="INJ",
                                          call_id=new_id))
        run_until(lambda: getattr(_call(tenant_id, new_id), "ended_at", None) is not None,
                  "the queue call never closed")
        assert agent_state(outbound.id, first_agent.id) == "ready"
        service.step()
        counts = bus.all_queues(tenant_id)[queue_id]  # (cleared when the service lets the queue go)
    finally:
        for leg in legs.values():
            client.api(f"uuid_kill {leg}")
        _stop(service)
        if service.inbound is not None:
            service.inbound.close()

    first = _call(tenant_id, outbound_id)
    assert (first.direction, first.state, first.disposition, first.agent_id) == (
        "out", "dispositioned", "VT", first_agent.id)
    assert first.data["hangup_cause"] == CAUSE_TRANSFERRED_TO_QUEUE and first.data["transferred_to"] == new_id
    assert [(t["mode"], t["kind"], t["target"]) for t in json.loads(first.data["transfers"])] == [
        ("cold", "queue", str(queue_id))]
    second = _call(tenant_id, new_id)
    assert (second.direction, second.state, second.disposition, second.agent_id, second.queue_id) == (
        "in", "dispositioned", "INJ", second_id, queue_id)
    assert second.campaign_id == reception_id and second.lead_id == first.lead_id  # the screen pop
    assert second.phone_number == first.phone_number  # the customer, not the presented number
    assert second.data["transferred_from"] == outbound_id
    assert second.wait_s is not None and second.wait_s < 5
    assert second.data.get("hangup_cause") == "NORMAL_CLEARING" and second.node == "fs-it"
    # one recording part each: the outbound one closed at the transfer, the queue's from agent 2
    base = f"{RECORDINGS.rstrip('/')}/{tenant_id}"
    assert _recordings(tenant_id, outbound_id) == [(1, "pending", f"{base}/{outbound_id}.wav")]
    assert _recordings(tenant_id, new_id) == [(1, "pending", f"{base}/{new_id}.wav")]
    outbound_s, queue_s = _stereo_wav(f"{base}/{outbound_id}.wav"), _stereo_wav(f"{base}/{new_id}.wav")
    print(f"\ntransfer asked -> agent 2 bridged {handed_s:.2f} s (wall); outbound part {outbound_s:.2f} s, "
          f"queue call part {queue_s:.2f} s")
    assert 0.5 < outbound_s < 6 and 0.5 < queue_s < 6
    assert counts["offered"] == "1" and counts["answered"] == "1", counts
    with tenant_scope(tenant_id):
        assert Session.get(InboundQueue, queue_id).wrapup_s == 45
        Session.rollback()
    for path in (f"{base}/{outbound_id}.wav", f"{base}/{new_id}.wav"):
        os.unlink(path)
