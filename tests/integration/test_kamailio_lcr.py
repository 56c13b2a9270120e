"""Least cost routing through a real Kamailio, with SIPp carriers and media node.

Two carriers price France differently (one is cheaper for fixed lines, the other for
mobiles); the application's data is written to Kamailio's tables by
``sync_kamailio_tables``; a SIPp UAC registered as a FreeSWITCH node in the dispatcher
table places calls through Kamailio. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import glob
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import sqlalchemy.orm as so

from kamailio import rpc
from telephony.routing import services
from telephony.routing.models import Carrier, MediaNode, Trunk
from tests.integration.kamailio_support import harness, sipp

pytestmark = [
    pytest.mark.kamailio,
    pytest.mark.skipif(
        bool(harness.missing_binaries()),
        reason=f"needs Debian packages kamailio and sip-tester (missing: {', '.join(harness.missing_binaries())})",
    ),
]

CHEAP_DECK = (
    "prefix,rate_per_minute,connection_fee,billing_increment\n33,0.0100,0,60/60\n336,0.0500,0,60/60\n"
)
BACKUP_DECK = "prefix;rate_per_minute;connection_fee;billing_increment\n33;0,0200;0;1/1\n336;0,0300;0;1/1\n"
FIXED_LINE = "33123456789"
MOBILE = "33612345678"
TLS_MODULE_GLOB = "/usr/lib/*/kamailio/modules/tls.so"
TENANT_HEADERS = {"X-Carillon-Tenant": "42", "X-Carillon-Tenant-Channels": "10"}


@dataclass
class Edge:
    """The running Kamailio with its database and the ports of every party."""

    kamailio: harness.Kamailio
    engine: sa.Engine
    ports: harness.KamailioPorts
    carrier_ports: dict[str, tuple[int, int]]
    # Two media nodes' (SIP port, RTP port): both are in the dispatcher set.
    media_node_ports: tuple[int, ...]
    work_dir: Path


def _seed(
    session: so.Session, carrier_ports: dict[str, tuple[int, int]], media_node_ports: list[int]
) -> None:
    for name, deck in (("cheap", CHEAP_DECK), ("backup", BACKUP_DECK)):
        carrier = Carrier(name=name)
        carrier.trunks.append(
            Trunk(name=f"{name}-sbc", host=harness.LOOPBACK, port=carrier_ports[name][0], transport="udp")
        )
        session.add(carrier)
        session.flush()
        services.import_rate_deck(session, carrier, deck)
    for number, port in enumerate(media_node_ports, start=1):
        session.add(MediaNode(name=f"fs-test-{number}", host=harness.LOOPBACK, sip_port=port))
    session.flush()


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    work_dir = tmp_path_factory.mktemp("kamailio_lcr")
    sip, ws, rpc_port, cheap, cheap_media, backup, backup_media, *media_nodes = harness.free_ports(11)
    ports = harness.KamailioPorts(sip=sip, ws=ws, rpc=rpc_port)
    carrier_ports = {"cheap": (cheap, cheap_media), "backup": (backup, backup_media)}
    with harness.throwaway_database() as database:
        engine = sa.create_engine(database.owner_url)
        try:
            harness.create_routing_tables(engine)
            with so.Session(engine) as session:
                _seed(session, carrier_ports, [media_nodes[0], media_nodes[2]])
                # Before Kamailio starts: it loads the tables at start-up.
                services.sync_kamailio_tables(session)
        except BaseException:
            engine.dispose()
            raise
        cfg = harness.install_config(work_dir / "etc", harness.local_cfg(ports, database.kamailio_url))
        try:
            with harness.running_kamailio(cfg, ports) as kamailio:
                yield Edge(kamailio, engine, ports, carrier_ports, tuple(media_nodes), work_dir)
        finally:
            engine.dispose()


@pytest.fixture
def start_carrier(edge: Edge) -> Iterator[Callable[[str, str], sipp.Uas]]:
    started: list[sipp.Uas] = []

    def start(name: str, scenario: str) -> sipp.Uas:
        port, media_port = edge.carrier_ports[name]
        carrier = sipp.start_uas(
            edge.work_dir / f"sipp_{len(started)}_{name}", name, port, media_port, scenario
        )
        started.append(carrier)
        return carrier

    yield start
    for carrier in started:
        carrier.stop()


def _call(
    edge: Edge, number: str, node: int = 0, hold_ms: int = 0, headers: dict[str, str] = TENANT_HEADERS
) -> sipp.CallResult:
    port, media_port = edge.media_node_ports[2 * node : 2 * node + 2]
    return sipp.place_call(
        edge.work_dir / "uac",
        proxy_port=edge.ports.sip,
        local_port=port,
        media_port=media_port,
        number=number,
        headers=headers,
        hold_ms=hold_ms,
    )


def _explain(edge: Edge, result: sipp.CallResult) -> str:
    return f"SIPp exit {result.returncode}\nSIPp log:\n{result.log}\nSIPp errors:\n{result.errors}\nKamailio log:\n{edge.kamailio.log_text()[-3000:]}"


@pytest.mark.parametrize(
    ("number", "cheapest", "other"), [(FIXED_LINE, "cheap", "backup"), (MOBILE, "backup", "cheap")]
)
def test_call_lands_on_cheapest_carrier_for_its_longest_prefix(
    edge: Edge, start_carrier: Callable[[str, str], sipp.Uas], number: str, cheapest: str, other: str
) -> None:
    winner = start_carrier(cheapest, sipp.answering_scenario(cheapest))
    loser = start_carrier(other, sipp.answering_scenario(other))

    result = _call(edge, number)

    assert result.returncode == 0, _explain(edge, result)
    assert result.answered_by == cheapest
    assert winner.received_invites() == 1
    assert loser.received_invites() == 0


def test_call_fails_over_to_next_carrier_when_cheapest_returns_503(
    edge: Edge, start_carrier: Callable[[str, str], sipp.Uas]
) -> None:
    refusing = start_carrier("cheap", sipp.refusing_scenario(503))
    backup = start_carrier("backup", sipp.answering_scenario("backup"))

    result = _call(edge, FIXED_LINE)

    assert result.returncode == 0, _explain(edge, result)
    assert result.answered_by == "backup"
    assert refusing.received_invites() == 1
    assert backup.received_invites() == 1


def test_number_without_any_rate_is_refused_without_reaching_a_carrier(
    edge: Edge, start_carrier: Callable[[str, str], sipp.Uas]
) -> None:
    cheap = start_carrier("cheap", sipp.answering_scenario("cheap"))
    backup = start_carrier("backup", sipp.answering_scenario("backup"))

    result = _call(edge, "4420794600000")

    assert result.returncode != 0
    assert result.answered_by is None
    assert cheap.received_invites() == backup.received_invites() == 0


def test_full_trunk_is_skipped_for_the_next_carrier(
    edge: Edge, start_carrier: Callable[[str, str], sipp.Uas]
) -> None:
    _set_cheap_trunk(edge, channel_limit=1)
    cheap = start_carrier("cheap", sipp.answering_scenario("cheap"))
    backup = start_carrier("backup", sipp.answering_scenario("backup"))
    first: list[sipp.CallResult] = []
    try:
        # The first call holds the cheap trunk's only channel for 4 s.
        holder = threading.Thread(target=lambda: first.append(_call(edge, FIXED_LINE, hold_ms=4000)))
        holder.start()
        _wait_until(lambda: cheap.received_invites() == 1, timeout=5)
        second = _call(edge, FIXED_LINE, node=1)
        holder.join(timeout=sipp.CALL_TIMEOUT_S)
    finally:
        _set_cheap_trunk(edge, channel_limit=None)

    assert first and first[0].answered_by == "cheap", first
    assert second.returncode == 0, _explain(edge, second)
    assert second.answered_by == "backup"
    assert backup.received_invites() == 1


def test_carriers_digest_challenge_is_answered_with_the_trunks_credentials(
    edge: Edge, start_carrier: Callable[[str, str], sipp.Uas]
) -> None:
    _set_cheap_trunk(edge, username="carillon", password="s3cret")
    try:
        cheap = start_carrier("cheap", sipp.challenging_scenario("cheap", "carillon", "s3cret"))
        start_carrier("backup", sipp.answering_scenario("backup"))

        result = _call(edge, FIXED_LINE)
    finally:
        _set_cheap_trunk(edge, username=None, password=None)

    assert result.returncode == 0, _explain(edge, result)
    assert result.answered_by == "cheap"
    assert cheap.received_invites() == 2
    assert 'Authorization: Digest username="carillon"' in cheap.received_text()


def test_challenge_without_credentials_fails_over(
    edge: Edge, start_carrier: Callable[[str, str], sipp.Uas]
) -> None:
    cheap = start_carrier("cheap", sipp.challenging_scenario("cheap", "carillon", "s3cret"))
    backup = start_carrier("backup", sipp.answering_scenario("backup"))

    result = _call(edge, FIXED_LINE)

    assert result.returncode == 0, _explain(edge, result)
    assert result.answered_by == "backup"
    assert backup.received_invites() == 1
    assert cheap.received_invites() == 1


def test_tenant_at_its_channel_limit_is_refused(
    edge: Edge, start_carrier: Callable[[str, str], sipp.Uas]
) -> None:
    one_channel = {"X-Carillon-Tenant": "7", "X-Carillon-Tenant-Channels": "1"}
    cheap = start_carrier("cheap", sipp.answering_scenario("cheap"))
    backup = start_carrier("backup", sipp.answering_scenario("backup"))
    first: list[sipp.CallResult] = []
    holder = threading.Thread(
        target=lambda: first.append(_call(edge, FIXED_LINE, hold_ms=4000, headers=one_channel))
    )
    holder.start()
    _wait_until(lambda: cheap.received_invites() == 1, timeout=5)

    second = _call(edge, FIXED_LINE, node=1, headers=one_channel)
    other_tenant = _call(edge, MOBILE, node=1, headers={**one_channel, "X-Carillon-Tenant": "8"})
    holder.join(timeout=sipp.CALL_TIMEOUT_S)

    assert first and first[0].answered_by == "cheap", first
    assert second.returncode != 0 and second.answered_by is None
    assert other_tenant.answered_by == "backup", _explain(edge, other_tenant)
    assert cheap.received_invites() == 1
    assert backup.received_invites() == 1


def test_silent_carrier_is_skipped_after_the_carrier_timer(
    edge: Edge, start_carrier: Callable[[str, str], sipp.Uas]
) -> None:
    # Nothing listens on the cheap carrier's port: no reply at all within FR_TIMER.
    backup = start_carrier("backup", sipp.answering_scenario("backup"))
    try:
        result = _call(edge, FIXED_LINE)
        defunct_after_call = _defunct_until(edge, "cheap-sbc")
    finally:
        # The silent gateway is now defunct for DEFUNCT_SECONDS; a reload revives it.
        services.call_reload(edge.kamailio.rpc_url, "lcr.reload")

    assert result.returncode == 0, _explain(edge, result)
    assert result.answered_by == "backup"
    assert backup.received_invites() == 1
    assert defunct_after_call != 0
    assert _defunct_until(edge, "cheap-sbc") == 0


def _defunct_until(edge: Edge, gateway: str) -> int:
    dump = rpc.call(edge.kamailio.rpc_url, "lcr.dump_gws")
    return next(int(gw["defunct_until"]) for gw in dump["gw"] if gw["gw_name"] == gateway)


def test_sync_reloads_kamailio_over_jsonrpc(
    edge: Edge, start_carrier: Callable[[str, str], sipp.Uas]
) -> None:
    _set_carrier_enabled(edge, "cheap", enabled=False)
    try:
        gateways = rpc.call(edge.kamailio.rpc_url, "lcr.dump_gws")
        assert "cheap-sbc" not in str(gateways) and "backup-sbc" in str(gateways)
        cheap = start_carrier("cheap", sipp.answering_scenario("cheap"))
        start_carrier("backup", sipp.answering_scenario("backup"))

        result = _call(edge, FIXED_LINE)

        assert result.returncode == 0, _explain(edge, result)
        assert result.answered_by == "backup"
        assert cheap.received_invites() == 0
    finally:
        _set_carrier_enabled(edge, "cheap", enabled=True)
    assert "cheap-sbc" in str(rpc.call(edge.kamailio.rpc_url, "lcr.dump_gws"))


def test_media_node_is_in_the_dispatcher_set(edge: Edge) -> None:
    listing = rpc.call(edge.kamailio.rpc_url, "dispatcher.list")
    for port in edge.media_node_ports[::2]:
        assert f"sip:{harness.LOOPBACK}:{port}" in str(listing)


def test_config_checks_with_generated_local_cfg(tmp_path: Path) -> None:
    ports = harness.KamailioPorts(*harness.free_ports(3))
    cfg = harness.install_config(tmp_path, harness.local_cfg(ports, "postgres://kamailio@127.0.0.1/carillon"))

    checked = harness.check_config(cfg)

    assert checked.returncode == 0, checked.stderr[-4000:]
    assert "config file ok" in checked.stderr


def test_config_checks_with_example_local_cfg(tmp_path: Path) -> None:
    cfg = harness.install_config(tmp_path, harness.LOCAL_CFG_EXAMPLE.read_text())

    checked = harness.check_config(cfg)

    assert checked.returncode == 0, checked.stderr[-4000:]


def _set_cheap_trunk(edge: Edge, **values: object) -> None:
    with so.Session(edge.engine) as session:
        trunk = session.scalars(sa.select(Trunk).where(Trunk.name == "cheap-sbc")).one()
        for name, value in values.items():
            setattr(trunk, name, value)
        services.sync_kamailio_tables(session, [edge.kamailio.rpc_url])


def _set_carrier_enabled(edge: Edge, name: str, enabled: bool) -> None:
    with so.Session(edge.engine) as session:
        carrier = session.scalars(sa.select(Carrier).where(Carrier.name == name)).one()
        carrier.enabled = enabled
        services.sync_kamailio_tables(session, [edge.kamailio.rpc_url])


def _wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.05)


@pytest.mark.skipif(not glob.glob(TLS_MODULE_GLOB), reason="needs the Debian package kamailio-tls-modules")
def test_config_checks_with_tls_websocket_listener(tmp_path: Path) -> None:
    ports = harness.KamailioPorts(*harness.free_ports(3))
    wss_port = harness.free_ports(1)[0]
    local = harness.local_cfg(ports, "postgres://kamailio@127.0.0.1/carillon") + "\n".join(
        [
            "#!define WITH_TLS",
            f'#!substdef "!WSS_LISTEN!tls:{harness.LOOPBACK}:{wss_port}!g"',
            f'#!define TLS_CONFIG "{tmp_path / "tls.cfg"}"',
            "",
        ]
    )
    cfg = harness.install_config(tmp_path, local)

    checked = harness.check_config(cfg)

    assert checked.returncode == 0, checked.stderr[-4000:]
    assert f"tls: {harness.LOOPBACK}" in checked.stdout + checked.stderr
