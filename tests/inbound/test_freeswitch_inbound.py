"""An inbound call through a real FreeSWITCH: a SIPp caller dials a DID on the trunk
profile, FreeSWITCH fetches the dialplan from this application (mod_xml_curl, shared
secret), enters the queue, and the dialer's inbound router bridges it into the agent's
conference; the caller's BYE ends it and the CDR is complete.

Runs when FREESWITCH_ESL=host:port:password is set and the node's mod_xml_curl points at
FREESWITCH_XMLCURL_LISTEN=host:port (where this test serves the application) with
FREESWITCH_XMLCURL_TEST_SECRET as its secret; FREESWITCH_TRUNK=host:port is the node's
trunk (Kamailio-facing) profile, which must accept calls from 127.0.0.1."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from app.auth.models import Role
from app.auth.services import create_user
from app.calls.models import Call
from app.campaigns.models import Campaign
from app.extensions import Session
from app.inbound import services
from app.inbound.models import DestinationKind
from app.realtime import bus
from telephony.dialer.backends import FreeSwitchBackends
from telephony.dialer.inbound import FreeSwitchInboundMedia, InboundRouter
from telephony.dialer.runner import CampaignRunner
from telephony.freeswitch.nodes import FreeSwitchNode
from tenants.scoping import tenant_scope
from tests.inbound.conftest import make_campaign, make_queue

ESL = os.environ.get("FREESWITCH_ESL", "")
LISTEN = os.environ.get("FREESWITCH_XMLCURL_LISTEN", "")
SECRET = os.environ.get("FREESWITCH_XMLCURL_TEST_SECRET", "")
TRUNK = os.environ.get("FREESWITCH_TRUNK", "127.0.0.1:5080")
DID = "+33170000001"

pytestmark = [
    pytest.mark.freeswitch,
    pytest.mark.skipif(not (ESL and LISTEN and SECRET), reason=(
        "FREESWITCH_ESL, FREESWITCH_XMLCURL_LISTEN and FREESWITCH_XMLCURL_TEST_SECRET are not set: "
        "no FreeSWITCH to test against")),
]


@pytest.fixture()
def served_app(app, monkeypatch):
    """This application on the address the node's mod_xml_curl fetches from."""
    from werkzeug.serving import make_server

    from app import runtime

    config = dataclasses.replace(runtime.current_config(), FREESWITCH_XMLCURL_SECRET=SECRET,
                                 FREESWITCH_XMLCURL_ALLOW="127.0.0.1/32", SIP_DOMAIN="sip.carillon.test")
    monkeypatch.setitem(runtime._current, "config", config)
    host, port = LISTEN.rsplit(":", 1)
    server = make_server(host, int(port), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield
    server.shutdown()
    thread.join(5)


UAC_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="caller with audio">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:+33612345678@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:+33612345678@[local_ip]:[local_port]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:+33612345678@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: sip:+33612345678@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <nop><action><exec rtp_stream="AUDIO,-1,0"/></action></nop>
  <pause/>
  <send retrans="500"><![CDATA[
BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:+33612345678@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: sip:+33612345678@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" crlf="true"/>
</scenario>
"""


def _sipp_caller(seconds: int, tmp_path) -> subprocess.Popen:
    """A SIPp caller from +33612345678: INVITE the DID, send audio (G.711 silence: a
    voice menu times its prompts on the incoming stream), BYE after ``seconds``."""
    audio = tmp_path / "silence.ulaw"
    audio.write_bytes(b"\xff" * 8000 * (seconds + 5))
    scenario = tmp_path / "uac_audio.xml"
    scenario.write_text(UAC_SCENARIO.replace("AUDIO", str(audio)))
    return subprocess.Popen(
        ["sipp", TRUNK, "-sf", str(scenario), "-s", DID, "-m", "1", "-i", "127.0.0.1", "-p", "5098",
         "-mp", "6098", "-d", str(seconds * 1000), "-timeout", str(seconds + 30), "-timeout_error", "-nostdin"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("through", ["queue", "ivr"])
def test_sipp_call_to_a_did_reaches_the_longest_idle_agent(world, served_app, through, tmp_path):
    """``ivr``: the DID leads to a voice menu; the caller presses no key, so after its
    one try (1 s) the menu's timeout destination, the queue, takes the call."""
    import gevent

    tenant_id = world.a.id
    with tenant_scope(tenant_id):
        campaign = make_campaign(tenant_id, "Service client")
        queue = make_queue("Accueil", [campaign.id], hold_music="tone_stream://%(200,800,440)")
        to_queue = services.Destination(DestinationKind.QUEUE, queue.id)
        if through == "ivr":
            menu = services.save_ivr(None, "Standard", {"greeting_audio": "tone_stream://L=1;%(300,100,523)",
                                                         "timeout_s": 1, "max_retries": 1}, to_queue,
                                     [services.OptionSpec("1", "Service client", to_queue)])
            services.save_did(None, DID, {}, services.Destination(DestinationKind.IVR, menu.id), None)
        else:
            services.save_did(None, DID, {}, to_queue, None)
        agent = create_user(email="fs-agent@alpha-appels.fr", display_name="Agent FS", password="Correct-horse-42",
                            role=Role.AGENT, tenant_id=tenant_id)
        ids = (campaign.id, queue.id, agent.id)
        Session.commit()
    campaign_id, queue_id, agent_id = ids
    node = FreeSwitchNode.from_esl_setting(ESL, name="fs-it")
    backends = FreeSwitchBackends([node], connect_wait_s=5, backoff_initial=0.2, backoff_max=1.0)
    client = backends.control.clients["fs-it"]
    conference = f"agent-{tenant_id}-{agent_id}"
    agent_leg = str(uuid.uuid4())
    caller = None
    router = InboundRouter(FreeSwitchInboundMedia(backends), time.monotonic, tenant_ids=[tenant_id])
    try:
        client.api(f"originate {{origination_uuid={agent_leg}}}null/agent &conference({conference}@default)")
        with tenant_scope(tenant_id):
            runner = CampaignRunner(Session.get(Campaign, campaign_id), time.monotonic, virtual_agents=[agent_id],
                                    backends=backends)
            Session.commit()
            Session.remove()
        bus.pop_inbound_arrivals(queue_id)
        caller = _sipp_caller(8, tmp_path)
        row = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            router.step({campaign_id: runner})
            runner.step()
            gevent.sleep(0.2)
            with tenant_scope(tenant_id):
                row = Session.scalar(sa.select(Call).where(Call.direction == "in"))
                Session.commit()
                Session.remove()
            if row is not None and row.state == "bridged" or runner.engine.agents[agent_id].state.value == "in_call":
                break
        assert row is not None, "the caller never entered the queue"
        assert (row.queue_id, row.did, row.agent_id) == (queue_id, DID, agent_id)
        assert runner.engine.agents[agent_id].state.value == "in_call"
        members = json.loads(client.api(f"conference {conference} json_list"))[0]["members"]
        assert {m["uuid"] for m in members} >= {agent_leg, str(row.id)}
        # the caller hangs up after its 8 s: wrap-up, then the agent's disposition closes the CDR
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and runner.engine.agents[agent_id].state.value != "wrap_up":
            runner.step()
            gevent.sleep(0.2)
        assert runner.engine.agents[agent_id].state.value == "wrap_up"
        with tenant_scope(tenant_id):
            runner.engine.disposition(agent_id, "INJ")
            Session.commit()
            row = Session.get(Call, row.id, populate_existing=True)
            Session.commit()
        assert (row.state, row.disposition, row.direction) == ("dispositioned", "INJ", "in")
        assert row.wait_s is not None and row.wait_s < 5 and row.talk_s and 2 < row.talk_s < 12
        router.step({campaign_id: runner})
        counts = bus.all_queues(tenant_id)
        assert counts[queue_id]["offered"] == "1" and counts[queue_id]["answered"] == "1", counts
    finally:
        if caller is not None:
            try:
                caller.wait(30)
            except subprocess.TimeoutExpired:
                caller.kill()
        client.api(f"uuid_kill {agent_leg}")
        router.close()
        backends.close()


def test_caller_overflows_to_a_message_after_the_maximum_wait(world, served_app, tmp_path):
    """No agent: after the queue's 10 s the caller hears the overflow message and the
    node hangs up; the CDR says overflowed."""
    import gevent

    tenant_id = world.a.id
    with tenant_scope(tenant_id):
        campaign = make_campaign(tenant_id, "Service client")
        queue = make_queue("Accueil", [campaign.id], max_wait_s=10, overflow=services.Destination(
            DestinationKind.MESSAGE, None, "tone_stream://L=1;%(400,100,440)"))
        services.save_did(None, DID, {}, services.Destination(DestinationKind.QUEUE, queue.id), None)
        queue_id = queue.id
        Session.commit()
    node = FreeSwitchNode.from_esl_setting(ESL, name="fs-it")
    backends = FreeSwitchBackends([node], connect_wait_s=5, backoff_initial=0.2, backoff_max=1.0)
    client = backends.control.clients["fs-it"]
    router = InboundRouter(FreeSwitchInboundMedia(backends), time.monotonic, tenant_ids=[tenant_id])
    caller = None
    try:
        bus.pop_inbound_arrivals(queue_id)
        caller = _sipp_caller(25, tmp_path)
        row = None
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            router.step({})
            gevent.sleep(0.2)
            with tenant_scope(tenant_id):
                row = Session.scalar(sa.select(Call).where(Call.direction == "in"))
                Session.commit()
                Session.remove()
            if row is not None and row.state == "overflowed":
                break
        assert row is not None and row.state == "overflowed", row and row.state
        assert 10 <= row.wait_s < 12 and row.cause == "QUEUE_MAX_WAIT"
        with gevent.Timeout(8, AssertionError("the node did not hang up after the message")):
            while "true" in client.api(f"uuid_exists {row.id}"):
                gevent.sleep(0.2)
        counts = bus.queue_day_counts(tenant_id, queue_id, router.day(router.queues[queue_id], time.monotonic()))
        assert counts["overflowed"] == "1" and "answered" not in counts
    finally:
        if caller is not None:
            try:
                caller.wait(40)
            except subprocess.TimeoutExpired:
                caller.kill()
        router.close()
        backends.close()
