"""Browser agents at the SIP edge: digest registration against the subscriber rows the
application writes, over UDP and over WebSocket, calls from a media node to a
registered agent, and an agent's own call dispatched to a media node."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import sqlalchemy.orm as so

from kamailio.subscribers import set_subscriber
from telephony.routing import services
from telephony.routing.models import MediaNode
from tests.integration.kamailio_support import harness, sipp, websocket

pytestmark = [
    pytest.mark.kamailio,
    pytest.mark.skipif(
        bool(harness.missing_binaries()),
        reason=f"needs Debian packages kamailio and sip-tester (missing: {', '.join(harness.missing_binaries())})",
    ),
]

DOMAIN = "agents.carillon.test"
AGENT, PASSWORD = "agent1", "correct horse battery"


@dataclass
class Edge:
    kamailio: harness.Kamailio
    ports: harness.KamailioPorts
    media_node: tuple[int, int]  # the FreeSWITCH node's SIP and RTP ports
    free: Iterator[int]  # more loopback ports, two at a time (SIP, RTP)
    work_dir: Path

    def party_ports(self) -> tuple[int, int]:
        return next(self.free), next(self.free)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    work_dir = tmp_path_factory.mktemp("kamailio_agents")
    sip, ws, rpc_port, node, node_media, *spare = harness.free_ports(15)
    ports = harness.KamailioPorts(sip=sip, ws=ws, rpc=rpc_port)
    with harness.throwaway_database() as database:
        engine = sa.create_engine(database.owner_url)
        try:
            harness.create_routing_tables(engine)
            with so.Session(engine) as session:
                set_subscriber(session, AGENT, DOMAIN, PASSWORD)
                session.add(MediaNode(name="fs1", host=harness.LOOPBACK, sip_port=node))
                services.sync_kamailio_tables(session)
        finally:
            engine.dispose()
        cfg = harness.install_config(
            work_dir / "etc", harness.local_cfg(ports, database.kamailio_url, DOMAIN)
        )
        with harness.running_kamailio(cfg, ports) as kamailio:
            yield Edge(kamailio, ports, (node, node_media), iter(spare), work_dir)


@pytest.fixture
def start_uas(edge: Edge) -> Iterator[Callable[[str, int, int], sipp.Uas]]:
    started: list[sipp.Uas] = []

    def start(name: str, port: int, media_port: int) -> sipp.Uas:
        directory = edge.work_dir / f"uas_{name}_{port}"
        uas = sipp.start_uas(directory, name, port, media_port, sipp.answering_scenario(name))
        started.append(uas)
        return uas

    yield start
    for uas in started:
        uas.stop()


def _register(edge: Edge, port: int, media_port: int, password: str) -> sipp.CallResult:
    return sipp.place_call(
        edge.work_dir / "register",
        proxy_port=edge.ports.sip,
        local_port=port,
        media_port=media_port,
        number=AGENT,
        scenario=sipp.register_scenario(AGENT, DOMAIN),
        credentials=(AGENT, password),
    )


def _explain(edge: Edge, result: sipp.CallResult) -> str:
    return f"SIPp exit {result.returncode}\n{result.log}\n{result.errors}\n{edge.kamailio.log_text()[-3000:]}"


def test_registered_agent_receives_the_media_nodes_call(
    edge: Edge, start_uas: Callable[[str, int, int], sipp.Uas]
) -> None:
    phone_port, phone_media = edge.party_ports()
    registration = _register(edge, phone_port, phone_media, PASSWORD)
    assert registration.returncode == 0, _explain(edge, registration)
    phone = start_uas(AGENT, phone_port, phone_media)

    call = sipp.place_call(
        edge.work_dir / "to_agent",
        proxy_port=edge.ports.sip,
        local_port=edge.media_node[0],
        media_port=edge.media_node[1],
        number=AGENT,
        scenario=sipp.media_node_scenario(domain=DOMAIN),
    )

    assert call.returncode == 0, _explain(edge, call)
    assert call.answered_by == AGENT
    assert phone.received_invites() == 1


def test_wrong_password_is_not_registered(edge: Edge) -> None:
    port, media_port = edge.party_ports()

    registration = _register(edge, port, media_port, "wrong")

    assert registration.returncode != 0


def test_call_to_unregistered_agent_is_refused(edge: Edge) -> None:
    call = sipp.place_call(
        edge.work_dir / "to_nobody",
        proxy_port=edge.ports.sip,
        local_port=edge.media_node[0],
        media_port=edge.media_node[1],
        number="agent99",
        scenario=sipp.media_node_scenario(domain=DOMAIN),
    )

    assert call.returncode != 0
    assert call.answered_by is None


def test_agents_own_call_is_authenticated_and_dispatched_to_a_media_node(
    edge: Edge, start_uas: Callable[[str, int, int], sipp.Uas]
) -> None:
    media_node = start_uas("fs1", *edge.media_node)
    port, media_port = edge.party_ports()

    call = sipp.place_call(
        edge.work_dir / "from_agent",
        proxy_port=edge.ports.sip,
        local_port=port,
        media_port=media_port,
        number="conference-agent1",
        # An agent must not be able to pose as a tenant's media node.
        scenario=sipp.agent_call_scenario(AGENT, DOMAIN, {"X-Carillon-Tenant": "1"}),
        credentials=(AGENT, PASSWORD),
    )

    assert call.returncode == 0, _explain(edge, call)
    assert call.answered_by == "fs1"
    assert media_node.received_invites() == 1
    assert "X-Carillon-Tenant" not in media_node.received_text()


_cseq = itertools.count(1)


def _ws_register(connection: object, authorization: str | None = None) -> str:
    call_id = f"ws-{os.getpid()}"
    headers = [
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        "Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK" + os.urandom(6).hex(),
        f"From: <sip:{AGENT}@{DOMAIN}>;tag=ws1",
        f"To: <sip:{AGENT}@{DOMAIN}>",
        f"Call-ID: {call_id}",
        f"CSeq: {next(_cseq)} REGISTER",
        f"Contact: <sip:{AGENT}@df7jal23ls0d.invalid;transport=ws>;expires=60",
        "Max-Forwards: 70",
    ]
    if authorization:
        headers.append(f"Authorization: {authorization}")
    websocket.send_text(connection, "\r\n".join([*headers, "Content-Length: 0", "", ""]))  # type: ignore[arg-type]
    return websocket.receive_text(connection)  # type: ignore[arg-type]


def test_browser_agent_registers_over_websocket(edge: Edge) -> None:
    connection, handshake = websocket.connect(harness.LOOPBACK, edge.ports.ws)
    try:
        assert handshake.startswith("HTTP/1.1 101")
        challenge = _ws_register(connection)
        assert challenge.startswith("SIP/2.0 401"), challenge
        www_authenticate = next(
            line.split(":", 1)[1] for line in challenge.split("\r\n") if line.startswith("WWW-Authenticate:")
        )
        authorization = websocket.digest_authorization(
            www_authenticate, "REGISTER", f"sip:{DOMAIN}", AGENT, PASSWORD
        )

        accepted = _ws_register(connection, authorization)

        assert accepted.startswith("SIP/2.0 200"), accepted
        assert "transport=ws" in accepted
    finally:
        connection.close()


def test_jsonrpc_is_not_served_on_the_websocket_listener(edge: Edge) -> None:
    import urllib.error
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "method": "core.version", "id": 1}).encode()
    request = urllib.request.Request(
        f"http://{harness.LOOPBACK}:{edge.ports.ws}/RPC", data=body, method="POST"
    )

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)

    refused.value.close()
    assert refused.value.code == 404
